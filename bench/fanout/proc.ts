/**
 * Child processes of the fan-out benchmark (server, clients) with an IPC channel for requests,
 * and CPU readings from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLK_TCK = 100; // Linux USER_HZ

/** utime + stime of a process (all its threads), in seconds. */
export function procCpuSec(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** Busy, interrupt (irq + softirq) and total jiffies of the whole machine, from /proc/stat. */
export function machineJiffies(): { busy: number; irq: number; total: number } {
  try {
    // user nice system idle iowait irq softirq steal
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - f[3]! - f[4]!, irq: f[5]! + f[6]!, total };
  } catch {
    return { busy: Number.NaN, irq: Number.NaN, total: Number.NaN };
  }
}

/** CPU over a window, as % of one core: processes by name, this process, the whole machine. */
export class CpuWindow {
  private readonly p0: number[];
  private readonly self0 = process.cpuUsage();
  private readonly m0 = machineJiffies();
  private readonly t0 = performance.now();

  constructor(private readonly pids: Record<string, number>) {
    this.p0 = Object.values(pids).map(procCpuSec);
  }

  /**
   * `machine`: every core's busy time; `irq`: the part spent in (soft)interrupts (on loopback,
   * much of TCP's receive path, charged to no process); `other`: what is left once the processes
   * named here, this process and interrupts are taken out: other processes on the machine (noise).
   */
  end(): { procs: Record<string, number>; self: number; machine: number; irq: number; other: number } {
    const sec = (performance.now() - this.t0) / 1000;
    const self = process.cpuUsage(this.self0);
    const m1 = machineJiffies();
    const names = Object.keys(this.pids);
    const procs = Object.fromEntries(names.map((n, i) => [n, ((procCpuSec(this.pids[n]!) - this.p0[i]!) / sec) * 100]));
    const share = (d: number) => (d / (m1.total - this.m0.total)) * availableParallelism() * 100;
    const machine = share(m1.busy - this.m0.busy);
    const irq = share(m1.irq - this.m0.irq);
    const selfPct = ((self.user + self.system) / 1e6 / sec) * 100;
    const mine = Object.values(procs).reduce((a, b) => a + b, 0) + selfPct;
    return { procs, self: selfPct, machine, irq, other: Math.max(0, machine - irq - mine) };
  }
}

/** A child with request/answer over IPC. */
export class Child {
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(m: Record<string, unknown>) => void>();
  stderr = '';
  port = 0;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (m: Record<string, unknown>) => {
      if (typeof m.re === 'number') {
        const w = this.waiting.get(m.re);
        this.waiting.delete(m.re);
        if (!w) return;
        if (typeof m.error === 'string') w.reject(new Error(`${name}: ${m.error}`));
        else w.resolve(m);
        return;
      }
      for (const l of this.listeners) l(m);
    });
    proc.stderr?.on('data', (c: Buffer) => {
      if (this.stderr.length < 8000) this.stderr += c.toString();
      if (process.env.FANOUT_DEBUG) process.stderr.write(c); // the children's stderr, live
    });
    proc.once('exit', (code, signal) => {
      for (const w of this.waiting.values()) w.reject(new Error(`${name} exited (${code ?? signal})\n${this.stderr}`));
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  request<T = Record<string, unknown>>(cmd: string, body: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: no answer to ${cmd} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.proc.send({ id, cmd, ...body });
    });
  }

  onMessage(fn: (m: Record<string, unknown>) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}

/**
 * Starts `node [nodeArgs] --import tsx <bench/…script> args` with IPC. With `waitPort`, waits for
 * its `BENCH_PORT=` line on stdout (other stdout lines are shown on stderr); otherwise for an IPC
 * `{ t: 'ready' }`.
 */
export async function startChild(
  name: string,
  script: string,
  args: string[],
  opts: { nodeArgs?: string[]; env?: Record<string, string>; waitPort: boolean },
): Promise<Child> {
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', fileURLToPath(new URL(`../${script}`, import.meta.url)), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, ...opts.env },
  });
  const child = new Child(name, proc);
  const lines = createInterface({ input: proc.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: not ready after 30 s\n${child.stderr}`)), 30_000);
    const failed = (code: number | null) => reject(new Error(`${name}: exited with ${code}\n${child.stderr}`));
    proc.once('exit', failed);
    const ok = () => {
      clearTimeout(timer);
      proc.off('exit', failed);
      resolve();
    };
    lines.on('line', (line) => {
      const m = /^BENCH_PORT=(\d+)$/.exec(line);
      if (m && opts.waitPort) {
        child.port = Number(m[1]);
        ok();
      } else if (line.trim() !== '') process.stderr.write(`[${name}] ${line}\n`);
    });
    if (!opts.waitPort) {
      const off = child.onMessage((m) => {
        if (m.t === 'ready') {
          off();
          ok();
        }
      });
    }
  });
  return child;
}
