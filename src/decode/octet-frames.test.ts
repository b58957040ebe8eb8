import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitFrames } from './octet-frames.js';
import type { SplitResult } from './types.js';

const WS = new Set([0x20, 0x09, 0x0d, 0x0a]);

/** Frames `msg` the way Heroku does: `LEN SP MSG`, LEN in bytes. */
function frame(msg: string | Uint8Array): Buffer {
  const bytes = typeof msg === 'string' ? Buffer.from(msg) : Buffer.from(msg);
  return Buffer.concat([Buffer.from(`${bytes.length} `), bytes]);
}

function msgs(body: Buffer, r: SplitResult): string[] {
  return r.frames.map((f) => body.toString('utf8', f.msgStart, f.msgEnd));
}

/**
 * The framer's invariant: frame and reject segments tile the body (sorted, contiguous,
 * non-overlapping, adding up to body.length), except an empty or all-whitespace body, which
 * yields no segments at all. Each frame's MSG lies inside its segment.
 */
function expectTiling(body: Uint8Array, r: SplitResult): void {
  const allSpace = body.every((c) => WS.has(c));
  const segs = [
    ...r.frames.map((f) => ({ start: f.start, end: f.end })),
    ...r.rejects.map((x) => ({ start: x.start, end: x.end })),
  ].sort((a, b) => a.start - b.start);
  if (allSpace) {
    expect(segs).toEqual([]);
    return;
  }
  let at = 0;
  for (const s of segs) {
    expect(s.start).toBe(at);
    expect(s.end).toBeGreaterThan(s.start);
    at = s.end;
  }
  expect(at).toBe(body.length);
  for (const f of r.frames) {
    expect(f.msgStart).toBeGreaterThan(f.start);
    expect(f.msgStart).toBeLessThanOrEqual(f.msgEnd);
    expect(f.msgEnd).toBeLessThanOrEqual(f.end);
  }
  // Both lists are sorted.
  for (let k = 1; k < r.frames.length; k++) expect(r.frames[k]!.start).toBeGreaterThan(r.frames[k - 1]!.start);
  for (let k = 1; k < r.rejects.length; k++) expect(r.rejects[k]!.start).toBeGreaterThan(r.rejects[k - 1]!.start);
}

function stripOneLineEnd(b: Uint8Array): Uint8Array {
  let end = b.length;
  if (end > 0 && b[end - 1] === 0x0a) {
    end--;
    if (end > 0 && b[end - 1] === 0x0d) end--;
  }
  return b.subarray(0, end);
}

const L10 =
  '<172>1 2014-11-11T08:24:25+00:00 host heroku logplex - Error L10 (output buffer overflow): 1 messages dropped since 2014-11-07T23:29:45+00:00.';
const WEB = '<45>1 2014-11-11T08:24:24.064853+00:00 host heroku web.1 - State changed from starting to up';

describe('splitFrames', () => {
  it('splits frames by their byte count', () => {
    const body = Buffer.concat([frame('hello\n'), frame('wörld\n')]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual(['hello', 'wörld']);
    expect(r.rejects).toEqual([]);
    // LEN counts the LF: dataEnd keeps it, msgEnd leaves it out.
    expect(r.frames[0]).toEqual({ start: 0, end: 8, msgStart: 2, msgEnd: 7, dataEnd: 8 });
    expectTiling(body, r);
  });

  it('accepts a frame without a trailing line feed', () => {
    const body = frame('hello');
    expect(msgs(body, splitFrames(body))).toEqual(['hello']);
  });

  it('strips exactly one trailing \\n or \\r\\n from MSG', () => {
    const body = Buffer.concat([frame('a\r\n'), frame('b\n\n'), frame('\n'), frame('c\r')]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual(['a', 'b\n', '', 'c\r']);
    expectTiling(body, r);
  });

  it('keeps line feeds inside a frame: a multi-line message stays one frame', () => {
    const msg = '<13>1 - host app web.1 - Traceback:\n  File "x.py", line 1\n12 <13>1 not a frame\n';
    const body = Buffer.concat([frame(msg), frame('next')]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([msg.slice(0, -1), 'next']);
    expect(r.rejects).toEqual([]);
  });

  it('keeps the good frames when one frame is truncated', () => {
    const good = frame(`${WEB}\n`);
    const body = Buffer.concat([good, good, Buffer.from(`500 ${WEB}`)]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([WEB, WEB]);
    expect(r.rejects).toEqual([{ start: good.length * 2, end: body.length, reason: 'truncated' }]);
    expectTiling(body, r);
  });

  it('keeps a glued L10 frame and rejects the following frame whose LEN overshoots by one', () => {
    // framed-bodies #1: Heroku's L10 frame has no trailing LF; the next LEN is one too big.
    const second = `${Buffer.byteLength(WEB) + 1} ${WEB}`;
    const body = Buffer.concat([frame(L10), Buffer.from(second)]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([L10]);
    expect(r.rejects).toEqual([{ start: body.length - second.length, end: body.length, reason: 'truncated' }]);
  });

  it('does not take the tail of a rejected LEN for a new header', () => {
    // After `93 <45>...` is rejected, `3 <45>` must not be read as a 3-byte frame.
    const body = Buffer.from(`93 <45>1 short`);
    const r = splitFrames(body);
    expect(r.frames).toEqual([]);
    expect(r.rejects).toEqual([{ start: 0, end: body.length, reason: 'truncated' }]);
  });

  it('resynchronises on the next LEN <PRI> header after a truncated frame', () => {
    // The bad LEN claims more bytes than remain; a real frame follows inside those bytes.
    const bad = Buffer.from('300 <13>1 cut short\n');
    const good = frame(`${WEB}\n`);
    const body = Buffer.concat([bad, good]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([WEB]);
    expect(r.rejects).toEqual([{ start: 0, end: bad.length - 1, reason: 'truncated' }]);
    // The LF between the reject and the frame joins the frame that follows it.
    expect(r.frames[0]!.start).toBe(bad.length - 1);
    expectTiling(body, r);
  });

  it('finds a good frame whose LEN is glued to the digits a bad frame ends with', () => {
    // The bad frame's message ends in `id=123`, and the next frame's LEN follows at once: the
    // bytes read `id=12345 <13>…`. The run `12345` is no frame here, its suffix `45` is.
    const good = frame(`<13>1 ${'x'.repeat(Buffer.byteLength(WEB) - 7)}`);
    expect(good.subarray(0, 3).toString()).toMatch(/^\d\d /);
    for (const bad of ['9999 <13>1 - - - - - id=123', '1x3 <13>1 - - - - - id=123', '<13>1 - - - - - id=123']) {
      const body = Buffer.concat([Buffer.from(bad), good, frame(`${WEB}\n`)]);
      const r = splitFrames(body);
      expect(msgs(body, r)).toEqual([good.subarray(good.indexOf(' ') + 1).toString(), WEB]);
      expectTiling(body, r);
    }
  });

  it('takes a glued suffix only when its frame ends at the body end or at another header', () => {
    // `id=12345 <13>1 abc`: LEN 45 would run past the end; 5 ends inside `<13>1`: no frame.
    const body = Buffer.from('9999 <13>1 - - - - - id=12345 <13>1 abc');
    const r = splitFrames(body);
    expect(r.frames).toEqual([]);
    expectTiling(body, r);
  });

  it('accepts a frame whose LEN is short and rejects the stray bytes after it as garbage', () => {
    // framed-bodies #2: LEN says 116, the message is 118 bytes.
    const msg = '<134>1 2012-12-10T03:00:48.123456Z erlang t.feff49f1-4d55-4c9e-aee1-2d2b10e69b42 console.1 - - Logsplat test message 1';
    const body = Buffer.from(`116 ${msg}`);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([msg.slice(0, 116)]);
    expect(r.rejects).toEqual([{ start: body.length - 2, end: body.length, reason: 'garbage' }]);
  });

  it('accepts a frame followed directly by bytes that are not a new LEN SP', () => {
    const body = Buffer.concat([frame('hello'), Buffer.from('xyz'), frame('<13>1 again')]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual(['hello', '<13>1 again']);
    expect(r.rejects).toEqual([{ start: 7, end: 10, reason: 'garbage' }]);
    expectTiling(body, r);
  });

  it('rejects a LEN of more than six digits as bad_length', () => {
    // framed-bodies #3.
    const body = Buffer.from("1000000 <158>1 2020-01-08T22:33:57.353034+00:00 host heroku router - i'm not that long");
    const r = splitFrames(body);
    expect(r.frames).toEqual([]);
    expect(r.rejects).toEqual([{ start: 0, end: body.length, reason: 'bad_length' }]);
  });

  it('rejects a LEN with a leading zero, and a zero LEN, as bad_length', () => {
    for (const bad of ['05 <13>1 x', '0 <13>1 x']) {
      const good = frame(`${WEB}\n`);
      const body = Buffer.concat([Buffer.from(bad), good]);
      const r = splitFrames(body);
      expect(msgs(body, r)).toEqual([WEB]);
      expect(r.rejects).toEqual([{ start: 0, end: bad.length, reason: 'bad_length' }]);
    }
  });

  it('rejects a non-numeric LEN before SP < as bad_length', () => {
    const body = Buffer.concat([Buffer.from('1x3 <13>1 hello'), frame(WEB)]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([WEB]);
    expect(r.rejects).toEqual([{ start: 0, end: 15, reason: 'bad_length' }]);
  });

  it('rejects stray bytes glued to the LEN of a good frame as garbage and keeps the frame', () => {
    const body = Buffer.concat([Buffer.from('!'), frame(WEB)]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([WEB]);
    expect(r.rejects).toEqual([{ start: 0, end: 1, reason: 'garbage' }]);
  });

  it('does not resynchronise on a header whose LEN cannot even hold its <PRI>', () => {
    const body = Buffer.from('x 3 <13>1 hello');
    const r = splitFrames(body);
    expect(r.frames).toEqual([]);
    expect(r.rejects).toEqual([{ start: 0, end: body.length, reason: 'garbage' }]);
  });

  it('needs a <PRI> after LEN SP to resynchronise, so plain text after garbage stays rejected', () => {
    const body = Buffer.concat([Buffer.from('xyz'), frame('plain text')]);
    const r = splitFrames(body);
    expect(r.frames).toEqual([]);
    expect(r.rejects).toEqual([{ start: 0, end: body.length, reason: 'garbage' }]);
  });

  it('rejects a body that is not octet-counted at all as one garbage span', () => {
    // framed-bodies #5.
    const body = Buffer.from('what am i doing here');
    const r = splitFrames(body);
    expect(r).toEqual({ frames: [], rejects: [{ start: 0, end: 20, reason: 'garbage' }] });
  });

  it('rejects newline-delimited syslog (no LEN) as garbage', () => {
    const body = Buffer.from(`${WEB}\n${WEB}\n`);
    const r = splitFrames(body);
    expect(r.frames).toEqual([]);
    expect(r.rejects).toEqual([{ start: 0, end: body.length, reason: 'garbage' }]);
  });

  it('rejects a frame over maxFrameBytes as too_large and keeps the next frame', () => {
    const big = frame(`<13>1 ${'x'.repeat(10300)}\n`);
    const body = Buffer.concat([frame('a\n'), big, frame('<13>1 b\n')]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual(['a', '<13>1 b']);
    // The frame's own trailing LF is whitespace, and whitespace joins the segment that follows.
    expect(r.rejects).toEqual([{ start: 4, end: 4 + big.length - 1, reason: 'too_large' }]);
  });

  it('skips a too_large frame by its declared length even when it holds a header-like sequence', () => {
    const big = frame(`<13>1 ${'x'.repeat(50)} 12 <13>1 fake ${'y'.repeat(60)}\n`);
    const body = Buffer.concat([big, frame('<13>1 b\n')]);
    const r = splitFrames(body, { maxFrameBytes: 100 });
    expect(msgs(body, r)).toEqual(['<13>1 b']);
    expect(r.rejects).toEqual([{ start: 0, end: big.length - 1, reason: 'too_large' }]);
  });

  it('accepts a frame of exactly maxFrameBytes', () => {
    const body = Buffer.concat([frame('x'.repeat(10240)), frame('y'.repeat(10241))]);
    const r = splitFrames(body);
    expect(r.frames.map((f) => f.msgEnd - f.msgStart)).toEqual([10240]);
    expect(r.rejects.map((x) => x.reason)).toEqual(['too_large']);
  });

  it('honours maxFrameBytes and clamps it to 65536', () => {
    const body = frame('x'.repeat(70000));
    expect(splitFrames(body, { maxFrameBytes: 1_000_000 }).rejects[0]!.reason).toBe('too_large');
    expect(splitFrames(frame('x'.repeat(65536)), { maxFrameBytes: 1_000_000 }).frames).toHaveLength(1);
    expect(splitFrames(frame('x'.repeat(20000)), { maxFrameBytes: 30000 }).frames).toHaveLength(1);
    expect(splitFrames(frame('x'.repeat(11)), { maxFrameBytes: 10 }).rejects[0]!.reason).toBe('too_large');
    // Nonsense values fall back to sane ones instead of throwing.
    expect(splitFrames(frame('abc'), { maxFrameBytes: Number.NaN }).frames).toHaveLength(1);
    expect(splitFrames(frame('abc'), { maxFrameBytes: -5 }).rejects[0]!.reason).toBe('too_large');
  });

  it('absorbs whitespace between frames into the frame that follows, and at the end into the last', () => {
    const body = Buffer.from(' \r\n5 hello\n\n\t5 world \n ');
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual(['hello', 'world']);
    expect(r.frames).toEqual([
      { start: 0, end: 10, msgStart: 5, msgEnd: 10, dataEnd: 10 },
      { start: 10, end: body.length, msgStart: 15, msgEnd: 20, dataEnd: 20 },
    ]);
    expect(r.rejects).toEqual([]);
  });

  it('yields no segments for an empty or all-whitespace body', () => {
    expect(splitFrames(Buffer.alloc(0))).toEqual({ frames: [], rejects: [] });
    expect(splitFrames(Buffer.from(' \r\n\t\n'))).toEqual({ frames: [], rejects: [] });
  });

  it('frames the published vector #4 (two well-formed frames)', () => {
    const body = Buffer.from(
      '64 <13>1 2013-06-07T13:17:49.468822+00:00 host heroku web.7 - - hi\n67 <13>1 2013-06-07T13:17:49.468822+00:00 host heroku web.7 - - hello\n',
    );
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([
      '<13>1 2013-06-07T13:17:49.468822+00:00 host heroku web.7 - - hi',
      '<13>1 2013-06-07T13:17:49.468822+00:00 host heroku web.7 - - hello',
    ]);
    expect(r.rejects).toEqual([]);
  });

  it('counts LEN in bytes, not characters', () => {
    const msg = 'héllo wörld ✓ 😀';
    const body = Buffer.concat([frame(msg), frame('x')]);
    expect(msgs(body, splitFrames(body))).toEqual([msg, 'x']);
  });
});

describe('splitFrames properties', () => {
  /** Bytes biased towards what confuses a framer: digits, SP, `<`, `>`, LF. */
  const trickyBytes = fc
    .array(
      fc.oneof(
        fc.constantFrom('1', '12 ', '0', '9', ' ', '\n', '\r\n', '<', '>', '<13>', '5 <13>1 ', '93 <45>', '1000000 ', 'x', '\t'),
        fc.string({ maxLength: 4 }),
      ),
      { maxLength: 80 },
    )
    .map((parts) => Buffer.from(parts.join('')));

  it('terminates, never throws, and tiles any byte string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), trickyBytes), fc.integer({ min: 1, max: 70000 }), (bytes, max) => {
        const body = Buffer.from(bytes);
        expectTiling(body, splitFrames(body));
        expectTiling(body, splitFrames(body, { maxFrameBytes: max }));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives back exactly the framed messages (round trip)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }), (list) => {
        const body = Buffer.concat(list.map((m) => frame(m)));
        const r = splitFrames(body);
        expect(r.rejects).toEqual([]);
        expect(r.frames.map((f) => body.subarray(f.msgStart, f.msgEnd))).toEqual(
          list.map((m) => Buffer.from(stripOneLineEnd(m))),
        );
        expectTiling(body, r);
      }),
      { numRuns: 500 },
    );
  });

  it('gives back exactly the framed messages with random whitespace between frames', () => {
    const ws = fc.array(fc.constantFrom(' ', '\t', '\r', '\n'), { maxLength: 4 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.array(fc.tuple(ws, fc.uint8Array({ minLength: 1, maxLength: 200 })), { maxLength: 15 }), ws, (list, tail) => {
        const body = Buffer.concat([...list.flatMap(([pad, m]) => [Buffer.from(pad), frame(m)]), Buffer.from(tail)]);
        const r = splitFrames(body);
        expect(r.rejects).toEqual([]);
        expect(r.frames.map((f) => body.subarray(f.msgStart, f.msgEnd))).toEqual(
          list.map(([, m]) => Buffer.from(stripOneLineEnd(m))),
        );
        expectTiling(body, r);
      }),
      { numRuns: 500 },
    );
  });

  it('never splits a frame on a line feed inside it', () => {
    const line = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\n'));
    fc.assert(
      fc.property(fc.array(fc.array(line, { minLength: 2, maxLength: 5 }), { minLength: 1, maxLength: 10 }), (messages) => {
        const texts = messages.map((lines) => lines.join('\n'));
        const body = Buffer.concat(texts.map((t) => frame(`${t}\n`)));
        const r = splitFrames(body);
        expect(r.frames).toHaveLength(texts.length);
        expect(msgs(body, r)).toEqual(texts);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every good frame when garbage sits between them', () => {
    // Garbage that holds no `LEN SP <` header and does not start with a digit or whitespace.
    const junk = fc
      .string({ minLength: 1, maxLength: 30 })
      .filter((s) => !/[0-9<\s]/.test(s));
    const good = fc.string({ minLength: 1, maxLength: 60 }).map((s) => `<13>1 ${s}`);
    fc.assert(
      fc.property(fc.array(fc.tuple(good, junk), { minLength: 1, maxLength: 10 }), (list) => {
        const body = Buffer.concat(list.flatMap(([m, j]) => [frame(m), Buffer.from(j)]));
        const r = splitFrames(body);
        expect(msgs(body, r)).toEqual(list.map(([m]) => m));
        expect(r.rejects.every((x) => x.reason === 'garbage')).toBe(true);
        expectTiling(body, r);
      }),
      { numRuns: 300 },
    );
  });
});
