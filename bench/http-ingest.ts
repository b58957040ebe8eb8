/**
 * HTTP ingest benchmark: a server in a child process (one core), the undici client here (the
 * other core), keep-alive connections posting 100-line `application/logplex-1` bodies for a
 * fixed time after a warm-up. Every response is checked; failures are counted and shown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { REGEX_NODE_FLAGS } from '../src/query/regex-flags.js';
import type { Body } from './bodies.js';

/** A server to benchmark. */
export interface HttpTarget {
  name: string;
  /** Script under bench/servers/, run with `node --import tsx`. */
  script: string;
  args?: string[];
  path: string;
  headers?: Record<string, string>;
  /** Environment of the server child, over this process's (e.g. `METRICS_ENABLED`). */
  env?: Record<string, string>;
  /** Node flags the server runs with in production (the gateway: {@link GATEWAY_NODE_FLAGS}), before the bench's own. */
  nodeFlags?: string[];
  /** Whether a response is a success; otherwise the reason, for the failure list. */
  check(status: number, headers: Record<string, string | string[] | undefined>, lines: number): string | null;
}

/** Another process whose CPU is read over the measured window (e.g. the redis-server). */
export interface SideProcess {
  name: string;
  pid: number;
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
  /** Processes besides the server child whose CPU is read over the same window. */
  sideProcesses?: SideProcess[];
  /** Called just before and just after the measured window (e.g. to reset and read Redis stats). */
  onWindowStart?: () => Promise<void>;
  onWindowEnd?: () => Promise<void>;
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
  /** CPU of each side process over the window, as % of one core, by name. */
  sideCpu: Record<string, number>;
  /** CPU of the whole machine over the window, as % of one core (2 cores: up to 200 %). */
  machineCpu: number;
  /** Over the whole run, warm-up included: successful responses and the lines they carried. */
  totalOk: number;
  totalOkLines: number;
  /** Over the whole run, warm-up included: every response or error that was not a success. */
  totalFailures: number;
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

/** Busy and total jiffies of the whole machine (all cores), from the first line of /proc/stat. */
export function machineJiffies(): { busy: number; total: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - f[3]! - f[4]!, total }; // minus idle and iowait
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}

/**
 * The node flags the gateway runs with: those of `npm start`, the Procfile and the Dockerfile (a
 * 32 MB young generation, 128 MB of old generation before its first full collection, the
 * linear-time regexp fallback). Without the first two, V8 sometimes settles on a small heap and
 * runs a full collection every 50–500 ms: the same gateway then does 30–40 % fewer lines/s, from
 * one start to the next (README, "Node flags").
 */
export const GATEWAY_NODE_FLAGS = ['--max-semi-space-size=32', '--initial-old-space-size=128', ...REGEX_NODE_FLAGS];

/** Starts a server script in a child process and waits for its `BENCH_PORT=` line. */
export async function startServer(target: HttpTarget, nodeArgs: string[]): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, [...(target.nodeFlags ?? []), ...nodeArgs, '--import', 'tsx', fileURLToPath(new URL(`servers/${target.script}`, import.meta.url)), ...(target.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...target.env },
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

/** SIGTERM, SIGKILL after 3 s: resolves once the child exited. */
export async function stopServer(child: ChildProcess): Promise<void> {
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
  let totalOk = 0;
  let totalOkLines = 0;
  let totalFailures = 0;
  const reasons = new Map<string, number>();
  let k = 0;
  const fail = (why: string) => {
    totalFailures++;
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
          totalOk++;
          totalOkLines += b.lines;
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
  await opts.onWindowStart?.();
  counting = true;
  const side = opts.sideProcesses ?? [];
  const cpuSide0 = side.map((p) => procCpuSec(p.pid));
  const cpuServer0 = procCpuSec(child.pid!);
  const machine0 = machineJiffies();
  const cpuClient0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(opts.durationMs);
  const sec = (performance.now() - t0) / 1000;
  const cpuServer = procCpuSec(child.pid!) - cpuServer0;
  const cpuClientUs = process.cpuUsage(cpuClient0);
  const cpuSide = side.map((p, i) => procCpuSec(p.pid) - cpuSide0[i]!);
  const machine1 = machineJiffies();
  const okAtEnd = ok;
  const linesAtEnd = okLines;
  const failuresAtEnd = failures;
  counting = false;
  await opts.onWindowEnd?.();
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
    sideCpu: Object.fromEntries(side.map((p, i) => [p.name, (cpuSide[i]! / sec) * 100])),
    machineCpu: ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * availableParallelism() * 100,
    totalOk,
    totalOkLines,
    totalFailures,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** What Heroku sends with every drain POST. */
const LOGPLEX_HEADERS = { 'content-type': 'application/logplex-1', 'user-agent': 'Logplex/v123' };

/** The gateway's `POST /drain`, given its ingest token: Basic auth, a drain token, 200 + `Sluice-Accepted`. */
export function sluiceTarget(name: string, script: string, args: string[], token: string): HttpTarget {
  return {
    name,
    script,
    args,
    nodeFlags: GATEWAY_NODE_FLAGS,
    path: '/drain',
    headers: {
      ...LOGPLEX_HEADERS,
      authorization: `Basic ${Buffer.from(`token:${token}`).toString('base64')}`,
      'logplex-drain-token': 'd.4a5ea1a2-8d3c-4b3b-9d4e-2f1e4a1b2c3d',
    },
    check: (status, h, lines) =>
      status !== 200 ? `status ${status}` : h['sluice-accepted'] === String(lines) ? null : `Sluice-Accepted ${String(h['sluice-accepted'])}`,
  };
}

/** The three servers of the HTTP table; `token` is the gateway's ingest token. */
export function httpTargets(token: string): HttpTarget[] {
  return [
    {
      name: 'bare node:http (reads body, 204)',
      script: 'bare.ts',
      path: '/drain',
      headers: LOGPLEX_HEADERS,
      check: (status) => (status === 204 ? null : `status ${status}`),
    },
    {
      name: 'peer: logfmt.bodyParser on node:http',
      script: 'logfmt-peer.ts',
      path: '/drain',
      headers: LOGPLEX_HEADERS,
      check: (status, h, lines) => (status !== 200 ? `status ${status}` : h['x-lines'] === String(lines) ? null : `x-lines ${String(h['x-lines'])}`),
    },
    sluiceTarget('sluice POST /drain (memory store)', 'sluice.ts', [token], token),
  ];
}

/**
 * The gateway built by `createBackend` with `REDIS_URL` (servers/sluice-redis.ts); `roles` sets
 * `SLUICE_ROLES` (default: the configuration's default, ingest + fanout).
 */
export function redisTarget(token: string, redisUrl: string, prefix: string, roles?: string): HttpTarget {
  const name = `sluice POST /drain (Redis store${roles ? `, SLUICE_ROLES=${roles}` : ''})`;
  return sluiceTarget(name, 'sluice-redis.ts', [token, redisUrl, prefix, ...(roles ? [roles] : [])], token);
}
