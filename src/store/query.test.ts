import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../normalize/entry.js';
import { ScanBudget, type RegexBudget } from '../query/regex-budget.js';
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

  it('matches regex on the message in linear time, refusing what could not run so', () => {
    expect(compileFilter({ regex: '^m$' })(e)).toBe(true);
    expect(compileFilter({ regex: '^m$' }).regex).toMatchObject({ source: '^m$', size: 3 });
    expect(() => compileFilter({ regex: 'x{17}' })).toThrow(expect.objectContaining({ code: 'invalid_regex', status: 400 }));
    expect(() => compileFilter({ regex: `${'.{16}'.repeat(8)}#` })).toThrow(expect.objectContaining({ code: 'invalid_regex', status: 400 }));
  });

  it('runs its regex tests through a budget: its own scan budget, or one given', () => {
    const seen: string[] = [];
    const counting: RegexBudget = {
      test: (regex, text) => {
        seen.push(text);
        return regex.test(text);
      },
    };
    const match = compileFilter({ regex: '^m', source: 'app' }, counting);
    expect(match(e)).toBe(true);
    expect(match({ ...e, source: 'other' })).toBe(false); // rejected before the regex
    expect(seen).toEqual(['m']);
    // The same filter, another budget: one that is spent throws out of the scan.
    const clock = { t: 0 };
    const spent = match.withBudget(new ScanBudget(10, () => (clock.t += 1)));
    expect(() => {
      for (let i = 0; i < 1000; i++) spent(e);
    }).toThrow(expect.objectContaining({ code: 'regex_budget_exceeded', status: 400 }));
    // A filter without regex has no budget to spend.
    expect(compileFilter({ source: 'app' }).regex).toBeUndefined();
    expect(compileFilter({ source: 'app' }).withBudget(counting)(e)).toBe(true);
  });
});
