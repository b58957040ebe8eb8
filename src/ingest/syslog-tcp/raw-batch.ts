/**
 * The frames of a syslog TCP/TLS batch as the bytes of a `SyslogBatch` (normalize/syslog-batch.ts): octet-counted
 * (`LEN SP MSG` …), what `POST /drain` hands a store. A store that keeps the bytes (Redis) reads
 * them back with `splitFrames` (syslogBatchEntries), so the bytes are only handed over when that
 * read gives back exactly these messages: a MSG ending with LF (the body framer strips one), one
 * over the read limit, or one a repair heuristic would cut differently, makes the batch go as
 * entries instead.
 */
import { splitFrames } from '../../decode/octet-frames.js';
import { READ_MAX_FRAME_BYTES } from '../../normalize/syslog-batch.js';

/** A MSG: `buf[start, end)`. */
export interface MessageSpan {
  buf: Uint8Array;
  start: number;
  end: number;
}

const SP = 0x20;

/**
 * `msgs` octet-counted into one buffer, or null when `splitFrames` (with the read limit of
 * syslogBatchEntries) would not give back exactly these messages, in this order, unrepaired.
 *
 * @example
 * packMessages([{ buf, start: 0, end: buf.length }]) // Buffer `<LEN> <MSG>`
 */
export function packMessages(msgs: readonly MessageSpan[]): Buffer | null {
  if (msgs.length === 0) return null;
  let total = 0;
  for (const m of msgs) {
    const n = m.end - m.start;
    if (n <= 0 || n > READ_MAX_FRAME_BYTES) return null;
    total += decimalDigits(n) + 1 + n;
  }
  const out = Buffer.allocUnsafe(total);
  let o = 0;
  for (const m of msgs) {
    const n = m.end - m.start;
    o += out.write(String(n), o, 'latin1');
    out[o++] = SP;
    out.set(m.buf.subarray(m.start, m.end), o);
    o += n;
  }
  // Read back as the store will: the same messages at the same places, or nothing.
  const { frames, rejects } = splitFrames(out, { maxFrameBytes: READ_MAX_FRAME_BYTES });
  if (rejects.length > 0 || frames.length !== msgs.length) return null;
  o = 0;
  for (let i = 0; i < msgs.length; i++) {
    const n = msgs[i]!.end - msgs[i]!.start;
    const f = frames[i]!;
    o += decimalDigits(n) + 1;
    if (f.repaired || f.msgStart !== o || f.msgEnd !== o + n) return null;
    o += n;
  }
  return out;
}

function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}
