/**
 * HTTP ingest benchmark: a server in a child process (one core), the undici client here (the
 * other core), keep-alive connections posting 100-line `application/logplex-1` bodies for a
 * fixed time after a warm-up. Every response is checked; failures are counted and shown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type { Body } from './bodies.js';

/** A server to benchmark. */
export interface HttpTarget {
  name: string;
  /** Script under bench/servers/, run with `node --import tsx`. */
  script: string;
  args?: string[];
  path: string;
  headers?: Record<string, string>;
  /** Whether a response is a success; otherwise the reason, for the failure list. */
  check(status: number, headers: Record<string, string | string[] | undefined>, lines: number): string | null;
}

/** Options of {@link runHttp}. */
export interface HttpOptions {
  connections: number;
  /** Requests in flight (≥ connections; more than that waits in undici's queue). */
  inflight: number;
  /** Extra node flags for the server child (e.g. `--cpu-prof`). */
  serverNodeArgs?: string[];
  warmupMs: number;
  durationMs: number;
}

/** What one server did during the measured window. */
export interface HttpResult {
  name: string;
  reqPerSec: number;
  linesPerSec: number;
  ok: number;
  failures: number;
  /** Up to 5 distinct failure reasons with counts. */
  failureReasons: string[];
  /** CPU time of the server process and of this (client) process, as % of one core. */
  serverCpu: number;
  clientCpu: number;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLK_TCK = 100; // Linux USER_HZ

/** utime + stime of a process, in seconds (Linux /proc). */
function procCpuSec(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After `pid (comm) `: field 3 is state, so utime (14) and stime (15) are at index 11, 12.
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** Starts a server script in a child process and waits for its `BENCH_PORT=` line. */
async function startServer(target: HttpTarget, nodeArgs: string[]): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', fileURLToPath(new URL(`servers/${target.script}`, import.meta.url)), ...(target.args ?? [])], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => {
    if (err.length < 8000) err += c.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${target.name}: no port after 30 s\n${err}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${target.name}: exited with ${code}\n${err}`)));
    lines.on('line', (line) => {
      const m = /^BENCH_PORT=(\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      } else if (line.trim() !== '') {
        // The gateway's own (pino) logs: shown, they would mean something went wrong.
        process.stderr.write(`[${target.name}] ${line}\n`);
      }
    });
  });
  return { child, port, stderr: () => err };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

/** Runs one target: start it, warm up, measure, stop it. */
export async function runHttp(target: HttpTarget, bodies: readonly Body[], opts: HttpOptions): Promise<HttpResult> {
  const { child, port } = await startServer(target, opts.serverNodeArgs ?? []);
  const pool = new Pool(`http://127.0.0.1:${port}`, {
    connections: opts.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
  });
  let counting = false;
  let stop = false;
  let ok = 0;
  let okLines = 0;
  let failures = 0;
  const reasons = new Map<string, number>();
  let k = 0;
  const fail = (why: string) => {
    if (!counting) return;
    failures++;
    if (reasons.size < 5 || reasons.has(why)) reasons.set(why, (reasons.get(why) ?? 0) + 1);
  };
  const base = target.headers ?? {};
  const runId = randomUUID().slice(0, 8);

  const loop = async () => {
    while (!stop) {
      const b = bodies[k % bodies.length]!;
      const seq = k++;
      try {
        const res = await pool.request({
          path: target.path,
          method: 'POST',
          // Unique Logplex-Frame-Id per request: nothing is deduplicated away.
          headers: { ...base, 'logplex-msg-count': String(b.lines), 'logplex-frame-id': `${runId}-${seq}` },
          body: b.bytes,
        });
        await res.body.dump();
        const why = target.check(res.statusCode, res.headers, b.lines);
        if (why === null) {
          if (counting) {
            ok++;
            okLines += b.lines;
          }
        } else fail(why);
      } catch (e) {
        fail(`error: ${(e as Error).message}`);
      }
    }
  };
  const loops = Array.from({ length: opts.inflight }, loop);

  await sleep(opts.warmupMs);
  counting = true;
  const cpuServer0 = procCpuSec(child.pid!);
  const cpuClient0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(opts.durationMs);
  const sec = (performance.now() - t0) / 1000;
  const cpuServer = procCpuSec(child.pid!) - cpuServer0;
  const cpuClientUs = process.cpuUsage(cpuClient0);
  const okAtEnd = ok;
  const linesAtEnd = okLines;
  const failuresAtEnd = failures;
  counting = false;
  stop = true;
  await Promise.all(loops);
  await pool.close();
  await stopServer(child);

  return {
    name: target.name,
    reqPerSec: okAtEnd / sec,
    linesPerSec: linesAtEnd / sec,
    ok: okAtEnd,
    failures: failuresAtEnd,
    failureReasons: [...reasons].map(([r, n]) => `${n}× ${r}`),
    serverCpu: (cpuServer / sec) * 100,
    clientCpu: ((cpuClientUs.user + cpuClientUs.system) / 1e6 / sec) * 100,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The three servers of the HTTP table; `token` is the gateway's ingest token. */
export function httpTargets(token: string): HttpTarget[] {
  const logplex = { 'content-type': 'application/logplex-1', 'user-agent': 'Logplex/v123' };
  return [
    {
      name: 'bare node:http (reads body, 204)',
      script: 'bare.ts',
      path: '/drain',
      headers: logplex,
      check: (status) => (status === 204 ? null : `status ${status}`),
    },
    {
      name: 'peer: logfmt.bodyParser on node:http',
      script: 'logfmt-peer.ts',
      path: '/drain',
      headers: logplex,
      check: (status, h, lines) => (status !== 200 ? `status ${status}` : h['x-lines'] === String(lines) ? null : `x-lines ${String(h['x-lines'])}`),
    },
    {
      name: 'sluice POST /drain (memory store)',
      script: 'sluice.ts',
      args: [token],
      path: '/drain',
      headers: {
        ...logplex,
        authorization: `Basic ${Buffer.from(`token:${token}`).toString('base64')}`,
        'logplex-drain-token': 'd.4a5ea1a2-8d3c-4b3b-9d4e-2f1e4a1b2c3d',
      },
      check: (status, h, lines) =>
        status !== 200 ? `status ${status}` : h['sluice-accepted'] === String(lines) ? null : `Sluice-Accepted ${String(h['sluice-accepted'])}`,
    },
  ];
}
