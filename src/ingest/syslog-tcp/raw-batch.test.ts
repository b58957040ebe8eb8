import { describe, expect, it } from 'vitest';
import { splitFrames } from '../../decode/octet-frames.js';
import { READ_MAX_FRAME_BYTES } from '../../normalize/syslog-batch.js';
import { packMessages, type MessageSpan } from './raw-batch.js';

const span = (s: string | Buffer): MessageSpan => {
  const buf = typeof s === 'string' ? Buffer.from(s) : s;
  return { buf, start: 0, end: buf.length };
};
/** The MSGs `splitFrames` reads from `bytes`, as a store re-reading a batch does. */
const readBack = (bytes: Buffer) => splitFrames(bytes, { maxFrameBytes: READ_MAX_FRAME_BYTES }).frames.map((f) => bytes.toString('utf8', f.msgStart, f.msgEnd));

describe('packMessages', () => {
  it('octet-counts the messages, views into a larger buffer included, and they read back as sent', () => {
    const chunk = Buffer.from('xx<13>1 2025-01-01T00:00:00Z h app - - - hello yy');
    const msgs = [
      { buf: chunk, start: 2, end: chunk.length - 3 },
      span('<14>1 - - - - - [x a="b"] two\nlines é'),
      span('<11>Jan  1 00:00:00 host tag: bsd 42'),
      span('<13>1 - - - - - - ends with a digit 7'),
    ];
    const out = packMessages(msgs)!;
    expect(out.toString('latin1').startsWith('44 <13>1 2025')).toBe(true);
    expect(readBack(out)).toEqual(msgs.map((m) => Buffer.from(m.buf.subarray(m.start, m.end)).toString('utf8')));
  });

  it('gives null when the bytes would not read back as the messages', () => {
    expect(packMessages([])).toBeNull();
    // the body framer strips one trailing LF (or CR LF) from what LEN counts
    expect(packMessages([span('<13>1 - - - - - - a\n')])).toBeNull();
    expect(packMessages([span('<13>1 - - - - - - a'), span('<13>1 - - - - - - b\r\n')])).toBeNull();
    // over the read limit of syslogBatchEntries
    expect(packMessages([span(`<13>1 - - - - - - ${'x'.repeat(READ_MAX_FRAME_BYTES)}`)])).toBeNull();
    expect(packMessages([{ buf: Buffer.from('abc'), start: 1, end: 1 }])).toBeNull();
  });

  it('never hands over bytes that read back differently (random messages, seeded)', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['<', '>', '1', '9', '0', ' ', '\n', '\r', 'a', 'é', '12 <', '[x a="1"]'];
    let packed = 0;
    for (let round = 0; round < 2000; round++) {
      const msgs: string[] = [];
      for (let k = 1 + rand(5); k > 0; k--) {
        let m = rand(4) === 0 ? '' : '<13>1 - - - - - ';
        for (let j = rand(12); j > 0; j--) m += alphabet[rand(alphabet.length)];
        msgs.push(m === '' ? 'x' : m);
      }
      const out = packMessages(msgs.map(span));
      if (out === null) continue;
      packed++;
      expect(readBack(out)).toEqual(msgs);
    }
    expect(packed).toBeGreaterThan(500);
  });
});
