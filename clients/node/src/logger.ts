/**
 * DistributedLogger: the seed 001 client in Node's conventions. Log calls format, enqueue and
 * return (no I/O, never a throw); a background pump sends batches of `batchSize` entries or
 * whatever waited `flushIntervalMs`, retries with backoff, and bounds what it keeps.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { backoffDelay } from './backoff.js';
import { LEVEL_RANK, serializeEntry, serializeRawEntry, timestampMicros, toLevel, type EntryIdentity, type Level } from './entry.js';
import type { SendResult, Transport } from './http.js';
import { createTransport } from './transports.js';

export { timestampMicros, type Level } from './entry.js';

export const VERSION = '0.1.0';

/**
 * The seed's states. Running is `batching` (collecting) or `sending`; `error` is the moment a
 * send failed, `retrying` the backoff wait; `failed` after `maxRetries` (still buffering,
 * still accepting log calls, still probing the gateway at the backoff cap).
 */
export type LoggerState = 'stopped' | 'starting' | 'batching' | 'sending' | 'error' | 'retrying' | 'failed' | 'stopping';

export interface LoggerOptions {
  /** The gateway's base URL or its `/api/logs` URL. Default `SLUICE_URL`, then `http://localhost:9000`. */
  endpoint?: string;
  /** Becomes each entry's `app_id` (the Sluice app). Default `SLUICE_SERVICE`. */
  serviceName?: string;
  /** Becomes each entry's `source`. */
  componentName?: string;
  /** An ingest token. Default `SLUICE_TOKEN`. */
  apiKey?: string;
  batchSize?: number;
  flushIntervalMs?: number;
  /** Retries of one batch before the logger reports `failed` (it keeps probing). Default 5. */
  maxRetries?: number;
  maxBufferEntries?: number;
  maxBufferBytes?: number;
  /** `stop()` on `beforeExit`, SIGTERM and SIGINT. Default true. */
  handleExit?: boolean;
  minLevel?: Level | 'warn';
  /** Keep this share of DEBUG/INFO/WARN entries (ERROR and FATAL are always kept). Default 1. */
  sampleRate?: number;
  /** One request's deadline. Default 10 s. */
  requestTimeoutMs?: number;
  /** How long `stop()` keeps trying to deliver. Default 10 s. */
  stopTimeoutMs?: number;
  /**
   * `http` (default: JSON batches to `POST /api/logs`), `websocket` (one connection to
   * `GET /logs`, each batch acked by `seq`), or any {@link Transport}.
   */
  transport?: 'http' | 'websocket' | 'ws' | Transport;
  /** For tests: the jitter source. */
  random?: () => number;
}

export interface LoggerStats {
  sent: number;
  failed: number;
  dropped: number;
  buffered: number;
  retries: number;
  sampled: number;
  state: LoggerState;
}

export interface BatchSentEvent { batchId: string; count: number; status: number; duplicate: boolean; attempts: number }
export interface BatchFailedEvent { batchId: string; count: number; status?: number; error: string; permanent: boolean }
export interface DroppedEvent { count: number; reason: 'overflow' | 'stop' }
export interface StateEvent { from: LoggerState; to: LoggerState }

interface Queued { json: string; bytes: number }
interface Batch { id: string; items: Queued[]; bytes: number; attempts: number }
/** The next batch as handed to `Transport.prepare`: its id, its first entry and its size. */
interface Prepared { id: string; first: Queued; count: number }

function positive(v: number | undefined, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : dflt;
}

export class DistributedLogger extends EventEmitter {
  readonly endpoint: string;
  readonly serviceName: string | undefined;
  readonly componentName: string | undefined;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxRetries: number;
  private readonly maxBufferEntries: number;
  private readonly maxBufferBytes: number;
  private readonly handleExit: boolean;
  private readonly minRank: number;
  private readonly sampleRate: number;
  private readonly stopTimeoutMs: number;
  private readonly random: () => number;
  private readonly transport: Transport;
  private readonly identity: EntryIdentity;

  private _state: LoggerState = 'stopped';
  private queue: Queued[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** The WARN entry reporting a loss while it waits at the head of the queue (never dropped). */
  private lossReport: Queued | null = null;
  private inflight: Batch | null = null;
  private sending = false;
  private prepared: Prepared | null = null;
  private prepareScheduled = false;
  private batchTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private drainWaiters: Array<() => void> = [];
  private draining = false;
  private lostCount = 0;
  private lostSince: string | null = null;
  private lastConsoleError = -Infinity;
  private stopping: Promise<void> | null = null;
  private exitHooks: Array<[string, (...a: unknown[]) => void]> = [];
  private counters = { sent: 0, failed: 0, dropped: 0, retries: 0, sampled: 0 };

  constructor(options: LoggerOptions = {}) {
    super();
    const env = process.env;
    this.endpoint = options.endpoint ?? env.SLUICE_URL ?? 'http://localhost:9000';
    this.serviceName = options.serviceName ?? env.SLUICE_SERVICE;
    this.componentName = options.componentName;
    this.batchSize = Math.floor(positive(options.batchSize, 100));
    this.flushIntervalMs = positive(options.flushIntervalMs, 5_000);
    this.maxRetries = options.maxRetries !== undefined && options.maxRetries >= 0 ? Math.floor(options.maxRetries) : 5;
    this.maxBufferEntries = Math.floor(positive(options.maxBufferEntries, 10_000));
    this.maxBufferBytes = positive(options.maxBufferBytes, 8 * 1024 * 1024);
    this.handleExit = options.handleExit ?? true;
    const min = options.minLevel === 'warn' ? 'warning' : options.minLevel;
    this.minRank = min && LEVEL_RANK[min] ? LEVEL_RANK[min] : 0;
    this.sampleRate = options.sampleRate !== undefined && options.sampleRate >= 0 && options.sampleRate <= 1 ? options.sampleRate : 1;
    this.stopTimeoutMs = positive(options.stopTimeoutMs, 10_000);
    this.random = options.random ?? Math.random;
    this.identity = { appId: this.serviceName, source: this.componentName };
    this.transport = createTransport(options.transport ?? env.SLUICE_TRANSPORT, {
      endpoint: this.endpoint,
      apiKey: options.apiKey ?? env.SLUICE_TOKEN,
      appId: this.serviceName,
      timeoutMs: positive(options.requestTimeoutMs, 10_000),
      userAgent: `sluice-node/${VERSION} (node ${process.versions.node})`,
    });
  }

  get state(): LoggerState {
    return this._state;
  }

  stats(): LoggerStats {
    return {
      ...this.counters,
      buffered: this.queue.length - this.head + (this.inflight?.items.length ?? 0),
      state: this._state,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Life cycle
  // -------------------------------------------------------------------------------------------

  /** Stopped → Starting → Running (batching). Entries logged before start wait in the buffer. */
  start(): this {
    if (this._state !== 'stopped') return this;
    this.stopping = null;
    this.setState('starting');
    if (this.handleExit) this.installExitHooks();
    this.setState('batching');
    if (this.pendingCount() >= this.batchSize) this.schedulePump();
    else if (this.pendingCount() > 0) this.armBatchTimer();
    return this;
  }

  /**
   * Sends everything buffered now; resolves when the buffer is empty or the logger has failed.
   * On a stopped logger (nothing can be sent) it resolves at once; the entries stay buffered.
   */
  flush(): Promise<void> {
    if (this.isIdle() || (this._state === 'stopped' && !this.stopping)) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiters.push(resolve);
      this.draining = true;
      if (this._state !== 'stopped') this.pump();
    });
  }

  /**
   * From any state → Stopping → Stopped: delivers what is buffered for up to `stopTimeoutMs`,
   * then counts what is left as failed (`batch_failed`, `dropped` with reason `stop`).
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    if (this._state === 'stopped' && this.isIdle()) {
      this.removeExitHooks();
      return Promise.resolve();
    }
    this.stopping = this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.setState('stopping');
    this.clearBatchTimer();
    // A retry wait is cut short: stopping is the last chance to deliver.
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (deadline = setTimeout(() => r('timeout'), this.stopTimeoutMs)));
    const delivered = new Promise<'done'>((resolve) => {
      if (this.isIdle()) return resolve('done');
      this.drainWaiters.push(() => resolve('done'));
      this.draining = true;
      this.pump();
    });
    const outcome = await Promise.race([delivered, timedOut]);
    clearTimeout(deadline);
    if (outcome === 'timeout' || !this.isIdle()) this.abandonAll('stop timed out before delivery');
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.removeExitHooks();
    try {
      await this.transport.close?.();
    } catch {
      // a transport that cannot close cleanly has nothing left to deliver
    }
    this.setState('stopped');
    this.stopping = null;
    this.resolveDrainWaiters();
  }

  private installExitHooks(): void {
    if (this.exitHooks.length) return;
    const onBeforeExit = () => {
      if (this._state !== 'stopped' && this._state !== 'stopping') void this.stop();
    };
    const onSignal = (signal: unknown) => {
      const sig = String(signal) as NodeJS.Signals;
      void this.stop().finally(() => {
        // Our listener replaced Node's default (exit); with no other listener left, re-raise it.
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      });
    };
    this.exitHooks = [
      ['beforeExit', onBeforeExit],
      ['SIGTERM', onSignal],
      ['SIGINT', onSignal],
    ];
    for (const [ev, fn] of this.exitHooks) process.once(ev as 'beforeExit', fn as () => void);
  }

  private removeExitHooks(): void {
    for (const [ev, fn] of this.exitHooks) process.removeListener(ev, fn);
    this.exitHooks = [];
  }

  // -------------------------------------------------------------------------------------------
  // Log calls: never throw, never wait
  // -------------------------------------------------------------------------------------------

  debug(message: string, metadata?: Record<string, unknown>): void {
    this.log('debug', message, metadata);
  }
  info(message: string, metadata?: Record<string, unknown>): void {
    this.log('info', message, metadata);
  }
  warning(message: string, metadata?: Record<string, unknown>): void {
    this.log('warning', message, metadata);
  }
  warn(message: string, metadata?: Record<string, unknown>): void {
    this.log('warning', message, metadata);
  }
  error(message: string, metadata?: Record<string, unknown>): void {
    this.log('error', message, metadata);
  }
  fatal(message: string, metadata?: Record<string, unknown>): void {
    this.log('fatal', message, metadata);
  }

  /** A business event: an INFO entry with `category: "event"`, the name as message, `data` as context. */
  custom(eventName: string, data?: Record<string, unknown>): void {
    this.log('info', String(eventName), data, { category: 'event', tags: ['custom'] });
  }

  /**
   * One entry. `metadata` becomes `context`; an `Error` under `error` or `err` gives
   * `stack_trace`; `tags` (an array of strings) becomes the entry's tags.
   */
  log(level: Level | 'warn', message: string, metadata?: Record<string, unknown>, extra?: Record<string, unknown>): void {
    try {
      const lv: Level = level === 'warn' ? 'warning' : LEVEL_RANK[level] ? level : 'info';
      const rank = LEVEL_RANK[lv];
      if (rank < this.minRank) return;
      if (this.sampleRate < 1 && rank < LEVEL_RANK.error && this.random() >= this.sampleRate) {
        this.counters.sampled++;
        return;
      }
      this.enqueue(serializeEntry(this.identity, lv, message, metadata, extra));
    } catch (err) {
      this.complain('log call failed', err);
    }
  }

  // -------------------------------------------------------------------------------------------
  // The buffer
  // -------------------------------------------------------------------------------------------

  /**
   * An entry given whole, as `POST /api/logs` takes it (what `sluice send` does with a JSON
   * line): the logger's app and source fill in what it lacks. Level filters and sampling apply.
   * Returns false when `entry` is not an object (nothing is queued).
   */
  logEntry(entry: Record<string, unknown>): boolean {
    try {
      if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return false;
      const lv = toLevel(entry.level) ?? 'info';
      const rank = LEVEL_RANK[lv];
      if (rank < this.minRank) return true;
      if (this.sampleRate < 1 && rank < LEVEL_RANK.error && this.random() >= this.sampleRate) {
        this.counters.sampled++;
        return true;
      }
      const json = serializeRawEntry(this.identity, entry);
      if (json === undefined) return false;
      this.enqueue(json);
      return true;
    } catch (err) {
      this.complain('log call failed', err);
      return false;
    }
  }

  private pendingCount(): number {
    return this.queue.length - this.head;
  }

  private enqueue(json: string, atFront = false): void {
    const item: Queued = { json, bytes: Buffer.byteLength(json) };
    if (atFront) {
      if (this.head > 0) this.queue[--this.head] = item;
      else this.queue.unshift(item);
    } else this.queue.push(item);
    this.queuedBytes += item.bytes;
    // The loss report goes first and is exempt: dropping it would hide the very gap it reports.
    if (!atFront) this.enforceBounds();
    if (this._state === 'batching' && !this.sending) {
      if (this.pendingCount() >= this.batchSize) this.schedulePump();
      else this.armBatchTimer();
    }
  }

  /** Drops the oldest waiting entries until the buffer (waiting + in flight) fits its bounds. */
  private enforceBounds(): void {
    let dropped = 0;
    const inflightCount = this.inflight?.items.length ?? 0;
    const inflightBytes = this.inflight?.bytes ?? 0;
    while (
      this.pendingCount() > (this.queue[this.head] === this.lossReport ? 1 : 0) &&
      (this.pendingCount() + inflightCount > this.maxBufferEntries || this.queuedBytes + inflightBytes > this.maxBufferBytes)
    ) {
      // The loss report waiting at the head is never dropped (it would hide the gap it
      // reports): the oldest entry after it goes, and the report moves up into its slot.
      const atReport = this.queue[this.head] === this.lossReport;
      const victim = atReport ? this.head + 1 : this.head;
      const item = this.queue[victim]!;
      if (atReport) this.queue[victim] = this.lossReport!;
      this.queue[this.head] = undefined as unknown as Queued;
      this.head++;
      this.queuedBytes -= item.bytes;
      dropped++;
    }
    // A batch prepared while the last one was on the wire may hold dropped entries now.
    if (dropped > 0) this.prepared = null;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (dropped > 0) {
      if (this.lostCount === 0) this.lostSince = timestampMicros();
      this.lostCount += dropped;
      this.counters.dropped += dropped;
      this.emit('dropped', { count: dropped, reason: 'overflow' } satisfies DroppedEvent);
      this.complain(`buffer full, ${dropped} oldest entries dropped`);
    }
  }

  private takeBatch(): Batch | null {
    const n = Math.min(this.batchSize, this.pendingCount());
    const prepared = this.prepared;
    this.prepared = null;
    if (n === 0) return null;
    // The batch prepared while the last one was on the wire, if the queue's head is still the
    // same (no overflow drop, no loss report put first since): its id, so the transport finds
    // it encoded.
    const id = prepared && prepared.count === n && prepared.first === this.queue[this.head] ? prepared.id : randomUUID();
    const items = this.queue.slice(this.head, this.head + n);
    if (items[0] === this.lossReport) this.lossReport = null;
    for (let i = this.head; i < this.head + n; i++) this.queue[i] = undefined as unknown as Queued;
    this.head += n;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    let bytes = 0;
    for (const it of items) bytes += it.bytes;
    this.queuedBytes -= bytes;
    return { id, items, bytes, attempts: 0 };
  }

  /**
   * While a batch is on the wire, hands the next full batch to the transport (`prepare`) so its
   * encoding (join, gzip) overlaps the gateway's work instead of following it. Run after the
   * current request is written (setImmediate); the entries stay in the queue, where the bounds
   * still apply to them.
   */
  private schedulePrepare(): void {
    if (this.prepareScheduled || !this.transport.prepare) return;
    this.prepareScheduled = true;
    setImmediate(() => {
      this.prepareScheduled = false;
      if (!this.sending || this.pendingCount() < this.batchSize) return;
      if (this.prepared && this.prepared.first === this.queue[this.head]) return; // still the next batch
      const n = this.batchSize;
      const jsons: string[] = new Array(n);
      for (let i = 0; i < n; i++) jsons[i] = this.queue[this.head + i]!.json;
      const prepared: Prepared = { id: randomUUID(), first: this.queue[this.head]!, count: n };
      try {
        this.transport.prepare!(prepared.id, jsons);
        this.prepared = prepared;
      } catch {
        // only a hint: the batch is encoded when it is sent
      }
    });
  }

  private isIdle(): boolean {
    return this.pendingCount() === 0 && this.inflight === null;
  }

  private abandonAll(reason: string): void {
    const batches: Batch[] = [];
    if (this.inflight) batches.push(this.inflight);
    this.inflight = null;
    let b: Batch | null;
    while ((b = this.takeBatch())) batches.push(b);
    let count = 0;
    for (const batch of batches) {
      count += batch.items.length;
      this.counters.failed += batch.items.length;
      this.emit('batch_failed', { batchId: batch.id, count: batch.items.length, error: reason, permanent: true } satisfies BatchFailedEvent);
    }
    if (count > 0) {
      this.emit('dropped', { count, reason: 'stop' } satisfies DroppedEvent);
      this.complain(`${count} entries not delivered: ${reason}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // The pump: batching ⇄ sending, error → retrying, failed
  // -------------------------------------------------------------------------------------------

  private armBatchTimer(): void {
    if (this.batchTimer || this.pendingCount() === 0) return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = null;
      this.pump(true);
    }, this.flushIntervalMs);
    this.batchTimer.unref();
  }

  private clearBatchTimer(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
  }

  private pumpScheduled = false;
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Sends the next batch when allowed: a full one, or a partial one when its time came or a flush asks. */
  private pump(partialOk = false): void {
    if (this.sending || this.retryTimer) return;
    const s = this._state;
    if (s === 'stopped' || s === 'starting') return;
    if (!this.inflight) {
      const allowPartial = partialOk || this.draining || s === 'stopping';
      if (this.pendingCount() === 0 || (this.pendingCount() < this.batchSize && !allowPartial)) {
        if (this.pendingCount() > 0) this.armBatchTimer();
        if (this.isIdle()) this.resolveDrainWaiters();
        return;
      }
      this.clearBatchTimer();
      this.inflight = this.takeBatch();
    }
    void this.sendInflight();
  }

  private async sendInflight(): Promise<void> {
    const batch = this.inflight!;
    this.sending = true;
    if (this._state !== 'stopping') this.setState('sending');
    batch.attempts++;
    let result: SendResult;
    try {
      const sent = this.transport.send(batch.id, batch.items.map((i) => i.json));
      this.schedulePrepare();
      result = await sent;
    } catch (err) {
      result = { ok: false, retryable: true, error: String((err as Error)?.message ?? err) };
    }
    this.sending = false;
    // stop() gave up on this batch while it was on the wire: it is already counted as failed.
    if (this.inflight !== batch) return;
    if (result.ok) {
      this.inflight = null;
      this.counters.sent += batch.items.length;
      this.emit('batch_sent', {
        batchId: batch.id,
        count: batch.items.length,
        status: result.status,
        duplicate: result.duplicate,
        attempts: batch.attempts,
      } satisfies BatchSentEvent);
      this.reportLoss();
      this.afterBatch();
      return;
    }
    if (!result.retryable) {
      this.inflight = null;
      this.counters.failed += batch.items.length;
      this.emit('batch_failed', {
        batchId: batch.id,
        count: batch.items.length,
        status: result.status,
        error: result.error,
        permanent: true,
      } satisfies BatchFailedEvent);
      this.complain(`batch of ${batch.items.length} refused: ${result.error}`);
      this.afterBatch();
      return;
    }
    // Retryable: the same batch (same batch_id) again after a backoff.
    const stopping = this._state === 'stopping';
    const wasFailed = this._state === 'failed';
    if (!stopping) this.setState('error');
    this.complain(`send failed (${result.error}), retrying`);
    const retryNumber = batch.attempts - 1;
    const giveUp = retryNumber >= this.maxRetries;
    if (giveUp && !stopping && !wasFailed) {
      this.emit('batch_failed', {
        batchId: batch.id,
        count: batch.items.length,
        status: result.status,
        error: `${result.error} (after ${this.maxRetries} retries; buffering)`,
        permanent: false,
      } satisfies BatchFailedEvent);
    }
    const delay = backoffDelay(Math.min(retryNumber, 30), result.retryAfterMs, this.random);
    if (!stopping) this.setState(giveUp ? 'failed' : 'retrying');
    // flush() gives up with the logger; stop() keeps trying until its own deadline.
    if (giveUp && !stopping) this.resolveDrainWaiters();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.counters.retries++;
      this.pump();
    }, delay);
    if (!stopping) this.retryTimer.unref();
  }

  private afterBatch(): void {
    if (this._state !== 'stopping') this.setState('batching');
    if (this.isIdle()) {
      this.draining = false;
      this.resolveDrainWaiters();
      return;
    }
    if (this.pendingCount() >= this.batchSize || this.draining || this._state === 'stopping') this.pump();
    else this.armBatchTimer();
  }

  /** After a delivery, one WARN entry says how many entries the full buffer cost and since when. */
  private reportLoss(): void {
    if (this.lostCount === 0) return;
    const count = this.lostCount;
    const since = this.lostSince;
    this.lostCount = 0;
    this.lostSince = null;
    const json = serializeEntry(
      this.identity,
      'warning',
      `sluice client: buffer overflow, ${count} entries dropped since ${since}`,
      { dropped: count, since },
      { category: 'sluice.client', tags: ['sluice-client', 'dropped'] },
    );
    // First in line, so the gap is reported next to where it happened.
    this.enqueue(json, true);
    this.lossReport = this.queue[this.head]!;
  }

  private resolveDrainWaiters(): void {
    if (this.isIdle()) this.draining = false;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private setState(to: LoggerState): void {
    const from = this._state;
    if (from === to) return;
    this._state = to;
    this.emit('state', { from, to } satisfies StateEvent);
  }

  /** console.error at most once a minute; the events carry every detail. */
  private complain(what: string, err?: unknown): void {
    const now = Date.now();
    if (now - this.lastConsoleError < 60_000) return;
    this.lastConsoleError = now;
    try {
      console.error(`[sluice-client] ${what}${err ? `: ${String((err as Error)?.message ?? err)}` : ''}`);
    } catch {
      // never let reporting throw
    }
  }
}
