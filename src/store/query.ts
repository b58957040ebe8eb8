import { levelRank, LEVELS, type Entry } from '../normalize/entry.js';
import { DEFAULT_QUERY_REGEX_BUDGET_MS, ScanBudget, type RegexBudget } from '../query/regex-budget.js';
import { compileRegex, type UserRegex } from '../query/user-regex.js';
import type { QueryFilter } from './types.js';

/** A compiled filter: true when the entry matches every field given in the QueryFilter. */
export interface EntryPredicate {
  (entry: Entry): boolean;
  /** The compiled `regex`, when the filter has one. */
  readonly regex?: UserRegex;
  /** The same filter with its regex tests run through `budget` instead (without a regex: the same tests). */
  withBudget(budget: RegexBudget): EntryPredicate;
}

/** Empty strings and empty lists count as "not given", so `?proc=` does not filter everything out. */
function given(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

/**
 * Compiles a QueryFilter (without limit/offset) into a predicate. Work that does not depend on the
 * entry (lower-casing needles, the level table, the app set) is done once here, not per entry.
 *
 * Semantics:
 * - `appIds`: entry's `app_id` is one of them (empty/absent: any app).
 * - `environment`, `source`, `traceId`, `batchId`: exact, case-sensitive.
 * - `proc`: like `heroku logs --dyno`: a name without a dot (`web`) matches `web` and `web.<n>`
 *   (not `webhook.1`); a name with a dot (`web.1`) matches only itself.
 * - `search` (message), `userAgent`, `category`: case-insensitive substring.
 * - `regex`: a JavaScript regular expression that `message` matches ({@link compileRegex}:
 *   GatewayError `invalid_regex` when it could not run in linear time), its tests run through
 *   `budget`: by default the filter's own history-read budget, `regexBudgetMs`
 *   (QUERY_REGEX_BUDGET_MS), whose exhaustion throws GatewayError `regex_budget_exceeded` out of
 *   the predicate and so ends the scan (regex-budget.ts).
 * - `minLevel`: `levelRank(level) >= levelRank(minLevel)`; `levels`: level is in the list. Both
 *   given: both apply.
 * - `dateFrom`/`dateTo`: inclusive bounds compared as strings, which is time order for the 27-char
 *   UTC form (`YYYY-MM-DDTHH:MM:SS.ffffffZ`); the caller normalises the bounds.
 *
 * @example
 * const match = compileFilter({ proc: 'web', minLevel: 'WARN', limit: 100, offset: 0 });
 * match(entry); // true for a WARN line from web.2
 */
export function compileFilter(
  filter: Omit<QueryFilter, 'limit' | 'offset'>,
  budget: RegexBudget = new ScanBudget(filter.regexBudgetMs ?? DEFAULT_QUERY_REGEX_BUDGET_MS),
): EntryPredicate {
  const apps = filter.appIds && filter.appIds.length > 0 ? new Set(filter.appIds) : undefined;
  let levelOk: boolean[] | undefined;
  if (filter.minLevel !== undefined || (filter.levels && filter.levels.length > 0)) {
    const min = filter.minLevel === undefined ? 0 : levelRank(filter.minLevel);
    const listed = filter.levels && filter.levels.length > 0 ? new Set(filter.levels) : undefined;
    levelOk = LEVELS.map((l) => levelRank(l) >= min && (listed === undefined || listed.has(l)));
  }
  const environment = given(filter.environment) ? filter.environment : undefined;
  const source = given(filter.source) ? filter.source : undefined;
  const traceId = given(filter.traceId) ? filter.traceId : undefined;
  const batchId = given(filter.batchId) ? filter.batchId : undefined;
  const proc = given(filter.proc) ? filter.proc : undefined;
  // `web` also matches `web.1`; a name that already has a dot is a single dyno.
  const procPrefix = proc !== undefined && !proc.includes('.') ? `${proc}.` : undefined;
  const search = given(filter.search) ? filter.search.toLowerCase() : undefined;
  const userAgent = given(filter.userAgent) ? filter.userAgent.toLowerCase() : undefined;
  const category = given(filter.category) ? filter.category.toLowerCase() : undefined;
  const dateFrom = given(filter.dateFrom) ? filter.dateFrom : undefined;
  const dateTo = given(filter.dateTo) ? filter.dateTo : undefined;
  const regex = given(filter.regex) ? compileRegex(filter.regex) : undefined;

  const predicate = (budget: RegexBudget) =>
    function matches(e: Entry): boolean {
      if (apps !== undefined && !apps.has(e.app_id)) return false;
      if (levelOk !== undefined && !levelOk[levelRank(e.level)]) return false;
      if (dateFrom !== undefined && e.timestamp < dateFrom) return false;
      if (dateTo !== undefined && e.timestamp > dateTo) return false;
      if (environment !== undefined && e.environment !== environment) return false;
      if (source !== undefined && e.source !== source) return false;
      if (traceId !== undefined && e.trace_id !== traceId) return false;
      if (batchId !== undefined && e.batch_id !== batchId) return false;
      if (proc !== undefined) {
        const p = e.proc;
        if (p === undefined) return false;
        if (p !== proc && (procPrefix === undefined || !p.startsWith(procPrefix))) return false;
      }
      if (category !== undefined && (e.category === undefined || !e.category.toLowerCase().includes(category))) {
        return false;
      }
      if (userAgent !== undefined && (e.user_agent === undefined || !e.user_agent.toLowerCase().includes(userAgent))) {
        return false;
      }
      // Last: the only test that allocates (a lower-cased copy of the message).
      if (search !== undefined && !e.message.toLowerCase().includes(search)) return false;
      if (regex !== undefined && !budget.test(regex, e.message)) return false;
      return true;
    };
  const withBudget = (b: RegexBudget): EntryPredicate => Object.assign(predicate(b), { regex, withBudget });
  return withBudget(budget);
}

/** Sort order of results: newest `timestamp` first; equal timestamps by `id`, newest (greatest) first. */
export function compareNewestFirst(a: Entry, b: Entry): number {
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp ? -1 : 1;
  if (a.id !== b.id) return a.id > b.id ? -1 : 1;
  return 0;
}

/**
 * The page `[offset, offset + limit)` of `matches` in newest-first order. May reorder `matches`.
 *
 * Cost, for m matches and k = offset + limit: when k is small against m (the usual `-n 100` over
 * many apps), a bounded heap keeps the k newest in O(m log k) without sorting everything; otherwise
 * one sort, O(m log m). Callers that collect each app's history newest-first hand the sort long
 * already-ordered runs, which V8's TimSort merges cheaply.
 */
export function selectPage(matches: Entry[], offset: number, limit: number): Entry[] {
  const start = Math.max(0, Math.floor(offset));
  const size = Math.max(0, Math.floor(limit));
  const k = start + size;
  if (size === 0 || start >= matches.length) return [];
  if (k * 8 >= matches.length) {
    matches.sort(compareNewestFirst);
    return matches.slice(start, k);
  }
  return topK(matches, k, compareNewestFirst).slice(start, k);
}

/** The k first items of `items` under `cmp`, sorted; O(n log k) with a heap whose root is the worst kept. */
export function topK<T>(items: readonly T[], k: number, cmp: (a: T, b: T) => number): T[] {
  if (k <= 0) return [];
  const heap: T[] = [];
  // Max-heap by `cmp`: heap[0] is the item that would be dropped first.
  const siftUp = (i: number): void => {
    const item = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (cmp(heap[parent], item) >= 0) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = item;
  };
  const siftDown = (i: number): void => {
    const n = heap.length;
    const item = heap[i];
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && cmp(heap[right], heap[left]) > 0 ? right : left;
      if (cmp(heap[child], item) <= 0) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = item;
  };
  for (const item of items) {
    if (heap.length < k) {
      heap.push(item);
      siftUp(heap.length - 1);
    } else if (cmp(item, heap[0]) < 0) {
      heap[0] = item;
      siftDown(0);
    }
  }
  return heap.sort(cmp);
}
