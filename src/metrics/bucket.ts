/**
 * One series' numbers over one time bucket, and the point the API makes of them.
 *
 * count, sum, min and max are exact; `last` is the value with the latest entry timestamp
 * (ties: the one counted last); measures also carry a quantile sketch (sketch.ts).
 */
import { addToBins, binIndex, binsQuantiles, type DenseBins, emptyBins, MIN_INDEXABLE, mergeBins, packedQuantiles, type PackedBins, type SketchBins } from './sketch.js';

/** l2met's kinds: `count#` sums, `measure#` distributions, `sample#` gauges. */
export type SeriesKind = 'count' | 'measure' | 'sample';

/** What identifies a series and how it is read. */
export interface SeriesMeta {
  app: string;
  name: string;
  /** The l2met `source=`, else the dyno; "" when neither; {@link ALL_SOURCES} for the merge of all. */
  source: string;
  kind: SeriesKind;
  unit?: string;
}

/**
 * The reserved source of a name's series merged over all its sources (kept beside the
 * per-source series, so reading "all dynos" is one series, not a merge at read time). A NUL
 * cannot appear in a source read from a log line.
 */
export const ALL_SOURCES = '\u0000*';

export interface BucketAcc {
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  /** Entry timestamp (epoch ms) of `last`. */
  lastT: number;
  /** Measures only. */
  bins: SketchBins | null;
  /**
   * An open bucket's positive bins while they are counted (the aggregator's; see DenseBins), moved
   * into `bins` before the bucket is handed over ({@link settleAcc}).
   */
  dense?: DenseBins;
}

export function newAcc(kind: SeriesKind): BucketAcc {
  return { count: 0, sum: 0, min: Infinity, max: -Infinity, last: 0, lastT: -Infinity, bins: kind === 'measure' ? emptyBins() : null };
}

/** Counts one value observed at entry time `tMs`. */
export function addValue(acc: BucketAcc, value: number, tMs: number): void {
  acc.count++;
  acc.sum += value;
  if (value < acc.min) acc.min = value;
  if (value > acc.max) acc.max = value;
  if (tMs >= acc.lastT) {
    acc.last = value;
    acc.lastT = tMs;
  }
  const dense = acc.dense;
  if (dense !== undefined && value > MIN_INDEXABLE) dense.add(binIndex(value));
  else if (acc.bins) addToBins(acc.bins, value);
}

/** An accumulator ready to hand over: its dense bins moved into `bins`. */
export function settleAcc(acc: BucketAcc): BucketAcc {
  if (acc.dense !== undefined) {
    acc.dense.moveInto(acc.bins ?? (acc.bins = emptyBins()));
    acc.dense = undefined;
  }
  return acc;
}

/**
 * Adds `from` into `into` (exact: the sketch merge is a sum of bins). `bins: false` merges the
 * exact numbers only (the memory backend keeps its bins packed, apart).
 */
export function mergeAcc(into: BucketAcc, from: BucketAcc, bins = true): void {
  into.count += from.count;
  into.sum += from.sum;
  if (from.min < into.min) into.min = from.min;
  if (from.max > into.max) into.max = from.max;
  if (from.lastT >= into.lastT) {
    into.last = from.last;
    into.lastT = from.lastT;
  }
  if (bins && from.bins) {
    if (!into.bins) into.bins = emptyBins();
    mergeBins(into.bins, from.bins);
  }
}

/** A point of `GET /api/metrics`: fields by kind (protocol/README.md, "Metrics"). */
export interface Point {
  t: number;
  count: number;
  sum?: number;
  min?: number;
  max?: number;
  mean?: number;
  p50?: number;
  p95?: number;
  p99?: number;
  last?: number;
}

const QUANTILES = [0.5, 0.95, 0.99] as const;

/** Rounds away float noise (sums of 0.1s) without hiding real precision. */
function tidy(v: number): number {
  return Number.isInteger(v) ? v : Number(v.toPrecision(12));
}

/**
 * The API's point of a bucket starting at `t` (epoch seconds). A measure's percentiles come from
 * `acc.bins`, or from `packed` when the bins are kept packed (memory-backend.ts).
 */
export function toPoint(kind: SeriesKind, t: number, acc: BucketAcc, packed?: PackedBins | null): Point {
  if (kind === 'count') return { t, sum: tidy(acc.sum), count: acc.count };
  if (kind === 'sample') return { t, count: acc.count, last: acc.last, min: acc.min, max: acc.max };
  const [p50, p95, p99] = packed
    ? packedQuantiles(packed, QUANTILES, acc.min, acc.max)
    : acc.bins
      ? binsQuantiles(acc.bins, QUANTILES, acc.min, acc.max)
      : [NaN, NaN, NaN];
  return {
    t,
    count: acc.count,
    sum: tidy(acc.sum),
    min: acc.min,
    max: acc.max,
    mean: acc.count > 0 ? tidy(acc.sum / acc.count) : 0,
    p50: tidy(p50!),
    p95: tidy(p95!),
    p99: tidy(p99!),
  };
}
