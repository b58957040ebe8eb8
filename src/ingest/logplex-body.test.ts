import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkSyslogFrame, parseSyslogFrame } from '../decode/syslog.js';
import type { SyslogMode } from '../decode/types.js';
import { checkLogplexBody, decodeLogplexBody } from './logplex-body.js';

/**
 * The Redis path accepts drain frames with checkLogplexBody (no records built) where the memory
 * path decodes them: both must accept and reject the very same frames, for the same reasons.
 */
const MODES: SyslogMode[] = ['drain', 'input', 'shuttle'];
const receivedAt = new Date('2026-12-04T12:00:00Z');
const heroku = readFileSync(new URL('../../protocol/vectors/heroku-lines.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('<'));

const frame = (msg: Buffer | string): Buffer => {
  const m = Buffer.isBuffer(msg) ? msg : Buffer.from(msg);
  return Buffer.concat([Buffer.from(`${m.length} `), m]);
};

function sameVerdicts(body: Buffer, mode: SyslogMode): void {
  const opts = { mode, maxFrameBytes: 10_240, receivedAt };
  const decoded = decodeLogplexBody(body, opts);
  const checked = checkLogplexBody(body, opts);
  expect(checked.frames).toEqual(decoded.frames);
  expect(checked.rejects).toEqual(decoded.rejects);
  expect(checked.rejectedCount).toBe(decoded.rejectedCount);
  expect(checked.rejectedBytes).toBe(decoded.rejectedBytes);
}

/** A Heroku line with one byte replaced, inserted or deleted: near misses of the header grammar. */
const mutatedLine = fc
  .tuple(fc.constantFrom(...heroku), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('replace', 'insert', 'delete', 'none'))
  .map(([line, at, byte, how]) => {
    const b = Buffer.from(line);
    // The header is where acceptance is decided: mutate within its first 80 bytes.
    const i = at % Math.min(b.length, 80);
    if (how === 'replace') b[i] = byte;
    if (how === 'insert') return Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
    if (how === 'delete') return Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
    return b;
  });

describe('checkLogplexBody: the frames decodeLogplexBody accepts, without records', () => {
  it('agrees on the vectors, in every mode', () => {
    const vectors = ['framed-bodies.txt', 'repaired-bodies.txt'].flatMap((f) =>
      readFileSync(new URL(`../../protocol/vectors/${f}`, import.meta.url), 'utf8')
        .split('\n')
        .filter((l) => /^\d/.test(l) || /^(drain|shuttle|input): /.test(l))
        .map((l) => Buffer.from(l.replace(/^(drain|shuttle|input): /, '').replaceAll('\\n', '\n'))),
    );
    vectors.push(Buffer.concat(heroku.map((l) => frame(`${l}\n`))));
    expect(vectors.length).toBeGreaterThan(10);
    for (const body of vectors) for (const mode of MODES) sameVerdicts(body, mode);
  });

  it('agrees frame by frame on near misses of the header and on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.oneof(mutatedLine, fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a))), fc.constantFrom(...MODES), (msg, mode) => {
        const parsed = parseSyslogFrame(msg, 0, msg.length, mode, receivedAt);
        const checked = checkSyslogFrame(msg, 0, msg.length, mode, receivedAt);
        expect(checked).toEqual(parsed.ok ? null : parsed);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees on whole bodies of such frames, some with a wrong length', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(mutatedLine, fc.integer({ min: -2, max: 2 })), { maxLength: 8 }), fc.constantFrom(...MODES), (lines, mode) => {
        const body = Buffer.concat(lines.map(([m, off]) => Buffer.concat([Buffer.from(`${Math.max(0, m.length + (off === 0 || Math.abs(off) === 2 ? 0 : off))} `), m])));
        sameVerdicts(body, mode);
      }),
      { numRuns: 500 },
    );
  });
});
