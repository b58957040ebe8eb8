/**
 * Syslog over TCP benchmark (`npm run bench -- --only=syslog`): the gateway's syslog listener
 * (octet-counted RFC 5424, listener bound to one app) beside `POST /api/logs` carrying the same
 * lines as JSON entries, on the same gateway process, and Debian's rsyslog (`imtcp` into
 * `omfile`, its own config in a temp dir, a free port) on the same octet-counted byte stream as
 * the reference. Lines/s are lines stored: the gateway's `sluice_syslog_frames_total{result=
 * "stored"}` and the lines rsyslog wrote to its file, over the measured window.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { splitFrames } from '../src/decode/octet-frames.js';
import { parseSyslogFrame } from '../src/decode/syslog.js';
import type { Body } from './bodies.js';
import { machineJiffies, runHttp, stopServer, type HttpResult } from './http-ingest.js';
import { ratio, si, table } from './measure.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLK_TCK = 100;
const LEVELS = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug'];

/** Options of {@link runSyslogBench}. */
export interface SyslogBenchOptions {
  bodies: readonly Body[];
  token: string;
  warmupMs: number;
  durationMs: number;
  /** TCP connections of the syslog sender. */
  connections: number;
  /** Extra node flags of the gateway children (`--server-flags`, `--profile`'s `--cpu-prof`). */
  serverNodeArgs?: string[];
}

/** One syslog TCP run. */
interface TcpResult {
  name: string;
  linesPerSec: number;
  serverCpu: number;
  clientCpu: number;
  /** All processes on all cores over the window (out of cores × 100 %). */
  machineCpu: number;
  stored: number;
}

function procCpuSec(pid: number): number {
  try {
    const f = readFileSyncSafe(`/proc/${pid}/stat`);
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

function readFileSyncSafe(p: string): string {
  const fd = openSync(p, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * The bench bodies' lines as a syslog stream (RFC 5424 with a nil SD inserted, octet-counted
 * without a trailing LF) and as JSON bodies of the same lines for `POST /api/logs`.
 */
export function syslogInputs(bodies: readonly Body[]): { stream: Buffer; lines: number; json: Body[] } {
  const frames: string[] = [];
  const json: Body[] = [];
  const at = new Date();
  for (const b of bodies) {
    const entries: unknown[] = [];
    for (const f of splitFrames(b.bytes).frames) {
      const msg = b.bytes.toString('utf8', f.msgStart, f.msgEnd);
      // Drain lines carry no SD: `<PRI>1 TS HOST APP PROC MSGID MSG` → add the nil SD after MSGID.
      let sp = -1;
      for (let k = 0; k < 6; k++) sp = msg.indexOf(' ', sp + 1);
      const withSd = `${msg.slice(0, sp + 1)}- ${msg.slice(sp + 1)}`;
      frames.push(`${Buffer.byteLength(withSd)} ${withSd}`);
      const r = parseSyslogFrame(b.bytes, f.msgStart, f.msgEnd, 'drain', at);
      if (r.ok) {
        const rec = r.record;
        entries.push({ timestamp: rec.timestamp, level: LEVELS[rec.severity], message: rec.message, source: rec.appName, host: rec.hostname });
      }
    }
    json.push({ bytes: Buffer.from(JSON.stringify(entries)), lines: entries.length });
  }
  return { stream: Buffer.from(frames.join('')), lines: frames.length, json };
}

/** Writes `stream` over and over on `connections` sockets until `stop()`; honours back-pressure. */
function startSender(port: number, stream: Buffer, connections: number): { stop: () => Promise<void> } {
  let stopped = false;
  const sockets: net.Socket[] = [];
  const loops = Array.from({ length: connections }, async () => {
    const s = net.connect(port, '127.0.0.1');
    sockets.push(s);
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    while (!stopped && !s.destroyed) {
      if (!s.write(stream)) {
        await new Promise<void>((r) => {
          const done = () => {
            s.off('drain', done);
            s.off('close', done);
            r();
          };
          s.on('drain', done);
          s.on('close', done);
        });
      }
    }
  });
  return {
    stop: async () => {
      stopped = true;
      for (const s of sockets) s.destroy();
      await Promise.allSettled(loops);
    },
  };
}

async function storedLines(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = /^sluice_syslog_frames_total\{listener="tcp",result="stored"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Runs a sender against a counter over warm-up + window; `count()` says how many lines are stored. */
async function measureTcp(name: string, port: number, pid: number, stream: Buffer, count: () => Promise<number>, opts: SyslogBenchOptions): Promise<TcpResult> {
  const sender = startSender(port, stream, opts.connections);
  await sleep(opts.warmupMs);
  const n0 = await count();
  const cpu0 = procCpuSec(pid);
  const own0 = process.cpuUsage();
  const machine0 = machineJiffies();
  const t0 = performance.now();
  await sleep(opts.durationMs);
  const machine1 = machineJiffies();
  const n1 = await count();
  const sec = (performance.now() - t0) / 1000;
  const cpu = procCpuSec(pid) - cpu0;
  const own = process.cpuUsage(own0);
  await sender.stop();
  return { name, linesPerSec: (n1 - n0) / sec, serverCpu: (cpu / sec) * 100, clientCpu: ((own.user + own.system) / 1e6 / sec) * 100,
    machineCpu: ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * availableParallelism() * 100,
    stored: n1,
  };
}

async function startChild(cmd: string, args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray[] }> {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()).length > 8000 && (err = err.slice(-8000)));
  const lines = createInterface({ input: child.stdout! });
  const match: RegExpExecArray[] = [];
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${cmd}: not ready after 30 s\n${err}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${cmd}: exited with ${code}\n${err}`)));
    lines.on('line', (line) => {
      const m = /^(\w+)=(\d+)$/.exec(line);
      if (m) match.push(m);
      if (ready.test(line)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return { child, match };
}


/** Lines (LFs) in `path` from byte `from` on; returns the new count and size. */
function countLf(path: string, state: { size: number; lines: number }): number {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return state.lines;
  }
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  try {
    while (state.size < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - state.size), state.size);
      if (n <= 0) break;
      let i = -1;
      while ((i = buf.indexOf(0x0a, i + 1)) !== -1 && i < n) state.lines++;
      state.size += n;
    }
  } finally {
    closeSync(fd);
  }
  return state.lines;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** rsyslogd as a child with its own config: imtcp (octet-counted) → omfile, RFC 5424 parsed. */
async function runRsyslog(stream: Buffer, opts: SyslogBenchOptions): Promise<TcpResult | string> {
  const which = spawnSync('sh', ['-c', 'command -v rsyslogd || ls /usr/sbin/rsyslogd'], { encoding: 'utf8' });
  const bin = which.stdout.trim().split('\n')[0];
  if (which.status !== 0 || !bin) return 'skipped: rsyslogd not found (apt-get install rsyslog)';
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rsyslog-'));
  const port = await freePort();
  const out = join(dir, 'out.log');
  writeFileSync(
    join(dir, 'rsyslog.conf'),
    [
      `global(workDirectory="${dir}" maxMessageSize="64k")`,
      'module(load="imtcp" maxSessions="100")',
      'template(name="line" type="string" string="%timereported:::date-rfc3339% %hostname% %app-name% %procid% %msg%\\n")',
      `ruleset(name="bench") { action(type="omfile" file="${out}" template="line" asyncWriting="on" ioBufferSize="256k" flushInterval="1") }`,
      `input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="bench")`,
      '',
    ].join('\n'),
  );
  const child = spawn(bin, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  try {
    // Ready once it accepts connections.
    const t0 = Date.now();
    for (;;) {
      const ok = await new Promise<boolean>((r) => {
        const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
        s.on('error', () => r(false));
      });
      if (ok) break;
      if (child.exitCode !== null || Date.now() - t0 > 10_000) return `skipped: rsyslogd did not start (${err.trim().slice(0, 300)})`;
      await sleep(100);
    }
    const state = { size: 0, lines: 0 };
    return await measureTcp(`rsyslogd ${rsyslogVersion(bin)} imtcp → omfile`, port, child.pid!, stream, async () => countLf(out, state), opts);
  } finally {
    await stopServer(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

function rsyslogVersion(bin: string): string {
  const v = spawnSync(bin, ['-v'], { encoding: 'utf8' }).stdout;
  return /rsyslogd\s+([\d.]+)/.exec(v)?.[1] ?? '';
}

/** Runs the syslog section and prints its table, ratios and targets. */
export async function runSyslogBench(opts: SyslogBenchOptions): Promise<void> {
  const { stream, lines, json } = syslogInputs(opts.bodies);
  console.log(
    `\n== syslog TCP: ${lines} distinct RFC 5424 lines (the HTTP bodies' lines, nil SD added), octet-counted, ` +
      `${(stream.length / lines).toFixed(0)} B/frame; ${opts.connections} connections; ${opts.durationMs / 1000} s after ${opts.warmupMs / 1000} s warm-up`,
  );
  // POST /api/logs with the same lines as JSON arrays of 100 entries, on the same gateway build.
  const http: HttpResult = await runHttp(
    {
      name: 'sluice POST /api/logs (same lines, JSON, 100/request)',
      script: 'sluice-syslog.ts',
      args: [opts.token],
      path: '/api/logs',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.token}` },
      check: (status) => (status === 201 ? null : `status ${status}`),
    },
    json,
    { connections: 2, inflight: 2, warmupMs: opts.warmupMs, durationMs: opts.durationMs, serverNodeArgs: opts.serverNodeArgs },
  );
  const gw = await startChild(process.execPath, [...(opts.serverNodeArgs ?? []), '--import', 'tsx', fileURLToPath(new URL('servers/sluice-syslog.ts', import.meta.url)), opts.token], /^BENCH_PORT=/);
  let tcp: TcpResult;
  try {
    const get = (k: string) => Number(gw.match.find((m) => m[1] === k)![2]);
    const httpPort = get('BENCH_PORT');
    tcp = await measureTcp('sluice syslog TCP (octet-counted, bound app)', get('SYSLOG_PORT'), gw.child.pid!, stream, () => storedLines(httpPort), opts);
  } finally {
    await stopServer(gw.child);
  }
  const rs = await runRsyslog(stream, opts);
  const rows = [['server', 'lines/s', 'server CPU', 'client CPU']];
  rows.push([http.name, si(http.linesPerSec), `${http.serverCpu.toFixed(0)}%`, `${http.clientCpu.toFixed(0)}%`]);
  rows.push([tcp.name, si(tcp.linesPerSec), `${tcp.serverCpu.toFixed(0)}%`, `${tcp.clientCpu.toFixed(0)}%`]);
  if (typeof rs !== 'string') rows.push([rs.name, si(rs.linesPerSec), `${rs.serverCpu.toFixed(0)}%`, `${rs.clientCpu.toFixed(0)}%`]);
  console.log(table(rows));
  if (http.failures) console.log(`  POST /api/logs failures: ${http.failureReasons.join('; ')}`);
  if (typeof rs === 'string') console.log(`  rsyslog: ${rs}`);
  // Other sessions' processes on a shared VM show up here: such a window is not comparable.
  for (const r of [http, tcp, ...(typeof rs !== 'string' ? [rs] : [])]) {
    const other = r.machineCpu - r.serverCpu - r.clientCpu;
    if (other > 20) console.log(`  WARNING: ${other.toFixed(0)}% of CPU went elsewhere during the "${r.name}" window (other load?): its figures are disturbed, run again`);
  }
  console.log('\nratios:');
  console.log(table([
    ['sluice syslog TCP / POST /api/logs (same lines)', ratio(tcp.linesPerSec, http.linesPerSec)],
    ...(typeof rs !== 'string' ? [['sluice syslog TCP / rsyslogd imtcp → omfile', ratio(tcp.linesPerSec, rs.linesPerSec)]] : []),
  ]));
  console.log('\n== syslog targets (this machine)');
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const share = tcp.linesPerSec / http.linesPerSec;
  console.log(table([
    ['target', 'measured', ''],
    ['syslog TCP ≥ 300k lines/s', si(tcp.linesPerSec), verdict(tcp.linesPerSec >= 3e5)],
    ['syslog TCP ≥ 90% of POST /api/logs (same lines)', `${(share * 100).toFixed(0)}%`, verdict(share >= 0.9)],
  ]));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
