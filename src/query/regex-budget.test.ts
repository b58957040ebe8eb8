import { describe, expect, it } from 'vitest';
import { LIVE_WINDOW_MS, RateBudget, SCAN_CHECK_CHARS, SCAN_CHECK_TESTS, ScanBudget, UNMETERED } from './regex-budget.js';
import { compileRegex, type UserRegex } from './user-regex.js';

/** A clock the test moves, and a regex whose every test takes `costMs` on it. */
function fixture(costMs: number) {
  const clock = { t: 0, reads: 0 };
  const read = () => {
    clock.reads++;
    return clock.t;
  };
  const inner = compileRegex('x');
  const regex: UserRegex = {
    ...inner,
    test(text) {
      clock.t += costMs;
      return inner.test(text);
    },
  };
  return { clock, read, regex };
}

const budgetError = expect.objectContaining({ code: 'regex_budget_exceeded', status: 400 });

describe('ScanBudget (a history read)', () => {
  it('lets a scan run until its time is up, then throws regex_budget_exceeded, saying how to narrow it', () => {
    const { read, regex } = fixture(1);
    const budget = new ScanBudget(1000, read);
    let tested = 0;
    expect(() => {
      for (;;) {
        budget.test(regex, 'x');
        tested++;
      }
    }).toThrow(budgetError);
    // Noticed at the first look past 1000 ms: at most SCAN_CHECK_TESTS tests late.
    expect(tested).toBeGreaterThanOrEqual(1000);
    expect(tested).toBeLessThan(1000 + SCAN_CHECK_TESTS);
    expect(() => budget.test(regex, 'x')).toThrow(/used its 1000 ms budget \(QUERY_REGEX_BUDGET_MS\) after testing \d+ entries; narrow the query/);
  });

  it('looks at the clock every SCAN_CHECK_TESTS tests, or sooner on long messages', () => {
    const { clock, read, regex } = fixture(0);
    const budget = new ScanBudget(1000, read);
    for (let i = 0; i < SCAN_CHECK_TESTS * 10; i++) budget.test(regex, 'short');
    expect(clock.reads).toBe(1 + 10); // the start, then one look per SCAN_CHECK_TESTS tests
    clock.reads = 0;
    for (let i = 0; i < 10; i++) budget.test(regex, 'x'.repeat(SCAN_CHECK_CHARS));
    expect(clock.reads).toBe(10);
  });

  it('counts the scan from its first test, not from when the filter was made', () => {
    const { clock, read, regex } = fixture(0);
    const budget = new ScanBudget(100, read);
    clock.t = 5000; // e.g. the history read from Redis took this long
    for (let i = 0; i < SCAN_CHECK_TESTS * 3; i++) expect(budget.test(regex, 'x')).toBe(true);
    expect(budget.tested).toBe(SCAN_CHECK_TESTS * 3);
  });

  it('answers what the regex answers', () => {
    const budget = new ScanBudget(1000);
    const regex = compileRegex('^GET ');
    expect(budget.test(regex, 'GET /')).toBe(true);
    expect(budget.test(regex, 'POST /')).toBe(false);
    expect(UNMETERED.test(regex, 'GET /')).toBe(true);
  });
});

describe('RateBudget (a live subscription)', () => {
  it('allows its rate for ever', () => {
    const { clock, read, regex } = fixture(1);
    const budget = new RateBudget(50, read);
    // 1 ms of matching every 25 ms: 40 ms a second, under 50, for a simulated hour.
    for (let i = 0; i < 144_000; i++) {
      budget.test(regex, 'x');
      clock.t += 24;
    }
    expect(budget.exceeded).toBe(false);
  });

  it('is exceeded by a sustained higher rate, after a burst of at most the window', () => {
    const { clock, read, regex } = fixture(1);
    const budget = new RateBudget(50, read);
    // 1 ms every 10 ms: 100 ms a second. The bucket (100 ms) empties by 50 ms a second: ~2 s.
    let tests = 0;
    while (!budget.exceeded && tests < 10_000) {
      budget.test(regex, 'x');
      clock.t += 9;
      tests++;
    }
    expect(budget.exceeded).toBe(true);
    expect(clock.t).toBeGreaterThan(LIVE_WINDOW_MS * 0.9);
    expect(clock.t).toBeLessThan(LIVE_WINDOW_MS * 1.1);
  });

  it('is exceeded at once by a single test longer than the window allows, then runs nothing more', () => {
    const { clock, read, regex } = fixture(150);
    const budget = new RateBudget(50, read);
    expect(budget.test(regex, 'x')).toBe(true);
    expect(budget.exceeded).toBe(true);
    const t = clock.t;
    expect(budget.test(regex, 'x')).toBe(false);
    expect(clock.t).toBe(t); // not run
    expect(budget.error()).toMatchObject({
      code: 'regex_budget_exceeded',
      message: expect.stringMatching(/more than 50 ms a second matching \(FANOUT_REGEX_BUDGET_MS_PER_SEC, over 2 s\), so this subscription was ended/),
    });
  });

  it('refills with idle time, up to the window and no more', () => {
    const { clock, read, regex } = fixture(80);
    const budget = new RateBudget(50, read);
    budget.test(regex, 'x'); // 80 of 100 ms used
    clock.t += 10 * 60_000; // ten idle minutes refill 100 ms, not 30 s
    budget.test(regex, 'x'); // 80 more: fine
    expect(budget.exceeded).toBe(false);
    budget.test(regex, 'x'); // 80 more with ~0 refill: over
    expect(budget.exceeded).toBe(true);
  });
});
