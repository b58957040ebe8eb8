import { describe, expect, it } from 'vitest';
import { SyslogStreamFramer, type PushResult } from './stream-framer.js';

/** Feeds `chunks` and ends the stream: every frame's MSG as text, and every error. */
function run(chunks: Buffer[], max = 1024): { msgs: string[]; framings: string[]; errors: string[] } {
  const f = new SyslogStreamFramer({ maxFrameBytes: max });
  const msgs: string[] = [];
  const framings: string[] = [];
  const errors: string[] = [];
  const take = (r: PushResult) => {
    // Frames are views valid until the next push: read them now.
    for (const fr of r.frames) {
      msgs.push(fr.buf.toString('utf8', fr.start, fr.end));
      framings.push(fr.framing);
    }
    errors.push(...r.errors);
  };
  for (const c of chunks) take(f.push(c));
  take(f.end());
  return { msgs, framings, errors };
}

const octet = (...msgs: string[]) => msgs.map((m) => `${Buffer.byteLength(m)} ${m}`).join('');
/** Every way of cutting `s` in two, plus byte by byte. */
function cuts(s: Buffer): Buffer[][] {
  const out: Buffer[][] = [[s], [...s].map((b) => Buffer.from([b]))];
  for (let k = 1; k < s.length; k++) out.push([s.subarray(0, k), s.subarray(k)]);
  return out;
}

const MSGS = ['<13>1 2025-01-01T00:00:00Z h app - - - hello', '<14>1 - - - - - [x token="t.1" a="b"] two\nlines é', '<11>Jan  1 00:00:00 host tag: bsd'];

describe('syslog stream framer', () => {
  it('reads octet-counted frames (RFC 6587 §3.4.1) whole, LF inside MSG included, cut at every byte', () => {
    const stream = Buffer.from(octet(...MSGS));
    for (const chunks of cuts(stream)) {
      const r = run(chunks);
      expect(r.msgs).toEqual(MSGS);
      expect(r.framings).toEqual(['octet', 'octet', 'octet']);
      expect(r.errors).toEqual([]);
    }
  });

  it('reads LF-terminated frames (§3.4.2), CRLF too, skipping empty lines, cut at every byte', () => {
    const lines = [MSGS[0]!, MSGS[2]!, '<13>1 - - - - - - third é'];
    const stream = Buffer.from(`${lines[0]}\n\n${lines[1]}\r\n${lines[2]}\n`);
    for (const chunks of cuts(stream)) {
      const r = run(chunks);
      expect(r.msgs).toEqual(lines);
      expect(r.framings).toEqual(['lf', 'lf', 'lf']);
      expect(r.errors).toEqual([]);
    }
  });

  it('decides the framing at each frame start as rsyslog does, and tolerates a LF after octet frames', () => {
    const r = run([Buffer.from(`${octet('<13>1 - a - - - - x')}\n<13>1 - b - - - - y\n${octet('<13>1 - c - - - - z\n')}`)]);
    expect(r.msgs).toEqual(['<13>1 - a - - - - x', '<13>1 - b - - - - y', '<13>1 - c - - - - z\n']);
    expect(r.framings).toEqual(['octet', 'lf', 'octet']);
  });

  it('keeps a partial frame until the rest arrives, and holds no more than that frame', () => {
    const f = new SyslogStreamFramer({ maxFrameBytes: 100 });
    const frame = Buffer.from(octet('<13>1 - - - - - - partial'));
    expect(f.push(frame.subarray(0, 10)).frames).toEqual([]);
    expect(f.rest).toBe(10 - 3); // the LEN `25 ` is read, not held
    const r = f.push(frame.subarray(10));
    expect(r.frames.map((x) => x.buf.toString('utf8', x.start, x.end))).toEqual(['<13>1 - - - - - - partial']);
    expect(f.rest).toBe(0);
    // A LF frame waits for its LF; at the end of the stream it is whole.
    expect(f.push(Buffer.from('<13>1 - - - - - - no newline yet')).frames).toEqual([]);
    expect(f.end().frames).toHaveLength(1);
  });

  it('skips an octet frame over the maximum without buffering it, and goes on with the next', () => {
    const big = 'x'.repeat(5000);
    const stream = Buffer.from(octet('<13>1 - - - - - - a', big, '<13>1 - - - - - - b'));
    for (const size of [1, 7, 100, 4096, stream.length]) {
      const f = new SyslogStreamFramer({ maxFrameBytes: 1000 });
      const msgs: string[] = [];
      const errors: string[] = [];
      for (let p = 0; p < stream.length; p += size) {
        const r = f.push(stream.subarray(p, p + size));
        for (const fr of r.frames) msgs.push(fr.buf.toString('utf8', fr.start, fr.end));
        errors.push(...r.errors);
        expect(f.rest).toBeLessThanOrEqual(1000);
      }
      expect(msgs).toEqual(['<13>1 - - - - - - a', '<13>1 - - - - - - b']);
      expect(errors).toEqual(['too_large']);
    }
  });

  it('gives up a LF frame over the maximum up to its LF', () => {
    const r = run([Buffer.from(`<13>1 - - - - - - ok\n<13>${'y'.repeat(300)}`), Buffer.from(`${'y'.repeat(300)}\n<13>1 - - - - - - after\n`)], 200);
    expect(r.msgs).toEqual(['<13>1 - - - - - - ok', '<13>1 - - - - - - after']);
    expect(r.errors).toEqual(['too_large']);
  });

  it('rejects a bad LEN (digits not followed by SP, a zero LEN, too many digits) and resyncs at the next line', () => {
    const r = run([Buffer.from(`12x <13>junk\n0 \n1234567890 <13>\n${octet('<13>1 - - - - - - good')}`)]);
    expect(r.msgs).toEqual(['<13>1 - - - - - - good']);
    expect(r.errors).toEqual(['bad_length', 'bad_length', 'bad_length']);
  });

  it('reports a stream that ends inside an octet frame as truncated', () => {
    expect(run([Buffer.from('50 <13>1 - - - - - - short')]).errors).toEqual(['truncated']);
    expect(run([Buffer.from('12')]).errors).toEqual(['truncated']);
    expect(run([Buffer.from('  \n')]).errors).toEqual([]);
  });

  it('hands out views that stay valid after the push only for held frames: a copy, not the chunk', () => {
    const f = new SyslogStreamFramer({ maxFrameBytes: 100 });
    const frame = Buffer.from(octet('<13>1 - - - - - - held'));
    const chunk1 = Buffer.from(frame.subarray(0, 8));
    f.push(chunk1);
    const r = f.push(Buffer.from(frame.subarray(8)));
    chunk1.fill(0);
    expect(r.frames[0]!.buf.toString('utf8', r.frames[0]!.start, r.frames[0]!.end)).toBe('<13>1 - - - - - - held');
  });
});
