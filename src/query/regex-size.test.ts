import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nonCapturing, regexSize } from './regex-size.js';
import { MAX_REGEX_SIZE } from './user-regex.js';

/** The character ranges V8 compiles a one-character pattern into: the runs of UTF-16 code units it matches. */
function rangesOf(pattern: string): number {
  const re = new RegExp(`^(?:${pattern})$`);
  let runs = 0;
  let inRun = false;
  for (let u = 0; u <= 0xffff; u++) {
    const hit = re.test(String.fromCharCode(u));
    if (hit && !inRun) runs++;
    inRun = hit;
  }
  return runs;
}

/** A pattern built from a small grammar, and the least it can compile to on the linear-time engine. */
interface Built {
  source: string;
  /** Consuming instructions only (a class by its exact ranges), repetition expanded: a lower bound. */
  floor: number;
}

const literal = fc.constantFrom('a', 'b', 'x', '\\.', '\\(', '\\)', '\\[', '\\{', '\\*', '\\|', '\\x41', '\\u0062', '\\cA', '}', ']', ' ', '-');
const classItem = fc.oneof(
  fc.constantFrom('a', 'q', '\\d', '\\w', '\\s', '\\D', '\\W', '\\S', '\\b', '\\-', '\\]', '\\x41', '\\u00e9', '(', '{', '.'),
  fc.tuple(fc.integer({ min: 97, max: 122 }), fc.integer({ min: 0, max: 10 })).map(([a, n]) => `${String.fromCharCode(a)}-${String.fromCharCode(Math.min(122, a + n))}`),
);

const built: fc.Memo<Built> = fc.memo((depth) => {
  const leaf: fc.Arbitrary<Built> = fc.oneof(
    literal.map((source) => ({ source, floor: 1 })),
    fc.constantFrom('.', '\\d', '\\w', '\\s', '\\D', '\\W', '\\S').map((source) => ({ source, floor: rangesOf(source) })),
    fc.constantFrom('^', '$', '\\b', '\\B').map((source) => ({ source, floor: 0 })),
    fc.tuple(fc.boolean(), fc.array(classItem, { minLength: 1, maxLength: 4 })).map(([negated, items]) => {
      const source = `[${negated ? '^' : ''}${items.join('')}]`;
      return { source, floor: rangesOf(source) };
    }),
  );
  if (depth <= 1) return leaf;
  const inner = built(depth - 1);
  return fc.oneof(
    { weight: 3, arbitrary: leaf },
    fc.array(inner, { minLength: 2, maxLength: 3 }).map((parts) => ({ source: parts.map((p) => p.source).join(''), floor: parts.reduce((s, p) => s + p.floor, 0) })),
    fc.tuple(fc.constantFrom('(', '(?:', '(?<n>'), fc.array(inner, { minLength: 1, maxLength: 3 })).map(([open, alts]) => ({
      // A named group may appear once per pattern: renamed below.
      source: `${open}${alts.map((a) => a.source).join('|')})`,
      floor: alts.reduce((s, a) => s + a.floor, 0),
    })),
    fc
      .tuple(inner, fc.constantFrom('*', '+', '?', '{2}', '{3,}', '{1,3}', '{0,2}'), fc.boolean())
      .map(([atom, q, lazy]) => {
        // Quantified: the atom in a group, so the quantifier applies to all of it.
        const copies = { '*': 1, '?': 1, '+': 2, '{2}': 2, '{3,}': 4, '{1,3}': 3, '{0,2}': 2 }[q]!;
        return { source: `(?:${atom.source})${q}${lazy ? '?' : ''}`, floor: atom.floor * copies };
      }),
  );
});

/** Numbers the named groups (`(?<n>` → `(?<n1>`, …): names must be unique. */
function uniqueNames(source: string): string {
  let k = 0;
  return source.replace(/\(\?<n>/g, () => `(?<n${++k}>`);
}

const patterns = built(3).map((b) => ({ ...b, source: uniqueNames(b.source) }));

describe('regexSize', () => {
  it('counts what the linear-time engine compiles: ranges, copies of repeated parts, forks and groups', () => {
    expect(regexSize('timeout')).toBe(7);
    expect(regexSize('.{16}')).toBe(64);
    expect(regexSize('(x{4}){5}')).toBe(30);
    expect(regexSize('x*')).toBe(3); // one copy, a fork and a jump
    expect(regexSize('x+')).toBe(4); // x, then x*
    expect(regexSize('x{2,5}')).toBe(8); // 2 copies, then 3 optional ones behind a fork each
    expect(regexSize('x{3,}')).toBe(6);
    expect(regexSize('a|b')).toBe(3);
    expect(regexSize('[0-9a-f]')).toBe(2);
    expect(regexSize('[^0-9a-f]')).toBe(3);
    expect(regexSize('[\\w.-]')).toBe(6);
    expect(regexSize('')).toBe(0);
  });

  it('counts the class escapes and `.` by their ranges in V8, never fewer', () => {
    for (const esc of ['.', '\\d', '\\D', '\\w', '\\W', '\\s', '\\S']) {
      expect(regexSize(esc), esc).toBe(rangesOf(esc));
      expect(regexSize(`[${esc === '.' ? '\\n' : esc}]`), esc).toBeGreaterThanOrEqual(rangesOf(`[${esc === '.' ? '\\n' : esc}]`));
    }
  });

  it('over-estimates where it cannot tell, never under-estimates', () => {
    // The dash after a class escape is a literal (Annex B): three ranges, not one.
    expect(regexSize('[\\d-z]')).toBeGreaterThanOrEqual(rangesOf('[\\d-z]'));
    expect(regexSize('[a-\\d]')).toBeGreaterThanOrEqual(rangesOf('[a-\\d]'));
    // An escape's tail scanned as literals: the quantifier still repeats at least one instruction.
    expect(regexSize('\\x41{16}')).toBeGreaterThanOrEqual(16);
    expect(regexSize('\\u0041{16}')).toBeGreaterThanOrEqual(16);
    expect(regexSize('\\cA{16}')).toBeGreaterThanOrEqual(16);
    expect(regexSize('\\12{16}')).toBeGreaterThanOrEqual(16);
    // A `{` that is no quantifier is a literal (Annex B), and `]` first in a class closes it.
    expect(regexSize('x{a}{16}')).toBeGreaterThanOrEqual(3 + 16); // x, {, a, then } 16 times
    expect(regexSize('[]]{16}')).toBeGreaterThanOrEqual(16);
    expect(regexSize('[^]{16}')).toBeGreaterThanOrEqual(16);
    // Nested counts multiply, as the engine unrolls them.
    expect(regexSize('((x{2}){2}){4}')).toBeGreaterThanOrEqual(16);
    expect(regexSize('x{999999999999}')).toBe(1e9); // huge: kept exact enough to refuse, never overflowing
  });

  it('never under-counts the consuming instructions of a generated pattern (property)', () => {
    fc.assert(
      fc.property(patterns, ({ source, floor }) => {
        new RegExp(source); // the generator makes valid patterns only
        expect(regexSize(source)).toBeGreaterThanOrEqual(floor);
      }),
      { numRuns: 300 },
    );
  });

  it(`puts ordinary patterns under ${MAX_REGEX_SIZE} and the crafted slow ones over it`, () => {
    for (const ordinary of [
      'timeout',
      'status=5\\d\\d',
      '.*orders.*items.*',
      '^(GET|POST) /api/v1/orders/\\d+',
      'code=H1[0-9] desc="Request timeout"',
      '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
      '\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}',
      '[\\w.+-]+@[\\w-]+\\.[\\w.]+',
      '^(\\w+=\\S+ ?)+$',
      '"level":"(error|warn)".*"path":"/api',
      '(a+)+$',
      '(a|aa)*c',
    ]) {
      expect(regexSize(ordinary), ordinary).toBeLessThanOrEqual(MAX_REGEX_SIZE);
    }
    // 4.6 s and 17–31 s over 1500 router lines on the linear-time engine (issue 9, finding 3).
    expect(regexSize(`${'.{16}'.repeat(8)}#`)).toBe(513);
    expect(regexSize(`${'.*'.repeat(255)}#`)).toBe(1531);
    expect(regexSize(`${'(?:x?){16}'.repeat(4)}#`)).toBeGreaterThan(MAX_REGEX_SIZE);
  });
});

describe('nonCapturing', () => {
  it('makes every capturing group non-capturing, and nothing else', () => {
    expect(nonCapturing('^(GET|POST) (?<path>/api)')).toBe('^(?:GET|POST) (?:/api)');
    expect(nonCapturing('(?:a)(?=b)(?!c)(?<=d)(?<!e)')).toBe('(?:a)(?=b)(?!c)(?<=d)(?<!e)');
    expect(nonCapturing('\\((a)[(](b)\\)')).toBe('\\((?:a)[(](?:b)\\)');
    expect(nonCapturing('[\\](](x)')).toBe('[\\](](?:x)');
    expect(nonCapturing('[](x)')).toBe('[](?:x)'); // `[]` is an empty class: the `(` after it opens a group
    expect(nonCapturing('((a)(b))')).toBe('(?:(?:a)(?:b))');
  });

  it('leaves what test answers unchanged, and leaves no capture (property)', () => {
    fc.assert(
      fc.property(patterns, fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'x', ' ', '-', '.', '(', ']', '}', 'A', '\u0001', '1') }), { maxLength: 5 }), ({ source }, texts) => {
        const plain = nonCapturing(source);
        expect(new RegExp(`${plain}|`).exec('')!.length).toBe(1);
        const original = new RegExp(source);
        const rewritten = new RegExp(plain);
        for (const text of texts) expect(rewritten.test(text), `${source} on ${JSON.stringify(text)}`).toBe(original.test(text));
      }),
      { numRuns: 300 },
    );
  });
});
