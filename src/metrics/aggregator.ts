/**
 * The aggregation stage: entries in (after they were stored), 10 s deltas per series out to a
 * backend every `flushMs`. Derivation runs off the request's path: stored entries are queued
 * and counted on the next turn of the event loop, and the backend write is one batch a flush.
 *
 * Bounds: `maxSeriesPerApp` series per app (further series are dropped and counted: a label
 * explosion must not eat the gateway's memory), `maxQueuedEntries` entries waiting for
 * derivation (beyond, they are dropped from the metrics, never from the store).
 */
import type { Entry } from '../normalize/entry.js';
import { ALL_SOURCES, addValue, mergeAcc, newAcc, type BucketAcc, type SeriesKind, type SeriesMeta } from './bucket.js';
import type { Delta, MetricsBackend, Retention } from './backend.js';
import { deriveEntries, type Observer } from './derive.js';

export interface AggregatorOptions {
  backend: MetricsBackend;
  retention: Retention;
  flushMs: number;
  /** Entries whose timestamp is further than this from their receive time count at receive time. */
  maxSkewSec: number;
  maxSeriesPerApp: number;
  maxQueuedEntries: number;
  /** Called when a backend write failed (the deltas are kept for the next flush). */
  onError?: (err: unknown) => void;
  now?: () => number;
}

/** What the aggregator counted about itself (GET /metrics shows them). */
export interface AggregatorStats {
  series: number;
  /** Observations of series over `maxSeriesPerApp`, or of a name already used by another kind. */
  droppedObservations: number;
  /** Entries not counted because the queue was full. */
  droppedEntries: number;
  /** Entries older than the 60 s retention (nothing left to count them in). */
  tooOld: number;
  flushes: number;
  flushErrors: number;
}

/** Stats of an aggregator that counted nothing yet. */
export function emptyStats(): AggregatorStats {
  return { series: 0, droppedObservations: 0, droppedEntries: 0, tooOld: 0, flushes: 0, flushErrors: 0 };
}

const SWEEP_EVERY_MS = 10 * 60_000;

class Series {
  pending: Map<number, BucketAcc> | null = null;
  lastT10 = NaN;
  lastAcc: BucketAcc | null = null;
  /** When it last had data to flush (epoch ms): series silent past retention are forgotten. */
  flushedAt = 0;
  constructor(readonly meta: SeriesMeta) {}
}

/** One name's series by source, and the one observed last. */
class NameSlot {
  readonly sources = new Map<string, Series>();
  lastSource: string | undefined = undefined;
  lastSeries: Series | undefined = undefined;
}

export class Aggregator implements Observer {
  /** app → name → source → series. */
  private readonly apps = new Map<string, Map<string, NameSlot>>();
  private readonly seriesPerApp = new Map<string, number>();
  private readonly dirty = new Set<Series>();
  private queue: Entry[][] = [];
  private queued = 0;
  private drainScheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private retry: Delta[] = [];
  private nowMs: number;
  private sweptAt = 0;
  private lastApp: string | undefined;
  private lastNames: Map<string, NameSlot> | undefined;
  readonly stats: AggregatorStats = emptyStats();

  constructor(private readonly opts: AggregatorOptions) {
    this.nowMs = this.now();
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Starts the flush timer. */
  start(): this {
    if (!this.timer) {
      this.timer = setInterval(() => void this.flush(), this.opts.flushMs);
      this.timer.unref();
    }
    return this;
  }

  /** Queues stored entries for counting (cheap: the work happens on the next event-loop turn). */
  add(entries: Entry[]): void {
    if (entries.length === 0) return;
    if (this.queued + entries.length > this.opts.maxQueuedEntries) {
      this.stats.droppedEntries += entries.length;
      return;
    }
    this.queue.push(entries);
    this.queued += entries.length;
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drainQueue());
    }
  }

  /** Counts every queued entry now. */
  drainQueue(): void {
    this.drainScheduled = false;
    const q = this.queue;
    this.queue = [];
    this.queued = 0;
    this.nowMs = this.now();
    const skew = this.opts.maxSkewSec * 1000;
    for (const entries of q) deriveEntries(entries, this, skew);
  }

  observeCount(app: string, name: string, source: string, unit: string, n: number, tMs: number): void {
    const acc = this.accFor(app, name, source, 'count', unit, tMs, n);
    if (acc === null) return;
    acc.count += n;
    acc.sum += n;
    if (1 < acc.min) acc.min = 1;
    if (1 > acc.max) acc.max = 1;
    if (tMs >= acc.lastT) {
      acc.last = 1;
      acc.lastT = tMs;
    }
  }

  observe(app: string, name: string, source: string, kind: SeriesKind, unit: string | undefined, value: number, tMs: number): void {
    const acc = this.accFor(app, name, source, kind, unit, tMs, 1);
    if (acc !== null) addValue(acc, value, tMs);
  }

  /** The pending 10 s accumulator of a series, made on first use; null when the observations (`n`) are dropped. */
  private accFor(app: string, name: string, source: string, kind: SeriesKind, unit: string | undefined, tMs: number, n: number): BucketAcc | null {
    if (tMs < this.nowMs - this.opts.retention[60] * 1000) {
      this.stats.tooOld += n;
      return null;
    }
    // One batch is one app: its map is looked up once per batch, not per observation.
    let names = app === this.lastApp ? this.lastNames : this.apps.get(app);
    if (!names) this.apps.set(app, (names = new Map()));
    this.lastApp = app;
    this.lastNames = names;
    let slot = names.get(name);
    if (!slot) names.set(name, (slot = new NameSlot()));
    // The last source of a name is tried first: a batch repeats its dynos and families, and a
    // string compare is cheaper than a map lookup (which hashes a fresh string per entry).
    let s = slot.lastSource === source ? slot.lastSeries : slot.sources.get(source);
    if (!s) {
      const count = this.seriesPerApp.get(app) ?? 0;
      // A name keeps the kind it first came with: `count#x` and `measure#x` cannot share a chart.
      const first = slot.sources.values().next().value as Series | undefined;
      if (count >= this.opts.maxSeriesPerApp || (first && first.meta.kind !== kind)) {
        this.stats.droppedObservations += n;
        return null;
      }
      this.seriesPerApp.set(app, count + 1);
      this.stats.series++;
      slot.sources.set(source, (s = new Series({ app, name, source, kind, ...(unit !== undefined ? { unit } : {}) })));
    } else if (s.meta.kind !== kind) {
      this.stats.droppedObservations += n;
      return null;
    }
    slot.lastSource = source;
    slot.lastSeries = s;
    const t10 = Math.floor(tMs / 10_000) * 10;
    let acc = s.lastAcc;
    if (s.lastT10 !== t10 || acc === null) {
      if (!s.pending) {
        s.pending = new Map();
        this.dirty.add(s);
      }
      acc = s.pending.get(t10) ?? null;
      if (!acc) s.pending.set(t10, (acc = newAcc(kind)));
      s.lastT10 = t10;
      s.lastAcc = acc;
    }
    return acc;
  }

  /**
   * Counts what is queued and writes every pending delta to the backend (plus, per name, the
   * merge over its sources). One write at a time; a failed write is retried with the next.
   */
  async flush(): Promise<void> {
    if (this.writing) return this.writing;
    this.drainQueue();
    const deltas = this.takeDeltas();
    if (deltas.length === 0) return;
    this.writing = (async () => {
      try {
        await this.opts.backend.write(deltas, this.now());
        this.stats.flushes++;
      } catch (err) {
        this.stats.flushErrors++;
        // Kept for the next flush, unless past the 10 s retention by then (a long outage).
        const horizon = Math.floor(this.now() / 1000) - this.opts.retention[10];
        this.retry = deltas.filter((d) => d.t10 >= horizon);
        this.opts.onError?.(err);
      } finally {
        this.writing = null;
      }
    })();
    return this.writing;
  }

  private takeDeltas(): Delta[] {
    const out: Delta[] = this.retry;
    this.retry = [];
    /** `app\nname\nt10` → the merge over sources. */
    const totals = new Map<string, Delta>();
    for (const s of this.dirty) {
      const pending = s.pending!;
      s.pending = null;
      s.lastAcc = null;
      s.lastT10 = NaN;
      s.flushedAt = this.nowMs;
      for (const [t10, acc] of pending) {
        out.push({ meta: s.meta, t10, acc });
        const key = `${s.meta.app}\n${s.meta.name}\n${t10}`;
        let total = totals.get(key);
        if (!total) {
          const { app, name, kind, unit } = s.meta;
          totals.set(key, (total = { meta: { app, name, source: ALL_SOURCES, kind, ...(unit !== undefined ? { unit } : {}) }, t10, acc: newAcc(kind) }));
        }
        mergeAcc(total.acc, acc);
      }
    }
    this.dirty.clear();
    for (const t of totals.values()) out.push(t);
    if (this.nowMs - this.sweptAt > SWEEP_EVERY_MS) this.sweep();
    return out;
  }

  /** Forgets series without data for the whole 60 s retention, so they stop counting against the bound. */
  private sweep(): void {
    this.sweptAt = this.nowMs;
    this.lastApp = undefined;
    this.lastNames = undefined;
    const before = this.nowMs - this.opts.retention[60] * 1000;
    for (const [app, names] of this.apps) {
      let n = this.seriesPerApp.get(app) ?? 0;
      for (const [name, slot] of names) {
        for (const [source, s] of slot.sources) {
          if (s.pending || s.flushedAt >= before) continue;
          slot.sources.delete(source);
          n--;
          this.stats.series--;
        }
        slot.lastSource = undefined;
        slot.lastSeries = undefined;
        if (slot.sources.size === 0) names.delete(name);
      }
      this.seriesPerApp.set(app, n);
      if (names.size === 0) {
        this.apps.delete(app);
        this.seriesPerApp.delete(app);
      }
    }
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.writing;
    await this.flush();
  }
}
