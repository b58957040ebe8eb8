/**
 * A DDSketch-style quantile sketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable
 * quantile sketch with relative-error guarantees", VLDB 2019): values fall into logarithmic
 * bins of ratio γ = (1 + α) / (1 − α); a bin's value is the point whose relative distance to
 * every value of the bin is at most α. A quantile read off the bins is therefore within a
 * relative error α of the true sample at that rank, and two sketches merge exactly by adding
 * their bin counts (what lets several processes count into shared Redis bins).
 *
 * α = 1 %: router times from 1 ms to 30 s need ~520 bins at most, real traffic a few dozen.
 * Negative values have bins of their own (l2met drops them; we keep them), and values whose
 * magnitude is below {@link MIN_INDEXABLE} count as zero.
 */

/** The stated relative-error bound of every quantile this sketch returns. */
export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);
/** Magnitudes below this are counted in the zero bin. */
export const MIN_INDEXABLE = 1e-9;

/**
 * Bin indexes of the integers 1 … 65535, computed once: most values in logs are whole
 * milliseconds or bytes, and a table read is several times cheaper than the logarithm.
 */
const SMALL_INT_BINS = (() => {
  const t = new Int16Array(65_536);
  for (let v = 1; v < t.length; v++) t[v] = Math.ceil(Math.log(v) / LN_GAMMA);
  return t;
})();

/** The bin index of a positive magnitude. */
export function binIndex(magnitude: number): number {
  if (magnitude < 65_536 && magnitude >= 1 && (magnitude | 0) === magnitude) return SMALL_INT_BINS[magnitude]!;
  return Math.ceil(Math.log(magnitude) / LN_GAMMA);
}

/** The representative value of a bin: within α of every magnitude the bin holds. */
export function binValue(index: number): number {
  return (2 * Math.pow(GAMMA, index)) / (GAMMA + 1);
}

/**
 * Bin counts of one sketch. `pos` and `neg` map a bin index to its count (`neg` for the
 * magnitudes of negative values); `zero` counts values at (or next to) zero.
 */
export interface SketchBins {
  pos: Map<number, number>;
  neg: Map<number, number>;
  zero: number;
}

export function emptyBins(): SketchBins {
  return { pos: new Map(), neg: new Map(), zero: 0 };
}

/** Counts one value into `bins`. */
export function addToBins(bins: SketchBins, v: number): void {
  if (v > MIN_INDEXABLE) {
    const i = binIndex(v);
    bins.pos.set(i, (bins.pos.get(i) ?? 0) + 1);
  } else if (v < -MIN_INDEXABLE) {
    const i = binIndex(-v);
    bins.neg.set(i, (bins.neg.get(i) ?? 0) + 1);
  } else bins.zero++;
}

/**
 * Positive-value bins being counted (an open bucket): one array indexed by bin from `offset`,
 * grown on demand, so a value is an increment rather than a hash-map update (most values in logs
 * are positive: times, sizes). {@link DenseBins.moveInto} hands the counts over as plain bins.
 */
export class DenseBins {
  private counts = new Float64Array(0);
  private offset = 0;

  /** Counts one value of bin `index`. */
  add(index: number): void {
    let k = index - this.offset;
    if (k < 0 || k >= this.counts.length) k = this.grow(index);
    this.counts[k]!++;
  }

  /** Makes room for `index` (a margin on each side, at least twice the length); its slot. */
  private grow(index: number): number {
    const old = this.counts;
    const lo = old.length === 0 ? index - 16 : Math.min(this.offset, index - 16);
    const hi = old.length === 0 ? index + 48 : Math.max(this.offset + old.length, index + 16);
    const len = Math.max(hi - lo, 2 * old.length);
    const counts = new Float64Array(len);
    if (old.length > 0) counts.set(old, this.offset - lo);
    this.counts = counts;
    this.offset = lo;
    return index - lo;
  }

  /** Adds the counts to `bins.pos` and starts empty. */
  moveInto(bins: SketchBins): void {
    const c = this.counts;
    for (let k = 0; k < c.length; k++) {
      const n = c[k]!;
      if (n === 0) continue;
      const i = this.offset + k;
      bins.pos.set(i, (bins.pos.get(i) ?? 0) + n);
    }
    this.counts = new Float64Array(0);
  }
}

/** Adds every count of `from` into `into` (the exact merge). */
export function mergeBins(into: SketchBins, from: SketchBins): void {
  for (const [i, n] of from.pos) into.pos.set(i, (into.pos.get(i) ?? 0) + n);
  for (const [i, n] of from.neg) into.neg.set(i, (into.neg.get(i) ?? 0) + n);
  into.zero += from.zero;
}

/** Number of values counted. */
export function binsCount(bins: SketchBins): number {
  let n = bins.zero;
  for (const c of bins.pos.values()) n += c;
  for (const c of bins.neg.values()) n += c;
  return n;
}

/**
 * Quantiles `qs` (each in [0, 1], ascending) of the counted values: the value at rank
 * ⌈q·n⌉ of the sorted sample (nearest rank: p99 of 10 values is the largest, as latency
 * dashboards read it), within {@link RELATIVE_ACCURACY} of
 * it, and clamped to the exact `[min, max]` when given. NaN for an empty sketch.
 */
export function binsQuantiles(bins: SketchBins, qs: readonly number[], min = -Infinity, max = Infinity): number[] {
  const n = binsCount(bins);
  const out = new Array<number>(qs.length).fill(NaN);
  if (n === 0) return out;
  // Ascending value order: the most negative first (largest magnitude of `neg`), zero, then `pos`.
  const neg = [...bins.neg.keys()].sort((a, b) => b - a);
  const pos = [...bins.pos.keys()].sort((a, b) => a - b);
  let k = 0;
  let seen = 0;
  const clamp = (v: number) => (v < min ? min : v > max ? max : v);
  const take = (count: number, value: number) => {
    seen += count;
    while (k < qs.length && rankOf(qs[k]!, n) < seen) out[k++] = clamp(value);
  };
  for (const i of neg) {
    take(bins.neg.get(i)!, -binValue(i));
    if (k === qs.length) return out;
  }
  if (bins.zero > 0) take(bins.zero, 0);
  for (const i of pos) {
    if (k === qs.length) break;
    take(bins.pos.get(i)!, binValue(i));
  }
  return out;
}

/** The 0-based nearest rank of quantile `q` among `n` values: ⌈q·n⌉ − 1, at least 0. */
export function rankOf(q: number, n: number): number {
  const r = Math.ceil(q * n) - 1;
  return r < 0 ? 0 : r;
}

/** Field names of bins in a Redis hash (and of a sketch on the wire): `p<i>`, `n<i>`, `z`. */
export function binField(v: number): string {
  if (v > MIN_INDEXABLE) return `p${binIndex(v)}`;
  if (v < -MIN_INDEXABLE) return `n${binIndex(-v)}`;
  return 'z';
}

/** Adds a bin by its field name (see {@link binField}); other names are ignored. */
export function addBinField(bins: SketchBins, field: string, count: number): boolean {
  const c = field.charCodeAt(0);
  if (c === 0x7a /* z */ && field.length === 1) {
    bins.zero += count;
    return true;
  }
  if (c !== 0x70 /* p */ && c !== 0x6e /* n */) return false;
  const i = Number(field.slice(1));
  if (!Number.isInteger(i)) return false;
  const m = c === 0x70 ? bins.pos : bins.neg;
  m.set(i, (m.get(i) ?? 0) + count);
  return true;
}

/**
 * Bins packed for keeping: one sorted Int16Array of order keys and the counts beside them,
 * ~10 bytes a bin against ~38 for a Map entry (the memory backend keeps every closed bucket
 * this way). Order key: a negative bin i is −(4096 + i), zero is 0, a positive bin i is
 * 4096 + i; ascending keys are ascending values (indexes stay within ±1100 for 1e-9 … 1e9).
 */
export interface PackedBins {
  keys: Int16Array;
  counts: Float64Array;
}

const KEY_OFFSET = 4096;

function keyValue(k: number): number {
  return k === 0 ? 0 : k > 0 ? binValue(k - KEY_OFFSET) : -binValue(-k - KEY_OFFSET);
}

/** `into` (may be null) with `add` counted in: a new packed set, sorted. */
export function mergePacked(into: PackedBins | null, add: SketchBins): PackedBins {
  const extra: [number, number][] = [];
  for (const [i, n] of add.neg) extra.push([-(KEY_OFFSET + i), n]);
  if (add.zero > 0) extra.push([0, add.zero]);
  for (const [i, n] of add.pos) extra.push([KEY_OFFSET + i, n]);
  extra.sort((a, b) => a[0] - b[0]);
  const ak = into?.keys ?? new Int16Array(0);
  const ac = into?.counts ?? new Float64Array(0);
  const keys: number[] = [];
  const counts: number[] = [];
  let i = 0;
  let j = 0;
  while (i < ak.length || j < extra.length) {
    const ka = i < ak.length ? ak[i]! : Infinity;
    const kb = j < extra.length ? extra[j]![0] : Infinity;
    if (ka === kb) {
      keys.push(ka);
      counts.push(ac[i++]! + extra[j++]![1]);
    } else if (ka < kb) {
      keys.push(ka);
      counts.push(ac[i++]!);
    } else {
      keys.push(kb);
      counts.push(extra[j++]![1]);
    }
  }
  return { keys: Int16Array.from(keys), counts: Float64Array.from(counts) };
}

/** As {@link binsQuantiles}, over packed bins. */
export function packedQuantiles(p: PackedBins, qs: readonly number[], min = -Infinity, max = Infinity): number[] {
  let n = 0;
  for (let i = 0; i < p.counts.length; i++) n += p.counts[i]!;
  const out = new Array<number>(qs.length).fill(NaN);
  if (n === 0) return out;
  let k = 0;
  let seen = 0;
  for (let i = 0; i < p.keys.length && k < qs.length; i++) {
    seen += p.counts[i]!;
    const v = keyValue(p.keys[i]!);
    const clamped = v < min ? min : v > max ? max : v;
    while (k < qs.length && rankOf(qs[k]!, n) < seen) out[k++] = clamped;
  }
  return out;
}
