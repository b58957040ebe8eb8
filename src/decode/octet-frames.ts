/**
 * Octet-counting framer for `application/logplex-1` bodies (RFC 6587 §3.4.1: `LEN SP MSG`).
 *
 * A small explicit state machine over the body's bytes: it never splits on LF (a message may
 * hold line feeds), it always advances past bad bytes, and every byte of the body ends up in
 * exactly one frame or reject segment, so callers can salvage the good frames of a bad body and
 * report precisely what was given up.
 */
import type { Frame, FrameReject, FrameRejectReason, SplitOptions, SplitResult } from './types.js';
import { findBoundary, innerBoundary, isBoundary, landsAt, MAX_LEN_DIGITS as LEN_DIGITS, MAX_MAX_FRAME_BYTES, repairFrame } from './frame-boundaries.js';

// The hot loop's byte constants and tests are this module's own, not imports: under tsx and
// vitest an imported binding is a property read per use, which made splitFrames 13x slower.
const SP = 0x20;
const LT = 0x3c;
const LF = 0x0a;
const CR = 0x0d;
const CH_0 = 0x30;
const CH_9 = 0x39;
const MAX_LEN_DIGITS: number = LEN_DIGITS;

/** SP, HT, CR, LF: the padding some senders put between frames. */
function isSpace(c: number): boolean {
  return c === SP || c === LF || c === CR || c === 0x09;
}

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

/** Logplex's SYSLOG_MAX_SIZE. */
const DEFAULT_MAX_FRAME_BYTES = 10240;
/** How far a non-numeric "LEN" may run before its SP for the span to count as a bad LEN. */
const MAX_LEN_TOKEN = 16;

function resolveMax(opts: SplitOptions | undefined): number {
  const m = opts?.maxFrameBytes;
  if (m === undefined || !Number.isFinite(m)) return DEFAULT_MAX_FRAME_BYTES;
  if (m < 1) return 1;
  return m > MAX_MAX_FRAME_BYTES ? MAX_MAX_FRAME_BYTES : Math.floor(m);
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
