import { describe, expect, it } from 'vitest';
import { DEPTH_MARKER, JSON_OK, JSON_TOO_DEEP, JSON_TOO_LARGE, measureJson, pruneJson, truncateUtf8 } from './bounds.js';

function deep(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

describe('truncateUtf8', () => {
  it('returns the string itself when it fits', () => {
    const s = 'hello';
    expect(truncateUtf8(s, 5)).toBe(s);
    expect(truncateUtf8('é'.repeat(10), 20)).toBe('é'.repeat(10));
  });

  it('cuts at a character boundary, never inside a multi-byte character or surrogate pair', () => {
    expect(truncateUtf8('héllo', 2)).toBe('h');
    expect(truncateUtf8('héllo', 3)).toBe('hé');
    expect(truncateUtf8('a😀b', 4)).toBe('a');
    expect(truncateUtf8('a😀b', 5)).toBe('a😀');
    const cut = truncateUtf8('€'.repeat(1000), 1000);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1000);
    expect(cut).toBe('€'.repeat(333));
  });
});

describe('measureJson', () => {
  it('accepts values within depth and size', () => {
    expect(measureJson({ a: [1, 'x', { b: null }] }, 4, 1000)).toBe(JSON_OK);
    expect(measureJson(deep(32), 32, 1e6)).toBe(JSON_OK);
  });

  it('reports the first bound crossed, on values deep enough to break JSON.stringify', () => {
    expect(measureJson(deep(33), 32, 1e6)).toBe(JSON_TOO_DEEP);
    const huge = deep(200_000);
    expect(() => JSON.stringify(huge)).toThrow(RangeError);
    expect(measureJson(huge, 32, 1e6)).toBe(JSON_TOO_DEEP);
    expect(measureJson({ a: 'x'.repeat(2000) }, 32, 1000)).toBe(JSON_TOO_LARGE);
    expect(measureJson(Array.from({ length: 500 }, () => 1), 32, 1000)).toBe(JSON_TOO_LARGE);
  });

  it('measures close to the JSON size', () => {
    const v = { message: 'x'.repeat(100), list: [1, 2, 3], nested: { k: 'v' } };
    const size = JSON.stringify(v).length;
    expect(measureJson(v, 32, Math.ceil(size * 1.25))).toBe(JSON_OK);
    expect(measureJson(v, 32, Math.floor(size * 0.75))).toBe(JSON_TOO_LARGE);
  });
});

describe('pruneJson', () => {
  it('replaces values nested too deep by a marker and keeps the rest', () => {
    const pruned = pruneJson({ keep: 1, deep: deep(10) }, 3, 1e6) as Record<string, unknown>;
    expect(pruned.keep).toBe(1);
    expect(pruned.deep).toEqual({ a: { a: DEPTH_MARKER } });
    expect(measureJson(pruned, 3, 1e6)).toBe(JSON_OK);
  });

  it('keeps what fits of a value over the size budget, then stops', () => {
    const pruned = pruneJson({ a: 'x'.repeat(50), b: 'y'.repeat(5000), c: 'z' }, 32, 200) as Record<string, string>;
    expect(pruned.a).toBe('x'.repeat(50));
    expect(pruned.b!.length).toBeLessThan(200);
    expect(pruned.c).toBeUndefined();
    expect(JSON.stringify(pruned).length).toBeLessThanOrEqual(220);
  });

  it('never turns a __proto__ key into a prototype', () => {
    const v = JSON.parse('{"__proto__":{"polluted":true},"x":' + JSON.stringify(deep(5)) + '}') as object;
    const pruned = pruneJson(v, 2, 1e6) as Record<string, unknown>;
    expect(Object.getPrototypeOf(pruned)).toBe(Object.prototype);
    expect(Object.keys(pruned)).toEqual(['__proto__', 'x']);
  });
});
