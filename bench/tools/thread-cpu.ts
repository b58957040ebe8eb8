/**
 * A/B of gateway settings by the CPU of each of its threads (the event loop apart from the
 * metrics thread, GC and libuv helpers): `POST /drain` of 100-line bodies (LINES=… to change) on
 * the memory store, 2 connections, 2 in flight, 2 s warm-up then 4 s, each variant in turn,
 * ROUNDS times. On a noisy 2-vCPU machine the event loop's µs per line moves less than lines/s.
 *
 *   npx tsx bench/tools/thread-cpu.ts
 *   VARIANTS='[{"METRICS_ENABLED":"false"},{"METRICS_THREAD_NICE":"0"}]' ROUNDS=3 npx tsx bench/tools/thread-cpu.ts
 *
 * REDIS=1 runs the gateway on the Redis store (our own redis-server on a free port, a fresh key
 * prefix per run). PROFILE_DIR=… runs the gateway with `--cpu-prof` into that folder (the profiles then hold the
 * warm-up too; the requests answered in all are printed, for cpuprofile-diff.ts).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { Pool } from 'undici';
import { buildBodies } from '../bodies.js';
import { sluiceTarget, startServer, stopServer } from '../http-ingest.js';
import { benchPrefix, startBenchRedis } from '../redis.js';
import { randomUUID } from 'node:crypto';

const token = `t.${randomUUID()}`;
const bodies = buildBodies({ count: 64, lines: Number(process.env.LINES ?? 100), seed: 1 });
function threads(pid: number) {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    out.set(`${tid === String(pid) ? 'MAIN' : comm}#${tid}`, (Number(f[11]) + Number(f[12])) / 100);
  }
  return out;
}
async function run(env: Record<string, string>) {
  const base = redis ? sluiceTarget('x', 'sluice-redis.ts', [token, redis.url, benchPrefix()], token) : sluiceTarget('x', 'sluice.ts', [token], token);
  const prof = [...(process.env.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : []), ...(process.env.NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
  const { child, port } = await startServer({ ...base, env }, prof);
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 2, pipelining: 1 });
  let stop = false, ok = 0, k = 0, counting = false, answered = 0;
  const loop = async () => { while (!stop) { const b = bodies[k++ % bodies.length]!; const res = await pool.request({ path: '/drain', method: 'POST', headers: { ...base.headers, 'logplex-frame-id': randomUUID() }, body: b.bytes }); await res.body.dump(); answered++; if (counting && res.statusCode === 200) ok += b.lines; } };
  const loops = [loop(), loop()];
  await new Promise((r) => setTimeout(r, 2000));
  const t0 = threads(child.pid!); const w0 = performance.now(); counting = true;
  await new Promise((r) => setTimeout(r, 4000));
  counting = false; const t1 = threads(child.pid!); const el = (performance.now() - w0) / 1000;
  stop = true; await Promise.all(loops); await pool.close(); await stopServer(child);
  const per: string[] = [];
  const groups = new Map<string, number>();
  for (const [k2, v] of t1) { const d = v - (t0.get(k2) ?? 0); const g = k2.startsWith('MAIN') ? 'main' : k2.split('#')[0]!; groups.set(g, (groups.get(g) ?? 0) + d); }
  for (const [g, d] of groups) if (d / el > 0.01) per.push(`${g} ${(100 * d / el).toFixed(0)}%`);
  const main = groups.get('main')! / el;
  console.log(`${JSON.stringify(env)} ${(ok / el / 1000).toFixed(1)}k lines/s main µs/line ${(main * 1e6 / (ok / el)).toFixed(2)} | ${per.join(', ')} | ${answered} requests in all`);
}
const redis = process.env.REDIS ? await startBenchRedis() : undefined;
const variants = JSON.parse(process.env.VARIANTS ?? "[{\"METRICS_ENABLED\":\"false\"},{\"METRICS_ENABLED\":\"true\"}]");
for (let i = 0; i < Number(process.env.ROUNDS ?? 2); i++) for (const v of variants) await run(v);
await redis?.stop();
