/**
 * One frame's MSG → a syslog record: RFC 5424 first (what Logplex speaks), RFC 3164 (BSD syslog)
 * as the fallback for frames that do not even start like RFC 5424.
 */
import { isUtf8 } from 'node:buffer';
import { parseRfc3164 } from './rfc3164.js';
import { checkRfc5424, parseRfc5424 } from './rfc5424.js';
import type { SyslogMode, SyslogParseFailure, SyslogParseResult } from './types.js';

/**
 * True when `buf[start, end)` starts like RFC 5424 (§6.2.1–6.2.2): `<` 1–3 digits `>`, a
 * VERSION of 1–2 digits not starting with 0, then SP. Such a frame is judged by RFC 5424 alone.
 */
function startsLikeRfc5424(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  if (end - i < 5 || buf[i] !== 0x3c) return false;
  i++;
  const priStart = i;
  while (i < end && i - priStart < 4 && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
  const n = i - priStart;
  if (n < 1 || n > 3 || i >= end || buf[i] !== 0x3e) return false;
  i++;
  if (i >= end || buf[i]! < 0x31 || buf[i]! > 0x39) return false;
  i++;
  if (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
  return i < end && buf[i] === 0x20;
}

/**
 * Parses one frame's MSG (`buf[start, end)`, normally `frame.msgStart..frame.msgEnd`).
 *
 * RFC 5424 is tried first (see {@link parseRfc5424} for `mode`). Only when the frame does not
 * start like RFC 5424 (`<PRI>VERSION SP`) is the RFC 3164 fallback tried ({@link parseRfc3164},
 * which needs `receivedAt` to choose the year; default: now). When neither fits, the RFC 5424
 * reason is returned. The fast path allocates no Date.
 *
 * @example
 * const { frames } = splitFrames(body);
 * for (const f of frames) {
 *   const r = parseSyslogFrame(body, f.msgStart, f.msgEnd, 'drain', receivedAt);
 *   if (r.ok) use(r.record); else count(r.reason);
 * }
 */
export function parseSyslogFrame(
  buf: Buffer,
  start: number,
  end: number,
  mode: SyslogMode,
  receivedAt?: Date,
): SyslogParseResult {
  const result = parseRfc5424(buf, start, end, mode);
  if (result.ok) return result;
  if (!(start >= 0)) start = 0;
  if (!(end <= buf.length)) end = buf.length;
  if (start >= end || startsLikeRfc5424(buf, start, end)) return result;

  const line = buf.toString('utf8', start, end);
  const record = parseRfc3164(line, receivedAt ?? new Date());
  if (record === null) return result;
  if (line.indexOf('\uFFFD') !== -1) record.invalidUtf8 = !isUtf8(buf.subarray(start, end));
  return { ok: true, record };
}

/**
 * Whether {@link parseSyslogFrame} would accept the frame (null) or why not, without building
 * its record when it is RFC 5424 (the RFC 3164 fallback, rare on these routes, is decided by
 * parsing it).
 */
export function checkSyslogFrame(buf: Buffer, start: number, end: number, mode: SyslogMode, receivedAt?: Date): SyslogParseFailure | null {
  if (checkRfc5424(buf, start, end) === null) return null;
  const res = parseSyslogFrame(buf, start, end, mode, receivedAt);
  return res.ok ? null : res;
}
