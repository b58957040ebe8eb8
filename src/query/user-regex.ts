import { setFlagsFromString } from 'node:v8';
import { GatewayError } from '../errors.js';

/**
 * User regexes (`regex` of GET /api/logs and of every live tail) run on V8's linear-time engine
 * only: a pattern it cannot run is refused, never handed to the backtracking engine, where one
 * pattern can hold the event loop for seconds to hours.
 */

/** Longest `regex` filter accepted (history queries and live tails alike). */
export const MAX_REGEX_LENGTH = 512;

/** The V8 flag that makes the `l` (linear-time engine) RegExp flag available. */
export const LINEAR_REGEX_FLAG = '--enable-experimental-regexp-engine';

/** Largest count V8's linear-time engine unrolls (`x{16}`; nested counts multiply). */
const MAX_COUNT = 16;

/** What the linear-time engine cannot run, said in every such refusal. */
const LINEAR_RULES = `counted repetition above {${MAX_COUNT}} (nested counts multiply), backreferences and lookarounds cannot run in linear time; use +, * or a bound of at most ${MAX_COUNT}`;

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
 * and the Dockerfile do), or set here once at load for processes started without it (tests, an
 * own `node dist/main.js`). False only when V8 refuses both: then every user regex is refused.
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
 * A user's `regex` filter, compiled for V8's linear-time engine: a JavaScript regular expression
 * without other flags (case-sensitive), which the caller tests against `message`. Matching costs
 * O(pattern × text) whatever the pattern (`(a+)+$` never backtracks), but the engine interprets:
 * ~10 µs for `timeout` on a 200-char line, ~3 ms for `.{16}` eight times over (README).
 *
 * Throws GatewayError `invalid_regex` (400) when the pattern is longer than
 * {@link MAX_REGEX_LENGTH}, does not compile, or cannot run in linear time (a counted repetition
 * above {16} such as `x{17}`, `\d{20}` or `a{2,100}`, a backreference, a lookaround), the message
 * saying why; and for every pattern when this process has no linear-time engine (fail safe).
 *
 * @example
 * compileRegex('^GET /api').test('GET /api/x'); // true
 * compileRegex('x{17}'); // throws invalid_regex "the count {17} is refused: counted repetition above {16} …"
 */
export function compileRegex(source: string): RegExp {
  return compileRegexWith(LINEAR_REGEX_AVAILABLE, source);
}

/** {@link compileRegex} with the engine's availability given (tests of the fail-safe path). */
export function compileRegexWith(linearAvailable: boolean, source: string): RegExp {
  if (source.length > MAX_REGEX_LENGTH) throw invalid(`regex longer than ${MAX_REGEX_LENGTH} characters`);
  try {
    // Syntax first, without `l`: its message ("/(/: Unterminated group") is the familiar one.
    new RegExp(source);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (!linearAvailable) {
    throw invalid(`regex filters are disabled: this node cannot run them in linear time (start it with ${LINEAR_REGEX_FLAG})`);
  }
  try {
    return new RegExp(source, 'l');
  } catch {
    throw invalid(`${backtrackingOnlyFeature(source) ?? 'this pattern'} is refused: ${LINEAR_RULES}`);
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
