/**
 * The fan-out benchmark: live entries delivered over WebSocket to 1, 10 and 100 clients, with
 * single-entry (`log`) and batched (`logs`) frames, beside a bare `ws` server measured in the
 * same run; and ingest-to-delivery latency at a steady 20,000 lines/s into `POST /drain` with the
 * Redis store, beside the bare server's latency at the same rate.
 *
 *   npx tsx bench/fanout.ts [--quick] [--profile] [--server-flags="…"] [--window=N]
 *                           [--only=throughput|latency] [--clients=10,100] [--no-bare]
 *
 * `FANOUT_*` variables of the environment reach the gateway child (e.g. FANOUT_BATCH_MAX=100);
 * `FANOUT_DEBUG=1` shows the children's stderr, with a timeline of the hub's queues and
 * event-loop delay (server) and of the latencies (clients) every 500 ms.
 *
 * Processes (2 cores): the server (gateway or bare `ws`) in one child, the N clients in another
 * (clients/ws-clients.ts, counting entries without parsing them), the `/drain` feeder here.
 * See bench/FANOUT.md for what is measured and how.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateIngestToken, generateReadToken } from '../src/apps/tokens.js';
import { startRedisServer } from '../test/support/redis.js';
import { findOnPath } from '../test/support/redis-server.js';
import type { Body } from './bodies.js';
import { entryJsons, fanoutBodies, stampedTemplates, type Mix, type StampedTemplate } from './fanout/entries.js';
import { DrainClient, feedClosedLoop, feedPaced, Progress } from './fanout/feed.js';
import { Child, CpuWindow, startChild } from './fanout/proc.js';
import { GATEWAY_NODE_FLAGS } from './http-ingest.js';
import { ratio, si, table } from './measure.js';

/** Options of {@link runFanoutBench}. */
export interface FanoutOptions {
  quick: boolean;
  /** Directory for `--cpu-prof` profiles of the server children (none when absent). */
  profileDir?: string;
  /**
   * Extra node flags for the server children, after `npm start`'s (GATEWAY_NODE_FLAGS, which they
   * always get: a later `--max-semi-space-size` wins).
   */
  serverFlags?: string[];
  /** Closed-loop window: entries ingested but not yet received by the slowest client. */
  window?: number;
  only?: 'throughput' | 'latency';
  /** Client counts of the throughput cases (default 1, 10, 100). */
  clientCounts?: number[];
  /** Skip the bare `ws` throughput cases (the ratios then say n/a). */
  noBare?: boolean;
}

/** One throughput case. */
export interface ThroughputRow {
  server: 'sluice' | 'bare ws';
  /** `each`, `corked`, `batch50`, `batch50-shared` (bare) or `log`, `logs` (sluice). */
  mode: string;
  /** The line mix (fanout/entries.ts): `app` (entries ~541 B) or `heroku` (~821 B). */
  mix: Mix;
  frames: 'single' | 'batched';
  clients: number;
  /** Entries received by all clients together, per second. */
  entriesPerSec: number;
  framesPerSec: number;
  entriesPerFrame: number;
  /** Lines/s acknowledged by `POST /drain` (sluice). */
  ingestPerSec?: number;
  /** CPU over the window, % of one core. */
  serverCpu: number;
  clientCpu: number;
  feederCpu: number;
  machineCpu: number;
  /** Of which interrupts (loopback TCP work charged to no process), and other processes (noise). */
  irqCpu: number;
  otherCpu: number;
  /** Loss check at the end of the case: every client got every entry, no gap, frames valid. */
  ok: boolean;
  check: string;
}

/** One latency case. */
export interface LatencyRow {
  server: 'sluice (Redis store)' | 'bare ws';
  clients: number;
  /** Lines/s offered (stamped when handed to the HTTP client, or when the bare server sends). */
  linesPerSec: number;
  entriesPerSec: number;
  entries: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  serverCpu: number;
  redisCpu?: number;
  clientCpu: number;
  /** How long the warm-up took (until steady, see warmUntilSteady). */
  warmMs: number;
  /** Sluice: the most the feeder's pacing lagged in the window (bodies due at once − 1, × 5 ms). */
  feederLateMs?: number;
  machineCpu: number;
  /** Of which interrupts (loopback TCP work charged to no process), and other processes (noise). */
  irqCpu: number;
  otherCpu: number;
  ok: boolean;
  check: string;
}

/** A target of the issue, with the bare `ws` figure of the same run. */
export interface TargetRow {
  target: string;
  measured: string;
  bare: string;
  ratio: string;
  met: boolean | undefined;
}

export interface FanoutResults {
  throughput: ThroughputRow[];
  latency: LatencyRow[];
  targets: TargetRow[];
  seconds: number;
}

interface Snapshot {
  atUs: number;
  cpuUs: number;
  total: number;
  frames: number;
  counts: number[];
  gaps: number;
  gapEntries: number;
  closed: number;
  validated: number;
  mismatches: string[];
  errors: string[];
}

const CLIENT_COUNTS = [1, 10, 100];
/** Lines/s of the latency case: the target is stated at 20,000 (`SLUICE_BENCH_LATENCY_RATE` overrides it, to find the knee). */
const LATENCY_RATE = Number(process.env.SLUICE_BENCH_LATENCY_RATE) || 20_000;
const LATENCY_EVERY_MS = 5;
const LATENCY_CLIENTS = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until every client has `expected(i)` entries (or `timeoutMs` passed); the last snapshot. */
async function settle(clients: Child, expected: (i: number) => number, timeoutMs = 15_000): Promise<Snapshot> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const s = await clients.request<Snapshot>('snapshot');
    if (s.counts.every((c, i) => c >= expected(i)) || performance.now() > until) return s;
    await sleep(50);
  }
}

/** The loss check of a case: '' when everything arrived once, else what is wrong. */
function lossCheck(s: Snapshot, expected: (i: number) => number, extra: string[] = []): string {
  const bad: string[] = [...extra];
  const off = s.counts.map((c, i) => c - expected(i)).filter((d) => d !== 0);
  if (off.length > 0) bad.push(`${off.length} clients off by ${Math.min(...off)}…${Math.max(...off)} entries`);
  if (s.gaps > 0) bad.push(`${s.gaps} gap messages (${s.gapEntries} entries)`);
  if (s.closed > 0) bad.push(`${s.closed} clients closed`);
  if (s.mismatches.length > 0) bad.push(`validation: ${s.mismatches.slice(0, 3).join('; ')}`);
  if (s.errors.length > 0) bad.push(`errors: ${s.errors.slice(0, 3).join('; ')}`);
  return bad.join('; ');
}

function rate(s0: Snapshot, s1: Snapshot): { entries: number; frames: number; sec: number } {
  const sec = (s1.atUs - s0.atUs) / 1e6;
  return { entries: (s1.total - s0.total) / sec, frames: (s1.frames - s0.frames) / sec, sec };
}

type Timing = Record<'bareWarm' | 'bareWin' | 'warm' | 'win' | 'firstWarm' | 'latWarm' | 'latWarmExtra' | 'latWin' | 'bareLatWin', number>;
type Hist = { count: number; p50: number; p99: number; max: number; negative: number };

/** Runs one bare `ws` throughput case on the running bare server. */
async function bareCase(bare: Child, clients: Child, n: number, mode: string, mix: Mix, warmMs: number, winMs: number): Promise<ThroughputRow> {
  await clients.request('open', { url: `ws://127.0.0.1:${bare.port}/`, n, subscribe: { type: 'subscribe', mode, mix, batch: mode.startsWith('batch') } });
  await bare.request('start');
  await sleep(warmMs);
  const s0 = await clients.request<Snapshot>('snapshot');
  const cpu = new CpuWindow({ server: bare.pid, clients: clients.pid });
  await sleep(winMs);
  const s1 = await clients.request<Snapshot>('snapshot');
  const c = cpu.end();
  const { sent } = await bare.request<{ sent: Record<string, number> }>('stop');
  const expected = (i: number) => sent[String(i)] ?? 0;
  const check = lossCheck(await settle(clients, expected), expected);
  await clients.request('close');
  const r = rate(s0, s1);
  return {
    server: 'bare ws',
    mode,
    mix,
    frames: mode.startsWith('batch') ? 'batched' : 'single',
    clients: n,
    entriesPerSec: r.entries,
    framesPerSec: r.frames,
    entriesPerFrame: r.entries / r.frames,
    serverCpu: c.procs.server!,
    clientCpu: c.procs.clients!,
    feederCpu: c.self,
    machineCpu: c.machine,
    irqCpu: c.irq,
    otherCpu: c.other,
    ok: check === '',
    check,
  };
}

/** What a closed-loop or paced gateway case leaves to check, besides the clients' counts. */
async function gatewayExtra(server: Child, drain: DrainClient): Promise<string[]> {
  const stats = await server.request<{ dropped: number }>('stats');
  return [
    ...(drain.failures > 0 ? [`${drain.failures} failed POSTs: ${[...drain.reasons].map(([r, k]) => `${k}× ${r}`).join(', ')}`] : []),
    ...(stats.dropped > 0 ? [`hub dropped ${stats.dropped}`] : []),
  ];
}

/** Runs one gateway throughput case: N clients subscribed, then the closed-loop feeder. */
async function sluiceCase(
  server: Child,
  clients: Child,
  tokens: { ingest: string; read: string },
  setProgress: (p: Progress) => void,
  c: { n: number; batch: boolean; mix: Mix; bodies: readonly Body[]; window: number; warmMs: number; winMs: number },
): Promise<ThroughputRow> {
  await clients.request('open', {
    url: `ws://127.0.0.1:${server.port}/ws?token=${tokens.read}`,
    n: c.n,
    subscribe: { type: 'subscribe', apps: ['bench'], batch: c.batch },
    orderCheck: true,
  });
  const progress = new Progress();
  setProgress(progress);
  const drain = new DrainClient(server.port, tokens.ingest, 2);
  const feeder = feedClosedLoop(drain, c.bodies, progress, { window: c.window, inflight: 2 });
  await sleep(c.warmMs);
  const s0 = await clients.request<Snapshot>('snapshot');
  const acked0 = drain.acked;
  const cpu = new CpuWindow({ server: server.pid, clients: clients.pid });
  await sleep(c.winMs);
  const s1 = await clients.request<Snapshot>('snapshot');
  const acked1 = drain.acked;
  const u = cpu.end();
  await feeder.stop();
  const expected = () => drain.acked;
  const settled = await settle(clients, expected);
  const check = lossCheck(settled, expected, await gatewayExtra(server, drain));
  await clients.request('close');
  await drain.close();
  const r = rate(s0, s1);
  return {
    server: 'sluice',
    mode: c.batch ? 'logs' : 'log',
    mix: c.mix,
    frames: c.batch ? 'batched' : 'single',
    clients: c.n,
    entriesPerSec: r.entries,
    framesPerSec: r.frames,
    entriesPerFrame: r.entries / r.frames,
    ingestPerSec: (acked1 - acked0) / r.sec,
    serverCpu: u.procs.server!,
    clientCpu: u.procs.clients!,
    feederCpu: u.self,
    machineCpu: u.machine,
    irqCpu: u.irq,
    otherCpu: u.other,
    ok: check === '',
    check,
  };
}

/**
 * The warm-up of a latency case: at least `minMs`, then until the latest 500 ms saw no entry
 * later than 100 ms (a cold server with 100 new subscribers can build a backlog of a few seconds
 * at first), at most `minMs` + `maxExtraMs` (10 s; 4 s with --quick). Returns how long it took, and whether it settled.
 */
async function warmUntilSteady(clients: Child, minMs: number, maxExtraMs: number): Promise<{ ms: number; settled: boolean }> {
  const t0 = performance.now();
  await sleep(minMs - 500);
  await clients.request('recent');
  for (;;) {
    await sleep(500);
    const { maxUs } = await clients.request<{ maxUs: number }>('recent');
    const ms = performance.now() - t0;
    if (maxUs < 100_000) return { ms, settled: true };
    if (ms > minMs + maxExtraMs) return { ms, settled: false };
  }
}

/** The bare server's latency: a stamped 100-entry frame to every client each 5 ms. */
async function bareLatency(bare: Child, clients: Child, mix: Mix, t: Timing): Promise<LatencyRow> {
  await clients.request('open', { url: `ws://127.0.0.1:${bare.port}/`, n: LATENCY_CLIENTS, subscribe: { type: 'subscribe', mode: 'tick', mix, batch: true }, latency: true });
  await bare.request('tick-start', { everyMs: LATENCY_EVERY_MS, perTick: (LATENCY_RATE * LATENCY_EVERY_MS) / 1000, mix });
  const warm = await warmUntilSteady(clients, t.latWarm, t.latWarmExtra);
  await clients.request('hist-reset');
  const s0 = await clients.request<Snapshot>('snapshot');
  const cpu = new CpuWindow({ server: bare.pid, clients: clients.pid });
  await sleep(t.bareLatWin);
  const h = await clients.request<Hist>('hist');
  const s1 = await clients.request<Snapshot>('snapshot');
  const c = cpu.end();
  const { sent, skipped } = await bare.request<{ sent: Record<string, number>; skipped: number }>('tick-stop');
  const expected = (i: number) => sent[String(i)] ?? 0;
  const check = lossCheck(await settle(clients, expected), expected, [
    ...(warm.settled ? [] : ['never steady in the warm-up (latency over 100 ms)']),
    ...(skipped > 0 ? [`${skipped} entries not sent (socket over 1 MiB)`] : []),
    ...(h.negative > 0 ? [`${h.negative} negative latencies`] : []),
  ]);
  await clients.request('close');
  const r = rate(s0, s1);
  return {
    warmMs: warm.ms,
    server: 'bare ws',
    clients: LATENCY_CLIENTS,
    linesPerSec: LATENCY_RATE,
    entriesPerSec: r.entries,
    entries: h.count,
    p50Ms: h.p50 / 1000,
    p99Ms: h.p99 / 1000,
    maxMs: h.max / 1000,
    serverCpu: c.procs.server!,
    clientCpu: c.procs.clients!,
    machineCpu: c.machine,
    irqCpu: c.irq,
    otherCpu: c.other,
    ok: check === '',
    check,
  };
}

/** The gateway with the Redis store: 100 clients, stamped bodies paced at 20,000 lines/s. */
async function sluiceLatency(
  serverNodeArgs: string[],
  clients: Child,
  tokens: { ingest: string; read: string },
  templates: readonly StampedTemplate[],
  t: Timing,
): Promise<LatencyRow> {
  const redis = await startRedisServer({ appendonly: false });
  const prefix = `bench-fanout-${randomBytes(4).toString('hex')}`;
  const server = await startChild('sluice-fanout-redis', 'servers/sluice-fanout.ts', [tokens.ingest, tokens.read, redis.url, prefix], { nodeArgs: serverNodeArgs, waitPort: true });
  try {
    await clients.request('open', {
      url: `ws://127.0.0.1:${server.port}/ws?token=${tokens.read}`,
      n: LATENCY_CLIENTS,
      subscribe: { type: 'subscribe', apps: ['bench'], batch: true },
      latency: true,
      orderCheck: true,
    });
    const drain = new DrainClient(server.port, tokens.ingest, 4);
    const feeder = feedPaced(drain, templates, { everyMs: (templates[0]!.lines * 1000) / LATENCY_RATE });
    const warm = await warmUntilSteady(clients, t.latWarm, t.latWarmExtra);
    await clients.request('hist-reset');
    feeder.resetLate();
    const s0 = await clients.request<Snapshot>('snapshot');
    const acked0 = drain.acked;
    const cpu = new CpuWindow({ server: server.pid, clients: clients.pid, redis: redis.pid()! });
    await sleep(t.latWin);
    const h = await clients.request<Hist>('hist');
    const s1 = await clients.request<Snapshot>('snapshot');
    const acked1 = drain.acked;
    const c = cpu.end();
    const late = feeder.late();
    await feeder.stop();
    const expected = () => drain.acked;
    const settled = await settle(clients, expected);
    const check = lossCheck(settled, expected, [
      ...(warm.settled ? [] : ['never steady in the warm-up (latency over 100 ms)']),
      ...(await gatewayExtra(server, drain)),
      ...(h.negative > 0 ? [`${h.negative} negative latencies`] : []),
      ...((acked1 - acked0) / ((s1.atUs - s0.atUs) / 1e6) < LATENCY_RATE * 0.95
        ? [`did not keep up: ${si((acked1 - acked0) / ((s1.atUs - s0.atUs) / 1e6))} lines/s acknowledged of ${si(LATENCY_RATE)} offered`]
        : []),
    ]);
    await clients.request('close');
    await drain.close();
    const r = rate(s0, s1);
    return {
      feederLateMs: ((late - 1) * (templates[0]!.lines * 1000)) / LATENCY_RATE,
      warmMs: warm.ms,
      server: 'sluice (Redis store)',
      clients: LATENCY_CLIENTS,
      linesPerSec: (acked1 - acked0) / r.sec,
      entriesPerSec: r.entries,
      entries: h.count,
      p50Ms: h.p50 / 1000,
      p99Ms: h.p99 / 1000,
      maxMs: h.max / 1000,
      serverCpu: c.procs.server!,
      redisCpu: c.procs.redis!,
      clientCpu: c.procs.clients!,
      machineCpu: c.machine,
      irqCpu: c.irq,
      otherCpu: c.other,
      ok: check === '',
      check,
    };
  } finally {
    await server.stop();
    await redis.stop();
  }
}

/** CPU busy on the machine over `ms` before the run (other processes: the figures are noisier). */
async function idleCheck(ms: number): Promise<number> {
  const cpu = new CpuWindow({});
  await sleep(ms);
  const c = cpu.end();
  return Math.max(0, c.machine - c.self);
}

export async function runFanoutBench(opts: FanoutOptions): Promise<FanoutResults> {
  const started = performance.now();
  const t: Timing = opts.quick
    ? { bareWarm: 600, bareWin: 1500, warm: 800, win: 2000, firstWarm: 1500, latWarm: 1500, latWarmExtra: 4000, latWin: 5000, bareLatWin: 2500 }
    : { bareWarm: 800, bareWin: 2500, warm: 1200, win: 3500, firstWarm: 2500, latWarm: 2000, latWarmExtra: 10_000, latWin: 10_000, bareLatWin: 5000 };
  const window = opts.window ?? 10_000;
  const serverFlags = [...GATEWAY_NODE_FLAGS, ...(opts.serverFlags ?? [])];
  if (opts.profileDir) mkdirSync(opts.profileDir, { recursive: true });
  const serverNodeArgs = [...serverFlags, ...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [])];
  const counts = opts.clientCounts ?? CLIENT_COUNTS;
  const bodies = { app: fanoutBodies('app'), heroku: fanoutBodies('heroku') };
  const templates = stampedTemplates(bodies.app);
  const size = (mix: Mix) => {
    const js = entryJsons(bodies[mix]);
    return `${mix}: ${bodies[mix].length} × 100 lines, entry JSON mean ${Math.round(js.reduce((s, j) => s + Buffer.byteLength(j), 0) / js.length)} B`;
  };
  const busy = await idleCheck(1000);

  console.log(
    `\n== fan-out over WebSocket: server child (node ${serverFlags.join(' ') || 'without flags'}), clients child (ws 8), feeder here (POST /drain)` +
      `\nentries: ${size('app')} (the main mix); ${size('heroku')} (the HTTP bench mix, 100 clients batched only)` +
      `\nmachine busy before the run: ${busy.toFixed(0)}% of one core${busy > 15 ? ' (other processes: figures noisier than usual)' : ''}`,
  );
  const throughput: ThroughputRow[] = [];
  const latency: LatencyRow[] = [];

  const clients = await startChild('clients', 'clients/ws-clients.ts', [], { waitPort: false });
  let progress = new Progress();
  clients.onMessage((m) => {
    if (m.t === 'p') progress.update(m.min as number, m.total as number);
  });
  const tokens = { ingest: generateIngestToken(), read: generateReadToken() };

  try {
    // ---- bare ws: throughput, then latency ------------------------------------------------------
    const bare = await startChild('bare-ws', 'servers/bare-ws.ts', [], { nodeArgs: serverNodeArgs, waitPort: true });
    try {
      if (opts.only !== 'latency' && !opts.noBare) {
        let first = true;
        for (const n of counts) {
          for (const mode of ['each', 'corked', 'batch50', ...(n === 100 ? ['batch50-shared'] : [])]) {
            throughput.push(await bareCase(bare, clients, n, mode, 'app', first ? t.bareWarm * 2 : t.bareWarm, t.bareWin));
            first = false;
          }
        }
        if (counts.includes(100)) throughput.push(await bareCase(bare, clients, 100, 'batch50', 'heroku', t.bareWarm, t.bareWin));
      }
      if (opts.only !== 'throughput') latency.push(await bareLatency(bare, clients, 'app', t));
    } finally {
      await bare.stop();
    }

    // ---- sluice, memory store: throughput ---------------------------------------------------------
    if (opts.only !== 'latency') {
      const server = await startChild('sluice-fanout', 'servers/sluice-fanout.ts', [tokens.ingest, tokens.read], { nodeArgs: serverNodeArgs, waitPort: true });
      try {
        let first = true;
        const run = async (n: number, batch: boolean, mix: Mix) => {
          throughput.push(
            await sluiceCase(server, clients, tokens, (p) => (progress = p), {
              n,
              batch,
              mix,
              bodies: bodies[mix],
              window,
              warmMs: first ? t.firstWarm : t.warm,
              winMs: t.win,
            }),
          );
          first = false;
        };
        for (const n of counts) for (const batch of [false, true]) await run(n, batch, 'app');
        if (counts.includes(100)) await run(100, true, 'heroku');
      } finally {
        await server.stop();
      }
    }

    // ---- sluice, Redis store: latency at 20,000 lines/s -------------------------------------------
    if (opts.only !== 'throughput') {
      if (!findOnPath('redis-server')) console.log('(latency with Redis skipped: redis-server is not on PATH)');
      else latency.push(await sluiceLatency(serverNodeArgs, clients, tokens, templates, t));
    }
  } finally {
    await clients.stop();
  }

  const targets = buildTargets(throughput, latency);
  printResults(throughput, latency, targets, { window, ...t });
  const seconds = (performance.now() - started) / 1000;
  console.log(`(fan-out: ${seconds.toFixed(0)} s)`);
  return { throughput, latency, targets, seconds };
}

function buildTargets(tp: ThroughputRow[], lat: LatencyRow[]): TargetRow[] {
  const find = (server: string, mode: string, n: number) => tp.find((r) => r.server === server && r.mode === mode && r.clients === n && r.mix === 'app');
  const out: TargetRow[] = [];
  const batched = find('sluice', 'logs', 100);
  const bareBatch = find('bare ws', 'batch50', 100);
  if (batched) {
    out.push({
      target: '≥ 1,000,000 entries/s delivered, 100 clients, batched frames',
      measured: `${si(batched.entriesPerSec)}/s`,
      bare: bareBatch ? `${si(bareBatch.entriesPerSec)}/s (50-entry frames)` : 'n/a',
      ratio: bareBatch ? ratio(batched.entriesPerSec, bareBatch.entriesPerSec) : 'n/a',
      met: batched.ok ? batched.entriesPerSec >= 1_000_000 : false,
    });
  }
  const single = find('sluice', 'log', 100);
  const bareEach = find('bare ws', 'each', 100);
  const bareCorked = find('bare ws', 'corked', 100);
  if (single) {
    out.push({
      target: '≥ 500,000 entries/s delivered, 100 clients, single-entry frames',
      measured: `${si(single.entriesPerSec)}/s`,
      bare: bareEach ? `${si(bareEach.entriesPerSec)}/s (one send each); corked ${bareCorked ? si(bareCorked.entriesPerSec) : 'n/a'}/s` : 'n/a',
      ratio: bareEach ? `${ratio(single.entriesPerSec, bareEach.entriesPerSec)}; ${bareCorked ? ratio(single.entriesPerSec, bareCorked.entriesPerSec) : 'n/a'} of corked` : 'n/a',
      met: single.ok ? single.entriesPerSec >= 500_000 : false,
    });
  }
  const redis = lat.find((r) => r.server !== 'bare ws');
  const bareLat = lat.find((r) => r.server === 'bare ws');
  if (redis) {
    out.push({
      target: 'ingest-to-delivery p99 ≤ 25 ms, 20,000 lines/s, Redis, 100 clients',
      measured: `${redis.p99Ms.toFixed(1)} ms`,
      bare: bareLat ? `${bareLat.p99Ms.toFixed(1)} ms` : 'n/a',
      ratio: bareLat ? ratio(redis.p99Ms, bareLat.p99Ms) : 'n/a',
      met: redis.ok ? redis.p99Ms <= 25 : false,
    });
  }
  return out;
}

function printResults(tp: ThroughputRow[], lat: LatencyRow[], targets: TargetRow[], t: Record<string, number>): void {
  const pct = (x: number) => `${x.toFixed(0)}%`;
  if (tp.length > 0) {
    console.log(
      `\n-- throughput: entries received by all clients together per second (${t.bareWin / 1000} s bare / ${t.win / 1000} s sluice after ` +
        `${t.bareWarm / 1000} / ${t.warm / 1000} s warm-up); sluice fed by a closed loop on POST /drain (memory store, ≤ ${si(t.window!)} entries in flight)`,
    );
    const rows = [['server', 'frames', 'clients', 'entries/s', 'frames/s', 'entries/frame', 'ingest lines/s', 'server CPU', 'client CPU', 'feeder CPU', 'machine', 'irq', 'other', 'loss check']];
    for (const r of tp) {
      rows.push([
        `${r.server} ${r.mode}${r.mix === 'app' ? '' : ` (${r.mix} mix)`}`,
        r.frames,
        String(r.clients),
        si(r.entriesPerSec),
        si(r.framesPerSec),
        r.entriesPerFrame.toFixed(1),
        r.ingestPerSec === undefined ? '' : si(r.ingestPerSec),
        pct(r.serverCpu),
        pct(r.clientCpu),
        pct(r.feederCpu),
        pct(r.machineCpu),
        pct(r.irqCpu),
        pct(r.otherCpu),
        r.ok ? 'ok' : `FAILED: ${r.check}`,
      ]);
    }
    console.log(table(rows));
    const ratios: string[][] = [['sluice / bare ws (same run)', '1 client', '10 clients', '100 clients']];
    const get = (server: string, mode: string, n: number, mix: Mix = 'app') =>
      tp.find((r) => r.server === server && r.mode === mode && r.clients === n && r.mix === mix)?.entriesPerSec;
    const line = (label: string, ours: string, bare: string) => [
      label,
      ...CLIENT_COUNTS.map((n) => {
        const a = get('sluice', ours, n);
        const b = get('bare ws', bare, n);
        return a !== undefined && b !== undefined ? ratio(a, b) : 'n/a';
      }),
    ];
    ratios.push(line('log frames / bare one send per entry', 'log', 'each'));
    ratios.push(line('log frames / bare corked', 'log', 'corked'));
    ratios.push(line('logs frames / bare 50-entry frames', 'logs', 'batch50'));
    const hs = get('sluice', 'logs', 100, 'heroku');
    const hb = get('bare ws', 'batch50', 100, 'heroku');
    if (hs !== undefined && hb !== undefined) ratios.push(['logs frames / bare 50-entry frames, heroku mix', '', '', ratio(hs, hb)]);
    console.log(table(ratios));
  }
  if (lat.length > 0) {
    console.log(
      `\n-- latency, ${LATENCY_CLIENTS} clients, batched frames, ${si(LATENCY_RATE)} lines/s in ${LATENCY_EVERY_MS} ms steps: per entry, stamp → arrival at the client ` +
        `(sluice: stamped when the 100-line body is handed to the HTTP client; bare: when the server sends the frame); ${t.latWin / 1000} s (bare ${t.bareLatWin / 1000} s) ` +
        `after a warm-up of ≥ ${t.latWarm / 1000} s that lasts until no entry took over 100 ms for 500 ms (at most ${t.latWarmExtra / 1000} s more)`,
    );
    const rows = [['server', 'warm-up', 'lines/s', 'entries/s delivered', 'entries', 'p50 ms', 'p99 ms', 'max ms', 'feeder lag', 'server CPU', 'redis CPU', 'client CPU', 'machine', 'irq', 'other', 'loss check']];
    for (const r of lat) {
      rows.push([
        r.server,
        `${(r.warmMs / 1000).toFixed(1)} s`,
        si(r.linesPerSec),
        si(r.entriesPerSec),
        si(r.entries),
        r.p50Ms.toFixed(2),
        r.p99Ms.toFixed(2),
        r.maxMs.toFixed(1),
        r.feederLateMs === undefined ? '' : `${r.feederLateMs.toFixed(0)} ms`,
        pct(r.serverCpu),
        r.redisCpu === undefined ? '' : pct(r.redisCpu),
        pct(r.clientCpu),
        pct(r.machineCpu),
        pct(r.irqCpu),
        pct(r.otherCpu),
        r.ok ? 'ok' : `FAILED: ${r.check}`,
      ]);
    }
    console.log(table(rows));
  }
  if (targets.length > 0) {
    console.log('\n-- fan-out targets (this machine)');
    const rows = [['target', 'measured', 'bare ws, same run', 'ours / bare', '']];
    for (const x of targets) rows.push([x.target, x.measured, x.bare, x.ratio, x.met === undefined ? '' : x.met ? 'met' : 'MISSED']);
    console.log(table(rows));
  }
}

// Run alone: `npx tsx bench/fanout.ts [--quick] [--profile] [--server-flags="…"] [--window=N] [--only=…]`.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const flags = args.find((a) => a.startsWith('--server-flags='))?.slice(15);
  const win = args.find((a) => a.startsWith('--window='))?.slice(9);
  const only = args.find((a) => a.startsWith('--only='))?.slice(7);
  const counts = args.find((a) => a.startsWith('--clients='))?.slice(10);
  console.log(`sluice fan-out bench${args.includes('--quick') ? ' (--quick)' : ''}: node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'})`);
  await runFanoutBench({
    quick: args.includes('--quick'),
    profileDir: args.includes('--profile') ? fileURLToPath(new URL('profiles/', import.meta.url)) : undefined,
    serverFlags: flags === undefined ? undefined : flags.split(' ').filter(Boolean),
    window: win ? Number(win) : undefined,
    only: only === 'throughput' || only === 'latency' ? only : undefined,
    clientCounts: counts ? counts.split(',').map(Number) : undefined,
    noBare: args.includes('--no-bare'),
  });
}
