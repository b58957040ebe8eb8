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
    const body = Buffer.concat([frame(msg), frame('<13>1 next')]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([msg.slice(0, -1), '<13>1 next']);
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

  it('keeps a glued L10 frame and a last frame whose LEN counts the LF the body lacks', () => {
    // framed-bodies #1: Heroku's L10 frame has no trailing LF; the next LEN counts a LF that is
    // not there. Nothing of the line is missing: it is kept, unflagged.
    const second = `${Buffer.byteLength(WEB) + 1} ${WEB}`;
    const body = Buffer.concat([frame(L10), Buffer.from(second)]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([L10, WEB]);
    expect(r.frames.map((f) => f.repaired)).toEqual([undefined, undefined]);
    expect(r.frames[1]!.dataEnd).toBe(body.length);
    expect(r.rejects).toEqual([]);
    // Short by two bytes at the end of the body is a repair (flagged), not the missing LF.
    const two = Buffer.concat([frame(L10), Buffer.from(`${Buffer.byteLength(WEB) + 2} ${WEB}`)]);
    expect(splitFrames(two).rejects.map((x) => x.reason)).toEqual(['truncated']);
  });

  it('does not take the tail of a rejected LEN for a new header', () => {
    // After `93 <45>...` is rejected, `3 <45>` must not be read as a 3-byte frame.
    const body = Buffer.from(`93 <45>1 short`);
    const r = splitFrames(body);
    expect(r.frames).toEqual([]);
    expect(r.rejects).toEqual([{ start: 0, end: body.length, reason: 'truncated' }]);
  });

  it('ends a frame whose LEN overstates at the header inside it from which the body reads cleanly', () => {
    // The bad LEN claims more bytes than remain; a real frame follows inside those bytes.
    const bad = Buffer.from('300 <13>1 cut short\n');
    const good = frame(`${WEB}\n`);
    const body = Buffer.concat([bad, good]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual(['<13>1 cut short', WEB]);
    expect(r.frames.map((f) => f.repaired)).toEqual([true, undefined]);
    expect(r.rejects).toEqual([]);
    expectTiling(body, r);
  });

  it('ends a frame whose LEN overstates inside the body, so it does not swallow the next frame', () => {
    const first = '<13>1 first line\n';
    const body = Buffer.concat([Buffer.from(`${Buffer.byteLength(first) + 20} ${first}`), frame(`${WEB}\n`), frame(`${WEB} 2\n`)]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual(['<13>1 first line', WEB, `${WEB} 2`]);
    expect(r.frames[0]!.repaired).toBe(true);
    expectTiling(body, r);
  });

  it('trusts a LEN that lands on a boundary, even over a message that holds frame-like text', () => {
    const inner = frame('<13>1 looks like a frame');
    const msg = `<13>1 outer ${inner.toString()} end`;
    const body = Buffer.concat([frame(msg), frame(WEB)]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([msg, WEB]);
    expect(r.frames.every((f) => !f.repaired)).toBe(true);
  });

  it('reads a LEN counted in characters (Ruby String#size) as such when bytes do not land', () => {
    const msgs3 = ['<13>1 héllo wörld ✓', '<13>1 plain', '<13>1 日本語のログ'];
    const body = Buffer.from(msgs3.map((m) => `${m.length} ${m}`).join(''));
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual(msgs3);
    expect(r.frames.map((f) => f.repaired)).toEqual([true, undefined, true]);
    expectTiling(body, r);
  });

  it('finds a good frame whose LEN is glued to the digits a bad frame ends with', () => {
    // The bad frame's message ends in `id=123`, and the next frame's LEN follows at once: the
    // bytes read `id=12345 <13>…`. The run `12345` is no frame here, its suffix `45` is.
    const good = frame(`<13>1 ${'x'.repeat(Buffer.byteLength(WEB) - 7)}`);
    expect(good.subarray(0, 3).toString()).toMatch(/^\d\d /);
    for (const bad of ['1x3 <13>1 - - - - - id=123', '<13>1 - - - - - id=123']) {
      const body = Buffer.concat([Buffer.from(bad), good, frame(`${WEB}\n`)]);
      const r = splitFrames(body);
      expect(msgs(body, r)).toEqual([good.subarray(good.indexOf(' ') + 1).toString(), WEB]);
      expectTiling(body, r);
    }
    // A LEN past the end of the body is repaired at that glued header (the frame before is kept).
    const body = Buffer.concat([Buffer.from('9999 <13>1 - - - - - id=123'), good, frame(`${WEB}\n`)]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual(['<13>1 - - - - - id=123', good.subarray(good.indexOf(' ') + 1).toString(), WEB]);
    expect(r.frames[0]!.repaired).toBe(true);
  });

  it('takes a glued suffix only when its frame ends at the body end or at another header', () => {
    // `id=12345 <13>1 abc`: LEN 45 would run past the end; 5 ends inside `<13>1`: no frame.
    const body = Buffer.from('9999 <13>1 - - - - - id=12345 <13>1 abc');
    const r = splitFrames(body);
    expect(r.frames).toEqual([]);
    expectTiling(body, r);
  });

  it('repairs a frame whose LEN is a few bytes short: the whole line, flagged', () => {
    // framed-bodies #2: LEN says 116, the message is 118 bytes.
    const msg = '<134>1 2012-12-10T03:00:48.123456Z erlang t.feff49f1-4d55-4c9e-aee1-2d2b10e69b42 console.1 - - Logsplat test message 1';
    const body = Buffer.from(`116 ${msg}`);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual([msg]);
    expect(r.frames[0]!.repaired).toBe(true);
    expect(r.rejects).toEqual([]);
  });

  it('takes the bytes between a frame and the next header into that frame (a short LEN), flagged', () => {
    const body = Buffer.concat([frame('hello'), Buffer.from('xyz'), frame('<13>1 again')]);
    const r = splitFrames(body);
    expect(msgs(body, r)).toEqual(['helloxyz', '<13>1 again']);
    expect(r.frames.map((f) => f.repaired)).toEqual([true, undefined]);
    expect(r.rejects).toEqual([]);
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

/**
 * Random MSGs of a body that is not syslog: a first byte `<` would make it a syslog body, whose
 * frames all start with `<PRI>` (octet-frames.ts, `landsAt`), so it is replaced.
 */
const anyMsg = (max: number) => fc.uint8Array({ minLength: 1, maxLength: max }).map((m) => (m[0] === 0x3c ? Uint8Array.of(0x3d, ...m.subarray(1)) : m));
/** Random MSGs of a syslog body: `<PRI>` and then anything. */
const syslogMsg = (max: number) =>
  fc.tuple(fc.integer({ min: 0, max: 191 }), fc.uint8Array({ maxLength: max })).map(([pri, rest]) => Buffer.concat([Buffer.from(`<${pri}>1 `), rest]));

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
      fc.property(fc.oneof(fc.array(anyMsg(300), { maxLength: 20 }), fc.array(syslogMsg(300), { maxLength: 20 })), (list) => {
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
      fc.property(fc.oneof(fc.array(fc.tuple(ws, anyMsg(200)), { maxLength: 15 }), fc.array(fc.tuple(ws, syslogMsg(200)), { maxLength: 15 })), ws, (list, tail) => {
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
        // Syslog frames, as a drain sends them (a body is all syslog or none, see anyMsg).
        const texts = messages.map((lines) => `<13>1 ${lines.join('\n')}`);
        const body = Buffer.concat(texts.map((t) => frame(`${t}\n`)));
        const r = splitFrames(body);
        expect(r.frames).toHaveLength(texts.length);
        expect(msgs(body, r)).toEqual(texts);
      }),
      { numRuns: 300 },
    );
  });

  it('gives back every syslog line whole, whichever repairable way its sender gets LEN wrong', () => {
    // A body as real senders get it wrong: every LEN counted in characters (lpxc), or one frame's
    // LEN a few bytes short or up to 40 bytes too long (published fixtures); the last frame may
    // also count a LF the body lacks. Lines hold no digits or `<`, so nothing inside them looks
    // like a frame header.
    const text = fc.stringMatching(/^[a-zA-Z éü✓日本=_.:-]{1,80}$/);
    const fault = fc.oneof(
      fc.constant<{ chars: true } | { at: number; by: number }>({ chars: true }),
      fc.record({ at: fc.nat(7), by: fc.integer({ min: -6, max: 40 }) }),
    );
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 8 }), fault, fc.boolean(), (texts, f, lfLess) => {
        const msgsIn = texts.map((t) => `<13>1 - host app web.1 - ${t}`);
        const wrongAt = 'at' in f ? f.at % texts.length : -1;
        const lines = texts.map((_, i) => [0, i === wrongAt ? (f as { by: number }).by : 'chars' in f ? 'chars' : 'ok'] as const);
        const parts = lines.map(([, h], i) => {
          const m = msgsIn[i]!;
          const bytes = Buffer.byteLength(m);
          const n = h === 'ok' ? bytes : h === 'chars' ? m.length : Math.max(8, bytes + h);
          return `${n} ${m}`;
        });
        if (lfLess) {
          const m = msgsIn[msgsIn.length - 1]!;
          parts[parts.length - 1] = `${Buffer.byteLength(m) + 1} ${m}`;
        }
        const body = Buffer.from(parts.join(''));
        if (wrongAt >= 0) {
          // A LEN too long that ends exactly at a later frame boundary (whitespace aside) lands,
          // and is trusted: the frames it covers are then one message (the documented ambiguity).
          const starts = parts.map((_, i) => Buffer.byteLength(parts.slice(0, i).join('')));
          const head = parts[wrongAt]!.indexOf(' ') + 1;
          const claimedEnd = starts[wrongAt]! + head + Number(parts[wrongAt]!.slice(0, head - 1));
          let landing = claimedEnd;
          while (landing < body.length && WS.has(body[landing]!)) landing++;
          fc.pre(!starts.slice(wrongAt + 1).includes(landing) && landing !== body.length);
        }
        const r = splitFrames(body);
        // A LEN too long on the last line has nothing to end at but the body's end: truncated.
        const lastTooLong = !lfLess && typeof lines[lines.length - 1]![1] === 'number' && (lines[lines.length - 1]![1] as number) > 0;
        const want = lastTooLong ? msgsIn.slice(0, -1) : msgsIn;
        // Trailing whitespace of a line cannot be told from padding between frames: compared trimmed.
        const trim = (l: string[]) => l.map((s) => s.trimEnd());
        expect(trim(msgs(body, r).slice(0, want.length))).toEqual(trim(want));
        expectTiling(body, r);
      }),
      { numRuns: 400 },
    );
  });

  it('keeps every good frame, whole, when stray bytes sit between them', () => {
    // Garbage that holds no `LEN SP <` header and does not start with a digit or whitespace.
    const junk = fc
      .string({ minLength: 1, maxLength: 30 })
      .filter((s) => !/[0-9<\s]/.test(s));
    const good = fc.string({ minLength: 1, maxLength: 60 }).map((s) => `<13>1 ${s}`);
    fc.assert(
      fc.property(fc.array(fc.tuple(good, junk), { minLength: 1, maxLength: 10 }), (list) => {
        const body = Buffer.concat(list.flatMap(([m, j]) => [frame(m), Buffer.from(j)]));
        const r = splitFrames(body);
        // Stray bytes right after a frame, up to the next header, are taken as a short LEN.
        expect(msgs(body, r)).toEqual(list.map(([m, j]) => m + j));
        expect(r.frames.every((f) => f.repaired)).toBe(true);
        expect(r.rejects).toEqual([]);
        expectTiling(body, r);
      }),
      { numRuns: 300 },
    );
  });
});
