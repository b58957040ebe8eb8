/**
 * The aggregation stage: entries in (after they were stored), 10 s deltas per series out to a
 * backend every `flushMs`. Derivation runs off the request's path: stored entries are queued
 * and counted on the next turn of the event loop, and the backend write is one batch a flush.
 *
 * Bounds: `maxSeriesPerApp` series per app (further series are dropped and counted: a label
 * explosion must not eat the gateway's memory), `maxQueuedEntries` entries waiting for
 * derivation (beyond, they are dropped from the metrics, never from the store).
 */
import type { Entry, Metric } from '../normalize/entry.js';
import { DenseBins } from './sketch.js';
import { ALL_SOURCES, addValue, mergeAcc, newAcc, settleAcc, type BucketAcc, type SeriesKind, type SeriesMeta } from './bucket.js';
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

/** `n` observations of 1 into a count accumulator. */
function countOnes(acc: BucketAcc, n: number, tMs: number): void {
  acc.count += n;
  acc.sum += n;
  if (1 < acc.min) acc.min = 1;
  if (1 > acc.max) acc.max = 1;
  if (tMs >= acc.lastT) {
    acc.last = 1;
    acc.lastT = tMs;
  }
}

function countValid(metrics: readonly Metric[] | undefined): number {
  let n = 0;
  if (metrics) for (const m of metrics) if (m.value !== null && Number.isFinite(m.value)) n++;
  return n;
}

const STATUS_SERIES = ['router.status.1xx', 'router.status.1xx', 'router.status.2xx', 'router.status.3xx', 'router.status.4xx', 'router.status.5xx'];
const errorSeries = new Map<string, string>();
function errorSeriesName(code: string): string {
  let name = errorSeries.get(code);
  if (name === undefined) errorSeries.set(code, (name = `router.error.${code}`));
  return name;
}

class Series {
  pending: Map<number, BucketAcc> | null = null;
  lastT10 = NaN;
  lastAcc: BucketAcc | null = null;
  /** When it last had data to flush (epoch ms): series silent past retention are forgotten. */
  flushedAt = 0;
  constructor(readonly meta: SeriesMeta) {}
}

/**
 * The series one app's router lines from one dyno feed, looked up on first use (null: dropped,
 * by the bound or a kind conflict). Forgotten at every sweep, with the series it points to.
 */
class RouterGroup {
  requests: Series | null | undefined = undefined;
  /** By status class, 1 … 5. */
  readonly classes: (Series | null | undefined)[] = [undefined, undefined, undefined, undefined, undefined, undefined];
  readonly errors = new Map<string, Series | null>();
  /** router.service, router.connect, router.bytes. */
  readonly measures: (Series | null | undefined)[] = [undefined, undefined, undefined];
}

/**
 * Groups of series by app and source, made on first use. The last group is kept: a batch is one
 * app, and its lines repeat their source; the app's map is looked up only when the app changes.
 */
class GroupsByAppSource<G> {
  private readonly byApp = new Map<string, Map<string, G>>();
  private lastApp: string | undefined;
  private lastBySource: Map<string, G> | undefined;
  private lastSource: string | undefined;
  private last: G | undefined;
  constructor(private readonly make: () => G) {}

  get(app: string, source: string): G {
    if (app === this.lastApp && source === this.lastSource) return this.last!;
    let bySource = app === this.lastApp ? this.lastBySource : this.byApp.get(app);
    if (!bySource) this.byApp.set(app, (bySource = new Map()));
    let g = bySource.get(source);
    if (g === undefined) bySource.set(source, (g = this.make()));
    this.lastApp = app;
    this.lastBySource = bySource;
    this.lastSource = source;
    this.last = g;
    return g;
  }

  /** Forgets every group (they point at series a sweep may have dropped). */
  clear(): void {
    this.byApp.clear();
    this.lastApp = this.lastSource = undefined;
    this.lastBySource = undefined;
    this.last = undefined;
  }
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
  private queue: (readonly Entry[])[] = [];
  private queued = 0;
  private drainScheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private retry: Delta[] = [];
  private nowMs = 0;
  private sweptAt = 0;
  private lastApp: string | undefined;
  private lastNames: Map<string, NameSlot> | undefined;
  /** app → source (dyno) → the series its router lines feed. */
  private readonly routerGroups = new GroupsByAppSource(() => new RouterGroup());
  /** app → source → name → series, for the l2met metrics of other lines. */
  private readonly metricGroups = new GroupsByAppSource(() => new Map<string, Series>());
  readonly stats: AggregatorStats = emptyStats();

  /** Entry times before this (epoch ms) are past the 60 s retention: set with `nowMs`. */
  private oldestMs = 0;

  constructor(private readonly opts: AggregatorOptions) {
    this.setNow();
  }

  private setNow(): void {
    this.nowMs = this.now();
    this.oldestMs = this.nowMs - this.opts.retention[60] * 1000;
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
  add(entries: readonly Entry[]): void {
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
    this.setNow();
    const skew = this.opts.maxSkewSec * 1000;
    for (const entries of q) deriveEntries(entries, this, skew);
  }

  observeCount(app: string, name: string, source: string, unit: string, n: number, tMs: number): void {
    const acc = this.accFor(app, name, source, 'count', unit, tMs, n);
    if (acc !== null) countOnes(acc, n, tMs);
  }

  observe(app: string, name: string, source: string, kind: SeriesKind, unit: string | undefined, value: number, tMs: number): void {
    const acc = this.accFor(app, name, source, kind, unit, tMs, 1);
    if (acc !== null) addValue(acc, value, tMs);
  }

  observeRouter(app: string, source: string, status: number, code: string | undefined, metrics: readonly Metric[] | undefined, tMs: number): void {
    const cls = Math.floor(status / 100);
    const hasClass = cls >= 1 && cls <= 5;
    if (tMs < this.oldestMs) {
      this.stats.tooOld += 1 + (hasClass ? 1 : 0) + (code !== undefined ? 1 : 0) + countValid(metrics);
      return;
    }
    // The group of series a router line feeds, for its app and dyno: one lookup per line, where
    // observe() per series would look up name and source five times.
    const g = this.routerGroups.get(app, source);
    const t10 = Math.floor(tMs / 10_000) * 10;
    this.countRouter(g.requests ?? (g.requests = this.seriesFor(app, 'router.requests', source, 'count', 'requests')), t10, tMs);
    if (hasClass) {
      let s = g.classes[cls];
      if (s === undefined) g.classes[cls] = s = this.seriesFor(app, STATUS_SERIES[cls]!, source, 'count', 'requests');
      this.countRouter(s, t10, tMs);
    }
    if (code !== undefined) {
      let s = g.errors.get(code);
      if (s === undefined) g.errors.set(code, (s = this.seriesFor(app, errorSeriesName(code), source, 'count', 'requests')));
      this.countRouter(s, t10, tMs);
    }
    if (metrics === undefined) return;
    for (let k = 0; k < metrics.length; k++) {
      const m = metrics[k]!;
      const v = m.value;
      if (v === null || !Number.isFinite(v)) continue;
      // The normaliser's names are these literals: a pointer compare, most of the time.
      const name = m.name;
      const slot = name === 'router.service' ? 0 : name === 'router.connect' ? 1 : name === 'router.bytes' ? 2 : -1;
      if (slot < 0 || m.kind !== 'measure') {
        this.observe(app, name, source, m.kind, m.unit, v, tMs);
        continue;
      }
      let s = g.measures[slot];
      if (s === undefined) g.measures[slot] = s = this.seriesFor(app, name, source, 'measure', m.unit);
      if (s === null) this.stats.droppedObservations++;
      else addValue(this.accOf(s, t10), v, tMs);
    }
  }

  observeMetrics(app: string, source: string, metrics: readonly Metric[], tMs: number): void {
    if (tMs < this.oldestMs) {
      this.stats.tooOld += countValid(metrics);
      return;
    }
    // The series of one app and source, by name: one lookup of the source per line, where
    // observe() per metric would look up a source that alternates from line to line.
    const g = this.metricGroups.get(app, source);
    const t10 = Math.floor(tMs / 10_000) * 10;
    for (let k = 0; k < metrics.length; k++) {
      const m = metrics[k]!;
      const v = m.value;
      if (v === null || !Number.isFinite(v)) continue;
      let s: Series | null | undefined = g.get(m.name);
      if (s === undefined) {
        // Kept once made; a refusal is not (the same name may come with its own kind next).
        s = this.seriesFor(app, m.name, source, m.kind, m.unit);
        if (s !== null) g.set(m.name, s);
      }
      if (s === null || s.meta.kind !== m.kind) this.stats.droppedObservations++;
      else addValue(this.accOf(s, t10), v, tMs);
    }
  }

  private countRouter(s: Series | null, t10: number, tMs: number): void {
    if (s === null) this.stats.droppedObservations++;
    else countOnes(this.accOf(s, t10), 1, tMs);
  }

  /** The pending 10 s accumulator of a series, made on first use; null when the observations (`n`) are dropped. */
  private accFor(app: string, name: string, source: string, kind: SeriesKind, unit: string | undefined, tMs: number, n: number): BucketAcc | null {
    if (tMs < this.oldestMs) {
      this.stats.tooOld += n;
      return null;
    }
    const s = this.seriesFor(app, name, source, kind, unit);
    if (s === null) {
      this.stats.droppedObservations += n;
      return null;
    }
    return this.accOf(s, Math.floor(tMs / 10_000) * 10);
  }

  /**
   * The series of (app, name, source), made on first use; null when it cannot be: the app has
   * `maxSeriesPerApp` series, or the name is already another kind's.
   */
  private seriesFor(app: string, name: string, source: string, kind: SeriesKind, unit: string | undefined): Series | null {
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
      if (count >= this.opts.maxSeriesPerApp || (first && first.meta.kind !== kind)) return null;
      this.seriesPerApp.set(app, count + 1);
      this.stats.series++;
      slot.sources.set(source, (s = new Series({ app, name, source, kind, ...(unit !== undefined ? { unit } : {}) })));
    } else if (s.meta.kind !== kind) {
      return null;
    }
    slot.lastSource = source;
    slot.lastSeries = s;
    return s;
  }

  /** The series' accumulator of the 10 s bucket starting at `t10` (epoch seconds). */
  private accOf(s: Series, t10: number): BucketAcc {
    let acc = s.lastAcc;
    if (s.lastT10 !== t10 || acc === null) {
      if (!s.pending) {
        s.pending = new Map();
        this.dirty.add(s);
      }
      acc = s.pending.get(t10) ?? null;
      if (!acc) {
        acc = newAcc(s.meta.kind);
        if (acc.bins !== null) acc.dense = new DenseBins();
        s.pending.set(t10, acc);
      }
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
      for (const [t10, open] of pending) {
        const acc = settleAcc(open);
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
    this.routerGroups.clear();
    this.metricGroups.clear();
    const before = this.oldestMs;
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
