import { describe, expect, it } from 'vitest';
import { compileRegex, compileRegexWith, LINEAR_REGEX_AVAILABLE } from './user-regex.js';

const refused = (message?: RegExp) =>
  expect.objectContaining({ code: 'invalid_regex', status: 400, ...(message ? { message: expect.stringMatching(message) } : {}) });

describe('compileRegex', () => {
  it('runs on the linear-time engine, available in this process without the command-line flag', () => {
    expect(LINEAR_REGEX_AVAILABLE).toBe(true);
    expect(compileRegex('timeout').flags).toBe('l');
  });

  it('compiles ordinary patterns, case-sensitive, with counts up to {16}, named groups and escapes', () => {
    expect(compileRegex('timeout').test('Request timeout after 30 s')).toBe(true);
    expect(compileRegex('timeout').test('TIMEOUT')).toBe(false);
    expect(compileRegex('^GET /api').test('GET /api/x')).toBe(true);
    expect(compileRegex('^GET /api').test('POST /api/x')).toBe(false);
    expect(compileRegex('H1[0-9]').test('code=H12 desc="Request timeout"')).toBe(true);
    expect(compileRegex('x{16}').test('x'.repeat(16))).toBe(true);
    expect(compileRegex('x{16}').test('x'.repeat(15))).toBe(false);
    expect(compileRegex('^(GET|POST) /api').test('POST /api/x')).toBe(true);
    expect(compileRegex('(?<code>H\\d+) [\\1]').test('H12 \u0001')).toBe(true); // \1 inside a class is not a backreference
    expect(compileRegex('a\\(?=b').test('a(=b')).toBe(true); // an escaped paren starts no lookahead
    expect(compileRegex('[a{17}]').test('{')).toBe(true); // braces in a class count nothing
  });

  it('answers adversarial patterns it accepts in linear time, with the right result', () => {
    const line = `${'a'.repeat(10_000)}b`;
    // 2^10000 paths for a backtracking engine; one pass here.
    expect(compileRegex('(a+)+$').test(line)).toBe(false);
    expect(compileRegex('(a+)+b$').test(line)).toBe(true);
    expect(compileRegex('(a+)+$').test('a'.repeat(10_000))).toBe(true);
    expect(compileRegex('(a|aa)*c').test(line)).toBe(false);
    expect(compileRegex('(a|aa)*b').test(line)).toBe(true);
    expect(compileRegex('^(\\w+\\s?)*$').test(`${'word '.repeat(2000)}!`)).toBe(false);
  });

  it('refuses counted repetition above {16}, saying why and what to use instead', () => {
    for (const [pattern, shown] of [
      ['x{17}', '{17}'],
      ['\\d{20}', '{20}'],
      ['a{2,100}', '{2,100}'],
      ['(x+){17}$', '{17}'],
      ['x{17,}', '{17,}'],
    ] as const) {
      expect(() => compileRegex(pattern), pattern).toThrow(refused(/linear time; use \+, \* or a bound of at most 16/));
      expect(() => compileRegex(pattern), pattern).toThrow(`the count ${shown} is refused: counted repetition above {16}`);
    }
    // Counts multiply when nested: refused by the engine, with the general reason.
    expect(() => compileRegex('(x{4}){5}')).toThrow(refused(/^this pattern is refused: counted repetition above \{16\} \(nested counts multiply\)/));
    expect(compileRegex('(x{4}){4}').test('x'.repeat(16))).toBe(true);
  });

  it('refuses backreferences and lookarounds, naming them', () => {
    for (const [pattern, what] of [
      ['(a)\\1', 'a backreference'],
      ['^(a+)+\\1$', 'a backreference'],
      ['(?<x>a)\\k<x>', 'a named backreference'],
      ['^(?=(a+)+$)x', 'a lookahead'],
      ['foo(?!bar)', 'a lookahead'],
      ['(?<=a)b', 'a lookbehind'],
      ['(?<=\\$)\\d+', 'a lookbehind'],
      ['(?<!x)y', 'a lookbehind'],
    ] as const) {
      expect(() => compileRegex(pattern), pattern).toThrow(refused(new RegExp(`^${what}.* is refused: .*cannot run in linear time`)));
    }
  });

  it('refuses a pattern that does not compile or is too long', () => {
    expect(() => compileRegex('(unclosed')).toThrow(refused(/Unterminated group/));
    expect(() => compileRegex('x{2,1}')).toThrow(refused(/numbers out of order/));
    expect(() => compileRegex('x'.repeat(513))).toThrow(refused(/longer than 512/));
    expect(compileRegex('x'.repeat(512)).test('x'.repeat(512))).toBe(true);
  });

  it('refuses every pattern when the process has no linear-time engine (fail safe)', () => {
    expect(() => compileRegexWith(false, 'timeout')).toThrow(refused(/disabled.*--enable-experimental-regexp-engine/));
    expect(() => compileRegexWith(false, '(')).toThrow(refused(/Unterminated group/));
    expect(compileRegexWith(true, 'timeout').test('timeout')).toBe(true);
  });
});
