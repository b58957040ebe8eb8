/**
 * The client library benchmark (`npm run bench -- --only=client`, issue 12): @sluice/client
 * (clients/node/src) in this process, the real gateway (`src/main.ts` with the node flags of
 * `npm start`, memory store, rate limit off, LOG_LEVEL=warn) in a child process, each on its own
 * core. Measures:
 *
 * - the cost of one log call while the batcher is running and delivering: each of 200,000
 *   calls timed on its own with `process.hrtime.bigint()` (the timer pair's own cost is printed);
 * - entries/s delivered from one logger, counted on the gateway (`sluice_ingest_lines_total`
 *   of `GET /metrics`) over a fixed window, at the default batchSize 100 and at 1000, over HTTP
 *   and over WebSocket (a transport that cannot be built is skipped, saying why), and over HTTP
 *   to a bare sink (bench/servers/bare.ts: reads the body, 204), the library's own ceiling;
 * - RSS growth with a full buffer (10,000 entries) while the gateway is down, in a fresh child
 *   process (`--expose-gc`, so the figures are live memory, not garbage);
 * - what a 5 s outage costs: a logger at 1,000 entries/s across a gateway stop and restart on
 *   the same port, every entry's sequence number checked in the two gateways' histories.
 *
 * Each window reads the machine's jiffies: when other processes took more than 20 % of a core,
 * its figures are marked disturbed. `--profile` profiles the gateway children (`--cpu-prof`) and
 * this process over each delivery window (bench/profiles/client-*.cpuprofile). Figures only:
 * nothing here passes or fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { DistributedLogger, VERSION, type LoggerOptions } from '../clients/node/src/index.js';
import { liveApp, writeAppsConfig } from '../test/support/live.js';
import { GATEWAY_NODE_FLAGS, machineJiffies, stopServer } from './http-ingest.js';
import { ratio, si, table } from './measure.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const APP = liveApp('bench-client');
const CONFIG = writeAppsConfig([APP]);
const CLK_TCK = 100;

/** Options of {@link runClientBench}. */
export interface ClientBenchOptions {
  quick: boolean;
  /** Extra node flags for the gateway children (`--profile`: `--cpu-prof`). */
  serverNodeArgs?: string[];
  /** `--profile`: also profile this process (the library side) over each delivery window, into this directory. */
  profileDir?: string;
}

// ---------------------------------------------------------------------------------------------
// What is logged
// ---------------------------------------------------------------------------------------------

const PATHS = ['/api/items', '/api/orders', '/api/users/me', '/checkout', '/health'];

/** A representative log call: an HTTP-request line with six fields of metadata (~310 bytes of entry JSON). */
function logOne(logger: DistributedLogger, i: number): void {
  const status = i % 53 === 0 ? 500 : 200;
  logger.info(`request handled path=${PATHS[i % 5]}/${i % 500} status=${status} duration_ms=${i % 97}`, {
    user_id: 10_000 + (i % 1000),
    method: i % 3 === 0 ? 'POST' : 'GET',
    status,
    duration_ms: i % 97,
    region: 'eu-west-1',
    seq: i,
  });
}

// ---------------------------------------------------------------------------------------------
// The gateway child and CPU accounting
// ---------------------------------------------------------------------------------------------

export interface Gateway {
  child: ChildProcess;
  port: number;
  url: string;
}

/** `src/main.ts` as `npm start` runs it, on 127.0.0.1 (`port` 0: a free one); resolves once it listens. */
export async function startGateway(opts: { port?: number; env?: Record<string, string>; nodeArgs?: string[] }): Promise<Gateway> {
  const child = spawn(
    process.execPath,
    [...GATEWAY_NODE_FLAGS, ...(opts.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts'],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(opts.port ?? 0),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        RATE_LIMIT_LINES_PER_SEC: '0',
        SLUICE_CONFIG: CONFIG,
        ...opts.env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway: no banner after 30 s\n${err}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}\n${err}`)));
    child.stderr!.on('data', (d: Buffer) => {
      if (err.length < 20_000) err += d.toString();
      const m = /listening on [\d.]+:(\d+)/.exec(err);
      if (m && err.includes('Dashboard:')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(Number(m[1]));
      }
    });
  });
  return { child, port, url: `http://127.0.0.1:${port}` };
}

/** Lines the gateway stored since it started: `sluice_ingest_lines_total`, every route and status. */
async function storedLines(gw: Gateway): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith('sluice_ingest_lines_total{')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}

function procCpuSec(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** CPU over a window, in % of one core: the gateway, this process, and everything else on the machine. */
interface Cpu {
  secs: number;
  gateway: number;
  client: number;
  other: number;
}

/** CPU of this process's children that have exited (and been waited for): cutime + cstime. */
function exitedChildrenCpuSec(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/**
 * Starts a CPU window. `gateway`: the pid of a gateway that runs through the whole window, or
 * `'exited-children'` for gateways started and stopped inside it (their CPU is counted when
 * they have exited: end the window after the last one exited).
 */
function cpuWindow(gatewayPid: number | 'exited-children' | undefined): () => Cpu {
  const gatewayCpu = () => (gatewayPid === 'exited-children' ? exitedChildrenCpuSec() : gatewayPid ? procCpuSec(gatewayPid) : 0);
  const g0 = gatewayCpu();
  const c0 = process.cpuUsage();
  const m0 = machineJiffies();
  const t0 = performance.now();
  return () => {
    const secs = (performance.now() - t0) / 1000;
    const gateway = ((gatewayCpu() - g0) / secs) * 100;
    const cu = process.cpuUsage(c0);
    const client = ((cu.user + cu.system) / 1e6 / secs) * 100;
    const m1 = machineJiffies();
    const machine = ((m1.busy - m0.busy) / (m1.total - m0.total)) * availableParallelism() * 100;
    return { secs, gateway, client, other: Math.max(0, machine - gateway - client) };
  };
}

const DISTURBED_PCT = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function loggerFor(gw: { url: string }, opts: LoggerOptions = {}): DistributedLogger {
  return new DistributedLogger({ endpoint: gw.url, serviceName: APP.id, apiKey: APP.ingest, handleExit: false, ...opts });
}

/** Profiles this process while `fn` runs (with `--profile`), into `dir/client-<label>.cpuprofile`. */
async function profiled<T>(dir: string | undefined, label: string, fn: () => Promise<T>): Promise<T> {
  if (!dir) return fn();
  await mkdir(dir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(join(dir, `client-${label.replace(/[^\w.-]+/g, '_')}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// 1. The cost of one log call, the batcher delivering
// ---------------------------------------------------------------------------------------------

export interface CallCost {
  calls: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  /** What an empty `hrtime.bigint()` pair costs (median), in µs: included in every figure. */
  timerUs: number;
  sent: number;
  dropped: number;
  cpu: Cpu;
}

const WARMUP_CALLS = 20_000;

async function logCallCost(gw: Gateway, calls: number): Promise<CallCost> {
  const logger = loggerFor(gw).start();
  // Warm-up (the JIT, the connection), paced like the measured calls.
  for (let i = 0; i < WARMUP_CALLS; ) {
    if (logger.stats().buffered > 8_000) {
      await sleep(1);
      continue;
    }
    for (const end = i + 500; i < end; i++) logOne(logger, i);
    await yieldToLoop();
  }
  await logger.flush();
  const ns = new Float64Array(calls);
  const window = cpuWindow(gw.child.pid);
  let i = 0;
  while (i < calls) {
    // Paced so the buffer never overflows; between groups of 500 the batcher runs (sends, answers).
    if (logger.stats().buffered > 8_000) {
      await sleep(1);
      continue;
    }
    const end = Math.min(calls, i + 500);
    for (; i < end; i++) {
      const t0 = process.hrtime.bigint();
      logOne(logger, i);
      ns[i] = Number(process.hrtime.bigint() - t0);
    }
    await yieldToLoop();
  }
  const cpu = window();
  await logger.stop();
  const empty = new Float64Array(10_001);
  for (let k = 0; k < empty.length; k++) {
    const t0 = process.hrtime.bigint();
    empty[k] = Number(process.hrtime.bigint() - t0);
  }
  empty.sort();
  ns.sort();
  const at = (q: number) => ns[Math.min(ns.length - 1, Math.floor(q * ns.length))]! / 1000;
  const s = logger.stats();
  return {
    calls,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: ns[ns.length - 1]! / 1000,
    mean: ns.reduce((a, b) => a + b, 0) / ns.length / 1000,
    timerUs: empty[empty.length >> 1]! / 1000,
    sent: s.sent,
    dropped: s.dropped,
    cpu,
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Entries/s delivered from one logger
// ---------------------------------------------------------------------------------------------

interface DeliveryCase {
  label: string;
  transport: 'http' | 'websocket';
  batchSize: number;
  /** `sink`: bench/servers/bare.ts (reads the body, 204, stores nothing): the library's own ceiling. */
  target?: 'gateway' | 'sink';
}

/**
 * The delivery runs, one line each; a transport that cannot be built (it throws) is skipped,
 * saying why. The sink rows are counted by the logger (`stats().sent`): the sink stores nothing.
 */
const DELIVERY_CASES: DeliveryCase[] = [
  { label: 'HTTP, batchSize 100 (default)', transport: 'http', batchSize: 100 },
  { label: 'HTTP, batchSize 1000', transport: 'http', batchSize: 1000 },
  { label: 'WebSocket, batchSize 100 (default)', transport: 'websocket', batchSize: 100 },
  { label: 'WebSocket, batchSize 1000', transport: 'websocket', batchSize: 1000 },
  { label: 'HTTP to a bare sink (204), batchSize 100', transport: 'http', batchSize: 100, target: 'sink' },
  { label: 'HTTP to a bare sink (204), batchSize 1000', transport: 'http', batchSize: 1000, target: 'sink' },
];

/** bench/servers/bare.ts in a child: reads each body, answers 204. */
async function startSink(): Promise<Gateway> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('servers/bare.ts', import.meta.url))], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bare sink exited with ${code}`)));
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /BENCH_PORT=(\d+)/.exec(out);
      if (m) {
        child.removeAllListeners('exit');
        resolve(Number(m[1]));
      }
    });
  });
  return { child, port, url: `http://127.0.0.1:${port}` };
}

export interface Delivery {
  label: string;
  transport: string;
  batchSize: number;
  /** Why it did not run. */
  skipped?: string;
  entriesPerSec: number;
  /** What the logger reported sent over the window (a check; the figure of the sink rows). */
  clientSentPerSec: number;
  target: 'gateway' | 'sink';
  dropped: number;
  failed: number;
  cpu: Cpu;
  gatewayUsPerEntry: number;
  clientUsPerEntry: number;
}

async function delivery(gw: Gateway, c: DeliveryCase, warmupMs: number, windowMs: number, profileDir?: string): Promise<Delivery> {
  const none: Cpu = { secs: 0, gateway: 0, client: 0, other: 0 };
  let logger: DistributedLogger;
  try {
    logger = loggerFor(gw, { transport: c.transport, batchSize: c.batchSize });
  } catch (err) {
    const skipped = String((err as Error).message);
    return { ...c, target: c.target ?? 'gateway', skipped, entriesPerSec: 0, clientSentPerSec: 0, dropped: 0, failed: 0, cpu: none, gatewayUsPerEntry: 0, clientUsPerEntry: 0 };
  }
  logger.start();
  // The producer keeps 5,000 entries waiting (so every batch goes out full, at once), in steps
  // of at most 50 calls (~0.2 ms) so that an answer never waits long for the event loop; with
  // the buffer at its mark it looks again 1 ms later.
  const highWater = Math.max(5_000, 4 * c.batchSize);
  let i = 0;
  let running = true;
  const feed = () => {
    if (!running) return;
    const room = Math.min(50, highWater - logger.stats().buffered);
    for (let k = 0; k < room; k++) logOne(logger, i++);
    if (room > 0) setImmediate(feed);
    else setTimeout(feed, 1);
  };
  while (logger.stats().buffered < highWater) logOne(logger, i++);
  feed();
  await sleep(warmupMs);
  return profiled(profileDir, c.label, async () => {
    const sink = c.target === 'sink';
    const stored0 = sink ? 0 : await storedLines(gw);
    const sent0 = logger.stats().sent;
    const window = cpuWindow(gw.child.pid);
    await sleep(windowMs);
    const stored1 = sink ? 0 : await storedLines(gw);
    const sent1 = logger.stats().sent;
    const cpu = window();
    running = false;
    await logger.stop();
    const s = logger.stats();
    const clientSentPerSec = (sent1 - sent0) / cpu.secs;
    const perSec = sink ? clientSentPerSec : (stored1 - stored0) / cpu.secs;
    return {
      ...c,
      target: c.target ?? 'gateway',
      entriesPerSec: perSec,
      clientSentPerSec,
      dropped: s.dropped,
      failed: s.failed,
      cpu,
      gatewayUsPerEntry: perSec > 0 ? ((cpu.gateway / 100) * 1e6) / perSec : 0,
      clientUsPerEntry: perSec > 0 ? ((cpu.client / 100) * 1e6) / perSec : 0,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// 3. RSS with a full buffer, the gateway down (in a fresh child: `--rss-child`)
// ---------------------------------------------------------------------------------------------

export interface RssFigures {
  entries: number;
  meanEntryBytes: number;
  baselineMB: number;
  fullMB: number;
  growthMB: number;
  heapGrowthMB: number;
  buffered: number;
  dropped: number;
  /** After 10,000 more calls (the bound drops the oldest): RSS growth from the baseline. */
  overflowGrowthMB: number;
  overflowDropped: number;
}

async function rssChild(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const mb = (b: number) => b / 1e6;
  // A port nothing listens on: every send is refused, as while the gateway is down.
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  // The entry size, and the JIT warmed: a logger that never sends, its buffer measured, then let go.
  let bytes = 0;
  let count = 0;
  {
    const probe = loggerFor({ url: `http://127.0.0.1:${port}` });
    for (let i = 0; i < 2000; i++) logOne(probe, i);
    for (const q of (probe as unknown as { queue: { bytes: number }[] }).queue) {
      bytes += q.bytes;
      count++;
    }
  }
  const settle = async () => {
    await sleep(300);
    gc();
    gc();
    await sleep(100);
  };
  const logger = loggerFor({ url: `http://127.0.0.1:${port}` }, { random: () => 0.5 }).start();
  await settle();
  const base = process.memoryUsage();
  const N = 10_000;
  for (let i = 0; i < N; i++) logOne(logger, 1000 + i);
  await settle();
  const full = process.memoryUsage();
  const s = logger.stats();
  for (let i = 0; i < N; i++) logOne(logger, 100_000 + i);
  await settle();
  const over = process.memoryUsage();
  const s2 = logger.stats();
  const out: RssFigures = {
    entries: N,
    meanEntryBytes: bytes / count,
    baselineMB: mb(base.rss),
    fullMB: mb(full.rss),
    growthMB: mb(full.rss - base.rss),
    heapGrowthMB: mb(full.heapUsed - base.heapUsed),
    buffered: s.buffered,
    dropped: s.dropped,
    overflowGrowthMB: mb(over.rss - base.rss),
    overflowDropped: s2.dropped,
  };
  process.stdout.write(`RSS_RESULT=${JSON.stringify(out)}\n`);
  // No stop(): it would try to deliver to the absent gateway for stopTimeoutMs.
  process.exit(0);
}

async function rssFigures(): Promise<RssFigures> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--rss-child'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.once('exit', r));
  const m = /^RSS_RESULT=(.*)$/m.exec(out);
  if (!m) throw new Error(`the RSS child printed no result:\n${out}`);
  return JSON.parse(m[1]!) as RssFigures;
}

// ---------------------------------------------------------------------------------------------
// 4. A 5 s outage: sent against stored, entry by entry
// ---------------------------------------------------------------------------------------------

export interface Outage {
  rate: number;
  sent: number;
  storedFirst: number;
  storedSecond: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  maxBuffered: number;
  retries: number;
  /** From the restarted gateway's banner to the backlog delivered (≤ one batch waiting), in s. */
  drainedAfterSec: number | undefined;
  /** Entries still buffered 40 s after the logging ended, delivered by stop(). */
  leftForStop: number;
  cpu: Cpu;
}

/** Every `context.seq` in the gateway's history of the app, oldest first. */
async function storedSeqs(gw: Gateway): Promise<number[]> {
  const seqs: number[] = [];
  for (let offset = 0; ; offset += 1000) {
    const res = await fetch(`${gw.url}/api/logs?limit=1000&offset=${offset}`, { headers: { Authorization: `Bearer ${APP.read}` } });
    const page = (await res.json()) as { entries: { context?: { seq?: number } }[] };
    for (const e of page.entries) if (typeof e.context?.seq === 'number') seqs.push(e.context.seq);
    if (page.entries.length < 1000) break;
  }
  return seqs.reverse();
}

async function outage(nodeArgs: string[], rate: number): Promise<Outage> {
  // History big enough to hold the whole run, so every entry can be checked by its seq.
  const env = { HISTORY_PER_APP: '100000', HISTORY_BYTES_PER_APP: String(128 * 1024 * 1024) };
  const window = cpuWindow('exited-children');
  const gw1 = await startGateway({ env, nodeArgs });
  // The defaults of the library, as an app would have them (backoff with full jitter, 5 retries,
  // then `failed` and probing at the cap until the gateway answers).
  const logger = loggerFor(gw1).start();
  let seq = 0;
  let maxBuffered = 0;
  /** `rate` entries/s in steps of 10 ms, for `ms`. */
  const logFor = async (ms: number) => {
    const until = performance.now() + ms;
    const t0 = performance.now();
    const start = seq;
    while (performance.now() < until) {
      const due = start + Math.floor(((performance.now() - t0) / 1000) * rate);
      while (seq < due) logOne(logger, seq++);
      maxBuffered = Math.max(maxBuffered, logger.stats().buffered);
      await sleep(10);
    }
  };
  await logFor(3_000);
  // The memory store starts empty after a restart: the first gateway's history is read just
  // before it stops, the logger flushed (and holding still for that moment).
  await logger.flush();
  const first = await storedSeqs(gw1);
  await stopServer(gw1.child);
  await logFor(5_000);
  const gw2 = await startGateway({ port: gw1.port, env, nodeArgs });
  const upAt = performance.now();
  let drainedAfterSec: number | undefined;
  const watch = setInterval(() => {
    // Caught up: no more than one batch (100) waiting, as in steady state at this rate.
    if (drainedAfterSec === undefined && logger.stats().buffered <= 100) drainedAfterSec = (performance.now() - upAt) / 1000;
  }, 10);
  await logFor(3_000);
  // The rest as the library delivers it by itself (a retry wait may still be running: up to the
  // backoff cap), then stop().
  const giveUpAt = performance.now() + 40_000;
  while (logger.stats().buffered > 0 && performance.now() < giveUpAt) await sleep(50);
  clearInterval(watch);
  if (drainedAfterSec === undefined && logger.stats().buffered === 0) drainedAfterSec = (performance.now() - upAt) / 1000;
  const leftForStop = logger.stats().buffered;
  await logger.stop();
  const second = await storedSeqs(gw2);
  await stopServer(gw2.child);
  const cpu = window();

  const all = [...first, ...second];
  const seen = new Map<number, number>();
  for (const s of all) seen.set(s, (seen.get(s) ?? 0) + 1);
  let lost = 0;
  let duplicated = 0;
  for (let s = 0; s < seq; s++) {
    const n = seen.get(s) ?? 0;
    if (n === 0) lost++;
    else duplicated += n - 1;
  }
  let outOfOrder = 0;
  for (let k = 1; k < all.length; k++) if (all[k]! <= all[k - 1]!) outOfOrder++;
  return {
    rate,
    sent: seq,
    storedFirst: first.length,
    storedSecond: second.length,
    lost,
    duplicated,
    outOfOrder,
    maxBuffered,
    retries: logger.stats().retries,
    drainedAfterSec,
    leftForStop,
    cpu,
  };
}

// ---------------------------------------------------------------------------------------------
// Running and printing
// ---------------------------------------------------------------------------------------------

export interface ClientBenchResult {
  call: CallCost;
  deliveries: Delivery[];
  rss: RssFigures;
  outage: Outage;
}

/** Runs the client section of `npm run bench` (`--only=client`). */
export async function runClientBench(opts: ClientBenchOptions): Promise<ClientBenchResult> {
  const nodeArgs = opts.serverNodeArgs ?? [];
  const gw = await startGateway({ nodeArgs });
  let call: CallCost;
  const deliveries: Delivery[] = [];
  try {
    call = await logCallCost(gw, 200_000);
    const sink = await startSink();
    try {
      for (const c of DELIVERY_CASES) {
        const target = c.target === 'sink' ? sink : gw;
        deliveries.push(await delivery(target, c, opts.quick ? 1_000 : 1_500, opts.quick ? 3_000 : 5_000, opts.profileDir));
      }
    } finally {
      await stopServer(sink.child);
    }
  } finally {
    await stopServer(gw.child);
  }
  const rss = await rssFigures();
  const out = await outage(nodeArgs, 1_000);
  return { call, deliveries, rss, outage: out };
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const pct = (n: number) => `${n.toFixed(0)}%`;

/** Prints the tables, each figure beside its target with the ratio, and the disturbed warnings. */
export function printClientBench(r: ClientBenchResult): void {
  const { call, deliveries, rss, outage: o } = r;
  const warnings: string[] = [];
  const disturbed = (what: string, cpu: Cpu) => {
    if (cpu.other > DISTURBED_PCT) {
      warnings.push(`WARNING: ${cpu.other.toFixed(0)}% of a core went to other processes during "${what}": its figures are disturbed, run again`);
      return ' (disturbed)';
    }
    return '';
  };

  console.log(
    `\n== Client library (@sluice/client ${VERSION}, clients/node/src) in this process, the gateway (src/main.ts, memory store, rate limit off) in a child`,
  );
  console.log(
    `\nlog call, the batcher delivering (batchSize 100): ${call.calls.toLocaleString('en')} calls, each timed with process.hrtime.bigint() ` +
      `(an empty timer pair costs ${(call.timerUs * 1000).toFixed(0)} ns, included)${disturbed('log call', call.cpu)}`,
  );
  console.log(table([
    ['p50', 'p90', 'p99', 'p99.9', 'max', 'mean', 'delivered', 'dropped', 'gateway CPU', 'client CPU', 'other CPU'],
    [`${f2(call.p50)} µs`, `${f2(call.p90)} µs`, `${f2(call.p99)} µs`, `${f2(call.p999)} µs`, `${f1(call.max)} µs`, `${f2(call.mean)} µs`, String(call.sent), String(call.dropped), pct(call.cpu.gateway), pct(call.cpu.client), pct(call.cpu.other)],
  ]));

  console.log(
    '\nentries/s delivered from one logger, counted by the gateway (sluice_ingest_lines_total; the sink rows: by the logger), ' +
      'the producer keeping 5,000 waiting:',
  );
  const rows = [['transport', 'entries/s', 'logger sent/s', 'receiver CPU', 'µs/entry', 'client CPU', 'µs/entry', 'other CPU', 'dropped', 'failed']];
  for (const d of deliveries) {
    if (d.skipped) {
      rows.push([d.label, `skipped: ${d.skipped}`, '', '', '', '', '', '', '', '']);
      continue;
    }
    rows.push([
      d.label + disturbed(d.label, d.cpu),
      si(d.entriesPerSec),
      si(d.clientSentPerSec),
      pct(d.cpu.gateway),
      f2(d.gatewayUsPerEntry),
      pct(d.cpu.client),
      f2(d.clientUsPerEntry),
      pct(d.cpu.other),
      String(d.dropped),
      String(d.failed),
    ]);
  }
  console.log(table(rows));
  console.log(
    "  (CPU in % of one core over the window; receiver: the gateway, or the sink; client CPU includes the producer's log calls, zlib and GC threads)",
  );

  console.log(
    `\nfull buffer, gateway down (fresh child, --expose-gc): ${rss.entries.toLocaleString('en')} entries of ${rss.meanEntryBytes.toFixed(0)} B mean JSON: ` +
      `RSS ${f1(rss.baselineMB)} → ${f1(rss.fullMB)} MB (+${f1(rss.growthMB)} MB, heap +${f1(rss.heapGrowthMB)} MB), buffered ${rss.buffered}, dropped ${rss.dropped}; ` +
      `10,000 calls more: +${f1(rss.overflowGrowthMB)} MB from the baseline, ${rss.overflowDropped} oldest dropped (the bound holds)`,
  );

  console.log(
    `\n5 s outage at ${o.rate.toLocaleString('en')} entries/s (library defaults: full-jitter backoff, 5 retries then probing): sent ${o.sent}, ` +
      `stored ${o.storedFirst} (first gateway) + ${o.storedSecond} (restarted) = ${o.storedFirst + o.storedSecond}; ` +
      `lost ${o.lost}, duplicated ${o.duplicated}, out of order ${o.outOfOrder}; most buffered ${o.maxBuffered}, ${o.retries} retries; ` +
      (o.drainedAfterSec !== undefined ? `backlog delivered ${f1(o.drainedAfterSec)} s after the restarted gateway listened` : `${o.leftForStop} left for stop() to deliver`) +
      disturbed('outage', o.cpu),
  );

  const toGateway = deliveries.filter((d) => !d.skipped && d.target === 'gateway');
  const http100 = toGateway.find((d) => d.transport === 'http' && d.batchSize === 100);
  const best = [...toGateway].sort((a, b) => b.entriesPerSec - a.entriesPerSec)[0];
  const met = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const targets = [['target', 'measured', 'measured / target', '']];
  targets.push(['log call p99 ≤ 20 µs', `${f2(call.p99)} µs`, ratio(call.p99, 20), met(call.p99 <= 20)]);
  for (const d of toGateway) {
    targets.push([`≥ 100k entries/s delivered, ${d.label}`, si(d.entriesPerSec), ratio(d.entriesPerSec, 100_000), met(d.entriesPerSec >= 100_000)]);
  }
  targets.push([`RSS growth ≤ 50 MB at ${rss.entries.toLocaleString('en')} buffered`, `${f1(rss.growthMB)} MB`, ratio(rss.growthMB, 50), met(rss.growthMB <= 50)]);
  targets.push(['0 lost across a 5 s outage', `${o.lost} lost, ${o.duplicated} dup.`, `${o.sent - o.lost} of ${o.sent}`, met(o.lost === 0 && o.duplicated === 0)]);
  targets.push(['seed: < 1 ms per log call (p99.9 / max)', `${f2(call.p999)} / ${f1(call.max)} µs`, ratio(call.p999, 1000), met(call.p999 < 1000)]);
  if (http100) targets.push(['seed: 1,000 logs/s (HTTP, default batchSize)', si(http100.entriesPerSec), ratio(http100.entriesPerSec, 1000), met(http100.entriesPerSec >= 1000)]);
  targets.push(['seed: < 50 MB (buffer full, RSS growth)', `${f1(rss.growthMB)} MB`, ratio(rss.growthMB, 50), met(rss.growthMB < 50)]);
  console.log(`\ntargets:\n${table(targets)}`);
  if (best) console.log(`  (best delivery: ${best.label}, ${si(best.entriesPerSec)} entries/s)`);
  for (const w of warnings) console.log(`  ${w}`);
}

if (process.argv.includes('--rss-child')) {
  await rssChild();
} else if (import.meta.url === `file://${process.argv[1]}`) {
  printClientBench(await runClientBench({ quick: process.argv.includes('--quick') }));
}
