import { describe, expect, it } from 'vitest';
import { isoMicros, timestampMicros } from './entry.js';

describe('isoMicros', () => {
  it('writes ISO 8601 with six fraction digits, the same as Date gives to the millisecond', () => {
    // Across second, minute, day and year boundaries, in and out of order (the cached second
    // must never leak into another).
    const base = Date.UTC(2026, 11, 31, 23, 59, 59, 998);
    const times = [base, base + 1.5, base + 2.25, base + 1000.001, base - 86_400_000 + 0.999, base + 0.75, 0, 1e12 + 123.456];
    for (const t of times) {
      const s = isoMicros(t);
      expect(s).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(s.slice(0, 23)).toBe(new Date(Math.floor(t)).toISOString().slice(0, 23));
      expect(Number(s.slice(23, 26))).toBe(Math.floor((t - Math.floor(t)) * 1000 + 1e-6) % 1000);
    }
    expect(isoMicros(Date.UTC(2027, 0, 1, 0, 0, 0, 0) + 0.5)).toBe('2027-01-01T00:00:00.000500Z');
  });

  it('timestampMicros is now, to the millisecond', () => {
    const before = Date.now();
    const t = Date.parse(timestampMicros());
    expect(t).toBeGreaterThanOrEqual(before - 2);
    expect(t).toBeLessThanOrEqual(Date.now() + 2);
  });
});
