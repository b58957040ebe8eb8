/**
 * A chart's data as uPlot draws it: one x array of bucket starts (epoch seconds, every bucket of
 * the window, so gaps are gaps) and one y array per line, all allocated once per window and
 * written in place by REST answers and live frames (no allocation per update: uPlot's
 * `setData` gets the same arrays again). Pure: no DOM.
 */
import type { MetricPoint, PointField } from './types.js';

/** One line of a chart: which series (name, and source or merged), which field of its points. */
export interface LineSpec {
  /** Unique in its chart; the legend item's `data-line`. */
  key: string;
  label: string;
  name: string;
  /** undefined: all sources merged. */
  source?: string;
  field: PointField;
  /** A bucket without data reads 0 (counts: no line counted), not a gap. */
  zero: boolean;
  /** A CSS custom property of styles.css (`--c-ok`), read for the canvas. */
  color: string;
  /** Drawn dashed (a dyno's memory total next to its rss, in the same colour). */
  dashed?: boolean;
}

/** The key of a series (name and source) as a live frame names it. */
export function seriesKey(name: string, source: string | null | undefined): string {
  return `${name}\u0000${source ?? '\u0001merged'}`;
}

/** The window of a chart: bucket starts `from` … `to` (both included), `step` seconds apart. */
export interface Buckets {
  from: number;
  to: number;
  step: number;
}

export class ChartData {
  from = 0;
  step = 10;
  /** Buckets in the window. */
  n = 0;
  xs: number[] = [];
  ys: (number | null)[][];
  /** `[xs, ...ys]`, for uPlot. */
  data: (number | null)[][];

  constructor(readonly lines: LineSpec[]) {
    this.ys = lines.map(() => []);
    this.data = [this.xs, ...this.ys];
  }

  /** Empties the data for a new window (arrays are reallocated only when its length changes). */
  reset(w: Buckets): void {
    const n = Math.max(0, Math.floor((w.to - w.from) / w.step) + 1);
    this.from = w.from;
    this.step = w.step;
    if (n !== this.n) {
      this.n = n;
      this.xs = new Array<number>(n);
      this.ys = this.lines.map(() => new Array<number | null>(n));
      this.data = [this.xs, ...this.ys];
    }
    for (let i = 0; i < n; i++) this.xs[i] = w.from + i * w.step;
    for (let l = 0; l < this.lines.length; l++) this.ys[l]!.fill(this.lines[l]!.zero ? 0 : null);
  }

  /** The last bucket start. */
  get to(): number {
    return this.from + (this.n - 1) * this.step;
  }

  /**
   * Writes `points` into line `line` (a bucket's value replaces what was there: a live frame
   * sends whole buckets). Points outside the window are ignored. True when anything landed.
   */
  setPoints(line: number, points: readonly MetricPoint[]): boolean {
    const spec = this.lines[line]!;
    const ys = this.ys[line]!;
    let landed = false;
    for (const p of points) {
      const i = (p.t - this.from) / this.step;
      if (!Number.isInteger(i) || i < 0 || i >= this.n) continue;
      const v = p[spec.field];
      ys[i] = typeof v === 'number' && Number.isFinite(v) ? v : spec.zero ? 0 : null;
      landed = true;
    }
    return landed;
  }

  /**
   * Moves a live window so that its last bucket starts at `t` (the window keeps its length): the
   * oldest buckets fall out, new empty ones come in. True when it moved.
   */
  slideTo(t: number): boolean {
    if (this.n === 0 || t <= this.to) return false;
    const k = Math.round((t - this.to) / this.step);
    if (k <= 0) return false;
    const n = this.n;
    if (k >= n) {
      this.reset({ from: t - (n - 1) * this.step, to: t, step: this.step });
      return true;
    }
    this.from += k * this.step;
    this.xs.copyWithin(0, k);
    for (let i = n - k; i < n; i++) this.xs[i] = this.from + i * this.step;
    for (let l = 0; l < this.lines.length; l++) {
      const ys = this.ys[l]!;
      ys.copyWithin(0, k);
      ys.fill(this.lines[l]!.zero ? 0 : null, n - k);
    }
    return true;
  }

  /** The sum of a line over the window (a count's total). */
  total(line: number): number {
    let s = 0;
    for (const v of this.ys[line]!) if (v !== null) s += v;
    return s;
  }

  /** The newest value of a line, or null when it has none. */
  latest(line: number): number | null {
    const ys = this.ys[line]!;
    for (let i = ys.length - 1; i >= 0; i--) if (ys[i] !== null) return ys[i]!;
    return null;
  }

  /** Buckets where some line has data (a count's 0 is no data): what the chart really drew. */
  bucketsWithData(): number {
    let n = 0;
    for (let i = 0; i < this.n; i++) {
      for (let l = 0; l < this.lines.length; l++) {
        const v = this.ys[l]![i];
        if (v !== null && v !== undefined && !(this.lines[l]!.zero && v === 0)) {
          n++;
          break;
        }
      }
    }
    return n;
  }
}
