/**
 * The gateway's side of the metrics worker thread (worker.ts): drain blocks nobody built entries
 * of (the Redis store keeps frames and builds entries when read) go to the thread, gathered for
 * up to POST_EVERY_MS; the thread decodes them as a read would and derives their series; its
 * flushes come back and are written to the backend here. Entries the event loop built anyway
 * (the memory store, JSON ingest) are counted where they are (service.ts): packing them for the
 * thread cost the event loop more than deriving them (bench/README.md, "Metrics from logs").
 *
 * Bounds: at most `maxQueuedEntries` lines sent and not yet counted; beyond, further blocks are
 * dropped from the metrics (never from the store) and counted in `droppedEntries`.
 */
import { Worker } from 'node:worker_threads';
import { emptyStats, type AggregatorStats } from './aggregator.js';
import type { MetricsBackend } from './backend.js';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-protocol.js';

/**
 * Queued lines go to the thread every POST_EVERY_MS, or as soon as POST_LINES are queued: a
 * message and the thread's wake-up cost ~20 µs, as much as a 1-line drain request's whole
 * handling, so small requests are gathered (the metrics are flushed every second anyway).
 */
const POST_EVERY_MS = 20;
const POST_LINES = 2000;
/** How long `close` waits for the thread's last flush. */
const CLOSE_TIMEOUT_MS = 5000;
/** Pause before a thread that died is started again. */
const RESPAWN_DELAY_MS = 1000;

export class MetricsOffload {
  private worker: Worker | null = null;
  private parts: Uint8Array[] = [];
  private ends: number[] = [];
  private bytes = 0;
  private lines = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private closing = false;
  private seq = 0;
  private readonly flushWaiters = new Map<number, () => void>();
  /** The thread's own counts, as of its last message. */
  private workerStats: AggregatorStats = emptyStats();
  /** Lines not sent because the bound was reached, or lost with a thread that died. */
  droppedEntries = 0;

  constructor(
    private readonly setup: WorkerSetup,
    private readonly backend: MetricsBackend,
    private readonly onError?: (err: unknown) => void,
  ) {
    this.spawn();
  }

  /**
   * Queues one stored block, given as its parts (header, frames: concatenated in the message
   * buffer, not here), of `lines` lines.
   */
  addBlock(parts: readonly Uint8Array[], lines: number): void {
    if (!this.room(lines)) return;
    for (const p of parts) {
      this.parts.push(p);
      this.bytes += p.length;
    }
    this.ends.push(this.bytes);
    this.lines += lines;
    this.schedule();
  }

  private room(lines: number): boolean {
    if (!this.closing && this.inFlight + this.lines + lines <= this.setup.maxQueuedEntries) return true;
    this.droppedEntries += lines;
    return false;
  }

  private schedule(): void {
    if (this.lines >= POST_LINES) {
      // Enough for one message: sent on the next turn, whatever the timer.
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (!this.immediate) this.immediate = setImmediate(this.post);
    } else if (!this.timer && !this.immediate) {
      this.timer = setTimeout(this.post, POST_EVERY_MS);
      this.timer.unref();
    }
  }

  /** One message for the blocks queued (one buffer, transferred). */
  private readonly post = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.immediate = null;
    if (!this.worker || this.lines === 0) return;
    const buf = new ArrayBuffer(this.bytes);
    const view = new Uint8Array(buf);
    let off = 0;
    for (const p of this.parts) {
      view.set(p, off);
      off += p.length;
    }
    const msg: ToWorker = { t: 'blocks', buf, ends: this.ends, lines: this.lines };
    this.worker.postMessage(msg, [buf]);
    this.inFlight += this.lines;
    this.parts = [];
    this.ends = [];
    this.bytes = 0;
    this.lines = 0;
  };

  private spawn(): void {
    const w = startWorker(this.setup);
    w.unref();
    w.on('message', (msg: FromWorker) => this.onMessage(w, msg));
    w.on('error', (err) => this.onError?.(err));
    w.on('exit', () => {
      if (this.worker !== w) return;
      this.worker = null;
      // What the thread held is gone: counted as dropped, as a full queue would be.
      this.droppedEntries += this.inFlight;
      this.inFlight = 0;
      for (const done of this.flushWaiters.values()) done();
      this.flushWaiters.clear();
      if (!this.closing) setTimeout(() => !this.closing && this.spawn(), RESPAWN_DELAY_MS).unref();
    });
    this.worker = w;
    // Lines queued while no thread was running go to this one.
    if (this.lines > 0) this.schedule();
  }

  private onMessage(w: Worker, msg: FromWorker): void {
    if (msg.t === 'counted') {
      this.inFlight -= msg.lines;
    } else if (msg.t === 'deltas') {
      this.workerStats = msg.stats;
      this.backend.write(msg.deltas, msg.nowMs).then(
        () => w.postMessage({ t: 'written', seq: msg.seq } satisfies ToWorker),
        (err: unknown) => w.postMessage({ t: 'written', seq: msg.seq, error: (err as Error)?.message ?? String(err) } satisfies ToWorker),
      );
    } else if (msg.t === 'flushed') {
      this.workerStats = msg.stats;
      this.flushWaiters.get(msg.seq)?.();
      this.flushWaiters.delete(msg.seq);
    } else if (msg.t === 'error') {
      this.onError?.(new Error(`metrics worker: ${msg.message}`));
    }
  }

  /** The thread's counts, with what was dropped before it. */
  stats(): AggregatorStats {
    return { ...this.workerStats, droppedEntries: this.workerStats.droppedEntries + this.droppedEntries };
  }

  /** Sends what is queued and has the thread count and flush it; resolves once written. */
  flush(): Promise<void> {
    this.post();
    const w = this.worker;
    if (!w) return Promise.resolve();
    const seq = ++this.seq;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.flushWaiters.delete(seq);
        resolve();
      }, CLOSE_TIMEOUT_MS);
      timer.unref();
      this.flushWaiters.set(seq, () => {
        clearTimeout(timer);
        resolve();
      });
      w.postMessage({ t: 'flush', seq } satisfies ToWorker);
    });
  }

  /** Flushes, then stops the thread. */
  async close(): Promise<void> {
    await this.flush();
    this.closing = true;
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
  }
}

/**
 * The worker thread: `worker.js` beside this file once built; from the TypeScript sources (tests,
 * `tsx`) the thread registers tsx first, as the process that runs them did.
 */
function startWorker(setup: WorkerSetup): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./worker.js', here), { workerData: setup });
  const file = new URL('./worker.ts', here).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(file)}); })`;
  return new Worker(boot, { eval: true, workerData: setup });
}
