/**
 * Re-entrant framer for syslog over a TCP or TLS stream (RFC 6587): bytes arrive in chunks cut
 * anywhere, frames come out as soon as they are whole, and the bytes of a frame still arriving
 * wait in the framer (at most one frame's worth: memory stays bounded whatever the sender does).
 *
 * Framing is decided at the start of every frame, as rsyslog's `imtcp` does: a digit starts
 * octet counting (`LEN SP MSG`, RFC 6587 §3.4.1), anything else non-transparent framing (MSG up
 * to LF, §3.4.2; a CR before the LF is dropped). A sender that picks one framing for the whole
 * connection (what `logger --octet-count`, rsyslog's `omfwd` and syslog-ng do) is thus read the
 * same way per connection. Whitespace (SP, HT, CR, LF) and NUL between frames is skipped.
 *
 * Unlike the body framer of the HTTP routes (src/decode/octet-frames.ts) there is no repair
 * heuristic: a stream has no end to check LENs against, so LEN is trusted as sent.
 */

const SP = 0x20;
const LF = 0x0a;
const CR = 0x0d;
const HT = 0x09;
const NUL = 0x00;
const CH_0 = 0x30;
const CH_9 = 0x39;

/** RFC 6587 gives LEN no bound; 9 digits is rsyslog's limit, far above any configured maximum. */
const MAX_LEN_DIGITS = 9;

/** Why bytes of the stream were given up rather than framed. */
export type StreamFrameError =
  /** An octet-counted frame whose LEN is over the maximum: its LEN bytes are skipped unread. */
  | 'too_large'
  /** A LEN that is not followed by SP, or has more than 9 digits: skipped up to the next LF. */
  | 'bad_length'
  /** The stream ended inside an octet-counted frame. */
  | 'truncated';

/**
 * One whole frame: its MSG is `buf[start, end)`, a view on the chunk pushed or on a copy the
 * framer made; the framer never writes into either, so it stays valid while the caller keeps the
 * chunk unchanged (the listener holds a batch's frames until the batch is stored).
 */
export interface StreamFrame {
  buf: Buffer;
  start: number;
  end: number;
  /** How the frame was delimited. */
  framing: 'octet' | 'lf';
}

/** What one {@link SyslogStreamFramer.push} yields. */
export interface PushResult {
  frames: StreamFrame[];
  errors: StreamFrameError[];
}

/** Where the framer stands between two pushes. */
const enum State {
  /** Between frames: skipping whitespace, the next byte decides the framing. */
  Start,
  /** Reading LEN digits (value in `len`, count in `digits`). */
  Len,
  /** Inside an octet-counted MSG (`need` bytes to go, collected in `pending`). */
  Octet,
  /** Inside a LF-terminated MSG (collected in `pending`). */
  Line,
  /** Discarding `need` bytes of a frame over the maximum. */
  SkipBytes,
  /** Discarding up to the next LF (a LF frame over the maximum, a bad LEN). */
  SkipLine,
}

/**
 * @example
 * const framer = new SyslogStreamFramer({ maxFrameBytes: 65536 });
 * socket.on('data', (chunk) => {
 *   const { frames, errors } = framer.push(chunk);
 *   for (const f of frames) handle(f.buf, f.start, f.end);
 * });
 * socket.on('end', () => { const last = framer.end(); … });
 */
export class SyslogStreamFramer {
  private readonly max: number;
  private state = State.Start;
  private len = 0;
  private digits = 0;
  private need = 0;
  /** Bytes of the frame in progress from earlier chunks (copied: never a view on a chunk). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(opts: { maxFrameBytes: number }) {
    this.max = Math.max(1, Math.floor(opts.maxFrameBytes));
  }

  /** Bytes held for a frame not yet whole (≤ the maximum frame size plus nothing else). */
  get rest(): number {
    return this.pendingBytes;
  }

  /** Frames completed by `chunk`, in stream order, and the errors met on the way. */
  push(chunk: Buffer): PushResult {
    const frames: StreamFrame[] = [];
    const errors: StreamFrameError[] = [];
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.Start: {
          const c = chunk[i]!;
          if (c === SP || c === LF || c === CR || c === HT || c === NUL) {
            i++;
          } else if (c >= CH_0 && c <= CH_9) {
            this.state = State.Len;
            this.len = 0;
            this.digits = 0;
          } else {
            this.state = State.Line;
          }
          break;
        }
        case State.Len: {
          const c = chunk[i]!;
          if (c >= CH_0 && c <= CH_9) {
            this.len = this.len * 10 + (c - CH_0);
            if (++this.digits > MAX_LEN_DIGITS) {
              errors.push('bad_length');
              this.state = State.SkipLine;
            }
            i++;
          } else if (c === SP && this.len > 0) {
            i++;
            if (this.len > this.max) {
              errors.push('too_large');
              this.need = this.len;
              this.state = State.SkipBytes;
            } else {
              this.need = this.len;
              this.state = State.Octet;
            }
          } else {
            // `123abc`, `0 `, `12\n`: not a LEN; the rest of the line goes with it.
            errors.push('bad_length');
            this.state = State.SkipLine;
          }
          break;
        }
        case State.Octet: {
          const take = Math.min(this.need, n - i);
          if (this.pendingBytes === 0 && take === this.need) {
            // The whole MSG is in this chunk: a view, no copy (the hot path).
            frames.push({ buf: chunk, start: i, end: i + take, framing: 'octet' });
          } else {
            this.hold(chunk, i, i + take);
            if (take === this.need) frames.push(this.takePending('octet'));
          }
          i += take;
          this.need -= take;
          if (this.need === 0) this.state = State.Start;
          break;
        }
        case State.Line: {
          const lf = chunk.indexOf(LF, i);
          const stop = lf === -1 ? n : lf;
          if (this.pendingBytes + (stop - i) > this.max) {
            // Over the maximum before its LF: given up, the rest of the line skipped.
            errors.push('too_large');
            this.pending = [];
            this.pendingBytes = 0;
            this.state = State.SkipLine;
            break;
          }
          if (lf === -1) {
            this.hold(chunk, i, n);
            i = n;
            break;
          }
          let frame: StreamFrame;
          if (this.pendingBytes === 0) frame = { buf: chunk, start: i, end: lf, framing: 'lf' };
          else {
            this.hold(chunk, i, lf);
            frame = this.takePending('lf');
          }
          if (frame.end > frame.start && frame.buf[frame.end - 1] === CR) frame.end--;
          if (frame.end > frame.start) frames.push(frame);
          i = lf + 1;
          this.state = State.Start;
          break;
        }
        case State.SkipBytes: {
          const take = Math.min(this.need, n - i);
          i += take;
          this.need -= take;
          if (this.need === 0) this.state = State.Start;
          break;
        }
        case State.SkipLine: {
          const lf = chunk.indexOf(LF, i);
          if (lf === -1) i = n;
          else {
            i = lf + 1;
            this.state = State.Start;
          }
          break;
        }
      }
    }
    return { frames, errors };
  }

  /**
   * The stream ended: a LF-terminated frame still open is whole (rsyslog keeps it too); an
   * octet-counted one, or a LEN without its frame, is `truncated`.
   */
  end(): PushResult {
    const frames: StreamFrame[] = [];
    const errors: StreamFrameError[] = [];
    if (this.state === State.Line && this.pendingBytes > 0) {
      const f = this.takePending('lf');
      if (f.end > f.start && f.buf[f.end - 1] === CR) f.end--;
      if (f.end > f.start) frames.push(f);
    } else if (this.state === State.Octet || this.state === State.Len) {
      // (a frame over the maximum was reported when its LEN was read)
      errors.push('truncated');
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.state = State.Start;
    return { frames, errors };
  }

  private hold(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    // A copy: holding a view would keep the whole (64 KiB) chunk alive for a few bytes.
    this.pending.push(Buffer.from(chunk.subarray(from, to)));
    this.pendingBytes += to - from;
  }

  private takePending(framing: 'octet' | 'lf'): StreamFrame {
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return { buf, start: 0, end: buf.length, framing };
  }
}
