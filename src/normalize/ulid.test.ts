import { describe, expect, it } from 'vitest';
import { ulid, ulidAt, ulidRun, ulidTime } from './ulid.js';

const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]{26}$/;

// The generator is monotonic process-wide: a time earlier than one already used is clamped to it.
// Each test takes times from this clock, which only moves forward.
let clock = Date.now() + 1_000_000;
function later(ms = 100_000_000): number {
  clock += ms;
  return clock;
}

describe('ulid', () => {
  it('makes 26 Crockford base32 chars', () => {
    const id = ulid();
    expect(id).toMatch(CROCKFORD);
    expect(id[0]! <= '7').toBe(true);
  });

  it('encodes the time so that it decodes back', () => {
    const t = later();
    expect(ulidTime(ulid(t))).toBe(t);
    const u = later(123_456_789);
    expect(ulid(u).slice(0, 10)).toBe(encodeRef(u));
  });

  it('matches the spec example time prefix', () => {
    // ulid/spec: 1469918176385 → 01ARYZ6S41
    expect(encodeRef(1469918176385)).toBe('01ARYZ6S41');
    expect(ulidTime('01ARYZ6S41TSV4RRFFQ69G5FAV')).toBe(1469918176385);
  });

  it('is unique and strictly increasing over 100k ids in the same millisecond', () => {
    const ms = later();
    const ids: string[] = new Array(100_000);
    for (let i = 0; i < ids.length; i++) ids[i] = ulid(ms);
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) {
      if (!(ids[i - 1]! < ids[i]!)) throw new Error(`not increasing at ${i}: ${ids[i - 1]} ${ids[i]}`);
    }
    expect(ids.every((id) => ulidTime(id) === ms)).toBe(true);
  });

  it('sorts by time across milliseconds', () => {
    const base = later();
    const ids = [0, 1, 2, 50, 1000, 86_400_000].map((d) => ulid(base + d));
    later(86_400_000);
    expect([...ids].sort()).toEqual(ids);
  });

  it('keeps increasing when the clock steps back', () => {
    const base = later();
    const a = ulid(base);
    const b = ulid(base - 5000);
    expect(b > a).toBe(true);
    expect(ulidTime(b)).toBe(base);
  });

  it('clamps times outside the 48-bit range instead of throwing', () => {
    expect(() => ulid(Number.NaN)).not.toThrow();
    expect(() => ulid(-1)).not.toThrow();
    expect(ulid(2 ** 48 + 5)).toMatch(/^7ZZZZZZZZZ/);
  });
});

describe('ulidTime', () => {
  it('rejects strings that are not ULIDs', () => {
    expect(ulidTime('short')).toBeNull();
    expect(ulidTime('01ARYZ6S4UTSV4RRFFQ69G5FAV'.replace('U', '!'))).toBeNull();
  });
});

/** Reference time encoding, written the obvious way. */
function encodeRef(ms: number): string {
  const A = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let s = '';
  for (let i = 0; i < 10; i++) {
    s = A[ms % 32] + s;
    ms = Math.floor(ms / 32);
  }
  return s;
}

describe('ulidRun / ulidAt', () => {
  it('reserves consecutive ids that sort in order and before every later id', () => {
    const first = ulidRun(5000);
    const run = Array.from({ length: 5000 }, (_, k) => ulidAt(first, k));
    expect(run[0]).toBe(first);
    expect(new Set(run).size).toBe(5000);
    for (let k = 1; k < run.length; k++) {
      if (!(run[k - 1]! < run[k]!)) throw new Error(`not increasing at ${k}: ${run[k - 1]} ${run[k]}`);
    }
    const next = ulid();
    expect(next > run[4999]!).toBe(true);
    expect(run.every((id) => id.length === 26 && ulidTime(id) === ulidTime(first))).toBe(true);
  });

  it('gives the same ids as one ulid() after another within a millisecond', () => {
    const ms = Date.now() + 10 * 86_400_000;
    const first = ulidRun(3, ms);
    const after = ulid(ms);
    expect(ulidAt(first, 3)).toBe(after);
  });

  it('carries across digits', () => {
    expect(ulidAt('01ARYZ6S41TSV4RRFFQ69G5FAZ', 1)).toBe('01ARYZ6S41TSV4RRFFQ69G5FB0');
    expect(ulidAt('01ARYZ6S41TSV4RRFFQ69G5FZZ', 2)).toBe('01ARYZ6S41TSV4RRFFQ69G5G01');
    expect(ulidAt('01ARYZ6S41TSV4RRFFQ69G5FAV', 32 * 32)).toBe('01ARYZ6S41TSV4RRFFQ69G5GAV');
    expect(ulidAt('01ARYZ6S41TSV4RRFFQ69G5FAV', 0)).toBe('01ARYZ6S41TSV4RRFFQ69G5FAV');
  });
});
