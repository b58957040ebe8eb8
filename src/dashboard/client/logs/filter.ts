/**
 * The logs view's filter: the subscription a state asks the gateway for (WebSocket and
 * `GET /api/logs`), and the same filter evaluated in the browser (for the instant view while the
 * gateway answers, and for highlight mode). Pure: no DOM.
 */
import { LEVELS, procMatches, type Row } from '../shared/model.js';
import { levelParam, type ViewState } from '../shared/state.js';

/** The WebSocket `subscribe` fields for a state (search goes to the gateway only in filter mode). */
export function subscription(s: ViewState): Record<string, unknown> {
  const sub: Record<string, unknown> = {};
  if (s.app) sub.apps = [s.app];
  const level = levelParam(s.levels);
  if (level) sub.levels = level.split(',');
  if (s.source) sub.source = s.source;
  if (s.proc) sub.proc = s.proc;
  if (s.query && s.mode === 'filter') sub[s.regex ? 'regex' : 'search'] = s.query;
  return sub;
}

/**
 * `GET /api/logs` parameters for a state: the same filters as the live subscription (search or
 * regex only in filter mode). `from`/`to` bound the window.
 */
export function historyParams(s: ViewState): URLSearchParams {
  const q = new URLSearchParams();
  if (s.app) q.set('app_id', s.app);
  const level = levelParam(s.levels);
  if (level) q.set('level', level);
  if (s.source) q.set('source', s.source);
  if (s.proc) q.set('proc', s.proc);
  if (s.query && s.mode === 'filter') q.set(s.regex ? 'regex' : 'search', s.query);
  if (s.from) q.set('date_from', s.from);
  if (s.to) q.set('date_to', s.to);
  return q;
}

/** The state's regex when it filters (filter mode, regex on); throws SyntaxError when invalid. */
export function regexOf(s: ViewState): RegExp | undefined {
  return s.query && s.regex && s.mode === 'filter' ? new RegExp(s.query) : undefined;
}

/**
 * The filter of a state evaluated in the browser, with the gateway's semantics; `null` when the
 * regex does not compile (the gateway says why). In highlight mode the search does not filter.
 */
export function localFilter(s: ViewState): ((row: Row) => boolean) | null {
  const levels = s.levels.size === LEVELS.length ? undefined : new Set(LEVELS.filter((l) => s.levels.has(l)).map((l) => l.toLowerCase()));
  const source = s.source || undefined;
  const proc = s.proc || undefined;
  let search: string | undefined;
  let regex: RegExp | undefined;
  if (s.query && s.mode === 'filter') {
    if (s.regex) {
      try {
        regex = new RegExp(s.query);
      } catch {
        return null;
      }
    } else search = s.query.toLowerCase();
  }
  return (row) => {
    const e = row.entry;
    if (!e) return true; // gap markers stay
    if (levels && !levels.has(row.level)) return false;
    if (source !== undefined && e.source !== source) return false;
    if (proc !== undefined && !procMatches(e.proc, proc)) return false;
    if (search !== undefined && !(row.lower ??= e.message.toLowerCase()).includes(search)) return false;
    if (regex && !regex.test(e.message)) return false;
    return true;
  };
}

/** The pattern that marks matches in highlight mode (global), or undefined. */
export function highlightPattern(s: ViewState): RegExp | undefined {
  if (!s.query) return undefined;
  try {
    return s.regex ? new RegExp(s.query, 'g') : new RegExp(s.query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi');
  } catch {
    return undefined;
  }
}

/** [start, end) ranges of `pattern` in `text` (empty matches skipped), at most `max`. */
export function matchRanges(text: string, pattern: RegExp, max = 100): [number, number][] {
  const out: [number, number][] = [];
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m && out.length < max; m = pattern.exec(text)) {
    if (m[0].length === 0) {
      pattern.lastIndex++;
      continue;
    }
    out.push([m.index, m.index + m[0].length]);
  }
  pattern.lastIndex = 0;
  return out;
}
