/**
 * The node (V8) flags user regexes rely on, in one place: `npm start`, the Procfile, the
 * Dockerfile, test/support/process.ts and vitest.config.ts pass them all (test/deploy.test.ts
 * checks), and user-regex.ts decides from them how user regexes run. No side effects here.
 */

/** Makes the `l` RegExp flag (V8's linear-time engine) available. */
export const LINEAR_REGEX_FLAG = '--enable-experimental-regexp-engine';

/**
 * Makes an exec of any regex that the linear-time engine can run, and that backtracks more than
 * {@link REGEX_BACKTRACKS_BEFORE_FALLBACK} times, start over on that engine: what keeps user
 * regexes, which run on the ordinary (backtracking) engine for speed, linear in the worst case.
 */
export const REGEX_FALLBACK_FLAG = '--enable-experimental-regexp-engine-on-excessive-backtracks';

/**
 * Backtracks before that fallback (V8's default: 50,000). Between two backtracks the engine can
 * scan the rest of the message, so an exec costs up to this many passes over it before it falls
 * back: measured on a 64 KiB line, `.*orders.*items.*` took 6–10 s at 50,000 and 130–170 ms at
 * 1000, while ordinary patterns on router lines never backtrack 500 times (no fallback at 500,
 * measured; the decode bench triggers none at 1000).
 */
export const REGEX_BACKTRACKS_BEFORE_FALLBACK = 1000;

/** The flag that sets {@link REGEX_BACKTRACKS_BEFORE_FALLBACK}. */
export const REGEX_FALLBACK_LIMIT_FLAG = `--regexp-backtracks-before-fallback=${REGEX_BACKTRACKS_BEFORE_FALLBACK}`;

/** All of them, in the order the start commands pass them. */
export const REGEX_NODE_FLAGS: readonly string[] = [LINEAR_REGEX_FLAG, REGEX_FALLBACK_FLAG, REGEX_FALLBACK_LIMIT_FLAG];

/**
 * Whether node was started with `flag` (by name: `--x=1` is found for `--x=2` too; V8 also
 * accepts `_` for `-`). Only the command line counts: V8 flags cannot come from NODE_OPTIONS.
 */
export function onCommandLine(flag: string, execArgv: readonly string[] = process.execArgv): boolean {
  const name = (s: string) => s.split('=')[0]!.replace(/_/g, '-');
  return execArgv.some((arg) => name(arg) === name(flag));
}
