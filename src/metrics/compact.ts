/**
 * Entries as the metrics worker needs them: only the fields derive.ts reads, packed as numbers
 * in one Float64Array and text in one string, so crossing to the worker thread is two copies of
 * flat memory, not a structured clone of every entry's objects (that cost more than deriving).
 *
 * Per entry, in `nums`: the lengths of its texts (app_id, timestamp, received_at, proc,
 * user_agent, level, context.dyno, context.code; -1 = absent, -2 = the previous entry's),
 * status (NaN = absent), the number of metrics; per metric: value, kind, then the lengths of its
 * name, unit and source. `text` holds the present texts one after another, in that order.
 */
import type { Entry, Metric } from '../normalize/entry.js';

const ABSENT = -1;
const SAME = -2;
const KINDS: readonly Metric['kind'][] = ['count', 'measure', 'sample'];
const KIND_INDEX: Record<string, number> = { count: 0, measure: 1, sample: 2 };

/** Packs entries, batch after batch, until {@link CompactWriter.take}. */
export class CompactWriter {
  private nums = new Float64Array(4096);
  private n = 0;
  private parts: string[] = [];
  private prevApp: string | undefined;
  private prevReceived: string | undefined;
  private prevUa: string | undefined;
  /** Entries packed since the last take. */
  entries = 0;

  private num(v: number): void {
    if (this.n === this.nums.length) {
      const bigger = new Float64Array(this.nums.length * 2);
      bigger.set(this.nums);
      this.nums = bigger;
    }
    this.nums[this.n++] = v;
  }

  private text(s: string | undefined): void {
    if (s === undefined) this.num(ABSENT);
    else {
      this.num(s.length);
      this.parts.push(s);
    }
  }

  /** Packs one batch. */
  add(entries: readonly Entry[]): void {
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      // A batch's entries share app, receive time and User-Agent: sent once per run.
      if (e.app_id === this.prevApp) this.num(SAME);
      else this.text((this.prevApp = e.app_id));
      this.text(e.timestamp);
      if (e.received_at === this.prevReceived) this.num(SAME);
      else this.text((this.prevReceived = e.received_at));
      this.text(e.proc);
      if (e.user_agent === this.prevUa && e.user_agent !== undefined) this.num(SAME);
      else this.text((this.prevUa = e.user_agent));
      this.text(e.level);
      const ctx = e.context;
      const dyno = ctx?.dyno;
      const code = ctx?.code;
      this.text(typeof dyno === 'string' ? dyno : undefined);
      this.text(typeof code === 'string' ? code : undefined);
      this.num(e.status ?? NaN);
      const metrics = e.metrics;
      const m = metrics === undefined ? 0 : metrics.length;
      this.num(m);
      for (let k = 0; k < m; k++) {
        const x = metrics![k]!;
        this.num(x.value ?? NaN);
        this.num(KIND_INDEX[x.kind] ?? 0);
        this.text(x.name);
        this.text(x.unit);
        this.text(x.source);
      }
    }
    this.entries += entries.length;
  }

  /** What was packed (the numbers copied out, to be transferred), and a fresh start. */
  take(): { nums: Float64Array; text: string; entries: number } {
    const out = { nums: this.nums.slice(0, this.n), text: this.parts.join(''), entries: this.entries };
    this.n = 0;
    this.parts = [];
    this.entries = 0;
    this.prevApp = this.prevReceived = this.prevUa = undefined;
    return out;
  }
}

/**
 * The entries of a {@link CompactWriter.take}, with the fields derive.ts reads (the others
 * absent): what the worker derives from.
 */
export function readCompact(nums: Float64Array, text: string): Entry[] {
  const out: Entry[] = [];
  let p = 0;
  let t = 0;
  let app = '';
  let received = '';
  let ua: string | undefined;
  const str = (): string | undefined => {
    const len = nums[p++]!;
    if (len < 0) return undefined;
    const s = text.slice(t, t + len);
    t += len;
    return s;
  };
  while (p < nums.length) {
    if (nums[p] === SAME) p++;
    else app = str()!;
    const timestamp = str()!;
    if (nums[p] === SAME) p++;
    else received = str()!;
    const proc = str();
    if (nums[p] === SAME) p++;
    else ua = str();
    const level = str() as Entry['level'];
    const dyno = str();
    const code = str();
    const status = nums[p++]!;
    const m = nums[p++]!;
    const e = { app_id: app, timestamp, received_at: received, level } as Entry;
    if (proc !== undefined) e.proc = proc;
    if (ua !== undefined) e.user_agent = ua;
    if (dyno !== undefined || code !== undefined) {
      const context: Record<string, unknown> = {};
      if (dyno !== undefined) context.dyno = dyno;
      if (code !== undefined) context.code = code;
      e.context = context;
    }
    if (!Number.isNaN(status)) e.status = status;
    if (m > 0) {
      const metrics: Metric[] = [];
      for (let k = 0; k < m; k++) {
        const value = nums[p++]!;
        const kind = KINDS[nums[p++]!]!;
        const name = str()!;
        const unit = str();
        const source = str();
        const x = { name, kind, value: Number.isNaN(value) ? null : value } as Metric;
        if (unit !== undefined) x.unit = unit;
        if (source !== undefined) x.source = source;
        metrics.push(x);
      }
      e.metrics = metrics;
    }
    out.push(e);
  }
  return out;
}
