/**
 * Ingest cost by body size (`npm run bench -- --only=sizes`, issue 15): `POST /drain` with 1-,
 * 10- and 100-line bodies on the memory store and on the Redis store, beside two floors measured
 * in the same run: a bare `node:http` server that reads the body (bench/servers/bare.ts) and a
 * log-boom-like receiver that splits the frames and `LPUSH`es the raw body to Redis
 * (bench/servers/lpush-baseline.ts). Per request and per line: the server's CPU (and Redis's).
 */
import { buildBodies, type Body } from './bodies.js';
import { httpTargets, redisTarget, runHttp, type HttpOptions, type HttpResult, type HttpTarget } from './http-ingest.js';
import { ratio, si, table } from './measure.js';
import { benchPrefix, flushOwn, redisMissing, startBenchRedis } from './redis.js';

export interface SizesOptions {
  http: HttpOptions;
  token: string;
  sizes?: number[];
}

interface Row {
  lines: number;
  name: string;
  kind: 'bare' | 'lpush' | 'memory' | 'redis' | 'redis-nometrics';
  h: HttpResult;
}

const LPUSH_TARGET = (url: string, prefix: string): HttpTarget => ({
  name: 'log-boom-like: node:http + split frames + LPUSH raw body',
  script: 'lpush-baseline.ts',
  args: [url, prefix],
  path: '/drain',
  headers: { 'content-type': 'application/logplex-1', 'user-agent': 'Logplex/v123' },
  check: (status, h, lines) => (status !== 204 ? `status ${status}` : h['x-lines'] === String(lines) ? null : `x-lines ${String(h['x-lines'])}`),
});

export async function runSizesBench(opts: SizesOptions): Promise<Row[]> {
  const sizes = opts.sizes ?? [1, 10, 100];
  const rows: Row[] = [];
  const [bare, , memory] = httpTargets(opts.token);
  const missing = redisMissing();
  const redis = missing ? undefined : await startBenchRedis();
  try {
    for (const lines of sizes) {
      const bodies: Body[] = buildBodies({ count: 64, lines, seed: 10 + lines });
      rows.push({ lines, name: bare!.name, kind: 'bare', h: await runHttp(bare!, bodies, opts.http) });
      rows.push({ lines, name: 'sluice POST /drain (memory store)', kind: 'memory', h: await runHttp(memory!, bodies, opts.http) });
      if (redis) {
        const side = { ...opts.http, sideProcesses: [{ name: 'redis', pid: redis.pid()! }] };
        rows.push({ lines, name: LPUSH_TARGET('', '').name, kind: 'lpush', h: await runHttp(LPUSH_TARGET(redis.url, benchPrefix()), bodies, side) });
        await flushOwn(redis);
        rows.push({ lines, name: 'sluice POST /drain (Redis store)', kind: 'redis', h: await runHttp(redisTarget(opts.token, redis.url, benchPrefix()), bodies, side) });
        await flushOwn(redis);
        // The ingest path alone: on 2 cores the metrics thread's decoding shares them with it.
        const noMetrics = { ...redisTarget(opts.token, redis.url, benchPrefix()), env: { METRICS_ENABLED: 'false' } };
        rows.push({ lines, name: 'sluice POST /drain (Redis store, METRICS_ENABLED=false)', kind: 'redis-nometrics', h: await runHttp(noMetrics, bodies, side) });
        await flushOwn(redis);
      }
    }
  } finally {
    await redis?.stop();
  }
  if (missing) console.log(`  (Redis rows skipped: ${missing})`);
  return rows;
}

export function printSizesBench(rows: Row[]): void {
  const us = (cpu: number, perSec: number) => (perSec > 0 ? ((cpu / 100) * 1e6) / perSec : NaN);
  console.log(
    table([
      ['lines/body', 'server', 'req/s', 'lines/s', 'server µs/req', 'server µs/line', 'redis µs/line', 'failures', 'machine CPU'],
      ...rows.map((r) => [
        String(r.lines),
        r.name,
        si(r.h.reqPerSec),
        si(r.h.linesPerSec),
        us(r.h.serverCpu, r.h.reqPerSec).toFixed(0),
        us(r.h.serverCpu, r.h.linesPerSec).toFixed(2),
        r.h.sideCpu.redis !== undefined ? us(r.h.sideCpu.redis, r.h.linesPerSec).toFixed(2) : '',
        String(r.h.failures),
        `${r.h.machineCpu.toFixed(0)}%`,
      ]),
    ]),
  );
  for (const r of rows) {
    const other = r.h.machineCpu - r.h.serverCpu - r.h.clientCpu - (r.h.sideCpu.redis ?? 0);
    if (other > 20) console.log(`  WARNING: ${other.toFixed(0)}% of CPU went elsewhere during "${r.name}" (${r.lines} lines): disturbed, run again`);
    if (r.h.failures > 0) console.log(`  ${r.name} (${r.lines} lines) failures: ${r.h.failureReasons.join('; ')}`);
  }
  const get = (lines: number, kind: Row['kind']) => rows.find((r) => r.lines === lines && r.kind === kind)?.h;
  const targets = [['target', 'measured', 'measured / target', '']];
  const vs = (label: string, a: HttpResult | undefined, b: HttpResult | undefined, want: number) => {
    if (!a || !b) return;
    const x = a.linesPerSec / b.linesPerSec;
    targets.push([label, `${si(a.linesPerSec)} / ${si(b.linesPerSec)} = ${x.toFixed(2)}×`, ratio(x, want), x >= want ? 'met' : 'MISSED']);
  };
  vs('10-line bodies to Redis ≥ 0.8× the raw LPUSH baseline', get(10, 'redis'), get(10, 'lpush'), 0.8);
  vs('100-line bodies to Redis ≥ 0.45× bare node:http', get(100, 'redis'), get(100, 'bare'), 0.45);
  vs('1-line bodies to Redis ≥ 0.8× the raw LPUSH baseline', get(1, 'redis'), get(1, 'lpush'), 0.8);
  vs('  the same, METRICS_ENABLED=false', get(10, 'redis-nometrics'), get(10, 'lpush'), 0.8);
  vs('  the same, METRICS_ENABLED=false', get(100, 'redis-nometrics'), get(100, 'bare'), 0.45);
  vs('  the same, METRICS_ENABLED=false', get(1, 'redis-nometrics'), get(1, 'lpush'), 0.8);
  const mem1 = get(1, 'memory');
  if (mem1) targets.push(['1-line bodies, memory store ≥ 15k requests/s', si(mem1.reqPerSec), ratio(mem1.reqPerSec, 15_000), mem1.reqPerSec >= 15_000 ? 'met' : 'MISSED']);
  console.log(`\ntargets:\n${table(targets)}`);
}
