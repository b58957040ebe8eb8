import { describe, expect, it } from 'vitest';
import { onCommandLine, REGEX_NODE_FLAGS } from './regex-flags.js';
import { compileRegex, compileRegexWith, LINEAR_REGEX_AVAILABLE, MAX_REGEX_SIZE, USER_REGEX_ENGINE, withLinearBackup } from './user-regex.js';

const refused = (message?: RegExp) =>
  expect.objectContaining({ code: 'invalid_regex', status: 400, ...(message ? { message: expect.stringMatching(message) } : {}) });

describe('compileRegex', () => {
  it('runs on the ordinary engine here: vitest starts node with the flags of npm start (fallback included)', () => {
    expect(REGEX_NODE_FLAGS.every((f) => onCommandLine(f))).toBe(true);
    expect(LINEAR_REGEX_AVAILABLE).toBe(true);
    expect(USER_REGEX_ENGINE).toBe('backtracking');
    expect(compileRegex('timeout')).toMatchObject({ source: 'timeout', size: 7, engine: 'backtracking' });
  });

  it('runs on the linear-time engine alone when node did not start with the fallback flag', () => {
    // Set at run time, the flag does not cover a source whose code V8 compiled before (user-regex.ts).
    expect(onCommandLine('--enable-experimental-regexp-engine-on-excessive-backtracks', ['--import', 'tsx'])).toBe(false);
    expect(onCommandLine('--regexp-backtracks-before-fallback=1000', ['--regexp_backtracks_before_fallback=5000'])).toBe(true);
    const linear = compileRegexWith('linear', '(a+)+$');
    expect(linear.engine).toBe('linear');
    expect(linear.test(`${'a'.repeat(10_000)}b`)).toBe(false);
    expect(linear.test('aaa')).toBe(true);
  });

  for (const engine of ['backtracking', 'linear'] as const) {
    describe(`on the ${engine} path`, () => {
      const compile = (source: string) => compileRegexWith(engine, source);

      it('matches ordinary patterns, case-sensitive, with counts up to {16}, named groups and escapes', () => {
        expect(compile('timeout').test('Request timeout after 30 s')).toBe(true);
        expect(compile('timeout').test('TIMEOUT')).toBe(false);
        expect(compile('^GET /api').test('GET /api/x')).toBe(true);
        expect(compile('^GET /api').test('POST /api/x')).toBe(false);
        expect(compile('H1[0-9]').test('code=H12 desc="Request timeout"')).toBe(true);
        expect(compile('x{16}').test('x'.repeat(16))).toBe(true);
        expect(compile('x{16}').test('x'.repeat(15))).toBe(false);
        expect(compile('^(GET|POST) /api').test('POST /api/x')).toBe(true);
        expect(compile('(?<code>H\\d+) [\\1]').test('H12 \u0001')).toBe(true); // \1 inside a class is not a backreference
        expect(compile('(a)\\2').test('a\u0002')).toBe(true); // \2 with one group: an octal escape, groups dropped or not
        expect(compile('a\\(?=b').test('a(=b')).toBe(true); // an escaped paren starts no lookahead
        expect(compile('[a{17}]').test('{')).toBe(true); // braces in a class count nothing
        expect(compile('[(](y)?z').test('(z')).toBe(true); // a paren in a class is no group
        expect(compile('[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}').test('id=1b4e28ba-2fa1-11d2-883f-0016d3cca427')).toBe(true);
      });

      it('answers adversarial patterns it accepts in linear time, with the right result', () => {
        const line = `${'a'.repeat(10_000)}b`;
        // 2^10000 paths for a backtracking engine without the fallback; this finishes.
        expect(compile('(a+)+$').test(line)).toBe(false);
        expect(compile('(a+)+b$').test(line)).toBe(true);
        expect(compile('(a+)+$').test('a'.repeat(10_000))).toBe(true);
        expect(compile('(a|aa)*c').test(line)).toBe(false);
        expect(compile('(a|aa)*b').test(line)).toBe(true);
        expect(compile('^(\\w+\\s?)*$').test(`${'word '.repeat(2000)}!`)).toBe(false);
      });
    });
  }

  it('answers on the linear-time engine when the ordinary one runs out of stack (messages of several MiB)', () => {
    const fast = /x/;
    fast.test = () => {
      throw new RangeError('Maximum call stack size exceeded');
    };
    const test = withLinearBackup(fast, new RegExp('(?:a|b)*c', 'l'));
    expect(test('ababc')).toBe(true);
    expect(test('abab')).toBe(false);
    const broken = /x/;
    broken.test = () => {
      throw new TypeError('not a stack overflow');
    };
    expect(() => withLinearBackup(broken, /x/)('x')).toThrow(TypeError);
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

  it(`refuses a pattern over size ${MAX_REGEX_SIZE}, which could hold the event loop for seconds on one long message`, () => {
    // Accepted by the linear-time engine, but measured at 4.6 s (1500 router lines) and 17–31 s.
    for (const pattern of ['.{16}'.repeat(8), `${'.{16}'.repeat(8)}#`, `${'.*'.repeat(255)}#`, `${'\\S*'.repeat(10)}#`, 'x'.repeat(129)]) {
      expect(() => compileRegex(pattern), pattern).toThrow(refused(/^this pattern is too large: it counts \d+ against a limit of 128 .*use search for plain text/));
    }
    expect(compileRegex('x'.repeat(128)).test('x'.repeat(128))).toBe(true);
    expect(compileRegex(`${'.*'.repeat(21)}#`).size).toBeLessThanOrEqual(MAX_REGEX_SIZE);
  });

  it('refuses a pattern that does not compile or is too long', () => {
    expect(() => compileRegex('(unclosed')).toThrow(refused(/Unterminated group/));
    expect(() => compileRegex('x{2,1}')).toThrow(refused(/numbers out of order/));
    expect(() => compileRegex('x'.repeat(513))).toThrow(refused(/longer than 512/));
    // 512 characters of size 128: x{1} is 4 characters of size 1.
    expect(compileRegex('x{1}'.repeat(128))).toMatchObject({ size: 128 });
    expect(compileRegex('x{1}'.repeat(128)).test('x'.repeat(128))).toBe(true);
  });

  it('refuses every pattern when the process has no linear-time engine (fail safe)', () => {
    expect(() => compileRegexWith(null, 'timeout')).toThrow(refused(/disabled.*--enable-experimental-regexp-engine/));
    expect(() => compileRegexWith(null, '(')).toThrow(refused(/Unterminated group/));
    expect(compileRegexWith('linear', 'timeout').test('timeout')).toBe(true);
  });
});
