/**
 * WebSocket ingest benchmark (`GET /logs`, issue 11) beside `POST /api/logs` for the same
 * entries in the same run: the gateway of bench/servers/sluice.ts (memory store, rate limit off)
 * in a child process, the clients here. Entries/s acked (WebSocket: `ack` after storing; HTTP: 201),
 * from 1 and from 50 producers, batched (`logs` of 100 entries, HTTP bodies of the same 100) and
 * one `log` message per entry (beside HTTP requests of one entry each, the like-for-like
 * comparison); server CPU per entry from /proc over the measured window, and a warning when
 * other processes took more than 20 % of the machine in a window (its figures are disturbed).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { generateIngestToken } from '../src/apps/tokens.js';
import { GATEWAY_NODE_FLAGS } from './http-ingest.js';
import { ratio, si, table } from './measure.js';

const BATCH = 100;

function entry(i: number) {
  return { timestamp: new Date(1_700_000_000_000 + i).toISOString(), level: i % 7 === 0 ? 'WARN' : 'INFO', message: `request handled path=/api/items/${i % 500} status=200 duration_ms=${i % 97}`, context: { user_id: String(i % 1000), region: 'eu' }, tags: ['http'] };
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - (f[4] ?? 0), total };
}

interface Result {
  name: string;
  entriesPerSec: number;
  cpuUsPerEntry: number;
  failures: number;
  /** % of one core that went to other processes than the server and this client in the window. */
  otherCpu: number;
}

async function window(pid: number, name: string, ms: number, run: (stop: () => boolean, count: (n: number) => void, fail: () => void) => Promise<void>): Promise<Result> {
  let counted = 0;
  let failures = 0;
  let measuring = false;
  let stopped = false;
  const done = run(() => stopped, (n) => void (measuring && (counted += n)), () => failures++);
  await new Promise((r) => setTimeout(r, Math.min(1000, ms / 2))); // warm-up
  const c0 = cpuTicks(pid);
  const m0 = machineTicks();
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, ms));
  measuring = false;
  const secs = (performance.now() - t0) / 1000;
  const cpu = (cpuTicks(pid) - c0) / 100;
  const u = process.cpuUsage(u0);
  const m1 = machineTicks();
  // Machine busy time (all cores) minus the server's and this client's, in % of one core.
  const machineSecs = ((m1.busy - m0.busy) / (m1.total - m0.total)) * availableParallelism() * secs;
  const otherCpu = Math.max(0, ((machineSecs - cpu - (u.user + u.system) / 1e6) / secs) * 100);
  stopped = true;
  await done;
  return { name, entriesPerSec: counted / secs, cpuUsPerEntry: counted ? (cpu * 1e6) / counted : 0, failures, otherCpu };
}

/** `producers` WebSocket connections, each keeping `inflight` messages unacked. */
function wsRun(port: number, token: string, producers: number, batched: boolean) {
  return async (stop: () => boolean, count: (n: number) => void, fail: () => void) => {
    const per = batched ? BATCH : 1;
    const inflight = batched ? 8 : 400;
    const frames: string[] = [];
    for (let k = 0; k < 50; k++) {
      const data = batched ? Array.from({ length: BATCH }, (_, i) => entry(k * BATCH + i)) : entry(k);
      frames.push(JSON.stringify({ type: batched ? 'logs' : 'log', seq: 0, data }).replace('"seq":0', '"seq":SEQ'));
    }
    await Promise.all(
      Array.from({ length: producers }, async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/logs?token=${token}`, { perMessageDeflate: false });
        await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
        let seq = 0;
        let unacked = 0;
        const sendOne = () => {
          unacked++;
          ws.send(frames[seq % frames.length]!.replace('SEQ', String(seq++)));
        };
        await new Promise<void>((resolve) => {
          ws.on('message', (d) => {
            const s = String(d);
            if (s.startsWith('{"type":"authenticated"')) return;
            if (s.startsWith('{"type":"ack"')) count(per);
            else fail();
            unacked--;
            if (stop()) {
              if (unacked === 0) resolve();
              return;
            }
            sendOne();
          });
          for (let i = 0; i < inflight; i++) sendOne();
        });
        ws.close();
      }),
    );
  };
}

/**
 * POST /api/logs with the same entries, `connections` keep-alive connections, 2 requests per
 * connection queued (one in flight, the next ready): `per` = 100, the 100-entry batches of the
 * ws `logs` runs (as JSON arrays); `per` = 1, one entry (a JSON object) per request, as ws `log`.
 */
function httpRun(port: number, token: string, connections: number, per: number) {
  return async (stop: () => boolean, count: (n: number) => void, fail: () => void) => {
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1 });
    const bodies =
      per === 1
        ? Array.from({ length: 50 }, (_, k) => JSON.stringify(entry(k)))
        : Array.from({ length: 50 }, (_, k) => JSON.stringify(Array.from({ length: per }, (_, i) => entry(k * per + i))));
    let n = 0;
    await Promise.all(
      Array.from({ length: connections * 2 }, async () => {
        while (!stop()) {
          const res = await pool.request({ method: 'POST', path: '/api/logs', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: bodies[n++ % bodies.length] });
          await res.body.dump();
          if (res.statusCode === 201) count(per);
          else fail();
        }
      }),
    );
    await pool.close();
  };
}

/** Runs the WebSocket ingest section of `npm run bench` (`--only=ws`). */
export async function runWsIngestBench(opts: { quick: boolean; serverNodeArgs?: string[] }): Promise<Result[]> {
  const token = generateIngestToken();
  const script = fileURLToPath(new URL('servers/sluice.ts', import.meta.url));
  // serverNodeArgs: `--profile` (`--cpu-prof`) and `--server-flags=` of bench/index.ts.
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, ...(opts.serverNodeArgs ?? []), '--import', 'tsx', script, token], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLUICE_ROLES: 'ingest' } });
  const port = await new Promise<number>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /^BENCH_PORT=(\d+)/.exec(l);
      if (m) resolve(Number(m[1]));
    });
  });
  const ms = opts.quick ? 2000 : 4000;
  const results: Result[] = [];
  try {
    for (const producers of [1, 50]) {
      const s = producers > 1 ? 's' : '';
      results.push(await window(child.pid!, `POST /api/logs (100/req), ${producers} conn`, ms, httpRun(port, token, producers, BATCH)));
      results.push(await window(child.pid!, `POST /api/logs (1/req), ${producers} conn`, ms, httpRun(port, token, producers, 1)));
      results.push(await window(child.pid!, `ws logs (100/msg), ${producers} producer${s}`, ms, wsRun(port, token, producers, true)));
      results.push(await window(child.pid!, `ws log (1/msg), ${producers} producer${s}`, ms, wsRun(port, token, producers, false)));
    }
  } finally {
    child.kill('SIGTERM');
    // `--cpu-prof` writes its profile on exit: wait for it.
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
  return results;
}

/**
 * Prints the results with the targets (≥ 150k batched, ≥ 50k single, each ≥ 90 % of HTTP for
 * the same entries): ws `logs` against POST of the same 100-entry batches, ws `log` against POST
 * of one entry per request (like for like) and, for reference, against the 100-entry POSTs.
 */
export function printWsIngest(results: Result[]): void {
  const rows: string[][] = [['path', 'entries/s', 'server CPU µs/entry', 'vs POST 1/req', 'vs POST 100/req', 'failures', 'other CPU']];
  let http100 = 0;
  let http1 = 0;
  for (const r of results) {
    if (r.name.startsWith('POST /api/logs (100/req)')) http100 = r.entriesPerSec;
    if (r.name.startsWith('POST /api/logs (1/req)')) http1 = r.entriesPerSec;
    const single = r.name.startsWith('ws log ');
    rows.push([
      r.name,
      si(r.entriesPerSec),
      r.cpuUsPerEntry.toFixed(2),
      single ? ratio(r.entriesPerSec, http1) : '',
      r.name.startsWith('ws') ? ratio(r.entriesPerSec, http100) : '',
      String(r.failures),
      `${r.otherCpu.toFixed(0)}%`,
    ]);
  }
  console.log(`\n== WebSocket ingest (GET /logs) beside POST /api/logs, memory store, rate limit off\n${table(rows)}`);
  console.log('  (other CPU: % of one core used by other processes than the server and this client in the window)');
  for (const r of results) {
    if (r.otherCpu > 20) console.log(`  WARNING: ${r.otherCpu.toFixed(0)}% of a core went elsewhere during "${r.name}" (other load?): its figures are disturbed, run again`);
  }
  console.log(
    'targets: ws logs ≥ 150k entries/s and ≥ 90 % of POST /api/logs 100/req; ws log ≥ 50k entries/s and ≥ 90 % of POST /api/logs 1/req (same entries)',
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printWsIngest(await runWsIngestBench({ quick: process.argv.includes('--quick') }));
}
