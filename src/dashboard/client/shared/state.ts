/**
 * The view's state as it is kept in the URL query (`app`, `level`, `source`, `proc`, `search`,
 * `regex`, `mode`, plus `from`/`to` for a time window), the subscription it asks the gateway for,
 * and the same filter evaluated in the browser (for the instant view while the gateway answers,
 * and for highlight mode). Pure: no DOM.
 */
import { LEVELS, procMatches, type Level, type Row } from './model.js';

export type Mode = 'filter' | 'highlight';

export interface ViewState {
  /** The app followed; '' = every app the token may read (admin). */
  app: string;
  /** Levels shown (the level chips). All five = no level filter. */
  levels: Set<Level>;
  source: string;
  /** Dyno prefix: `web` matches `web.1`. */
  proc: string;
  /** The search box. */
  query: string;
  /** The search box holds a regular expression (`regex=`) instead of a substring (`search=`). */
  regex: boolean;
  /** `filter`: only matching rows; `highlight`: every row, matches marked. */
  mode: Mode;
  /** A time window (ISO 8601): shown from history instead of live. */
  from: string;
  to: string;
}

export function defaultState(): ViewState {
  return { app: '', levels: new Set(LEVELS), source: '', proc: '', query: '', regex: false, mode: 'filter', from: '', to: '' };
}

const ALIASES: Record<string, Level> = {
  debug: 'DEBUG',
  trace: 'DEBUG',
  verbose: 'DEBUG',
  info: 'INFO',
  notice: 'INFO',
  information: 'INFO',
  log: 'INFO',
  warn: 'WARN',
  warning: 'WARN',
  error: 'ERROR',
  err: 'ERROR',
  fatal: 'FATAL',
  critical: 'FATAL',
  crit: 'FATAL',
  emerg: 'FATAL',
  emergency: 'FATAL',
  alert: 'FATAL',
  panic: 'FATAL',
};

export function parseLevelName(s: string): Level | undefined {
  return ALIASES[s.trim().toLowerCase()];
}

/**
 * The gateway's `level` parameter → the set of levels shown. As on `GET /api/logs` and the
 * WebSocket: one level means that level and above (`warn` → WARN, ERROR, FATAL); a list means
 * exactly those. Unknown names are ignored; nothing valid = every level.
 */
export function parseLevelParam(param: string | null | undefined): Set<Level> {
  const names = (param ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const levels = names.map(parseLevelName).filter((l): l is Level => l !== undefined);
  if (levels.length === 0) return new Set(LEVELS);
  if (names.length === 1) return new Set(LEVELS.slice(LEVELS.indexOf(levels[0]!)));
  return new Set(levels);
}

/**
 * The set of levels shown → the gateway's `level` parameter, or '' for every level: `warn` for
 * WARN and above, `info,error` for a list. A single level that is not the top of the range
 * (only INFO) is written twice (`info,info`): a list means "exactly", one name "and above".
 */
export function levelParam(levels: Set<Level>): string {
  const on = LEVELS.filter((l) => levels.has(l));
  if (on.length === LEVELS.length || on.length === 0) return '';
  const lower = on.map((l) => l.toLowerCase());
  const first = LEVELS.indexOf(on[0]!);
  if (on.length === LEVELS.length - first) return lower[0]!;
  return on.length === 1 ? `${lower[0]},${lower[0]}` : lower.join(',');
}

/** `?app=…&level=…` → state (missing parameters take their defaults). */
export function parseQuery(query: string): ViewState {
  const q = new URLSearchParams(query);
  const s = defaultState();
  s.app = q.get('app') ?? '';
  s.levels = parseLevelParam(q.get('level'));
  s.source = q.get('source') ?? '';
  s.proc = q.get('proc') ?? '';
  const regex = q.get('regex');
  if (regex) {
    s.query = regex;
    s.regex = true;
  } else {
    s.query = q.get('search') ?? '';
  }
  s.mode = q.get('mode') === 'highlight' ? 'highlight' : 'filter';
  s.from = q.get('from') ?? '';
  s.to = q.get('to') ?? '';
  return s;
}

/** State → query string (with its `?`, or '' when everything is default). Keeps unknown keys. */
export function toQuery(s: ViewState, keep: URLSearchParams = new URLSearchParams()): string {
  const q = new URLSearchParams(keep);
  for (const k of ['app', 'level', 'source', 'proc', 'search', 'regex', 'mode', 'from', 'to']) q.delete(k);
  if (s.app) q.set('app', s.app);
  const level = levelParam(s.levels);
  if (level) q.set('level', level);
  if (s.source) q.set('source', s.source);
  if (s.proc) q.set('proc', s.proc);
  if (s.query) q.set(s.regex ? 'regex' : 'search', s.query);
  if (s.mode === 'highlight') q.set('mode', 'highlight');
  if (s.from) q.set('from', s.from);
  if (s.to) q.set('to', s.to);
  const text = q.toString();
  return text ? `?${text}` : '';
}

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

/** Stable hue (0–359) for a source name: the same source always gets the same colour. */
export function hueOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) % 360;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * A row's time: `HH:MM:SS.mmm` (with `MM-DD` when not today), local or UTC (then with `Z`).
 * The µs digits are kept in the title (full ISO) only.
 */
export function formatTime(iso: string, utc: boolean, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = utc
    ? [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  const today = utc
    ? now.getUTCFullYear() === parts[0] && now.getUTCMonth() === parts[1] && now.getUTCDate() === parts[2]
    : now.getFullYear() === parts[0] && now.getMonth() === parts[1] && now.getDate() === parts[2];
  const time = `${pad(parts[3]!)}:${pad(parts[4]!)}:${pad(parts[5]!)}.${pad(parts[6]!, 3)}${utc ? 'Z' : ''}`;
  return today ? time : `${pad(parts[1]! + 1)}-${pad(parts[2]!)} ${time}`;
}
