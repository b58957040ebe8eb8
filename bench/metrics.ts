/**
 * Metrics from logs (`npm run bench -- --only=metrics`, issue 14):
 *
 * 1. `POST /drain` lines/s with the aggregation on and off, same bodies, same run: the gateway
 *    (bench/servers/sluice.ts, memory store) run in four off → on pairs (two with --quick); the
 *    target (on ≥ 90 % of off) is judged on the median of the pairs' ratios.
 * 2. `GET /api/metrics` latency for 24 h of 60 s buckets of `router.service` (1440 points of a
 *    measure, percentiles from the sketch), after a backfill of 24 h of router lines, on the
 *    memory store and on Redis (two reads per bucket of Redis data, the first of a closed bucket
 *    keeps its point). Timed once the backfill is counted (no total changes for a second): the
 *    latency of reads, not of reads racing the backfill's last writes. The target: p99 ≤ 20 ms.
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import { generateReadToken } from '../src/apps/tokens.js';
import type { Body } from './bodies.js';
import { runHttp, sluiceTarget, startServer, stopServer, type HttpOptions, type HttpResult, type HttpTarget } from './http-ingest.js';
import { median, ratio, si, table } from './measure.js';
import { benchPrefix, redisMissing, startBenchRedis } from './redis.js';

export interface MetricsBenchOptions {
  quick: boolean;
  http: HttpOptions;
  token: string;
  noRedis: boolean;
}

interface Latency {
  store: string;
  points: number;
  /** From the last backfill answer until every bucket was read back. */
  visibleMs: number;
  /** From the last backfill answer until the total count stopped changing (the stage caught up). */
  settledMs: number;
  first: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  n: number;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** 24 h of router lines, `perMinute` a minute, framed in bodies of 100 lines. */
function backfill(nowMs: number, perMinute: number): Buffer[] {
  const bodies: Buffer[] = [];
  let frames: string[] = [];
  let x = 7;
  for (let m = 1440; m >= 0; m--) {
    for (let i = 0; i < perMinute; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const u = x / 2 ** 31;
      const t = new Date(nowMs - m * 60_000 + i * Math.floor(60_000 / perMinute)).toISOString().replace('Z', '123+00:00');
      const service = 1 + Math.round(-Math.log(1 - u) * 60);
      const status = u < 0.02 ? 503 : u < 0.1 ? 404 : 200;
      const msg = `<158>1 ${t} host heroku router - at=info method=GET path="/p/${i}" host=shop.example.com request_id=${randomUUID()} fwd="10.1.2.3" dyno=web.${1 + (i % 4)} connect=1ms service=${service}ms status=${status} bytes=${500 + i} protocol=https\n`;
      frames.push(`${Buffer.byteLength(msg)} ${msg}`);
      if (frames.length === 100) {
        bodies.push(Buffer.from(frames.join('')));
        frames = [];
      }
    }
  }
  if (frames.length) bodies.push(Buffer.from(frames.join('')));
  return bodies;
}

async function queryLatency(target: HttpTarget, store: string, opts: MetricsBenchOptions): Promise<Latency> {
  const read = generateReadToken();
  const { child, port } = await startServer({ ...target, env: { ...target.env, BENCH_READ_TOKEN: read, METRICS_MAX_SKEW_SEC: String(2 * 86_400), METRICS_FLUSH_MS: '200' } }, []);
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 2 });
  try {
    const now = Date.now();
    const bodies = backfill(now, opts.quick ? 20 : 50);
    let k = 0;
    await Promise.all(
      [0, 1].map(async () => {
        while (k < bodies.length) {
          const body = bodies[k++]!;
          const res = await pool.request({ path: '/drain', method: 'POST', headers: { ...target.headers, 'logplex-frame-id': randomUUID() }, body });
          await res.body.dump();
          if (res.statusCode !== 200) throw new Error(`backfill: status ${res.statusCode}`);
        }
      }),
    );
    const nowSec = Math.floor(Date.now() / 1000);
    const path = `/api/metrics?name=router.service&from=${nowSec - 86_400}&to=${nowSec}&step=60`;
    const get = async () => {
      const t0 = performance.now();
      const res = await pool.request({ path, method: 'GET', headers: { authorization: `Bearer ${read}` } });
      const body = (await res.body.json()) as { points?: { count: number }[] };
      const ms = performance.now() - t0;
      if (res.statusCode !== 200) throw new Error(`GET /api/metrics: ${res.statusCode} ${JSON.stringify(body)}`);
      return { ms, points: body.points!.length, total: body.points!.reduce((s, p) => s + p.count, 0) };
    };
    // Wait for the last flush: every minute of the last 24 h has its bucket (1440: the range
    // holds 1441 minute starts, and the oldest is past the 24 h retention by the time it is
    // read). The metrics thread runs niced: it lags behind the backfill and catches up after.
    const posted = performance.now();
    let first = await get();
    while (first.points < 1440 && performance.now() - posted < 60_000) {
      await new Promise((r) => setTimeout(r, 100));
      first = await get();
    }
    const visibleMs = performance.now() - posted;
    // Then until the total stops changing for a second: the last deltas are written.
    let total = first.total;
    let still = performance.now();
    while (performance.now() - still < 1000 && performance.now() - posted < 120_000) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await get();
      if (now.total !== total) {
        total = now.total;
        still = performance.now();
      }
    }
    const settledMs = performance.now() - posted;
    const n = opts.quick ? 200 : 500;
    const times: number[] = [];
    for (let i = 0; i < n; i++) times.push((await get()).ms);
    times.sort((a, b) => a - b);
    return { store, points: first.points, visibleMs, settledMs, first: first.ms, p50: median(times), p90: quantile(times, 0.9), p99: quantile(times, 0.99), max: times[times.length - 1]!, n };
  } finally {
    await pool.close();
    await stopServer(child);
  }
}

export interface MetricsBenchResults {
  off: HttpResult[];
  on: HttpResult[];
  latency: Latency[];
}

export async function runMetricsBench(bodies: readonly Body[], opts: MetricsBenchOptions): Promise<MetricsBenchResults> {
  const base = sluiceTarget('sluice POST /drain (memory store)', 'sluice.ts', [opts.token], opts.token);
  const off: HttpResult[] = [];
  const on: HttpResult[] = [];
  // Pairs off → on, back to back: on a noisy machine a pair's ratio cancels the slow drifts
  // that a best-of across the run does not (see printMetricsBench).
  for (let round = 0; round < (opts.quick ? 2 : 4); round++) {
    off.push(await runHttp({ ...base, name: 'aggregation off (METRICS_ENABLED=false)', env: { METRICS_ENABLED: 'false' } }, bodies, opts.http));
    on.push(await runHttp({ ...base, name: 'aggregation on (default)', env: { METRICS_ENABLED: 'true' } }, bodies, opts.http));
  }
  const latency: Latency[] = [await queryLatency(base, 'memory', opts)];
  const missing = redisMissing();
  if (!opts.noRedis && !missing) {
    const redis = await startBenchRedis();
    try {
      const prefix = benchPrefix();
      const target = sluiceTarget('sluice (Redis store)', 'sluice-redis.ts', [opts.token, redis.url, prefix], opts.token);
      latency.push(await queryLatency(target, 'Redis', opts));
    } finally {
      await redis.stop();
    }
  } else if (missing) console.log(`  (Redis part skipped: ${missing})`);
  return { off, on, latency };
}

export function printMetricsBench(r: MetricsBenchResults): void {
  const best = (xs: HttpResult[]) => xs.reduce((a, b) => (b.linesPerSec > a.linesPerSec ? b : a));
  const row = (h: HttpResult) => [h.name, si(h.linesPerSec), String(h.failures), `${h.serverCpu.toFixed(0)}%`, `${h.machineCpu.toFixed(0)}%`];
  console.log(table([['POST /drain, 100-line bodies', 'lines/s', 'failures', 'server CPU', 'machine CPU'], ...r.off.map(row), ...r.on.map(row)]));
  for (const h of [...r.off, ...r.on]) {
    const other = h.machineCpu - h.serverCpu - h.clientCpu;
    if (other > 20) console.log(`  WARNING: ${other.toFixed(0)}% of CPU went elsewhere during "${h.name}" (other load?): disturbed, run again`);
  }
  const bOff = best(r.off);
  const bOn = best(r.on);
  console.log(
    table([
      ['GET /api/metrics, 24 h of 60 s buckets', 'points', 'all visible after', 'settled after', 'first read', 'p50', 'p90', 'p99', 'max', 'reads'],
      ...r.latency.map((l) => [`router.service (${l.store} store)`, String(l.points), `${(l.visibleMs / 1000).toFixed(1)} s`, `${(l.settledMs / 1000).toFixed(1)} s`, `${l.first.toFixed(1)} ms`, `${l.p50.toFixed(2)} ms`, `${l.p90.toFixed(2)} ms`, `${l.p99.toFixed(2)} ms`, `${l.max.toFixed(1)} ms`, String(l.n)]),
    ]),
  );
  const targets = [['target', 'measured', 'measured / target', '']];
  // The median of the pairs' ratios (each "on" window over the "off" window just before it),
  // beside the ratio of the best windows; the target is judged on the median.
  const pairs = r.on.map((h, i) => h.linesPerSec / r.off[i]!.linesPerSec).sort((a, b) => a - b);
  const share = median(pairs);
  const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
  console.log(`on / off per pair: ${pairs.map(pct).join(', ')}; best on / best off: ${pct(bOn.linesPerSec / bOff.linesPerSec)} (${si(bOn.linesPerSec)} vs ${si(bOff.linesPerSec)})`);
  targets.push([`POST /drain with aggregation ≥ 90 % of without (median of ${pairs.length} off→on pairs)`, pct(share), ratio(share, 0.9), share >= 0.9 ? 'met' : 'MISSED']);
  for (const l of r.latency) targets.push([`GET /api/metrics 24 h × 60 s p99 ≤ 20 ms (${l.store})`, `${l.p99.toFixed(2)} ms`, ratio(l.p99, 20), l.p99 <= 20 ? 'met' : 'MISSED']);
  console.log(`\ntargets:\n${table(targets)}`);
}
