import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../normalize/entry.js';
import { compareNewestFirst, compileFilter, selectPage, topK } from './query.js';

function entry(id: string, timestamp: string, over: Partial<Entry> = {}): Entry {
  return { id: id.padStart(26, '0'), timestamp, received_at: timestamp, level: 'INFO', app_id: 'app', message: 'm', ...over };
}

describe('selectPage', () => {
  const arbEntries = fc.array(
    fc.record({ t: fc.integer({ min: 0, max: 20 }), id: fc.integer({ min: 0, max: 1_000_000 }) }),
    { maxLength: 300 },
  );

  it('returns the same page as sorting everything, for any offset and limit', () => {
    fc.assert(
      fc.property(arbEntries, fc.nat(320), fc.nat(50), (rows, offset, limit) => {
        const entries = rows.map((r, i) => entry(`${r.id}-${i}`, `2025-01-15T14:22:${String(r.t).padStart(2, '0')}.000000Z`));
        const expected = [...entries].sort(compareNewestFirst).slice(offset, offset + limit);
        expect(selectPage([...entries], offset, limit)).toEqual(expected);
      }),
    );
  });

  it('answers nothing for a zero limit or an offset past the matches', () => {
    const entries = [entry('1', '2025-01-15T14:22:00.000000Z')];
    expect(selectPage([...entries], 0, 0)).toEqual([]);
    expect(selectPage([...entries], 1, 10)).toEqual([]);
  });
});

describe('topK', () => {
  it('keeps the k first items in order', () => {
    expect(topK([5, 1, 4, 2, 3, 0], 3, (a, b) => a - b)).toEqual([0, 1, 2]);
    expect(topK([2, 1], 5, (a, b) => a - b)).toEqual([1, 2]);
  });
});

describe('compileFilter', () => {
  const e = entry('1', '2025-01-15T14:22:00.000000Z', { proc: 'web.1', source: 'app' });

  it('treats empty strings and empty lists as filters not given', () => {
    const match = compileFilter({ proc: '', source: '', search: '', levels: [], appIds: [] });
    expect(match(e)).toBe(true);
  });

  it('does not match a proc filter against a line without a proc', () => {
    expect(compileFilter({ proc: 'web' })({ ...e, proc: undefined })).toBe(false);
  });

  it('does not let a dyno filter match a longer dyno number', () => {
    expect(compileFilter({ proc: 'web.1' })({ ...e, proc: 'web.10' })).toBe(false);
  });

  it('matches regex on the message with the linear-time engine, refusing what it cannot run', () => {
    expect(compileFilter({ regex: '^m$' })(e)).toBe(true);
    expect(() => compileFilter({ regex: 'x{17}' })).toThrow(expect.objectContaining({ code: 'invalid_regex', status: 400 }));
  });
});
