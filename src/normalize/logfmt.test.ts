import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createLogfmtTokens,
  keepBareKeys,
  KEY_AT,
  KEY_COUNT,
  KEY_LEVEL,
  KEY_MEASURE,
  KEY_MEASURE_LEGACY,
  KEY_OTHER,
  KEY_PATH,
  KEY_PROTO,
  KEY_SAMPLE,
  LOGFMT_BARE,
  LOGFMT_PAIR,
  LOGFMT_QUOTED,
  classifyKey,
  parseLogfmt,
  scanLogfmt,
  scanLogfmtCharwise,
  setField,
  type LogfmtTokens,
} from './logfmt.js';

function snapshot(t: LogfmtTokens) {
  return {
    keys: t.keys.slice(0, t.length),
    values: t.values.slice(0, t.length),
    kinds: t.kinds.slice(0, t.length),
    classes: t.classes.slice(0, t.length),
    mask: t.mask,
    pairs: t.pairs,
    words: t.words,
    firstIsPair: t.firstIsPair,
  };
}

describe('parseLogfmt', () => {
  it('reads plain, quoted, empty and bare values', () => {
    expect(parseLogfmt('a=1 b="x y" c= d')).toEqual([
      { key: 'a', value: '1', quoted: false },
      { key: 'b', value: 'x y', quoted: true },
      { key: 'c', value: '', quoted: false },
      { key: 'd', value: true, quoted: false },
    ]);
  });

  it('unescapes \\" and \\\\ inside quotes and keeps other escapes as written', () => {
    expect(parseLogfmt('msg="say \\"hi\\" to C:\\\\dir" raw="a\\nb"')).toEqual([
      { key: 'msg', value: 'say "hi" to C:\\dir', quoted: true },
      { key: 'raw', value: 'a\\nb', quoted: true },
    ]);
  });

  it('takes the rest of the line as the value of an unterminated quote', () => {
    expect(parseLogfmt('this_is="broken')).toEqual([{ key: 'this_is', value: 'broken', quoted: true }]);
    expect(parseLogfmt('a="x y z')).toEqual([{ key: 'a', value: 'x y z', quoted: true }]);
    expect(parseLogfmt('a="x\\"')).toEqual([{ key: 'a', value: 'x"', quoted: true }]);
    expect(parseLogfmt('a="x\\')).toEqual([{ key: 'a', value: 'x\\', quoted: true }]);
  });

  it('keeps = and " inside an unquoted value', () => {
    expect(parseLogfmt('a=b=c mem=1028MB(103.3%) q=x"y')).toEqual([
      { key: 'a', value: 'b=c', quoted: false },
      { key: 'mem', value: '1028MB(103.3%)', quoted: false },
      { key: 'q', value: 'x"y', quoted: false },
    ]);
  });

  it('drops chars glued after a closing quote', () => {
    expect(parseLogfmt('a="b"c d=1')).toEqual([
      { key: 'a', value: 'b', quoted: true },
      { key: 'd', value: '1', quoted: false },
    ]);
  });

  it('skips prose tokens that start with = or a quote', () => {
    expect(parseLogfmt('= 3 "quoted words" here=1')).toEqual([
      { key: '3', value: true, quoted: false },
      { key: 'here', value: '1', quoted: false },
    ]);
    expect(scanLogfmt('= 3 "quoted words" here=1', createLogfmtTokens()).words).toBe(3);
  });

  it('splits on tabs, line feeds and carriage returns as well as spaces', () => {
    expect(parseLogfmt('a=1\tb=2\nc="x\ny"\r\nd')).toEqual([
      { key: 'a', value: '1', quoted: false },
      { key: 'b', value: '2', quoted: false },
      { key: 'c', value: 'x\ny', quoted: true },
      { key: 'd', value: true, quoted: false },
    ]);
  });

  it('returns nothing for empty and blank input', () => {
    expect(parseLogfmt('')).toEqual([]);
    expect(parseLogfmt('   ')).toEqual([]);
  });

  it('keeps non-ASCII keys and values', () => {
    expect(parseLogfmt('café=crème ü="ö ä"')).toEqual([
      { key: 'café', value: 'crème', quoted: false },
      { key: 'ü', value: 'ö ä', quoted: true },
    ]);
  });
});

describe('scanLogfmt', () => {
  it('records kinds, classes, counts and whether the line starts with a pair', () => {
    const t = scanLogfmt('at=info level=warn count#x=1 path="/" tls', createLogfmtTokens());
    expect(t.length).toBe(5);
    expect(t.kinds.slice(0, 5)).toEqual([LOGFMT_PAIR, LOGFMT_PAIR, LOGFMT_PAIR, LOGFMT_QUOTED, LOGFMT_BARE]);
    expect(t.classes.slice(0, 5)).toEqual([KEY_AT, KEY_LEVEL, KEY_COUNT, KEY_PATH, KEY_OTHER]);
    expect(t.pairs).toBe(4);
    expect(t.words).toBe(1);
    expect(t.firstIsPair).toBe(true);
    expect(t.mask & (1 << KEY_LEVEL)).not.toBe(0);
  });

  it('overwrites what an earlier scan left in the buffer', () => {
    const t = createLogfmtTokens();
    scanLogfmt('a=1 b=2 c=3', t);
    scanLogfmt('Release v138 created', t);
    expect(t.length).toBe(3);
    expect(t.pairs).toBe(0);
    expect(t.firstIsPair).toBe(false);
    expect(t.mask).toBe(1 << KEY_OTHER);
  });

  it('hands back the same key string for the same key on later lines', () => {
    const t = createLogfmtTokens();
    const first = scanLogfmt('sample#memory_total=1MB', t).keys[0];
    const again = scanLogfmt('x=1 sample#memory_total=2MB', t).keys[1];
    expect(again).toBe(first);
    expect(t.classes[1]).toBe(KEY_SAMPLE);
  });

  it('gives the same tokens on the fast path and the char-by-char path', () => {
    const alphabet = fc.constantFrom('a', 'b', 'k', '=', '"', '\\', ' ', ' ', '#', 'count#', 'measure.', 'é', '\u001b');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 40 }), (parts) => {
        const s = parts.join('');
        const fast = snapshot(scanLogfmt(s, createLogfmtTokens()));
        const slow = snapshot(scanLogfmtCharwise(s, createLogfmtTokens()));
        expect(fast).toEqual(slow);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on arbitrary strings', () => {
    const t = createLogfmtTokens();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        scanLogfmt(s, t);
        expect(t.pairs + t.words).toBeGreaterThanOrEqual(t.length);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('classifyKey', () => {
  it('recognises the l2met prefixes and the keys Sluice gives a meaning to', () => {
    expect(classifyKey('count#a')).toBe(KEY_COUNT);
    expect(classifyKey('sample#a')).toBe(KEY_SAMPLE);
    expect(classifyKey('measure#a')).toBe(KEY_MEASURE);
    expect(classifyKey('measure.a')).toBe(KEY_MEASURE_LEGACY);
    expect(classifyKey('measure')).toBe(KEY_OTHER);
    expect(classifyKey('counter')).toBe(KEY_OTHER);
    expect(classifyKey('severity')).toBe(KEY_LEVEL);
    expect(classifyKey('__proto__')).toBe(KEY_PROTO);
  });
});

describe('keepBareKeys', () => {
  const rule = (s: string) => keepBareKeys(scanLogfmt(s, createLogfmtTokens()));

  it('drops bare words from prose', () => {
    expect(rule('Release v138 created by user foo@bar')).toBe(false);
    expect(rule('State changed from starting to up')).toBe(false);
    expect(rule('Process running mem=1028MB(103.3%)')).toBe(false);
  });

  it('keeps bare words in a line that reads as logfmt', () => {
    expect(rule('at=info tls')).toBe(true);
    expect(rule('a=1 b=2 flag')).toBe(true);
    expect(rule('a=1 two bare words')).toBe(false);
  });
});

describe('setField', () => {
  it('stores __proto__ as an own field instead of changing the prototype', () => {
    const o: Record<string, unknown> = {};
    setField(o, '__proto__', 'x');
    setField(o, 'a', 1);
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(JSON.stringify(o)).toBe('{"__proto__":"x","a":1}');
  });
});
