/**
 * The page's state as it is kept in the URL query (`app`, `level`, `source`, `proc`, `search`,
 * `regex`, `mode`, plus `from`/`to` for a time window, `range` for a preset one, `view` and
 * `metric` for the Metrics view): one object every view reads, so a link or a reload restores
 * what was shown. Pure: no DOM.
 */
import { LEVELS, type Level } from './model.js';

export type Mode = 'filter' | 'highlight';

/** The views of the page (the tabs in the header). */
export type ViewName = 'logs' | 'metrics';

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
  /**
   * The time menu's preset (minutes: "last 15 min" = 15) or 0. With a preset, `from` is where it
   * started when picked (the Logs view's window); the Metrics view slides with it.
   */
  range: number;
  /** The view shown. */
  view: ViewName;
  /** The series chosen in the Metrics view's picker ('' = none). */
  metric: string;
}

export function defaultState(): ViewState {
  return { app: '', levels: new Set(LEVELS), source: '', proc: '', query: '', regex: false, mode: 'filter', from: '', to: '', range: 0, view: 'logs', metric: '' };
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
  const range = Number(q.get('range'));
  s.range = Number.isInteger(range) && range > 0 && range <= 7 * 1440 ? range : 0;
  s.view = q.get('view') === 'metrics' ? 'metrics' : 'logs';
  s.metric = q.get('metric') ?? '';
  return s;
}

/** State → query string (with its `?`, or '' when everything is default). Keeps unknown keys. */
export function toQuery(s: ViewState, keep: URLSearchParams = new URLSearchParams()): string {
  const q = new URLSearchParams(keep);
  for (const k of ['app', 'level', 'source', 'proc', 'search', 'regex', 'mode', 'from', 'to', 'range', 'view', 'metric']) q.delete(k);
  if (s.app) q.set('app', s.app);
  const level = levelParam(s.levels);
  if (level) q.set('level', level);
  if (s.source) q.set('source', s.source);
  if (s.proc) q.set('proc', s.proc);
  if (s.query) q.set(s.regex ? 'regex' : 'search', s.query);
  if (s.mode === 'highlight') q.set('mode', 'highlight');
  if (s.from) q.set('from', s.from);
  if (s.to) q.set('to', s.to);
  if (s.range) q.set('range', String(s.range));
  if (s.view !== 'logs') q.set('view', s.view);
  if (s.metric) q.set('metric', s.metric);
  const text = q.toString();
  return text ? `?${text}` : '';
}
