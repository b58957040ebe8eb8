import { GatewayError } from '../errors.js';
import type { UserRegex } from './user-regex.js';

/**
 * Budgets of time for user regexes. One exec is bounded by the pattern's size (user-regex.ts);
 * these bound what the execs of one request add up to, measured with the clock:
 * - a history read (`GET /api/logs?regex=`, the history or resume of a live tail) stops once
 *   its scan has run `QUERY_REGEX_BUDGET_MS` (default 1000 ms), with 400 `regex_budget_exceeded`
 *   ({@link ScanBudget});
 * - a live subscription may spend `FANOUT_REGEX_BUDGET_MS_PER_SEC` (default 50 ms) a second on
 *   its regex, on average over {@link LIVE_WINDOW_MS}; beyond, it matches nothing more and the
 *   hub ends it with `regex_budget_exceeded` ({@link RateBudget}).
 * compileFilter's regex predicate runs every test through one of them (store/query.ts).
 */

/** QUERY_REGEX_BUDGET_MS when not configured: a history read's scan, at most about a second of the event loop. */
export const DEFAULT_QUERY_REGEX_BUDGET_MS = 1000;
/** FANOUT_REGEX_BUDGET_MS_PER_SEC when not configured: 5 % of a core per live subscription. */
export const DEFAULT_FANOUT_REGEX_BUDGET_MS_PER_SEC = 50;

/** What a filter's regex tests are run through. */
export interface RegexBudget {
  /** `regex.test(text)`, its cost counted; may throw {@link regexBudgetExceeded}. */
  test(regex: UserRegex, text: string): boolean;
}

/** The clock of the budgets, in ms (injected by tests). */
export type Clock = () => number;

const now: Clock = () => performance.now();

/** No accounting: filters whose caller meters them otherwise (a subscription's, see fanout/filter.ts). */
export const UNMETERED: RegexBudget = { test: (regex, text) => regex.test(text) };

/**
 * A history read checks the clock after this many tests, or sooner once the messages tested
 * since the last look add up to {@link SCAN_CHECK_CHARS}: a look costs ~60–80 ns, a cheap test
 * ~50 ns, so looking at every test would triple the cost of cheap patterns, while 64 tests or
 * 4096 characters (at most ~30 ms of matching at the largest pattern size) past the budget
 * is what a read can overrun it by, plus the exec running when it ran out.
 */
export const SCAN_CHECK_TESTS = 64;
export const SCAN_CHECK_CHARS = 4096;

/** The window over which a live subscription's regex time is averaged (its burst: twice the per-second budget). */
export const LIVE_WINDOW_MS = 2000;

/** The error of an exhausted budget (400: the same request would exhaust it again; narrow it). */
export function regexBudgetExceeded(message: string): GatewayError {
  return new GatewayError('regex_budget_exceeded', 400, message);
}

/**
 * The budget of one history read: the scan's time from its first regex test, looked at every
 * {@link SCAN_CHECK_TESTS} tests or {@link SCAN_CHECK_CHARS} characters. Once over `limitMs` the
 * test throws {@link regexBudgetExceeded}, which ends the read (and so does every later test). For synchronous scans (the time
 * between tests is the scan's own): the stores' queries and the hub's history reads are.
 */
export class ScanBudget implements RegexBudget {
  private start = -1;
  private sinceLook = 0;
  private charsSinceLook = 0;
  /** Set once the budget is spent: every later test throws it, without running. */
  private spent: GatewayError | null = null;
  /** Tests run so far. */
  tested = 0;

  constructor(
    private readonly limitMs: number,
    private readonly clock: Clock = now,
  ) {}

  test(regex: UserRegex, text: string): boolean {
    if (this.spent) throw this.spent;
    if (this.start < 0) this.start = this.clock();
    const matched = regex.test(text);
    this.tested++;
    this.charsSinceLook += text.length;
    if (++this.sinceLook >= SCAN_CHECK_TESTS || this.charsSinceLook >= SCAN_CHECK_CHARS) {
      this.sinceLook = 0;
      this.charsSinceLook = 0;
      if (this.clock() - this.start > this.limitMs) {
        this.spent = regexBudgetExceeded(
          `the regex filter used its ${this.limitMs} ms budget (QUERY_REGEX_BUDGET_MS) after testing ${this.tested} entries; ` +
            'narrow the query (fewer apps, a level, a time range, a search substring, less history) or simplify the pattern',
        );
        throw this.spent;
      }
    }
    return matched;
  }
}

/**
 * The budget of a live subscription: every test timed (the hub runs other subscriptions' filters
 * in between, so only the test itself is its cost), against a bucket of `perSecMs` a second that
 * holds at most {@link LIVE_WINDOW_MS} worth (2 × perSecMs). Once the bucket is empty,
 * {@link RateBudget.exceeded} is set and tests answer false without running: the hub then ends
 * the subscription ({@link RateBudget.error}).
 */
export class RateBudget implements RegexBudget {
  exceeded = false;
  private readonly capacity: number;
  private tokens: number;
  private last = Number.NaN;

  constructor(
    private readonly perSecMs: number,
    private readonly clock: Clock = now,
  ) {
    this.capacity = (perSecMs * LIVE_WINDOW_MS) / 1000;
    this.tokens = this.capacity;
  }

  test(regex: UserRegex, text: string): boolean {
    if (this.exceeded) return false;
    const start = this.clock();
    const matched = regex.test(text);
    const end = this.clock();
    // Refilled by the time since the last test (not by the tests' own time).
    if (this.last === this.last) this.tokens = Math.min(this.capacity, this.tokens + ((start - this.last) * this.perSecMs) / 1000);
    this.last = end;
    this.tokens -= end - start;
    if (this.tokens < 0) this.exceeded = true;
    return matched;
  }

  /** What the subscriber is told when its subscription is ended for it. */
  error(): GatewayError {
    return regexBudgetExceeded(
      `the regex filter spent more than ${this.perSecMs} ms a second matching (FANOUT_REGEX_BUDGET_MS_PER_SEC, over ` +
        `${LIVE_WINDOW_MS / 1000} s), so this subscription was ended; subscribe again with a simpler pattern or narrower filters (apps, level, search)`,
    );
  }
}
