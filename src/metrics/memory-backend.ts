/**
 * Aggregated buckets in process memory: the embedded default, beside the memory store.
 *
 * Per series: a map of 10 s buckets and one of 60 s buckets (retention `METRICS_RETENTION_10S`,
 * `METRICS_RETENTION_60S`), each bucket its exact numbers plus, for measures, sketch bins.
 * A closed bucket's point is computed once and cached until a late entry changes it.
 */
import { ALL_SOURCES, mergeAcc, newAcc, toPoint, type BucketAcc, type Point, type SeriesMeta } from './bucket.js';
import { mergePacked, type PackedBins } from './sketch.js';
import { t60Of, type Delta, type MetricsBackend, type Retention, type SeriesInfo, type SeriesRange, type SourceActivity, type Step } from './backend.js';

interface StoredBucket {
  /** Exact numbers; `acc.bins` is always null here: a measure's bins are `packed`. */
  acc: BucketAcc;
  packed: PackedBins | null;
  point: Point | null;
}

interface StoredSeries {
  meta: SeriesMeta;
  lastSeen: number;
  b10: Map<number, StoredBucket>;
  b60: Map<number, StoredBucket>;
}

/** How often buckets past retention are swept out. */
const PRUNE_EVERY_MS = 30_000;

export function createMemoryMetricsBackend(retention: Retention): MetricsBackend {
  /** app → `name\nsource` → series. */
  const apps = new Map<string, Map<string, StoredSeries>>();
  let prunedAt = 0;

  const add = (buckets: Map<number, StoredBucket>, t: number, acc: BucketAcc) => {
    let b = buckets.get(t);
    if (!b) buckets.set(t, (b = { acc: newAcc('count'), packed: null, point: null }));
    // The exact numbers merge as they are; the bins are packed (a 4th of a Map's memory).
    mergeAcc(b.acc, acc, false);
    if (acc.bins) b.packed = mergePacked(b.packed, acc.bins);
    b.point = null;
  };

  const prune = (nowSec: number) => {
    for (const [app, series] of apps) {
      for (const [sid, s] of series) {
        for (const t of s.b10.keys()) if (t < nowSec - retention[10]) s.b10.delete(t);
        for (const t of s.b60.keys()) if (t < nowSec - retention[60]) s.b60.delete(t);
        if (s.b10.size === 0 && s.b60.size === 0) series.delete(sid);
      }
      if (series.size === 0) apps.delete(app);
    }
  };

  const seriesOf = (app: string, name: string, source: string) => apps.get(app)?.get(`${name}\n${source}`);

  return {
    async write(deltas: Delta[], nowMs: number): Promise<void> {
      const nowSec = Math.floor(nowMs / 1000);
      for (const { meta, t10, acc } of deltas) {
        let series = apps.get(meta.app);
        if (!series) apps.set(meta.app, (series = new Map()));
        const sid = `${meta.name}\n${meta.source}`;
        let s = series.get(sid);
        if (!s) series.set(sid, (s = { meta, lastSeen: 0, b10: new Map(), b60: new Map() }));
        s.lastSeen = nowSec;
        if (t10 >= nowSec - retention[10]) add(s.b10, t10, acc);
        const t60 = t60Of(t10);
        if (t60 >= nowSec - retention[60]) add(s.b60, t60, acc);
      }
      if (nowMs - prunedAt >= PRUNE_EVERY_MS) {
        prunedAt = nowMs;
        prune(nowSec);
      }
    },

    async names(app: string): Promise<SeriesInfo[]> {
      const byName = new Map<string, SeriesInfo>();
      for (const s of apps.get(app)?.values() ?? []) {
        const { name, source, kind, unit } = s.meta;
        let info = byName.get(name);
        if (!info) byName.set(name, (info = { name, kind, ...(unit !== undefined ? { unit } : {}), sources: [], last_seen: 0 }));
        if (source !== ALL_SOURCES) info.sources.push(source);
        if (s.lastSeen > info.last_seen) info.last_seen = s.lastSeen;
      }
      for (const info of byName.values()) info.sources.sort();
      return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async read(app, name, source, fromSec, toSec, step: Step): Promise<SeriesRange> {
      const s = seriesOf(app, name, source ?? ALL_SOURCES);
      if (!s) return { kind: null, points: [] };
      const buckets = step === 10 ? s.b10 : s.b60;
      const ts: number[] = [];
      for (const t of buckets.keys()) if (t >= fromSec && t <= toSec) ts.push(t);
      ts.sort((a, b) => a - b);
      const points = new Array<Point>(ts.length);
      for (let i = 0; i < ts.length; i++) {
        const b = buckets.get(ts[i]!)!;
        points[i] = b.point ??= toPoint(s.meta.kind, ts[i]!, b.acc, b.packed);
      }
      return { kind: s.meta.kind, ...(s.meta.unit !== undefined ? { unit: s.meta.unit } : {}), points };
    },

    async activity(app, name, nowMs): Promise<SourceActivity[]> {
      const since = Math.floor(nowMs / 1000) - 60;
      const out: SourceActivity[] = [];
      for (const s of apps.get(app)?.values() ?? []) {
        if (s.meta.name !== name || s.meta.source === ALL_SOURCES) continue;
        let sum = 0;
        for (const [t, b] of s.b10) if (t + 10 > since) sum += b.acc.sum;
        out.push({ source: s.meta.source, lines_per_min: sum, last_seen: s.lastSeen });
      }
      return out.sort((a, b) => b.lines_per_min - a.lines_per_min || (a.source < b.source ? -1 : 1));
    },

    async close(): Promise<void> {
      apps.clear();
    },
  };
}
