/**
 * Shared shapes of the decode stage: bytes in, records and counted rejects out.
 * Decoders are pure and synchronous, work on Buffer bytes, never throw on input.
 */

/** Why a span of a body was not accepted as a frame. Stable codes: they reach response headers. */
export type FrameRejectReason =
  | 'bad_length' // LEN is not 1–6 digits (or has a leading zero) followed by SP
  | 'truncated' // LEN runs past the end of the body
  | 'too_large' // LEN is over the configured maximum frame size
  | 'garbage'; // bytes between frames that belong to no frame

/** One accepted octet-counted frame: `LEN SP MSG`. Offsets index into the body buffer. */
export interface Frame {
  /** First byte of this segment (LEN's first digit, or padding whitespace before it). */
  start: number;
  /** One past the last byte of this segment (including any trailing padding that was absorbed). */
  end: number;
  /** First byte of MSG. */
  msgStart: number;
  /** One past the last byte of MSG, after stripping one trailing `\n` or `\r\n`. */
  msgEnd: number;
  /**
   * One past the frame's last byte: `msgStart + LEN`, MSG before the strip; where LEN was
   * repaired, the real end that was found instead.
   */
  dataEnd: number;
  /** Set when LEN did not land on a frame boundary and the real end was found (octet-frames.ts). */
  repaired?: true;
}

/** A span of the body that was rejected; `start..end` covers exactly the bytes given up. */
export interface FrameReject {
  start: number;
  end: number;
  reason: FrameRejectReason;
}

/**
 * The framer's answer. Frame and reject segments tile the body: sorted by `start`, contiguous,
 * non-overlapping, and their lengths add up to `body.length`.
 */
export interface SplitResult {
  frames: Frame[];
  rejects: FrameReject[];
}

/** Options of the octet-counting framer. */
export interface SplitOptions {
  /** Largest MSG accepted, in bytes (default 10240, Logplex's SYSLOG_MAX_SIZE; at most 65536). */
  maxFrameBytes?: number;
}

/**
 * RFC 5424 parsing mode (protocol/README.md, "STRUCTURED-DATA on the drain route").
 * - `drain`: what Logplex delivers (User-Agent `Logplex/…`): no STRUCTURED-DATA field, everything
 *   after MSGID is the message; only Logplex's own lines (`heroku logplex`) drop a leading `- `,
 *   their nil SD.
 * - `shuttle`: any other sender on the drain route (log-shuttle in private spaces, shippers): a
 *   `-` right after MSGID is the nil SD; `[…]` there stays message text, as in `drain`.
 * - `input`: full RFC 5424: SD is `-` or one or more `[id k="v" ...]` elements; a frame without
 *   any is read with the rest as its message (`missingSd`).
 */
export type SyslogMode = 'drain' | 'shuttle' | 'input';

/** Why a frame's MSG is not a syslog record at all. */
export type SyslogRejectReason = 'bad_pri' | 'bad_version' | 'bad_header' | 'bad_sd';

/** A decoded syslog line (RFC 5424, or RFC 3164 via the fallback). `null` = the nil value `-`. */
export interface SyslogRecord {
  /** PRI 0–191; facility = pri >> 3, severity = pri & 7. */
  facility: number;
  severity: number;
  /**
   * UTC, always `YYYY-MM-DDTHH:MM:SS.ffffffZ` (6 fraction digits, so strings sort by time),
   * or null when the timestamp was `-` or could not be parsed (the caller substitutes the
   * receive time and sets the `invalid_timestamp` flag).
   */
  timestamp: string | null;
  /** True when a timestamp was present but unparsable (as opposed to `-`). */
  invalidTimestamp: boolean;
  hostname: string | null;
  appName: string | null;
  procId: string | null;
  msgId: string | null;
  /** SD elements by SD-ID, params as strings (unescaped). null when `-` or in drain mode. */
  structuredData: Record<string, Record<string, string>> | null;
  /** MSG decoded as UTF-8 (a leading BOM removed). */
  message: string;
  /** True when MSG held invalid UTF-8 (decoded with U+FFFD). */
  invalidUtf8: boolean;
  /** Set when the frame's LEN was wrong and its real end was found (Frame.repaired). */
  lengthMismatch?: true;
  /** Input mode: the frame had no STRUCTURED-DATA field; everything after MSGID is the message. */
  missingSd?: true;
  /** Which parser produced it. */
  format: 'rfc5424' | 'rfc3164';
}

/** Result of parsing one frame: a record, or why it is not one. Never thrown. */
export type SyslogParseResult = { ok: true; record: SyslogRecord } | SyslogParseFailure;

/** Why a frame was not accepted. */
export interface SyslogParseFailure {
  ok: false;
  reason: SyslogRejectReason;
}
