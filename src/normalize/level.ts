/**
 * Levels: from syslog severity, from names senders use, and from what a message says.
 *
 * Heroku sends every app line as local7.info (`<190>`), whatever the app meant, so the severity
 * alone would make every crash INFO; the content of the line has to be read. {@link resolveLevel}
 * says which of the two wins.
 */
import { levelRank, type Level } from './entry.js';
import { KEY_AT, KEY_CODE, KEY_LEVEL, LOGFMT_BARE, type LogfmtTokens } from './logfmt.js';

const LEVEL_KEYS_MASK = (1 << KEY_LEVEL) | (1 << KEY_AT) | (1 << KEY_CODE);

const SEVERITY_LEVELS: readonly Level[] = ['FATAL', 'FATAL', 'FATAL', 'ERROR', 'WARN', 'INFO', 'INFO', 'DEBUG'];

/**
 * RFC 5424 §6.2.1 severity → level: 0–2 (emerg, alert, crit) FATAL, 3 ERROR, 4 WARN,
 * 5–6 (notice, info) INFO, 7 DEBUG. Anything outside 0–7 is INFO.
 */
export function levelFromSeverity(severity: number): Level {
  return SEVERITY_LEVELS[severity] ?? 'INFO';
}

/**
 * A level name as senders write it, case-insensitive, or null.
 *
 * - DEBUG: debug, trace, verbose · INFO: info, information, notice, log · WARN: warn, warning ·
 *   ERROR: error, err · FATAL: fatal, critical, crit, emerg, emergency, alert, panic.
 * - A single digit `0`–`7` is read as a syslog severity (`level=3` → ERROR): syslog is where a
 *   bare digit level comes from. Longer numbers are not (see {@link levelFromNumber} for pino's).
 *
 * @example parseLevelAlias('Warning') // 'WARN'
 * @example parseLevelAlias('3')       // 'ERROR'
 */
export function parseLevelAlias(s: string): Level | null {
  // Exact spellings first: the common case costs no lowercase copy.
  const exact = aliasOf(s);
  if (exact !== undefined) return exact;
  if (s.length === 1) {
    const d = s.charCodeAt(0) - 0x30;
    return d >= 0 && d <= 7 ? SEVERITY_LEVELS[d]! : null;
  }
  if (s.length < 3 || s.length > 11) return null;
  return aliasOf(s.toLowerCase()) ?? null;
}

function aliasOf(s: string): Level | undefined {
  switch (s) {
    case 'debug':
    case 'DEBUG':
    case 'trace':
    case 'TRACE':
    case 'verbose':
      return 'DEBUG';
    case 'info':
    case 'INFO':
    case 'information':
    case 'notice':
    case 'NOTICE':
    case 'log':
      return 'INFO';
    case 'warn':
    case 'WARN':
    case 'warning':
    case 'WARNING':
      return 'WARN';
    case 'error':
    case 'ERROR':
    case 'err':
    case 'ERR':
      return 'ERROR';
    case 'fatal':
    case 'FATAL':
    case 'critical':
    case 'CRITICAL':
    case 'crit':
    case 'emerg':
    case 'emergency':
    case 'alert':
    case 'panic':
      return 'FATAL';
    default:
      return undefined;
  }
}

/**
 * A numeric level: 0–7 are syslog severities; 10/20/30/40/50/60 are pino/bunyan levels
 * (trace, debug, info, warn, error, fatal: `{"level":30,"msg":…}` is what pino writes).
 * Other numbers are null.
 */
export function levelFromNumber(n: number): Level | null {
  if (Number.isInteger(n) && n >= 0 && n <= 7) return SEVERITY_LEVELS[n]!;
  switch (n) {
    case 10:
    case 20:
      return 'DEBUG';
    case 30:
      return 'INFO';
    case 40:
      return 'WARN';
    case 50:
      return 'ERROR';
    case 60:
      return 'FATAL';
    default:
      return null;
  }
}

/** A level given as a JSON value (string alias or number), or null. */
export function levelFromValue(v: unknown): Level | null {
  if (typeof v === 'string') return parseLevelAlias(v);
  if (typeof v === 'number') return levelFromNumber(v);
  return null;
}

/** `at=` of Heroku's logfmt: only error/warning name a level; other values are event names (`at=start`). */
function levelFromAt(v: string): Level | null {
  switch (v) {
    case 'error':
      return 'ERROR';
    case 'warning':
    case 'warn':
      return 'WARN';
    case 'fatal':
      return 'FATAL';
    default:
      return null;
  }
}

/** Heroku error codes: H10–H99 (router), R10–R99 (runtime), L10–L15 (Logplex). */
function isHerokuCode(v: string): boolean {
  if (v.length < 3 || v.length > 4) return false;
  const c = v.charCodeAt(0);
  if (c !== 0x48 /* H */ && c !== 0x52 /* R */ && c !== 0x4c /* L */) return false;
  for (let i = 1; i < v.length; i++) {
    const d = v.charCodeAt(i);
    if (d < 0x30 || d > 0x39) return false;
  }
  return true;
}

/**
 * Level stated by logfmt fields: the first `level=`/`severity=`/`lvl=` with a known value; else
 * `at=error` (ERROR), `at=warning` (WARN); else a Heroku error `code=H12` (ERROR). Null if none.
 */
export function levelFromLogfmt(t: LogfmtTokens): Level | null {
  if ((t.mask & LEVEL_KEYS_MASK) === 0) return null;
  let at: Level | null = null;
  let code = false;
  for (let k = 0; k < t.length; k++) {
    const cls = t.classes[k];
    if (t.kinds[k] === LOGFMT_BARE) continue;
    if (cls === KEY_LEVEL) {
      const l = parseLevelAlias(t.values[k]!);
      if (l !== null) return l;
    } else if (cls === KEY_AT) {
      if (at === null) at = levelFromAt(t.values[k]!);
    } else if (cls === KEY_CODE) {
      if (!code) code = isHerokuCode(t.values[k]!);
    }
  }
  return at ?? (code ? 'ERROR' : null);
}

/** Level stated by the fields of a JSON message: `level`, then `severity`, then `lvl`. */
export function levelFromFields(fields: Record<string, unknown>): Level | null {
  return levelFromValue(fields.level) ?? levelFromValue(fields.severity) ?? levelFromValue(fields.lvl);
}

const RUBY_LOGGER_LEVELS: Record<string, Level> = { D: 'DEBUG', I: 'INFO', W: 'WARN', E: 'ERROR', F: 'FATAL' };

/**
 * Level stated by the start of a message's text (after leading spaces only: checking past a
 * timestamp would cost a scan of every line for a rare gain). Recognised:
 * - `[ERROR] …`, `[warn] …`: a bracketed level name, any case;
 * - `ERROR: …`, `Warning: …`: a level name and a colon, any case;
 * - `ERROR …`, `WARN …`: an upper-case level name and a space (mixed case is prose: `Error
 *   connecting` could be either);
 * - Heroku platform errors `Error R14 (Memory quota exceeded)`, `Error L10 (…)`, `Error H12 (…)`;
 * - Ruby's Logger (Rails on Heroku): `E, [2024-01-01T… #12] ERROR -- : …`;
 * - Heroku's `State changed from up to crashed` (ERROR).
 * Numeric names (`[3]`) are not read as levels here.
 */
export function levelFromText(message: string): Level | null {
  const n = message.length;
  let i = 0;
  while (i < n && i < 8 && (message.charCodeAt(i) === 0x20 || message.charCodeAt(i) === 0x09)) i++;
  if (i >= n) return null;
  const first = message.charCodeAt(i);
  if (first === 0x5b /* [ */) {
    const close = message.indexOf(']', i + 1);
    if (close < 0 || close - i - 1 > 11) return null;
    return wordLevel(message, i + 1, close);
  }
  let j = i;
  let upper = true;
  while (j < n && j - i <= 11) {
    const c = message.charCodeAt(j);
    if (c >= 0x41 && c <= 0x5a) j++;
    else if (c >= 0x61 && c <= 0x7a) {
      upper = false;
      j++;
    } else break;
  }
  if (j === i || j >= n) return null;
  const after = message.charCodeAt(j);
  if (after === 0x3a /* : */) return wordLevel(message, i, j);
  if (after === 0x2c /* , */ && j === i + 1 && message.startsWith(' [', j + 1)) {
    return RUBY_LOGGER_LEVELS[message[i]!] ?? null;
  }
  if (after !== 0x20) return null;
  if (upper) {
    const l = wordLevel(message, i, j);
    if (l !== null) return l;
  }
  if (j - i === 5 && isHerokuErrorLine(message, i)) return 'ERROR';
  if (first === 0x53 /* S */ && message.startsWith('State changed from ', i) && message.endsWith(' to crashed')) {
    return 'ERROR';
  }
  return null;
}

/** `Error X99 (` at `i` (Heroku platform error lines). */
function isHerokuErrorLine(m: string, i: number): boolean {
  if (!m.startsWith('Error ', i)) return false;
  const sp = m.indexOf(' ', i + 6);
  return sp > 0 && isHerokuCode(m.slice(i + 6, sp)) && m.charCodeAt(sp + 1) === 0x28 /* ( */;
}

/** Alphabetic level name in `m[start, end)`, any case; null for numbers and unknown words. */
function wordLevel(m: string, start: number, end: number): Level | null {
  if (end - start < 3) return null;
  const c = m.charCodeAt(start);
  if (c < 0x41 || (c > 0x5a && c < 0x61) || c > 0x7a) return null;
  return parseLevelAlias(m.slice(start, end));
}

/**
 * Content level of a message: structured fields first (a JSON message's `level`/`severity`/`lvl`,
 * or logfmt fields via {@link levelFromLogfmt} when `fields` came from logfmt), then the text
 * prefixes of {@link levelFromText}. Null when the message states no level.
 *
 * @example levelFromContent('Error R14 (Memory quota exceeded)') // 'ERROR'
 * @example levelFromContent('{"level":"warn"}', { level: 'warn' }) // 'WARN'
 */
export function levelFromContent(message: string, fields?: Record<string, unknown> | LogfmtTokens | null): Level | null {
  if (fields != null) {
    const l = isTokens(fields) ? levelFromLogfmt(fields) : levelFromFields(fields);
    if (l !== null) return l;
  }
  return levelFromText(message);
}

function isTokens(v: Record<string, unknown> | LogfmtTokens): v is LogfmtTokens {
  return Array.isArray((v as LogfmtTokens).kinds) && Array.isArray((v as LogfmtTokens).keys);
}

/**
 * Combines the syslog severity with the content level.
 *
 * Severities 5 and 6 (notice, info) are what a sender gets when it sets nothing (Heroku sends all
 * app output as local7.info), so there the content level, when there is one, wins, even when it
 * is lower (DEBUG). Any other severity was chosen by the sender: it is kept unless the content
 * states a higher level. With no severity (JSON input), the content level or INFO.
 *
 * @example resolveLevel(6, 'DEBUG') // 'DEBUG'
 * @example resolveLevel(3, 'WARN')  // 'ERROR'
 * @example resolveLevel(4, 'ERROR') // 'ERROR'
 */
export function resolveLevel(severity: number | null | undefined, content: Level | null): Level {
  if (severity == null || severity === 5 || severity === 6) return content ?? 'INFO';
  const fromSeverity = levelFromSeverity(severity);
  return content !== null && levelRank(content) > levelRank(fromSeverity) ? content : fromSeverity;
}
