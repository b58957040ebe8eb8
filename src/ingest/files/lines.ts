/**
 * Bytes of a file → complete lines with their file offsets. A partial last line waits (for its
 * newline or for {@link LineSplitter.takePartial}); a line over the maximum keeps its first
 * `maxLineBytes` (cut on a UTF-8 character boundary) and is flagged `truncated`, the rest up to
 * its newline is skipped, so memory stays bounded by the maximum whatever the file holds.
 */

/** One line of a file. */
export interface FileLine {
  /** The line's bytes without its `\n` (and without a `\r` before it). */
  bytes: Buffer;
  /** File offset of its first byte. */
  start: number;
  /** File offset just past its newline: where the next line starts. */
  end: number;
  /** The line was longer than the maximum and was cut. */
  truncated: boolean;
}

/** Splits a file's bytes into lines; one per open file, fed in file order. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private kept = 0;
  private cut = false;
  private start = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** File offset where the line not yet complete starts: everything before it was returned. */
  get lineStart(): number {
    return this.start;
  }

  /** True when bytes of an unfinished line are held. */
  get hasPartial(): boolean {
    return this.kept > 0 || this.cut;
  }

  /** Forgets any partial line; the next byte fed is at `offset`. */
  reset(offset: number): void {
    this.parts = [];
    this.kept = 0;
    this.cut = false;
    this.start = offset;
  }

  /** Feeds `chunk`, which starts at file offset `offset`; complete lines are pushed to `out`. */
  push(chunk: Buffer, offset: number, out: FileLine[]): void {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(0x0a, pos);
      if (nl === -1) {
        this.take(chunk, pos, chunk.length, true);
        return;
      }
      this.take(chunk, pos, nl, false);
      const end = offset + nl + 1;
      out.push(this.line(end));
      pos = nl + 1;
    }
  }

  /**
   * The partial line as a line of its own (the file is finished: rotated away or truncated), or
   * null when none is held. `end` is the file offset just past its last byte.
   */
  takePartial(end: number): FileLine | null {
    if (!this.hasPartial) return null;
    return this.line(end);
  }

  private line(end: number): FileLine {
    let bytes = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.kept);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    const line: FileLine = { bytes, start: this.start, end, truncated: this.cut };
    this.reset(end);
    return line;
  }

  private take(chunk: Buffer, from: number, to: number, partial: boolean): void {
    if (this.cut || from === to) return;
    const room = this.maxLineBytes - this.kept;
    let end = to;
    if (to - from > room) {
      end = from + room;
      // Back off to a character boundary: never keep half of a UTF-8 sequence.
      while (end > from && (chunk[end]! & 0xc0) === 0x80) end--;
      this.cut = true;
    }
    if (end === from) return;
    // A partial line outlives this chunk: copy it, so the chunk itself can be freed.
    const piece = partial ? Buffer.from(chunk.subarray(from, end)) : chunk.subarray(from, end);
    this.parts.push(piece);
    this.kept += piece.length;
  }
}
