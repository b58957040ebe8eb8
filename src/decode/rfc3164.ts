/**
 * RFC 3164 (BSD syslog) fallback: `[<PRI>]Mmm dd hh:mm:ss [HOSTNAME ]TAG[[PID]]: CONTENT`.
 *
 * A wrapper over `syslog-parse`, which finds host, tag, pid and content but gets the rest wrong:
 * - its time is the *current* local date with month/day/h/m/s set one by one (setMonth then
 *   setDate: on the 31st, `Feb 3` overflows into March), keeps the current milliseconds, uses the
 *   process's timezone and always the current year (a `Dec 31 23:59:59` line received on Jan 1
 *   lands a year in the future);
 * - a missing PRI gives 0 (kern.emerg) where RFC 3164 §4.3.3 says 13 (user.notice), and PRI is
 *   not range-checked;
 * - its regex is unanchored (a date inside the text can match) and its content group `(.+)`
 *   stops at the first LF (multi-line messages lose their tail); a month name it does not know
 *   (`JAN`) gives month -1.
 * So the header is read here, anchored at the start of the line, and the library's answer is
 * only used once it is confirmed to describe that same header.
 */
import syslogParse from 'syslog-parse';
import type { SyslogRecord } from './types.js';

/** Options of {@link parseRfc3164}. */
export interface Rfc3164Options {
  /**
   * Offset of the sender's local time from UTC, in minutes (e.g. 120 for UTC+02:00). RFC 3164
   * timestamps carry no zone; default 0 (read as UTC). Values outside ±24 h are ignored.
   */
  timezoneOffsetMin?: number;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** RFC 3164 §4.3.3: a message without PRI is given PRI 13 (user.notice). */
const DEFAULT_PRI = 13;
const DAY_MS = 86_400_000;
const PID_RE = /^[a-z\d.-]+$/i;

/** The header fields read from the line itself. */
interface Header {
  pri: number;
  month: number; // 0–11
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Index one past `hh:mm:ss`. */
  end: number;
}

function isDigitAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

function twoDigits(s: string, i: number): number {
  return isDigitAt(s, i) && isDigitAt(s, i + 1) ? (s.charCodeAt(i) - 0x30) * 10 + (s.charCodeAt(i + 1) - 0x30) : -1;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Reads `[<PRI>]Mmm dd hh:mm:ss` at the start of `s` (RFC 3164 §4.1.1–4.1.2), or null. */
function readHeader(s: string): Header | null {
  let i = 0;
  let pri = DEFAULT_PRI;
  if (s.charCodeAt(0) === 0x3c) {
    // PRI: 1–3 digits, 0–191, no leading zero except `<0>` (as in RFC 5424 §6.2.1).
    i = 1;
    while (i < 5 && isDigitAt(s, i)) i++;
    const digits = i - 1;
    if (digits < 1 || digits > 3 || s.charCodeAt(i) !== 0x3e) return null;
    if (digits > 1 && s.charCodeAt(1) === 0x30) return null;
    pri = Number(s.slice(1, i));
    if (pri > 191) return null;
    i++;
  }
  // Mmm: English month abbreviation (accepted in any case).
  const month = MONTHS.indexOf(s.slice(i, i + 3).toLowerCase());
  if (month < 0) return null;
  i += 3;
  if (!isBlank(s.charCodeAt(i))) return null;
  while (isBlank(s.charCodeAt(i))) i++;
  // dd: `Jan  5` (space-padded, as RFC 3164 asks), `Jan 5` or `Jan 05`.
  let day = s.charCodeAt(i) - 0x30;
  if (!(day >= 0 && day <= 9)) return null;
  i++;
  if (isDigitAt(s, i)) {
    day = day * 10 + s.charCodeAt(i) - 0x30;
    i++;
  }
  if (day < 1 || day > DAYS_IN_MONTH[month]! || !isBlank(s.charCodeAt(i))) return null;
  while (isBlank(s.charCodeAt(i))) i++;
  // hh:mm:ss
  const hour = twoDigits(s, i);
  const minute = twoDigits(s, i + 3);
  const second = twoDigits(s, i + 6);
  if (s.charCodeAt(i + 2) !== 0x3a || s.charCodeAt(i + 5) !== 0x3a) return null;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return null;
  return { pri, month, day, hour, minute, second, end: i + 8 };
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/**
 * RFC 3164 timestamps have no year: take the latest year that puts the time at most one day
 * after `receivedMs` (clock skew), trying next year first (a `Jan 1 00:00:05` line received at
 * `Dec 31 23:59:59`), then this year, then earlier ones (`Dec 31` received on Jan 1 is last
 * year; `Feb 29` goes back to the last leap year). Returns epoch ms, or NaN.
 */
function pickTime(h: Header, receivedMs: number, offsetMin: number): number {
  const limit = receivedMs + DAY_MS;
  const thisYear = new Date(receivedMs).getUTCFullYear();
  const second = h.second === 60 ? 59 : h.second; // a leap second stays inside its minute
  for (let y = thisYear + 1; y >= thisYear - 8; y--) {
    if (h.month === 1 && h.day === 29 && !isLeap(y)) continue;
    const t = Date.UTC(y, h.month, h.day, h.hour, h.minute, second) - offsetMin * 60_000;
    if (t <= limit) return t;
  }
  return Number.NaN;
}

/** Skips the library's `\s+` (any whitespace) at `i`. */
function skipSpace(s: string, i: number): number {
  while (i < s.length && /\s/.test(s[i]!)) i++;
  return i;
}

/**
 * Parses an RFC 3164 (BSD syslog) line: `[<PRI>]Mmm dd hh:mm:ss [HOSTNAME ]TAG[[PID]]: CONTENT`.
 *
 * Uses `syslog-parse` for HOSTNAME/TAG/PID/CONTENT and fixes what it gets wrong:
 * - the time is read from the line and interpreted in UTC (or `timezoneOffsetMin`), with the
 *   year chosen so that the time is no more than one day after `receivedAt` (else the year
 *   before), milliseconds 0;
 * - no PRI means 13, user.notice (RFC 3164 §4.3.3); a PRI over 191 or with a leading zero means
 *   the line is not RFC 3164;
 * - the header must start the line (after leading whitespace), and CONTENT runs to the end of
 *   the line, line feeds included.
 *
 * Mapping: hostname ← HOSTNAME (null when absent), appName ← TAG, procId ← the text inside
 * `[...]` (null when absent), message ← CONTENT (trimmed, as the library does); msgId and
 * structuredData are null, `format` is `'rfc3164'`. `invalidUtf8` is false: the caller decodes
 * the bytes and knows. Returns null when the line is not RFC 3164 (including an empty CONTENT,
 * which the library refuses). Never throws.
 *
 * @example
 * parseRfc3164('<34>Oct 11 22:14:15 mymachine su: \'su root\' failed', new Date('2024-03-01T00:00:00Z'))
 * // { facility: 4, severity: 2, timestamp: '2023-10-11T22:14:15.000000Z', hostname: 'mymachine',
 * //   appName: 'su', procId: null, message: "'su root' failed", format: 'rfc3164', ... }
 */
export function parseRfc3164(line: string, receivedAt: Date, opts?: Rfc3164Options): SyslogRecord | null {
  const text = line.trim(); // what syslog-parse does first: offsets below are into `text`
  const header = readHeader(text);
  if (header === null) return null;

  let parsed: ReturnType<typeof syslogParse>;
  try {
    parsed = syslogParse(text);
  } catch {
    return null; // it does not throw today; a decoder must not, whatever the library does
  }
  if (parsed === undefined) return null;

  // The library's regex is unanchored: check that its host/tag follow *our* header, and read the
  // pid and content from the line (its content group stops at the first LF).
  let i = skipSpace(text, header.end);
  if (i === header.end) return null;
  const host = parsed.host;
  if (host !== '') {
    if (!text.startsWith(host, i)) return null;
    i += host.length;
    const j = skipSpace(text, i);
    if (j === i) return null;
    i = j;
  }
  const tag = parsed.process;
  if (typeof tag !== 'string' || tag === '' || !text.startsWith(tag, i)) return null;
  i += tag.length;
  let procId: string | null = null;
  if (text.charCodeAt(i) === 0x5b) {
    const close = text.indexOf(']', i + 1);
    if (close < 0) return null;
    procId = text.slice(i + 1, close);
    if (!PID_RE.test(procId)) return null; // the library's own PID class: [a-z\d-.]+
    i = close + 1;
  }
  if (text.charCodeAt(i) !== 0x3a) return null;
  const message = text.slice(i + 1).trim();

  let offsetMin = opts?.timezoneOffsetMin ?? 0;
  if (!Number.isFinite(offsetMin) || Math.abs(offsetMin) > 1440) offsetMin = 0;
  let receivedMs = receivedAt instanceof Date ? receivedAt.getTime() : Number.NaN;
  if (!Number.isFinite(receivedMs)) receivedMs = Date.now();
  const t = pickTime(header, receivedMs, offsetMin);
  const date = new Date(t); // an Invalid Date when t is NaN or out of range (toISOString throws)
  const iso = Number.isNaN(date.getTime()) ? '' : date.toISOString();
  // 24 chars for years 0000–9999; anything else is no real log time.
  const timestamp = iso.length === 24 ? `${iso.slice(0, 19)}.000000Z` : null;

  return {
    facility: header.pri >> 3,
    severity: header.pri & 7,
    timestamp,
    invalidTimestamp: timestamp === null,
    hostname: host === '' ? null : host,
    appName: tag,
    procId,
    msgId: null,
    structuredData: null,
    message,
    invalidUtf8: false,
    format: 'rfc3164',
  };
}
