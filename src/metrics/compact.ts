/**
 * Entries as the metrics worker needs them: only the fields derive.ts reads, packed as numbers
 * in one Float64Array (transferred), the timestamps in one string and every other text once in
 * a small dictionary (names, dynos, levels, units repeat line after line), so crossing to the
 * worker thread costs a few copies of flat memory, not a structured clone of every entry's
 * objects (that cost more than deriving).
 *
 * Per entry, in `nums`: app_id (dictionary index; -1 = absent, -2 = the previous entry's), the
 * timestamp's length (its text is next in `stamps`), received_at, user_agent (indexes, or -2),
 * the level (index in LEVELS), the number of metrics, status (NaN = absent); then for a router
 * line (status given) the indexes of context.dyno and context.code, for another line with
 * metrics the index of proc; per metric: value (NaN = null), kind, the indexes of its name, unit
 * and source. Only what derive.ts reads is sent.
 */
import { LEVELS, type Entry, type Metric } from '../normalize/entry.js';

const ABSENT = -1;
const SAME = -2;
const KINDS: readonly Metric['kind'][] = ['count', 'measure', 'sample'];
const KIND_INDEX: Record<string, number> = { count: 0, measure: 1, sample: 2 };
const LEVEL_INDEX: Record<string, number> = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3, FATAL: 4 };

/** Packs entries, batch after batch, until {@link CompactWriter.take}. */
export class CompactWriter {
  private nums = new Float64Array(4096);
  private n = 0;
  /** Timestamps, concatenated as they come (a rope: flattened once, when the message is cloned). */
  private stamps = '';
  /** Every other text, once: its index in `dict` stands for it (they repeat line after line). */
  private dict: string[] = [];
  private index = new Map<string, number>();
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

  /** A text as its index in the dictionary (ABSENT for undefined). */
  private text(s: string | undefined): void {
    if (s === undefined) {
      this.num(ABSENT);
      return;
    }
    let k = this.index.get(s);
    if (k === undefined) {
      k = this.dict.length;
      this.dict.push(s);
      this.index.set(s, k);
    }
    this.num(k);
  }

  /** Packs one batch. */
  add(entries: readonly Entry[]): void {
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      // A batch's entries share app, receive time and User-Agent: the same strings, compared
      // before any lookup.
      if (e.app_id === this.prevApp) this.num(SAME);
      else this.text((this.prevApp = e.app_id));
      const ts = e.timestamp;
      this.num(ts.length);
      this.stamps += ts;
      if (e.received_at === this.prevReceived) this.num(SAME);
      else this.text((this.prevReceived = e.received_at));
      if (e.user_agent === this.prevUa && e.user_agent !== undefined) this.num(SAME);
      else this.text((this.prevUa = e.user_agent));
      this.num(LEVEL_INDEX[e.level] ?? 1);
      // derive.ts reads dyno and code of router lines only, and proc only as the source of a
      // metric on other lines: the rest is not sent (context lookups are the costly reads).
      const status = e.status;
      const metrics = e.metrics;
      const m = metrics === undefined ? 0 : metrics.length;
      this.num(m);
      if (status !== undefined) {
        this.num(status);
        const ctx = e.context;
        const dyno = ctx?.dyno;
        const code = ctx?.code;
        this.text(typeof dyno === 'string' ? dyno : undefined);
        this.text(typeof code === 'string' ? code : undefined);
      } else {
        this.num(NaN);
        if (m > 0) this.text(e.proc);
      }
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

  /** What was packed (the numbers' own buffer, to be transferred: not copied), and a fresh start. */
  take(): { nums: Float64Array; stamps: string; dict: string[]; entries: number } {
    const out = { nums: this.nums.subarray(0, this.n), stamps: this.stamps, dict: this.dict, entries: this.entries };
    this.nums = new Float64Array(Math.max(4096, this.n));
    this.n = 0;
    this.stamps = '';
    this.dict = [];
    this.index = new Map();
    this.entries = 0;
    this.prevApp = this.prevReceived = this.prevUa = undefined;
    return out;
  }
}

/**
 * The entries of a {@link CompactWriter.take}, with the fields derive.ts reads (the others
 * absent): what the worker derives from.
 */
export function readCompact(nums: Float64Array, stamps: string, dict: readonly string[]): Entry[] {
  const out: Entry[] = [];
  let p = 0;
  let t = 0;
  let app = '';
  let received = '';
  let ua: string | undefined;
  const str = (): string | undefined => {
    const k = nums[p++]!;
    return k < 0 ? undefined : dict[k];
  };
  while (p < nums.length) {
    if (nums[p] === SAME) p++;
    else app = str()!;
    const len = nums[p++]!;
    const timestamp = stamps.slice(t, t + len);
    t += len;
    if (nums[p] === SAME) p++;
    else received = str()!;
    if (nums[p] === SAME) p++;
    else ua = str();
    const level = LEVELS[nums[p++]!] ?? 'INFO';
    const m = nums[p++]!;
    const status = nums[p++]!;
    const e = { app_id: app, timestamp, received_at: received, level } as Entry;
    if (ua !== undefined) e.user_agent = ua;
    if (!Number.isNaN(status)) {
      e.status = status;
      const dyno = str();
      const code = str();
      if (dyno !== undefined || code !== undefined) {
        const context: Record<string, unknown> = {};
        if (dyno !== undefined) context.dyno = dyno;
        if (code !== undefined) context.code = code;
        e.context = context;
      }
    } else if (m > 0) {
      const proc = str();
      if (proc !== undefined) e.proc = proc;
    }
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
