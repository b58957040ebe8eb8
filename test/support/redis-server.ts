import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Local `redis-server` processes for tests: free ports, start, wait, kill, restart, clusters.
 * Use it through `./redis.js`, which re-exports what tests need.
 */

/** A Redis to test against. `url` like `redis://127.0.0.1:PORT`. `owned` = started by us (may be killed/flushed). */
export interface TestRedis {
  url: string;
  host: string;
  port: number;
  owned: boolean;
  stop(): Promise<void>;
}

/** A `redis-server` of our own, on a free port in a fresh temp dir: free to kill, restart and flush. */
export interface OwnedRedis extends TestRedis {
  /** The server's `--dir` (AOF and RDB files land here); removed by `stop()`. */
  dir: string;
  /**
   * Sends `signal` (default `SIGKILL`, a crash) and resolves once the process has exited; if it
   * has not exited after 5 s it gets SIGKILL. `SIGSTOP`/`SIGTSTP`/`SIGCONT` resolve at once (the
   * process pauses or resumes, it does not exit): use them to simulate a hung server.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the SAME port and dir (SIGKILLs a running server first) and waits for PING. */
  restart(): Promise<void>;
  /** The running server's pid; `undefined` while it is killed. */
  pid(): number | undefined;
}

/** Options for {@link startRedisServer}. */
export interface StartRedisServerOptions {
  /** `--appendonly yes` (default no, with `--save ""`: nothing survives a restart). */
  appendonly?: boolean;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '1mb']`; they win over ours. */
  args?: string[];
}

/** A Redis Cluster of 3 masters (no replicas) on local ports. */
export interface TestRedisCluster {
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 10_000;
const CLUSTER_OK_TIMEOUT_MS = 15_000;
// The cluster bus listens on port + 10000 (Redis Cluster spec), which must stay below 65536.
const MAX_CLUSTER_PORT = 55_535;
const PAUSING_SIGNALS = new Set<NodeJS.Signals>(['SIGSTOP', 'SIGTSTP', 'SIGCONT']);

const debugEnabled = /^(1|true|yes)$/i.test(process.env.SLUICE_REDIS_DEBUG ?? '');
/** Step timings on stderr when `SLUICE_REDIS_DEBUG=1`: to see where a slow CI start goes. */
function debug(msg: string): void {
  if (debugEnabled) process.stderr.write(`[test-redis] ${msg}\n`);
}

/** Finds a program on PATH by looking at the file system: no shell, cheap enough for import time. */
export function findOnPath(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

function requireProgram(name: string): string {
  const found = findOnPath(name);
  if (!found) {
    throw new Error(
      `${name} is not on PATH: install Redis (apt-get install redis-server, brew install redis) ` +
        'to run tests that start their own Redis',
    );
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Children must not outlive the test process. Three layers, because each alone has a gap:
// - stop() in the caller's afterAll: the normal path;
// - process 'exit' and SIGTERM/SIGINT/SIGHUP hooks: vitest ends its fork workers with SIGTERM,
//   which skips 'exit' handlers, so the signal hook is what runs there;
// - `setpriv --pdeathsig KILL` (Linux): the kernel kills the server when its parent dies even by
//   SIGKILL or a crash, where no JavaScript runs at all.
// The registry lives on globalThis so that several copies of this module (vitest re-evaluates
// modules per test file) share one set of hooks.
// ---------------------------------------------------------------------------------------------

interface Registry {
  children: Set<ChildProcess>;
  dirs: Set<string>;
  hooked: boolean;
}

const registry: Registry = ((globalThis as Record<symbol, unknown>)[Symbol.for('sluice.test.redis')] ??= {
  children: new Set(),
  dirs: new Set(),
  hooked: false,
}) as Registry;

function cleanupSync(): void {
  for (const child of registry.children) child.kill('SIGKILL');
  registry.children.clear();
  for (const dir of registry.dirs) rmSync(dir, { recursive: true, force: true });
  registry.dirs.clear();
}

function hookCleanup(): void {
  if (registry.hooked) return;
  registry.hooked = true;
  process.on('exit', cleanupSync);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanupSync();
      // Our listener replaced the default action (terminate). If nobody else handles the signal,
      // raise it again now that no listener is left, so the process still dies as it would have.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

let pdeathsig: boolean | undefined;
/** Whether `setpriv --pdeathsig` works here (util-linux on Linux); checked once. */
function canUsePdeathsig(): boolean {
  if (pdeathsig === undefined) {
    const setpriv = process.platform === 'linux' ? findOnPath('setpriv') : undefined;
    pdeathsig = !!setpriv && spawnSync(setpriv, ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;
  }
  return pdeathsig;
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/** Listens on `port` (0 = any) on 127.0.0.1 and closes again; the port, or undefined if taken. */
function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host: HOST, exclusive: true }, () => {
      const got = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(got));
    });
  });
}

/** A port that was free a moment ago (the kernel's pick for port 0). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await tryListen(0);
    if (port !== undefined) return port;
  }
  throw new Error('no free port on 127.0.0.1');
}

/** A free port P below 55535 whose cluster bus port P + 10000 is free too, not in `taken`. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await tryListen(0);
    if (port === undefined || port >= MAX_CLUSTER_PORT) continue;
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await tryListen(port + 10_000)) === undefined) continue;
    // Checked again after the await: a parallel caller may have claimed it meanwhile.
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    taken.add(port).add(port + 10_000);
    return port;
  }
  throw new Error(`no free port pair P, P+10000 below ${MAX_CLUSTER_PORT} on 127.0.0.1`);
}

// ---------------------------------------------------------------------------------------------
// Raw RESP: enough to ask a server who it is and whether it is ready, without a client library
// that would retry and log on its own while the server is still coming up.
// ---------------------------------------------------------------------------------------------

interface Reply {
  error: boolean;
  value: string;
}

/** Parses one RESP2 reply of a simple kind (+ - : $) at `at`; undefined when incomplete. */
function parseReply(buf: Buffer, at: number): { reply: Reply; next: number } | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[at]!);
  const line = buf.toString('utf8', at + 1, eol);
  if (type === '+' || type === ':') return { reply: { error: false, value: line }, next: eol + 2 };
  if (type === '-') return { reply: { error: true, value: line }, next: eol + 2 };
  if (type === '$') {
    const len = Number(line);
    if (len < 0) return { reply: { error: false, value: '' }, next: eol + 2 };
    if (buf.length < eol + 2 + len + 2) return undefined;
    return { reply: { error: false, value: buf.toString('utf8', eol + 2, eol + 2 + len) }, next: eol + 2 + len + 2 };
  }
  throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`);
}

/** Sends the commands on one short-lived connection and resolves with one reply per command. */
export function rawCommands(port: number, commands: string[][], timeoutMs = 1000): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, replies?: Reply[]) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(replies!);
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`no answer from ${HOST}:${port} in ${timeoutMs} ms`)));
    socket.once('error', (err) => done(err));
    socket.once('close', () => done(new Error(`${HOST}:${port} closed the connection`)));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const replies: Reply[] = [];
      let at = 0;
      try {
        while (replies.length < commands.length) {
          const parsed = parseReply(buf, at);
          if (!parsed) return; // wait for more bytes
          replies.push(parsed.reply);
          at = parsed.next;
        }
      } catch (err) {
        return done(err as Error);
      }
      done(undefined, replies);
    });
    const encode = (args: string[]) =>
      `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
    socket.write(commands.map(encode).join(''));
  });
}

// ---------------------------------------------------------------------------------------------
// One redis-server process
// ---------------------------------------------------------------------------------------------

interface Spawned {
  child: ChildProcess;
  exited: Promise<void>;
  output(): string;
}

/** The port was taken by someone else: retry elsewhere (or, for a restart, wait and retry). */
class PortTakenError extends Error {}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function spawnRedis(bin: string, args: string[]): Spawned {
  hookCleanup();
  const [cmd, argv] = canUsePdeathsig() ? ['setpriv', ['--pdeathsig', 'KILL', bin, ...args]] : [bin, args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  registry.children.add(child);
  // Keep the tail of the log for error messages; reading the pipes also keeps Redis from
  // blocking on a full pipe. Nothing here may keep the test process alive on its own.
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8192);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.unref();
  (child.stdout as unknown as net.Socket).unref?.();
  (child.stderr as unknown as net.Socket).unref?.();
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      registry.children.delete(child);
      resolve();
    });
    child.once('error', (err) => {
      out += `\nspawn failed: ${err.message}`;
      registry.children.delete(child);
      resolve();
    });
  });
  return { child, exited, output: () => out };
}

async function killSpawned(s: Spawned, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!isRunning(s.child)) return s.exited;
  s.child.kill(signal);
  if (PAUSING_SIGNALS.has(signal)) return;
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 5000);
  await s.exited;
  clearTimeout(timer);
}

/**
 * Waits until the server we spawned answers PING on `port`. Asks INFO for its pid first: if the
 * bind failed and some other server owns the port, we must not mistake it for ours (we would
 * later kill or flush a stranger).
 */
async function waitReady(s: Spawned, port: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!isRunning(s.child) || s.child.pid === undefined) {
      await s.exited;
      const out = s.output();
      if (/Address already in use/i.test(out)) throw new PortTakenError(`port ${port} is taken`);
      throw new Error(`redis-server on port ${port} exited (${s.child.exitCode ?? s.child.signalCode}):\n${out}`);
    }
    const replies = await rawCommands(port, [['INFO', 'server'], ['PING']]).catch(() => undefined);
    if (replies) {
      const pid = /process_id:(\d+)/.exec(replies[0]!.value)?.[1];
      if (pid !== undefined && Number(pid) !== s.child.pid) {
        await killSpawned(s);
        throw new PortTakenError(`port ${port} is served by another redis-server (pid ${pid})`);
      }
      // -LOADING while an AOF is replayed after a restart: not ready yet.
      if (!replies[1]!.error && replies[1]!.value === 'PONG') return;
    }
    if (Date.now() > deadline) {
      await killSpawned(s);
      throw new Error(`redis-server on port ${port} did not answer PING in ${START_TIMEOUT_MS} ms:\n${s.output()}`);
    }
    await Promise.race([sleep(10), s.exited]);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function serverArgs(port: number, dir: string, appendonly: boolean, extra: string[]): string[] {
  return [
    '--port', String(port),
    '--bind', HOST,
    '--dir', dir,
    // No RDB snapshots: a test server is throwaway and a fork for BGSAVE only costs time.
    '--save', '',
    '--appendonly', appendonly ? 'yes' : 'no',
    '--protected-mode', 'no',
    ...extra,
  ];
}

/** Spawns on a fresh free port (from `pickPort`) until one binds; tries a few ports. */
async function startOnFreePort(
  bin: string,
  pickPort: () => Promise<number>,
  argsFor: (port: number) => string[],
): Promise<{ spawned: Spawned; port: number }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await pickPort();
    const spawned = spawnRedis(bin, argsFor(port));
    try {
      await waitReady(spawned, port);
      return { spawned, port };
    } catch (err) {
      await killSpawned(spawned);
      if (!(err instanceof PortTakenError)) throw err;
      lastError = err;
      debug(`${(err as Error).message}; trying another port`);
    }
  }
  throw new Error(`could not start redis-server on a free port: ${(lastError as Error).message}`);
}

async function makeTempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-redis-'));
  registry.dirs.add(dir);
  hookCleanup();
  return dir;
}

async function removeTempDir(dir: string): Promise<void> {
  registry.dirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

/**
 * Starts our own `redis-server` on a free port in a fresh temp dir, for tests that kill,
 * restart or flush Redis (never the machine's shared one). Throws if redis-server is missing.
 * Runs with `--save "" --appendonly no` unless `opts.appendonly`.
 *
 * @example
 * const redis = await startRedisServer({ appendonly: true });
 * afterAll(() => redis.stop());
 * await redis.kill();     // crash (SIGKILL)
 * await redis.restart();  // same port, same dir: the AOF is replayed
 */
export async function startRedisServer(opts: StartRedisServerOptions = {}): Promise<OwnedRedis> {
  const bin = requireProgram('redis-server');
  const t0 = performance.now();
  const dir = await makeTempDir();
  const argsFor = (port: number) => serverArgs(port, dir, opts.appendonly ?? false, opts.args ?? []);
  let current: Spawned;
  let port: number;
  try {
    ({ spawned: current, port } = await startOnFreePort(bin, freePort, argsFor));
  } catch (err) {
    await removeTempDir(dir);
    throw err;
  }
  debug(`redis-server :${port} up in ${(performance.now() - t0).toFixed(0)} ms`);

  let stopping: Promise<void> | undefined;
  const redis: OwnedRedis = {
    url: `redis://${HOST}:${port}`,
    host: HOST,
    port,
    owned: true,
    dir,
    pid: () => (isRunning(current.child) ? current.child.pid : undefined),
    kill: (signal = 'SIGKILL') => killSpawned(current, signal),
    async restart() {
      if (stopping) throw new Error('restart() after stop()');
      const t = performance.now();
      await killSpawned(current);
      // Same port: if a stranger grabbed it in between, wait a little for it to go; a lingering
      // socket of our own killed server is not a problem (Redis binds with SO_REUSEADDR).
      for (let attempt = 0; ; attempt++) {
        current = spawnRedis(bin, argsFor(port));
        try {
          await waitReady(current, port);
          break;
        } catch (err) {
          await killSpawned(current);
          if (!(err instanceof PortTakenError) || attempt >= 20) throw err;
          await sleep(100);
        }
      }
      debug(`redis-server :${port} restarted in ${(performance.now() - t).toFixed(0)} ms`);
    },
    stop() {
      stopping ??= (async () => {
        await killSpawned(current);
        await removeTempDir(dir);
      })();
      return stopping;
    },
  };
  return redis;
}

/**
 * Starts a real Redis Cluster of 3 masters, no replicas: three `redis-server --cluster-enabled
 * yes` on free local ports (with their bus ports, port + 10000, free too), joined by
 * `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`, and resolves once
 * `CLUSTER INFO` says `cluster_state:ok` on every node. Takes about 2 s: a new master waits
 * 2 s (CLUSTER_WRITABLE_DELAY) after start-up before it reports ok.
 *
 * @example
 * const cluster = await startRedisCluster();
 * const client = new Cluster(cluster.nodes);
 */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  const bin = requireProgram('redis-server');
  const cli = requireProgram('redis-cli');
  const t0 = performance.now();
  const dir = await makeTempDir();
  const taken = new Set<number>();
  const started: Spawned[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => killSpawned(s)));
    await removeTempDir(dir);
  };
  try {
    // allSettled, not all: if one node fails, the others must have been recorded in `started`
    // before stop() runs, or they would be left running.
    const settled = await Promise.allSettled(
      [0, 1, 2].map(async () => {
        const { spawned, port } = await startOnFreePort(
          bin,
          () => freeClusterPort(taken),
          (p) => [
            ...serverArgs(p, dir, false, []),
            '--cluster-enabled', 'yes',
            '--cluster-config-file', `nodes-${p}.conf`,
            '--cluster-node-timeout', '2000',
          ],
        );
        started.push(spawned);
        return { host: HOST, port };
      }),
    );
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const nodes = settled.map((r) => (r as PromiseFulfilledResult<{ host: string; port: number }>).value);
    const t1 = performance.now();
    debug(`cluster nodes ${nodes.map((n) => n.port).join(',')} up in ${(t1 - t0).toFixed(0)} ms`);

    await new Promise<void>((resolve, reject) => {
      execFile(
        cli,
        ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
        { timeout: 30_000 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout}\n${stderr}`));
          else resolve();
        },
      );
    });
    const t2 = performance.now();
    debug(`redis-cli --cluster create took ${(t2 - t1).toFixed(0)} ms`);

    await waitClusterOk(nodes.map((n) => n.port));
    debug(`cluster_state:ok after ${(performance.now() - t2).toFixed(0)} ms more; ${(performance.now() - t0).toFixed(0)} ms in all`);
    let stopping: Promise<void> | undefined;
    return { nodes, stop: () => (stopping ??= stop()) };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitClusterOk(ports: number[]): Promise<void> {
  const deadline = Date.now() + CLUSTER_OK_TIMEOUT_MS;
  let last = '';
  for (;;) {
    const infos = await Promise.all(
      ports.map((p) => rawCommands(p, [['CLUSTER', 'INFO']]).then((r) => r[0]!.value, (e: Error) => e.message)),
    );
    if (infos.every((info) => info.includes('cluster_state:ok'))) return;
    last = infos.join('\n---\n');
    if (Date.now() > deadline) throw new Error(`cluster not ok after ${CLUSTER_OK_TIMEOUT_MS} ms:\n${last}`);
    await sleep(20);
  }
}
