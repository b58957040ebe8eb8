import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRandom } from '../../bench/bodies.js';
import { addBinField, addToBins, binField, binIndex, binsCount, binsQuantiles, DenseBins, emptyBins, mergeBins, mergePacked, packedQuantiles, RELATIVE_ACCURACY } from './sketch.js';

const QS = [0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

/** The exact quantile at the rank the sketch promises: the nearest rank ⌈q·n⌉ of the sorted values. */
function exact(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

/** Every quantile of the sketch within α of the exact one (|est − x| ≤ α·|x|). */
function expectWithinBound(values: number[]) {
  const bins = emptyBins();
  for (const v of values) addToBins(bins, v);
  const sorted = [...values].sort((a, b) => a - b);
  const got = binsQuantiles(bins, QS, sorted[0], sorted[sorted.length - 1]);
  QS.forEach((q, k) => {
    const x = exact(sorted, q);
    const err = Math.abs(got[k]! - x);
    expect(err, `q=${q}: sketch ${got[k]} vs exact ${x}`).toBeLessThanOrEqual(RELATIVE_ACCURACY * Math.abs(x) + 1e-9);
  });
  return bins;
}

describe('quantile sketch', () => {
  // The bench's seeded PRNG: the same distributions on every run.
  const r = createRandom(42);
  it('uniform 0..1000', () => {
    expectWithinBound(Array.from({ length: 20_000 }, () => r() * 1000));
  });
  it('exponential (heavy right tail, as response times)', () => {
    expectWithinBound(Array.from({ length: 20_000 }, () => -Math.log(1 - r()) * 50));
  });
  it('bimodal: a fast mode at ~5 ms and a slow one at ~30 s (H12 timeouts)', () => {
    expectWithinBound(Array.from({ length: 10_000 }, (_, i) => (i % 10 === 0 ? 29_000 + r() * 2000 : 3 + r() * 4)));
  });
  it('many equal values, and a few outliers', () => {
    const v = Array.from({ length: 5000 }, () => 42);
    v.push(1, 100_000, 7);
    expectWithinBound(v);
  });
  it('negatives, zero and positives across magnitudes', () => {
    expectWithinBound(Array.from({ length: 10_000 }, (_, i) => (i % 7 === 0 ? 0 : (r() - 0.5) * 10 ** Math.floor(r() * 8 - 3))));
  });
  it('holds the bound on arbitrary samples (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e9, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 300 }), (values) => {
        expectWithinBound(values);
      }),
      { numRuns: 200 },
    );
  });

  it('merges exactly: the merge of two sketches equals the sketch of both samples', () => {
    const a = Array.from({ length: 3000 }, () => r() * 10);
    const b = Array.from({ length: 5000 }, () => 100 + r() * 900);
    const sa = emptyBins();
    const sb = emptyBins();
    const both = emptyBins();
    a.forEach((v) => addToBins(sa, v));
    b.forEach((v) => addToBins(sb, v));
    [...a, ...b].forEach((v) => addToBins(both, v));
    mergeBins(sa, sb);
    expect(binsCount(sa)).toBe(8000);
    expect(sa).toEqual(both);
    const sorted = [...a, ...b].sort((x, y) => x - y);
    const got = binsQuantiles(sa, [0.5, 0.99]);
    expect(Math.abs(got[0]! - exact(sorted, 0.5))).toBeLessThanOrEqual(RELATIVE_ACCURACY * exact(sorted, 0.5));
    expect(Math.abs(got[1]! - exact(sorted, 0.99))).toBeLessThanOrEqual(RELATIVE_ACCURACY * exact(sorted, 0.99));
  });

  it('round-trips through field names (the Redis hash form)', () => {
    const values = [-5, -0.001, 0, 1e-12, 0.5, 3, 3, 1e6];
    const direct = emptyBins();
    const viaFields = emptyBins();
    for (const v of values) {
      addToBins(direct, v);
      expect(addBinField(viaFields, binField(v), 1)).toBe(true);
    }
    expect(viaFields).toEqual(direct);
    expect(addBinField(viaFields, 'count', 1)).toBe(false);
  });

  it('packed bins (how the memory backend keeps them) give the same quantiles, merged in any number of steps', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }), { minLength: 1, maxLength: 5 }), (batches) => {
        const all = emptyBins();
        let packed = null;
        for (const batch of batches) {
          const b = emptyBins();
          for (const v of batch) {
            addToBins(b, v);
            addToBins(all, v);
          }
          packed = mergePacked(packed, b);
        }
        expect(packedQuantiles(packed!, QS)).toEqual(binsQuantiles(all, QS));
      }),
      { numRuns: 200 },
    );
  });

  it('reads p99 of a few values as the largest (nearest rank), p50 of two as the first', () => {
    const b = emptyBins();
    for (let v = 10; v <= 100; v += 10) addToBins(b, v);
    const [p50, p99] = binsQuantiles(b, [0.5, 0.99], 10, 100);
    expect(p99).toBe(100);
    expect(Math.abs(p50! - 50)).toBeLessThanOrEqual(0.5);
  });

  it('an empty sketch has no quantiles', () => {
    expect(binsQuantiles(emptyBins(), [0.5])).toEqual([NaN]);
  });

  it('dense bins (an open bucket) hand over the very counts of the map bins, however they grew', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 1e-6, max: 1e9, noNaN: true }), { maxLength: 300 }), (values) => {
        const dense = new DenseBins();
        const plain = emptyBins();
        for (const v of values) {
          dense.add(binIndex(v));
          addToBins(plain, v);
        }
        const moved = emptyBins();
        dense.moveInto(moved);
        expect(new Map([...moved.pos].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...plain.pos].sort((a, b) => a[0] - b[0])));
        // Emptied: a second hand-over adds nothing.
        const again = emptyBins();
        dense.moveInto(again);
        expect(again.pos.size).toBe(0);
      }),
    );
  });
});
