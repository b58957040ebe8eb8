/**
 * RFC 5424 syslog parser over a byte range of a buffer (one octet-counted frame).
 *
 * `<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP [SD SP] MSG`
 *
 * Two modes, because Heroku's drains do not send what RFC 5424 says (see types.ts `SyslogMode`):
 * on the drain route there is no STRUCTURED-DATA field at all, so a message `- hi` is the text
 * `- hi`; on the input route (add-ons, log-shuttle) SD is mandatory.
 */
import { isUtf8 } from 'node:buffer';
import { parseTimestamp } from './timestamp.js';
import type { SyslogMode, SyslogParseFailure, SyslogParseResult, SyslogRecord } from './types.js';

const SP = 0x20;
const LT = 0x3c;
const GT = 0x3e;
const DASH = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const EQUALS = 0x3d;

/**
 * RFC 5424 §6.2 bounds HOSTNAME to 255, APP-NAME to 48, PROCID to 128, MSGID to 32 bytes. Real
 * senders overshoot the smaller ones, so every header field is accepted up to 255 bytes.
 */
const MAX_FIELD = 255;

const BAD_PRI: SyslogParseFailure = Object.freeze({ ok: false, reason: 'bad_pri' });
const BAD_VERSION: SyslogParseFailure = Object.freeze({ ok: false, reason: 'bad_version' });
const BAD_HEADER: SyslogParseFailure = Object.freeze({ ok: false, reason: 'bad_header' });

type SdMap = Record<string, Record<string, string>>;

/**
 * `latin1Slice`/`utf8Slice` are what `toString('latin1' | 'utf8', a, b)` calls after checking its
 * arguments; undocumented but present in every Node release. Calling them directly skips the
 * encoding lookup on the hot path (we clamp the offsets ourselves).
 */
interface FastSlices {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** Header field strings: ASCII only (checked), so latin1 is an exact and cheap decoding. */
function ascii(buf: Buffer, a: number, b: number): string {
  return (buf as unknown as FastSlices).latin1Slice(a, b);
}

/**
 * Scans one header field from `i` up to the next SP or `end`. Returns the index one past the
 * field, or -1 when it holds a byte outside printable US-ASCII (RFC 5424 §6: PRINTUSASCII,
 * 33–126), is empty, or is longer than {@link MAX_FIELD}.
 */
function scanField(buf: Buffer, i: number, end: number): number {
  const start = i;
  while (i < end) {
    const c = buf[i]!;
    if (c === SP) break;
    if (c < 33 || c > 126) return -1;
    i++;
  }
  const n = i - start;
  return n === 0 || n > MAX_FIELD ? -1 : i;
}

/** A header field's value, `null` for the NILVALUE `-` (RFC 5424 §6). */
function fieldValue(buf: Buffer, a: number, b: number): string | null {
  return b - a === 1 && buf[a] === DASH ? null : ascii(buf, a, b);
}

/** SD-NAME (RFC 5424 §6.3.2–6.3.3): PRINTUSASCII except `=`, SP, `]`, `"`. */
function isSdNameChar(c: number): boolean {
  return c > SP && c < 127 && c !== EQUALS && c !== RBRACKET && c !== QUOTE;
}

/**
 * RFC 5424 §6.3.3: inside PARAM-VALUE, `"`, `\` and `]` are escaped with `\`; a backslash before
 * any other character is kept as it is (both characters).
 */
function unescapeParam(s: string): string {
  let out = '';
  let from = 0;
  let i = s.indexOf('\\');
  while (i !== -1 && i + 1 < s.length) {
    const next = s.charCodeAt(i + 1);
    if (next === QUOTE || next === BACKSLASH || next === RBRACKET) {
      out += s.slice(from, i);
      from = i + 1; // keep the escaped character, drop the backslash
      i = s.indexOf('\\', i + 2);
    } else {
      i = s.indexOf('\\', i + 1);
    }
  }
  return from === 0 ? s : out + s.slice(from);
}

/** Where parsing of STRUCTURED-DATA stopped, and what it found. */
let sdEnd = 0;

/**
 * Parses STRUCTURED-DATA (RFC 5424 §6.3) at `i`: `-`, or one or more
 * `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`. Returns the elements (null for `-`), or `undefined`
 * when malformed; sets {@link sdEnd} to the index one past the SD field.
 * An SD-ID seen twice (forbidden by §6.3.2) has its params merged. Maps have no prototype, so
 * names like `__proto__` are plain keys.
 */
function parseSd(buf: Buffer, i: number, end: number): SdMap | null | undefined {
  if (buf[i] === DASH) {
    sdEnd = i + 1;
    return null;
  }
  if (buf[i] !== LBRACKET) return undefined;
  const sd: SdMap = Object.create(null);
  while (i < end && buf[i] === LBRACKET) {
    i++;
    const idStart = i;
    while (i < end && isSdNameChar(buf[i]!)) i++;
    if (i === idStart) return undefined;
    const id = ascii(buf, idStart, i);
    const params: Record<string, string> = sd[id] ?? (sd[id] = Object.create(null) as Record<string, string>);
    for (;;) {
      if (i >= end) return undefined;
      const c = buf[i];
      if (c === RBRACKET) {
        i++;
        break;
      }
      if (c !== SP) return undefined;
      i++;
      const nameStart = i;
      while (i < end && isSdNameChar(buf[i]!)) i++;
      if (i === nameStart || i + 1 >= end || buf[i] !== EQUALS || buf[i + 1] !== QUOTE) return undefined;
      const name = ascii(buf, nameStart, i);
      i += 2;
      const valueStart = i;
      let escaped = false;
      while (i < end) {
        const v = buf[i];
        if (v === QUOTE) break;
        if (v === BACKSLASH) {
          escaped = true;
          i += 2; // the escaped byte cannot close the value
        } else {
          i++;
        }
      }
      if (i >= end) return undefined; // no closing quote
      const raw = buf.toString('utf8', valueStart, i);
      params[name] = escaped ? unescapeParam(raw) : raw;
      i++; // closing quote
    }
  }
  sdEnd = i;
  return sd;
}

/**
 * Where {@link scanHeader} found the fields of the frame it accepted: PRI's value, TIMESTAMP's
 * span and the four fields' spans (module state, not an object per line: the hot path).
 */
let hdrPri = 0;
let hdrTsStart = 0;
let hdrTsEnd = 0;
const hdrField = new Int32Array(8);

/**
 * The header's syntax (§6.2: PRI, VERSION, TIMESTAMP's token, HOSTNAME, APP-NAME, PROCID,
 * MSGID): null when it holds, else the failure. This alone decides whether a frame is accepted
 * as RFC 5424 (a TIMESTAMP that does not parse, missing STRUCTURED-DATA or bad UTF-8 in MSG are
 * flags, not rejects), so {@link checkRfc5424} and {@link parseRfc5424} share it.
 */
function scanHeader(buf: Buffer, start: number, end: number): SyslogParseFailure | null {
  let i = start;
  if (end - i < 4 || buf[i] !== LT) return BAD_PRI;

  // PRI (§6.2.1): 1–3 digits, no leading zero unless it is `<0>`.
  i++;
  let pri = buf[i]! - CH_0;
  if (!(pri >= 0 && pri <= 9)) return BAD_PRI;
  i++;
  if (pri !== 0) {
    const limit = i + 2;
    while (i < limit && i < end) {
      const d = buf[i]! - CH_0;
      if (d < 0 || d > 9) break;
      pri = pri * 10 + d;
      i++;
    }
  }
  if (i >= end || buf[i] !== GT || pri > 191) return BAD_PRI;
  i++;

  // VERSION (§6.2.2): NONZERO-DIGIT, and we accept one more digit.
  let d = buf[i]! - CH_0;
  if (!(d >= 1 && d <= 9)) return BAD_VERSION;
  i++;
  d = buf[i]! - CH_0;
  if (d >= 0 && d <= 9) i++;
  if (i >= end || buf[i] !== SP) return BAD_VERSION;
  i++;

  // TIMESTAMP (§6.2.3): up to the next SP; validity is parseTimestamp's business.
  const tsStart = i;
  while (i < end && buf[i] !== SP) i++;
  if (i >= end || i === tsStart) return BAD_HEADER;
  hdrTsStart = tsStart;
  hdrTsEnd = i;
  i++;

  // HOSTNAME, APP-NAME, PROCID: each followed by SP; MSGID: followed by SP or the end.
  for (let k = 0; k < 8; k += 2) {
    const e = scanField(buf, i, end);
    if (e < 0 || (k < 6 && e >= end)) return BAD_HEADER;
    hdrField[k] = i;
    hdrField[k + 1] = e;
    i = e + 1;
  }
  hdrPri = pri;
  return null;
}

/**
 * Whether a frame would be accepted as RFC 5424, and if not why, without building its record:
 * what ingest needs when the store keeps the frames and builds entries when they are read.
 * Null exactly when {@link parseRfc5424} succeeds; else its failure.
 */
export function checkRfc5424(buf: Buffer, start: number, end: number): SyslogParseFailure | null {
  if (!(start >= 0)) start = 0;
  if (!(end <= buf.length)) end = buf.length;
  return scanHeader(buf, start, end);
}

/**
 * Parses one RFC 5424 message in `buf[start, end)` (normally a frame's `msgStart..msgEnd`).
 *
 * - PRI: `<` 1–3 digits `>`, 0–191, no leading zero except `<0>` (§6.2.1), else `bad_pri`.
 * - VERSION: 1–2 digits, not starting with 0, then SP (§6.2.2), else `bad_version`.
 * - TIMESTAMP: `-` gives `timestamp: null`; an unparsable one gives `timestamp: null` and
 *   `invalidTimestamp: true` (the line is kept; the caller substitutes the receive time).
 * - HOSTNAME, APP-NAME, PROCID, MSGID: printable ASCII, single SP between them, `-` = null;
 *   accepted up to 255 bytes each (longer than §6.2 allows for the last three), else `bad_header`.
 *   The message may end right after MSGID (MSG is then '').
 * - `drain` mode: no STRUCTURED-DATA (Heroku drains omit it), everything after `MSGID SP` is MSG.
 * - `input` mode: STRUCTURED-DATA is expected (`-` or `[id k="v" ...]`, §6.3, escapes `\"`, `\\`,
 *   `\]` undone), then SP MSG or the end; without it (Logplex accepts such frames) the rest is
 *   MSG and the record is flagged `missingSd`.
 * - MSG: a leading UTF-8 BOM is dropped (§6.4), decoded as UTF-8; invalid bytes become U+FFFD and
 *   set `invalidUtf8`.
 *
 * Pure, never throws; out-of-range `start`/`end` are clamped to the buffer.
 *
 * @example
 * const line = Buffer.from('<158>1 2012-11-30T06:45:29+00:00 host heroku router - at=info');
 * parseRfc5424(line, 0, line.length, 'drain');
 * // { ok: true, record: { facility: 19, severity: 6, timestamp: '2012-11-30T06:45:29.000000Z',
 * //   hostname: 'host', appName: 'heroku', procId: 'router', msgId: null, message: 'at=info', ... } }
 */
export function parseRfc5424(buf: Buffer, start: number, end: number, mode: SyslogMode): SyslogParseResult {
  if (!(start >= 0)) start = 0;
  if (!(end <= buf.length)) end = buf.length;
  const bad = scanHeader(buf, start, end);
  if (bad !== null) return bad;
  const pri = hdrPri;
  const tsStart = hdrTsStart;
  let timestamp: string | null = null;
  let invalidTimestamp = false;
  if (!(hdrTsEnd - tsStart === 1 && buf[tsStart] === DASH)) {
    timestamp = parseTimestamp(buf, tsStart, hdrTsEnd);
    invalidTimestamp = timestamp === null;
  }
  const hostname = fieldValue(buf, hdrField[0]!, hdrField[1]!);
  const appName = fieldValue(buf, hdrField[2]!, hdrField[3]!);
  const procId = fieldValue(buf, hdrField[4]!, hdrField[5]!);
  const msgId = fieldValue(buf, hdrField[6]!, hdrField[7]!);
  let i = hdrField[7]!;

  let structuredData: SdMap | null = null;
  let missingSd = false;
  if (mode === 'input') {
    // STRUCTURED-DATA is mandatory in RFC 5424 (§6): `MSGID SP SD`. Logplex accepts frames
    // without it (its own HTTP-input example has none): the rest is then the message, flagged.
    const sd = i + 1 < end ? parseSd(buf, i + 1, end) : undefined;
    if (sd === undefined || (sdEnd < end && buf[sdEnd] !== SP)) {
      missingSd = true;
    } else {
      structuredData = sd;
      i = sdEnd;
    }
  } else if (i + 1 < end && buf[i + 1] === DASH && (i + 2 === end || buf[i + 2] === SP)) {
    // `MSGID SP - SP MSG`: the `-` is the nil SD when the sender writes RFC 5424 (shuttle), or when
    // Logplex itself wrote the line (its L10 is published so); else it is the message's text.
    if (mode === 'shuttle' || (appName === 'heroku' && procId === 'logplex')) i += 2;
  }
  // Here buf[i] is the SP before MSG, or i === end (no MSG).
  let msgStart = i + 1;
  if (msgStart > end) msgStart = end;

  // §6.4: MSG may start with a BOM announcing UTF-8; it is not part of the text.
  if (end - msgStart >= 3 && buf[msgStart] === 0xef && buf[msgStart + 1] === 0xbb && buf[msgStart + 2] === 0xbf) {
    msgStart += 3;
  }
  let message = '';
  let invalidUtf8 = false;
  if (msgStart < end) {
    message = (buf as unknown as FastSlices).utf8Slice(msgStart, end);
    // A U+FFFD in the text is either sent as such (valid) or stands for bad bytes: only then
    // is the (slower) validation worth running.
    if (message.indexOf('\uFFFD') !== -1) invalidUtf8 = !isUtf8(buf.subarray(msgStart, end));
  }

  const record: SyslogRecord = {
    facility: pri >> 3,
    severity: pri & 7,
    timestamp,
    invalidTimestamp,
    hostname,
    appName,
    procId,
    msgId,
    structuredData,
    message,
    invalidUtf8,
    format: 'rfc5424',
  };
  if (missingSd) record.missingSd = true;
  return { ok: true, record };
}
