import { setFlagsFromString } from 'node:v8';
import { GatewayError } from '../errors.js';
import {
  LINEAR_REGEX_FLAG,
  onCommandLine,
  REGEX_FALLBACK_FLAG,
  REGEX_FALLBACK_LIMIT_FLAG,
} from './regex-flags.js';
import { nonCapturing, regexSize } from './regex-size.js';

export { LINEAR_REGEX_FLAG } from './regex-flags.js';

/**
 * User regexes (`regex` of GET /api/logs and of every live tail): a pattern is accepted only
 * when V8's linear-time engine can run it (the `l` flag compiles it) and it is small enough
 * there ({@link MAX_REGEX_SIZE}); it then runs on the ordinary engine, fast, which V8 makes
 * start that exec over on the linear-time engine after 1000 backtracks (regex-flags.ts). So an
 * exec is linear in the message whatever the pattern, and ordinary patterns keep the ordinary
 * engine's speed. What the time adds up to over many entries is bounded by regex-budget.ts.
 */

/** Longest `regex` filter accepted (history queries and live tails alike). */
export const MAX_REGEX_LENGTH = 512;

/**
 * Largest {@link regexSize} accepted: what one exec can cost is about this × the message length
 * on the linear-time engine. Measured on a 64 KiB line (MAX_MESSAGE_BYTES), patterns of size
 * 97–127 built to keep every thread alive (`.*` or `\S*` repeated, `[^#]{16}` repeated, …) took
 * 0.09–0.42 s an exec on the 2-core bench machine (`npm run bench:regex`), at most ~3 ms per
 * unit: under half the default QUERY_REGEX_BUDGET_MS, which cannot stop an exec once started.
 * At size ~256 they took 0.35–0.87 s. Ordinary patterns measure 7–82 (`timeout` 7,
 * `.*orders.*items.*` 29, a UUID 68). {@link MAX_REGEX_LENGTH} stays 512: this bound is the one
 * that limits what a pattern costs (`x{1}` 128 times is 512 characters of size 128), and
 * compiling 512 characters takes microseconds.
 */
export const MAX_REGEX_SIZE = 128;

/** Largest count V8's linear-time engine unrolls (`x{16}`; nested counts multiply). */
const MAX_COUNT = 16;

/** What the linear-time engine cannot run, said in every such refusal. */
const LINEAR_RULES = `counted repetition above {${MAX_COUNT}} (nested counts multiply), backreferences and lookarounds cannot run in linear time; use +, * or a bound of at most ${MAX_COUNT}`;

/**
 * Where user regexes run: `backtracking`, the ordinary engine with V8's fallback to the
 * linear-time one; `linear`, the linear-time engine alone (the `l` flag).
 */
export type RegexEngine = 'backtracking' | 'linear';

function linearFlagWorks(): boolean {
  try {
    new RegExp('a', 'l');
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the `l` flag works in this process: passed on the command line (npm start, the Procfile
 * and the Dockerfile do), or set here once at load for processes started without it (an own
 * `node dist/main.js`). False only when V8 refuses both: then every user regex is refused.
 */
export const LINEAR_REGEX_AVAILABLE: boolean = (() => {
  if (linearFlagWorks()) return true;
  try {
    setFlagsFromString(LINEAR_REGEX_FLAG);
  } catch {
    return false;
  }
  return linearFlagWorks();
})();

/**
 * How user regexes run in this process, decided at load: `backtracking` only when node was
 * started with the fallback flag, `linear` otherwise, null when there is no linear-time engine
 * (every user regex refused).
 *
 * The fallback flag also works when set at run time (it is, below, for every regex compiled from
 * then on), but not for a regex whose code V8 compiled before: that code keeps no backtrack
 * limit, and V8's regexp cache hands it to a later `new RegExp` of the same source, which would
 * then backtrack without bound (measured: `(a+)+$` run once before the flag, 260–330 ms on 24 a's
 * and a b after it, as without the flag; a fresh source 0.09 ms). Only a flag present from the
 * start covers every source.
 */
export const USER_REGEX_ENGINE: RegexEngine | null = (() => {
  if (!LINEAR_REGEX_AVAILABLE) return null;
  const fromStart = onCommandLine(REGEX_FALLBACK_FLAG);
  for (const flag of [REGEX_FALLBACK_FLAG, REGEX_FALLBACK_LIMIT_FLAG]) {
    if (onCommandLine(flag)) continue;
    try {
      setFlagsFromString(flag);
    } catch {
      // the process's other regexes stay without it; user regexes do not depend on it then
    }
  }
  return fromStart ? 'backtracking' : 'linear';
})();

/** A compiled user regex: what filters call, and what the budget needs to know of it. */
export interface UserRegex {
  /** The pattern as given. */
  readonly source: string;
  /** Its {@link regexSize}: at most {@link MAX_REGEX_SIZE}. */
  readonly size: number;
  readonly engine: RegexEngine;
  /** Whether `text` holds a match (case-sensitive, no flags). */
  test(text: string): boolean;
}

/**
 * Compiles a user's `regex` filter: a JavaScript regular expression without flags
 * (case-sensitive), which the caller tests against `message`. An exec costs O(size × message)
 * whatever the pattern (`(a+)+$` never backtracks more than 1000 times); ordinary patterns cost
 * what they cost on the ordinary engine (~0.1 µs for `timeout` on a 200-char line).
 *
 * Throws GatewayError `invalid_regex` (400) when the pattern is longer than
 * {@link MAX_REGEX_LENGTH}, does not compile, cannot run in linear time (a counted repetition
 * above {16} such as `x{17}`, `\d{20}` or `a{2,100}`, a backreference, a lookaround), or is over
 * {@link MAX_REGEX_SIZE}, the message saying why; and for every pattern when this process has no
 * linear-time engine (fail safe).
 *
 * @example
 * compileRegex('^GET /api').test('GET /api/x'); // true
 * compileRegex('x{17}'); // throws invalid_regex "the count {17} is refused: counted repetition above {16} …"
 */
export function compileRegex(source: string): UserRegex {
  return compileRegexWith(USER_REGEX_ENGINE, source);
}

/** {@link compileRegex} on the engine given (null: none; tests of each path). */
export function compileRegexWith(engine: RegexEngine | null, source: string): UserRegex {
  if (source.length > MAX_REGEX_LENGTH) throw invalid(`regex longer than ${MAX_REGEX_LENGTH} characters`);
  try {
    // Syntax first, without `l`: its message ("/(/: Unterminated group") is the familiar one.
    new RegExp(source);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (engine === null) {
    throw invalid(`regex filters are disabled: this node cannot run them in linear time (start it with ${LINEAR_REGEX_FLAG})`);
  }
  let gate: RegExp;
  try {
    gate = new RegExp(source, 'l');
  } catch {
    throw invalid(`${backtrackingOnlyFeature(source) ?? 'this pattern'} is refused: ${LINEAR_RULES}`);
  }
  const size = regexSize(source);
  if (size > MAX_REGEX_SIZE) {
    throw invalid(
      `this pattern is too large: it counts ${size} against a limit of ${MAX_REGEX_SIZE} (one per character, ` +
        `class range, group and repetition, x{n} n times x, x+ twice; nested counts multiply); shorten it, ` +
        'or use search for plain text',
    );
  }
  // Without backreferences (refused above) captures change no answer of `test`: dropped, they
  // cost neither engine anything.
  const plain = nonCapturing(source);
  const linear = tryCompile(plain, 'l') ?? gate;
  if (engine === 'linear') return { source, size, engine, test: (text) => linear.test(text) };
  return { source, size, engine, test: withLinearBackup(tryCompile(plain, '') ?? new RegExp(source), linear) };
}

/**
 * `fast.test`, or `linear.test` when the ordinary engine throws: it runs out of backtrack stack
 * on messages of a few MiB (`(?:a|b)*c` on 8 MiB: RangeError "Maximum call stack size
 * exceeded"), which the linear-time engine, without one, answers.
 */
export function withLinearBackup(fast: RegExp, linear: RegExp): (text: string) => boolean {
  return (text) => {
    try {
      return fast.test(text);
    } catch (err) {
      if (err instanceof RangeError) return linear.test(text);
      throw err;
    }
  };
}

function tryCompile(source: string, flags: string): RegExp | null {
  try {
    return new RegExp(source, flags);
  } catch {
    return null;
  }
}

function invalid(message: string): GatewayError {
  return new GatewayError('invalid_regex', 400, message);
}

/**
 * What in a (valid) pattern the linear-time engine refuses, named for the message: the first
 * backreference, lookaround or counted repetition above {16}; null when none is visible alone
 * (counts that multiply when nested, `(x{4}){5}`, or a lower bound of 16 with no upper one).
 */
function backtrackingOnlyFeature(source: string): string | null {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const next = source[i + 1];
      if (!inClass && next !== undefined && next >= '1' && next <= '9') return `a backreference (\\${next})`;
      if (!inClass && next === 'k' && source[i + 2] === '<') return 'a named backreference (\\k<…>)';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(' && source[i + 1] === '?') {
      const a = source[i + 2];
      const b = source[i + 3];
      if (a === '=' || a === '!') return 'a lookahead';
      if (a === '<' && (b === '=' || b === '!')) return 'a lookbehind';
    } else if (c === '{') {
      const count = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i, i + 24));
      if (count && (Number(count[1]) > MAX_COUNT || (count[3] !== undefined && count[3] !== '' && Number(count[3]) > MAX_COUNT))) {
        return `the count ${count[0]}`;
      }
    }
  }
  return null;
}
