/**
 * Octet-counting framer for `application/logplex-1` bodies (RFC 6587 §3.4.1: `LEN SP MSG`).
 *
 * A small explicit state machine over the body's bytes: it never splits on LF (a message may
 * hold line feeds), it always advances past bad bytes, and every byte of the body ends up in
 * exactly one frame or reject segment, so callers can salvage the good frames of a bad body and
 * report precisely what was given up.
 */
import type { Frame, FrameReject, FrameRejectReason, SplitOptions, SplitResult } from './types.js';

const SP = 0x20;
const LT = 0x3c;
const GT = 0x3e;
const LF = 0x0a;
const CR = 0x0d;
const CH_0 = 0x30;
const CH_9 = 0x39;

/** Logplex's SYSLOG_MAX_SIZE. */
const DEFAULT_MAX_FRAME_BYTES = 10240;
/** Hard ceiling: no configuration may make the framer accept bigger frames. */
const MAX_MAX_FRAME_BYTES = 65536;
/** RFC 6587 §3.4.1 gives LEN no bound; Logplex frames never need more than 6 digits. */
const MAX_LEN_DIGITS = 6;
/** How far a non-numeric "LEN" may run before its SP for the span to count as a bad LEN. */
const MAX_LEN_TOKEN = 16;

/** SP, HT, CR, LF: the padding some senders put between frames. */
function isSpace(c: number): boolean {
  return c === SP || c === LF || c === CR || c === 0x09;
}

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

function resolveMax(opts: SplitOptions | undefined): number {
  const m = opts?.maxFrameBytes;
  if (m === undefined || !Number.isFinite(m)) return DEFAULT_MAX_FRAME_BYTES;
  if (m < 1) return 1;
  return m > MAX_MAX_FRAME_BYTES ? MAX_MAX_FRAME_BYTES : Math.floor(m);
}

/**
 * True when a plausible frame header `LEN SP <PRI>` starts at `p`: LEN is 1–6 digits without a
 * leading zero and starts a digit run (the byte before is not a digit, so the tail of a rejected
 * LEN such as the `3` of `93 <45>` is never taken for a new header), PRI is 1–3 digits in `<>`.
 */
function isBoundary(body: Uint8Array, p: number, len: number): boolean {
  if (p > 0 && isDigit(body[p - 1]!)) return false;
  return headerLength(body, p, len) >= 0;
}

/**
 * The LEN of a plausible frame header `LEN SP <PRI>` at `p`, whatever precedes it, or -1.
 * LEN is 1–6 digits without a leading zero; PRI is 1–3 digits in `<>`, and LEN can hold it.
 */
function headerLength(body: Uint8Array, p: number, len: number): number {
  const c = body[p]!;
  if (c <= CH_0 || c > CH_9) return -1; // a digit, not 0 (no leading zero)
  let n = c - CH_0;
  let i = p + 1;
  while (i < len && isDigit(body[i]!)) {
    if (i - p >= MAX_LEN_DIGITS) return -1;
    n = n * 10 + (body[i]! - CH_0);
    i++;
  }
  if (i + 4 > len || body[i] !== SP || body[i + 1] !== LT) return -1;
  i += 2;
  const priStart = i;
  while (i < len && i - priStart < 4 && isDigit(body[i]!)) i++;
  const digits = i - priStart;
  // The frame must at least hold its own `<PRI>` (so `1x3 <13>` does not yield a frame `<13`).
  return digits >= 1 && digits <= 3 && i < len && body[i] === GT && n >= digits + 2 ? n : -1;
}

/**
 * A header glued to the digits before it: a bad frame's message ending in digits (`id=123`)
 * directly followed by the next frame's LEN (`45 <13>…`) reads as one digit run `12345 <13>`.
 * A suffix of the run is taken for a header only when its frame checks out: it fits the body
 * and the maximum, and ends where the body ends or another header starts (ASCII whitespace
 * between them allowed). Without that check the tail `3 <45>` of a rejected `93 <45>` would pass.
 */
function isGluedBoundary(body: Uint8Array, p: number, len: number, max: number): boolean {
  const n = headerLength(body, p, len);
  if (n < 0 || n > max) return false;
  let q = p + 1;
  while (isDigit(body[q]!)) q++;
  let end = q + 1 + n;
  if (end > len) return false;
  while (end < len && isSpace(body[end]!)) end++;
  return end === len || headerLength(body, end, len) >= 0;
}

/** The LEN at `p` (1–6 digits, no leading zero, then SP) and where its frame ends, or -1. */
function frameEndAt(body: Uint8Array, p: number, len: number): number {
  const c = body[p]!;
  if (c <= CH_0 || c > CH_9) return -1;
  let n = c - CH_0;
  let q = p + 1;
  while (q < len && isDigit(body[q]!)) {
    if (q - p >= MAX_LEN_DIGITS) return -1;
    n = n * 10 + (body[q]! - CH_0);
    q++;
  }
  return q < len && body[q] === SP ? q + 1 + n : -1;
}

/**
 * Whether a frame ending at `p` lands on a frame boundary, after ASCII whitespace: the end of the
 * body or a plausible syslog header `LEN SP <PRI>`; in a body that is not syslog (`syslog` false:
 * its first frame does not start with `<`), also a bare `LEN SP` whose own frame ends at the
 * body's end or at another `LEN SP`. In a syslog body a bare `LEN SP` never counts: the `1 ` of
 * `<13>1 - host` that a LEN too long points into is one. What precedes does not matter: it is the
 * frame's own last byte (Heroku's L10 line ends in `.` glued to the next LEN). The cheap check of
 * the fast path: a body whose LENs are all right always lands.
 */
function landsAt(body: Uint8Array, p: number, len: number, syslog: boolean, verifyGlued = true): boolean {
  const at = p;
  while (p < len && isSpace(body[p]!)) p++;
  if (p === len) return true;
  if (headerLength(body, p, len) >= 0) {
    // Right after a digit, the header may be the tail of the next frame's LEN (`2|8 <13>` for a
    // LEN one too long): then it only counts when the body reads cleanly from it.
    return !verifyGlued || p !== at || !isDigit(body[p - 1]!) || readsCleanlyFrom(body, p, len, MAX_MAX_FRAME_BYTES);
  }
  if (syslog) return false;
  let next = frameEndAt(body, p, len);
  if (next < 0 || next > len + 1) return false;
  while (next < len && isSpace(body[next]!)) next++;
  return next >= len || frameEndAt(body, next, len) >= 0;
}

/** How many bytes past its claimed end {@link repairFrame} looks for the real end (a short LEN). */
const REPAIR_WINDOW = 64;
/** Frames after a candidate boundary that must land for the candidate to win (a long LEN). */
const VERIFY_FRAMES = 8;

/**
 * Whether the body reads cleanly as frames from `p`: up to {@link VERIFY_FRAMES} frames, each
 * fitting the maximum and landing on a boundary by its LEN read as bytes or (a sender such as
 * lpxc counts every frame so) as UTF-8 characters, to the end of the body (a last frame short by
 * exactly its trailing LF counts). Linear in the frames it checks; never recursive.
 */
function readsCleanlyFrom(body: Uint8Array, p: number, len: number, max: number): boolean {
  for (let k = 0; k < VERIFY_FRAMES; k++) {
    while (p < len && isSpace(body[p]!)) p++;
    if (p === len) return true;
    const n = headerLength(body, p, len);
    if (n < 0 || n > max) return false;
    let q = p + 1;
    while (isDigit(body[q]!)) q++;
    const msgStart = q + 1;
    let end = msgStart + n;
    if (end === len + 1 && body[len - 1] !== LF) return true;
    if (end > len || !landsAt(body, end, len, true, false)) {
      end = utf8CharsEnd(body, msgStart, n, len);
      if (end < 0 || end - msgStart > max || !landsAt(body, end, len, true, false)) return false;
    }
    p = end;
  }
  return true;
}

/**
 * Where `count` UTF-8 characters from `from` end (LEN read as characters), or -1 when the body
 * ends first. A character is counted as Ruby's `String#size` does, one per code point; a code
 * point above U+FFFF is one character too (a JavaScript `length` would say 2).
 */
function utf8CharsEnd(body: Uint8Array, from: number, count: number, len: number): number {
  let p = from;
  for (let k = 0; k < count; k++) {
    if (p >= len) return -1;
    const c = body[p]!;
    p += c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
  }
  return p > len ? -1 : p;
}

/**
 * The real end of a frame whose LEN (`n`, MSG from `msgStart`) does not land on a boundary, or -1
 * when none is found. In this order (protocol/README.md, "Framing repairs"):
 * 1. LEN overstates: a boundary inside the claimed bytes from which the rest of the body reads
 *    cleanly (the first such one);
 * 2. LEN counted UTF-8 characters instead of bytes (Ruby's `String#size`, as Heroku's lpxc does):
 *    the end after LEN characters lands on a boundary;
 * 3. LEN understates by a few bytes: the first boundary within {@link REPAIR_WINDOW} bytes past
 *    the claimed end.
 * Only runs when LEN does not land, so a message holding text that looks like a frame is never
 * split while its LEN is right. Each end found keeps the frame within `max`.
 */
function repairFrame(body: Uint8Array, msgStart: number, n: number, len: number, max: number): number {
  const claimed = msgStart + n;
  const inner = innerBoundary(body, msgStart, claimed, len, max);
  if (inner >= 0) return inner;
  const chars = utf8CharsEnd(body, msgStart, n, len);
  if (chars > claimed && chars - msgStart <= max && landsAt(body, chars, len, true)) return chars;
  if (claimed < len) {
    const windowEnd = Math.min(len, claimed + REPAIR_WINDOW, msgStart + max);
    for (let p = claimed + 1; p <= windowEnd; p++) {
      if (p === len || (body[p]! > CH_0 && body[p]! <= CH_9 && !isDigit(body[p - 1]!) && headerLength(body, p, len) >= 0)) {
        return p;
      }
    }
  }
  return -1;
}

/**
 * The first plausible header inside a frame's claimed bytes (`msgStart` … `claimed`) from which
 * the rest of the body reads cleanly, or -1: where a frame whose LEN overstates really ends.
 */
function innerBoundary(body: Uint8Array, msgStart: number, claimed: number, len: number, max: number): number {
  const insideEnd = claimed < len ? claimed : len;
  // A frame holds at least `<PRI>`: start looking 3 bytes in.
  for (let p = msgStart + 3; p < insideEnd; p++) {
    const c = body[p]!;
    if (c <= CH_0 || c > CH_9) continue;
    const header = isDigit(body[p - 1]!) ? isGluedBoundary(body, p, len, max) : headerLength(body, p, len) >= 0;
    if (header && readsCleanlyFrom(body, p, len, max)) return p;
  }
  return -1;
}

/** First plausible frame header at or after `from`, or `len` when there is none. */
function findBoundary(body: Uint8Array, from: number, len: number, max: number): number {
  for (let p = from; p < len; p++) {
    // Cheap pre-filter: a header starts with a non-zero digit.
    const c = body[p]!;
    if (c <= CH_0 || c > CH_9) continue;
    if (p > 0 && isDigit(body[p - 1]!) ? isGluedBoundary(body, p, len, max) : headerLength(body, p, len) >= 0) return p;
  }
  return len;
}

/**
 * Splits an octet-counted body (RFC 6587 §3.4.1, Logplex `application/logplex-1`) into frames.
 *
 * - LEN is a decimal count of **bytes**, 1–6 digits, no leading zero, then one SP.
 * - A frame is taken exactly by its LEN, whatever it holds (LF included: never split on LF),
 *   and is accepted even when non-whitespace follows it directly (Heroku's L10 frame carries no
 *   trailing LF and is glued to the next frame's LEN); the following bytes are judged on their own.
 * - One trailing `\n` or `\r\n` is left out of MSG (`msgEnd`), since Heroku counts it inside LEN.
 * - ASCII whitespace (SP, HT, CR, LF) between segments is tolerated: it joins the segment that
 *   follows it, and whitespace at the end of the body joins the last segment.
 * - A bad frame costs only its own bytes: a LEN past the end of the body (`truncated`), a LEN
 *   over the maximum (`too_large`), a LEN that is not 1–6 digits without a leading zero, or a
 *   non-numeric token before `SP <` (`bad_length`), and stray bytes (`garbage`) are rejected; the
 *   framer then resynchronises on the next plausible `LEN SP <PRI>` header, scanning from the
 *   byte after the bad one (for `too_large`, on the declared end of the frame when a header or
 *   the end of the body is found there). A plausible header starts a digit run and its LEN can
 *   hold its `<PRI>`, so the tail `3 <45>` of a rejected `93 <45>` is not one. Stray bytes glued
 *   to a good header (`!93 <45>1 ...`) are `garbage`, and the frame is kept. A header glued to
 *   digits a bad frame ends with (`id=123` + `45 <13>…` = `id=12345 <13>…`) is found too: a
 *   suffix of a digit run counts when its frame fits and ends at the body's end or at another
 *   header (see isGluedBoundary).
 *
 * Frame and reject segments tile the body: sorted, contiguous, non-overlapping, lengths adding up
 * to `body.length`. Exception: an empty or all-whitespace body yields no segments at all.
 * Never throws; runs in time linear in the body.
 *
 * @example
 * const { frames } = splitFrames(Buffer.from('5 hello6 world\n'));
 * // frames[0]: msgStart 2, msgEnd 7 ('hello'); frames[1]: msgStart 9, msgEnd 14 ('world')
 */
export function splitFrames(body: Buffer, opts?: SplitOptions): SplitResult {
  const max = resolveMax(opts);
  const len = body.length;
  const frames: Frame[] = [];
  const rejects: FrameReject[] = [];
  // The segment most recently pushed, so whitespace at the end of the body can join it.
  let last: Frame | FrameReject | null = null;
  // Where the body's first frame's MSG starts: a syslog body (`<PRI>` there) lands only at `LEN SP <`.
  let firstMsgStart = -1;
  // Where the LEN digits starting at `i` end, when the previous frame's landing check scanned them.
  let nextLenEnd = -1;
  let i = 0;

  while (i < len) {
    const segStart = i;
    while (i < len && isSpace(body[i]!)) i++;
    if (i === len) {
      // Trailing whitespace joins the last segment; an all-whitespace body has no segments.
      if (last !== null) last.end = len;
      break;
    }

    const j = i;
    let reason: FrameRejectReason;
    // Where the framer may look for the next header after a reject.
    let resumeFrom = j + 1;

    // Digits then SP: a LEN (RFC 6587 §3.4.1: NONZERO-DIGIT *DIGIT SP).
    let k = j;
    if (nextLenEnd > j) k = nextLenEnd;
    else while (k < len && isDigit(body[k]!)) k++;
    nextLenEnd = -1;
    if (k > j && k < len && body[k] === SP) {
      if (k - j > MAX_LEN_DIGITS || body[j] === CH_0) {
        reason = 'bad_length';
      } else {
        let n = 0;
        for (let d = j; d < k; d++) n = n * 10 + (body[d]! - CH_0);
        const msgStart = k + 1;
        const frameEnd = msgStart + n;
        if (firstMsgStart < 0) firstMsgStart = msgStart;
        if (n > max) {
          reason = 'too_large';
          // Trust the declared length when a header (or the end of the body) sits there:
          // the message itself may hold bytes that look like a header.
          if (frameEnd <= len) {
            let q = frameEnd;
            while (q < len && isSpace(body[q]!)) q++;
            if (q === len || isBoundary(body, q, len)) resumeFrom = frameEnd;
          }
        } else {
          // Where the frame ends: by its LEN when that lands on a boundary (the fast path), else
          // where a repair finds the real end (flagged), else by its LEN as sent.
          let dataEnd = frameEnd;
          let repaired = false;
          // The common case, inline and in a few byte reads: the body ends here, or the next
          // frame's `LEN SP <` starts here after a byte that is not a digit (Heroku counts the LF
          // inside LEN). Anything else takes the full check (landsAt) and maybe a repair.
          let lands = frameEnd === len;
          if (!lands && frameEnd < len) {
            const c0 = body[frameEnd]!;
            if (c0 > CH_0 && c0 <= CH_9) {
              // No read past the body: an out-of-bounds typed-array read is slow in V8.
              const stop = frameEnd + MAX_LEN_DIGITS + 1 < len ? frameEnd + MAX_LEN_DIGITS + 1 : len - 1;
              let q = frameEnd + 1;
              while (q < stop && isDigit(body[q]!)) q++;
              lands = q < stop && body[q] === SP && body[q + 1] === LT && !isDigit(body[frameEnd - 1]!);
              // The next iteration reads this LEN: hand it the scan.
              if (lands) nextLenEnd = q;
            }
          }
          if (lands) {
            // by its LEN
          } else if (frameEnd === len + 1 && body[len - 1] !== LF) {
            // The last frame's LEN counts a trailing LF the body lacks: nothing is missing,
            // unless the claimed bytes hold whole frames (a LEN too long).
            const inner = innerBoundary(body, msgStart, frameEnd, len, max);
            if (inner >= 0) {
              dataEnd = inner;
              repaired = true;
            } else {
              dataEnd = len;
            }
          } else if (frameEnd > len || !landsAt(body, frameEnd, len, body[firstMsgStart]! === LT)) {
            const real = repairFrame(body, msgStart, n, len, max);
            if (real >= 0) {
              dataEnd = real;
              repaired = true;
            }
          }
          if (dataEnd > len) {
            reason = 'truncated';
          } else {
            let msgEnd = dataEnd;
            if (msgEnd > msgStart && body[msgEnd - 1] === LF) {
              msgEnd--;
              if (msgEnd > msgStart && body[msgEnd - 1] === CR) msgEnd--;
            }
            const frame: Frame = { start: segStart, end: dataEnd, msgStart, msgEnd, dataEnd };
            if (repaired) frame.repaired = true;
            frames.push(frame);
            last = frame;
            i = dataEnd;
            continue;
          }
        }
      }
    } else {
      // Not `DIGITS SP`. A short token right before `SP <` stands where a LEN should be
      // (`1x3 <13>1 ...`): a bad LEN. Anything else is stray bytes (e.g. the ` 1` left after a
      // frame whose LEN was too small, or a body that is not octet-counted at all).
      while (k < len && k - j <= MAX_LEN_TOKEN && !isSpace(body[k]!)) k++;
      reason = k - j <= MAX_LEN_TOKEN && k + 1 < len && body[k] === SP && body[k + 1] === LT ? 'bad_length' : 'garbage';
    }

    // Reject: skip to the next plausible header; trailing whitespace goes to the next segment.
    let next = findBoundary(body, resumeFrom, len, max);
    // A header inside the token (`!7 <13>1 ...`): the bytes before it are stray bytes glued to a
    // good frame (as Heroku glues frames after its L10 line), not a bad LEN.
    if (reason === 'bad_length' && next < k) reason = 'garbage';
    if (next < len) {
      while (next > j + 1 && isSpace(body[next - 1]!)) next--;
    }
    const reject: FrameReject = { start: segStart, end: next, reason };
    rejects.push(reject);
    last = reject;
    i = next;
  }

  return { frames, rejects };
}
