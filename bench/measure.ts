/**
 * The timing harness of the in-process benchmarks: warm up, then several fixed-time rounds,
 * reporting the median round. Figures only: nothing here asserts a time.
 */
import type { Body } from './bodies.js';

/** How long to run one measurement. */
export interface RunOptions {
  warmupMs: number;
  rounds: number;
  roundMs: number;
}

/** One measurement: medians over the rounds. */
export interface Rate {
  linesPerSec: number;
  bytesPerSec: number;
  /** Lines/s of every round, in order (to show the spread). */
  rounds: number[];
  /** Records (or objects) the function said it produced per input line, as a sanity check. */
  outputPerLine: number;
}

/**
 * Runs `fn` over `inputs` round-robin. `fn` returns how many records it produced, which is both
 * the sanity check and a sink the JIT cannot drop.
 */
export function measure(inputs: readonly Body[], fn: (body: Buffer) => number, opts: RunOptions): Rate {
  let k = 0;
  const runFor = (ms: number) => {
    let lines = 0;
    let bytes = 0;
    let out = 0;
    const t0 = performance.now();
    let t = t0;
    const until = t0 + ms;
    while (t < until) {
      const b = inputs[k]!;
      k = k + 1 === inputs.length ? 0 : k + 1;
      out += fn(b.bytes);
      lines += b.lines;
      bytes += b.bytes.length;
      t = performance.now();
    }
    const sec = (t - t0) / 1000;
    return { lps: lines / sec, bps: bytes / sec, out: out / lines };
  };
  runFor(opts.warmupMs);
  const rs = [];
  for (let i = 0; i < opts.rounds; i++) rs.push(runFor(opts.roundMs));
  return {
    linesPerSec: median(rs.map((r) => r.lps)),
    bytesPerSec: median(rs.map((r) => r.bps)),
    rounds: rs.map((r) => r.lps),
    outputPerLine: rs[0]!.out,
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** 1234567 → '1.23M', 45678 → '45.7k'. */
export function si(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/** MB/s with MB = 10^6 bytes. */
export function mbps(bytesPerSec: number): string {
  return (bytesPerSec / 1e6).toFixed(1);
}

/** A ratio as `1.23×`. */
export function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
}

/** Left-aligned first column, right-aligned others. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '))
    .join('\n');
}
