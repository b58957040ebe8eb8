/**
 * WebSocket ingest benchmark (`GET /logs`, issue 11) beside `POST /api/logs` for the same
 * entries in the same run: the gateway of bench/servers/sluice.ts (memory store, rate limit off)
 * in a child process, the clients here. Entries/s acked (WebSocket: `ack` after storing; HTTP: 201),
 * from 1 and from 50 producers, batched (`logs` of 100 entries, HTTP bodies of the same 100) and
 * one `log` message per entry; server CPU per entry from /proc over the measured window.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { generateIngestToken } from '../src/apps/tokens.js';
import { ratio, si, table } from './measure.js';

const BATCH = 100;

function entry(i: number) {
  return { timestamp: new Date(1_700_000_000_000 + i).toISOString(), level: i % 7 === 0 ? 'WARN' : 'INFO', message: `request handled path=/api/items/${i % 500} status=200 duration_ms=${i % 97}`, context: { user_id: String(i % 1000), region: 'eu' }, tags: ['http'] };
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
}

interface Result {
  name: string;
  entriesPerSec: number;
  cpuUsPerEntry: number;
  failures: number;
}

async function window(pid: number, name: string, ms: number, run: (stop: () => boolean, count: (n: number) => void, fail: () => void) => Promise<void>): Promise<Result> {
  let counted = 0;
  let failures = 0;
  let measuring = false;
  let stopped = false;
  const done = run(() => stopped, (n) => void (measuring && (counted += n)), () => failures++);
  await new Promise((r) => setTimeout(r, Math.min(1000, ms / 2))); // warm-up
  const c0 = cpuTicks(pid);
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, ms));
  measuring = false;
  const secs = (performance.now() - t0) / 1000;
  const cpu = (cpuTicks(pid) - c0) / 100;
  stopped = true;
  await done;
  return { name, entriesPerSec: counted / secs, cpuUsPerEntry: counted ? (cpu * 1e6) / counted : 0, failures };
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

/** POST /api/logs with the same 100-entry batches (as JSON arrays), `connections` keep-alive connections, 2 in flight each. */
function httpRun(port: number, token: string, connections: number) {
  return async (stop: () => boolean, count: (n: number) => void, fail: () => void) => {
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1 });
    const bodies = Array.from({ length: 50 }, (_, k) => JSON.stringify(Array.from({ length: BATCH }, (_, i) => entry(k * BATCH + i))));
    let n = 0;
    await Promise.all(
      Array.from({ length: connections * 2 }, async () => {
        while (!stop()) {
          const res = await pool.request({ method: 'POST', path: '/api/logs', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: bodies[n++ % bodies.length] });
          await res.body.dump();
          if (res.statusCode === 201) count(BATCH);
          else fail();
        }
      }),
    );
    await pool.close();
  };
}

/** Runs the WebSocket ingest section of `npm run bench` (`--only=ws`). */
export async function runWsIngestBench(opts: { quick: boolean }): Promise<Result[]> {
  const token = generateIngestToken();
  const script = fileURLToPath(new URL('servers/sluice.ts', import.meta.url));
  const child = spawn(process.execPath, ['--max-semi-space-size=32', '--import', 'tsx', script, token], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLUICE_ROLES: 'ingest' } });
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
      results.push(await window(child.pid!, `POST /api/logs (100/req), ${producers} conn`, ms, httpRun(port, token, producers)));
      results.push(await window(child.pid!, `ws logs (100/msg), ${producers} producer${producers > 1 ? 's' : ''}`, ms, wsRun(port, token, producers, true)));
      results.push(await window(child.pid!, `ws log (1/msg), ${producers} producer${producers > 1 ? 's' : ''}`, ms, wsRun(port, token, producers, false)));
    }
  } finally {
    child.kill('SIGTERM');
  }
  return results;
}

/** Prints the results with the targets (≥ 150k batched, ≥ 50k single, each ≥ 90 % of HTTP). */
export function printWsIngest(results: Result[]): void {
  const rows: string[][] = [['path', 'entries/s', 'server CPU µs/entry', 'vs HTTP same producers', 'failures']];
  let http = 0;
  for (const r of results) {
    if (r.name.startsWith('POST')) http = r.entriesPerSec;
    rows.push([r.name, si(r.entriesPerSec), r.cpuUsPerEntry.toFixed(2), r.name.startsWith('POST') ? '' : ratio(r.entriesPerSec, http), String(r.failures)]);
  }
  console.log(`\n== WebSocket ingest (GET /logs) beside POST /api/logs, memory store, rate limit off\n${table(rows)}`);
  console.log('targets: ws logs ≥ 150k entries/s, ws log ≥ 50k entries/s, each ≥ 90 % of POST /api/logs');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printWsIngest(await runWsIngestBench({ quick: process.argv.includes('--quick') }));
}
