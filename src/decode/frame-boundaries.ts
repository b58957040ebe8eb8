/**
 * Where octet-counted frames begin and end: the byte tests of the framer (octet-frames.ts),
 * whether a LEN lands on a frame boundary, and the repairs for a LEN that does not (protocol/README.md,
 * "Framing repairs"). Pure functions over body bytes; none reads past the body's end on the fast path.
 */

export const SP = 0x20;
export const LT = 0x3c;
export const GT = 0x3e;
export const LF = 0x0a;
export const CR = 0x0d;
export const CH_0 = 0x30;
export const CH_9 = 0x39;

/** Hard ceiling: no configuration may make the framer accept bigger frames. */
export const MAX_MAX_FRAME_BYTES = 65536;
/** RFC 6587 §3.4.1 gives LEN no bound; Logplex frames never need more than 6 digits. */
export const MAX_LEN_DIGITS = 6;

/** SP, HT, CR, LF: the padding some senders put between frames. */
export function isSpace(c: number): boolean {
  return c === SP || c === LF || c === CR || c === 0x09;
}

export function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

/**
 * True when a plausible frame header `LEN SP <PRI>` starts at `p`: LEN is 1–6 digits without a
 * leading zero and starts a digit run (the byte before is not a digit, so the tail of a rejected
 * LEN such as the `3` of `93 <45>` is never taken for a new header), PRI is 1–3 digits in `<>`.
 */
export function isBoundary(body: Uint8Array, p: number, len: number): boolean {
  if (p > 0 && isDigit(body[p - 1]!)) return false;
  return headerLength(body, p, len) >= 0;
}

/**
 * The LEN of a plausible frame header `LEN SP <PRI>` at `p`, whatever precedes it, or -1.
 * LEN is 1–6 digits without a leading zero; PRI is 1–3 digits in `<>`, and LEN can hold it.
 */
export function headerLength(body: Uint8Array, p: number, len: number): number {
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
export function isGluedBoundary(body: Uint8Array, p: number, len: number, max: number): boolean {
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
export function frameEndAt(body: Uint8Array, p: number, len: number): number {
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
export function landsAt(body: Uint8Array, p: number, len: number, syslog: boolean, verifyGlued = true): boolean {
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
export const REPAIR_WINDOW = 64;
/** Frames after a candidate boundary that must land for the candidate to win (a long LEN). */
export const VERIFY_FRAMES = 8;

/**
 * Whether the body reads cleanly as frames from `p`: up to {@link VERIFY_FRAMES} frames, each
 * fitting the maximum and landing on a boundary by its LEN read as bytes or (a sender such as
 * lpxc counts every frame so) as UTF-8 characters, to the end of the body (a last frame short by
 * exactly its trailing LF counts). Linear in the frames it checks; never recursive.
 */
export function readsCleanlyFrom(body: Uint8Array, p: number, len: number, max: number): boolean {
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
export function utf8CharsEnd(body: Uint8Array, from: number, count: number, len: number): number {
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
export function repairFrame(body: Uint8Array, msgStart: number, n: number, len: number, max: number): number {
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
export function innerBoundary(body: Uint8Array, msgStart: number, claimed: number, len: number, max: number): number {
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
export function findBoundary(body: Uint8Array, from: number, len: number, max: number): number {
  for (let p = from; p < len; p++) {
    // Cheap pre-filter: a header starts with a non-zero digit.
    const c = body[p]!;
    if (c <= CH_0 || c > CH_9) continue;
    if (p > 0 && isDigit(body[p - 1]!) ? isGluedBoundary(body, p, len, max) : headerLength(body, p, len) >= 0) return p;
  }
  return len;
}
