/**
 * The command line of `sluice`, parsed without side effects: argv and the environment in, a
 * {@link Command} out. Nothing here touches the process, the network or the terminal, so every
 * rule (defaults, environment fallbacks, URL derivation, colour) is a plain function to test.
 */
import { parseArgs } from 'node:util';
import { isValidAppId } from '../apps/tokens.js';
import { parseLevelAlias } from '../normalize/level.js';

/** Gateway URL when neither `--url` nor `SLUICE_URL` is given: `npm start`'s default port. */
export const DEFAULT_URL = 'http://localhost:9000';

/** Entries of history asked for when `-n` is not given (what `heroku logs` shows). */
export const DEFAULT_HISTORY = 100;

/** The environment variables the CLI reads; a plain record so tests pass their own. */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/** Everything `sluice tail` needs, resolved from flags and environment. */
export interface TailArgs {
  /** The app to follow. */
  app: string;
  /** Canonical level names (`WARN`, …); one = that level and above, several = exactly those. */
  levels?: string[];
  /** Exact `source` (`app`, `heroku`, an add-on). */
  source?: string;
  /** Dyno prefix (`web` matches `web.1`). */
  proc?: string;
  /** Case-insensitive substring of the message. */
  search?: string;
  /** JavaScript regular expression on the message (checked to compile before connecting). */
  regex?: string;
  /** Entries of history before live. */
  history: number;
  /** The `/ws` URL to connect to, without credentials or `?token=`. */
  wsUrl: string;
  /** The token, sent only as `Authorization: Bearer`; never printed. */
  token?: string;
  /** NDJSON output instead of text lines. */
  json: boolean;
  /** `--no-color` was given (see {@link colorEnabled} for the whole rule). */
  noColor: boolean;
  /** False with `--no-follow`: print history and exit at `live`. */
  follow: boolean;
}

/** What the command line asks for. */
export type Command =
  | { kind: 'tail'; args: TailArgs }
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'usage-error'; message: string };

/** Help for `sluice tail` (also printed by `sluice --help`). */
export const TAIL_USAGE = `Usage: sluice tail --app NAME [options]

Follow an app's logs on a Sluice gateway: the last N entries, then live ones as they arrive.

Options:
  -a, --app NAME            app to follow (required)
  -l, --level LEVEL[,...]   one level = that level and above (warn: WARN, ERROR, FATAL);
                            a list = exactly those (error,fatal); aliases like warning, crit work
  -s, --source SRC          only entries from this source (app, heroku, an add-on)
  -p, --proc DYNO           only this dyno; a prefix matches its instances (web: web.1, web.2)
      --search TEXT         only messages containing TEXT (case-insensitive)
      --regex RE            only messages matching the JavaScript regular expression RE
  -n, --num N               entries of history first (default ${DEFAULT_HISTORY}; 0 = live only)
      --url URL             gateway URL (default $SLUICE_URL, else ${DEFAULT_URL});
                            http(s)://HOST[/PREFIX] connects to ws(s)://HOST[/PREFIX]/ws,
                            a ws(s):// URL is used as it is
      --token TOKEN         read token of the app, or the admin token (default $SLUICE_TOKEN,
                            which is better: arguments are visible to other users in ps)
      --json                print each entry as one JSON object per line (NDJSON)
      --no-color            no colours (also when NO_COLOR is set, or stdout is not a
                            terminal unless FORCE_COLOR is set)
      --no-follow           print the history and exit
  -h, --help                show this help
  -V, --version             print the version

Lines look like Heroku's: TIMESTAMP SOURCE[PROC]: LEVEL MESSAGE
Gaps, reconnections and errors go to stderr. After a dropped connection the tail reconnects
(250 ms to 10 s apart) and resumes after the last entry printed, without repeating any.

Exit status: 0 stopped (Ctrl-C, or --no-follow done), 1 error (unknown app, gateway
unreachable with --no-follow), 2 usage error, 3 token refused.
`;

/** Top-level help: only one command so far, so it is the tail help behind a one-line index. */
export const MAIN_USAGE = `Usage: sluice <command> [options]

Commands:
  tail    follow an app's logs (sluice tail --help)

${TAIL_USAGE}`;

const TAIL_OPTIONS = {
  app: { type: 'string', short: 'a' },
  level: { type: 'string', short: 'l', multiple: true },
  source: { type: 'string', short: 's' },
  proc: { type: 'string', short: 'p' },
  search: { type: 'string' },
  regex: { type: 'string' },
  num: { type: 'string', short: 'n' },
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  // Declared by name rather than with parseArgs' allowNegative, so `--color` does not silently
  // become a flag nobody documented.
  'no-color': { type: 'boolean' },
  'no-follow': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

/**
 * Parses `sluice`'s arguments (without `node` and the script path).
 *
 * Never echoes option values in error messages: a mistyped command line often carries the
 * token, and terminals and CI logs keep what is printed.
 */
export function parseCommand(argv: readonly string[], env: CliEnv): Command {
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: 'usage-error', message: 'a command is required (sluice tail --app NAME)' };
  if (first === '-h' || first === '--help' || first === 'help') return { kind: 'help', text: MAIN_USAGE };
  if (first === '-V' || first === '--version') return { kind: 'version' };
  if (first !== 'tail') {
    // Only something shaped like a command name is repeated: the word may be a pasted token
    // (`sluice r.…`) or an option with its value (`sluice --token=…`).
    const shown = /^[a-z][a-z-]{0,19}$/.test(first) ? `"${first}"` : 'that command';
    return { kind: 'usage-error', message: `unknown command: ${shown} (the only command is tail)` };
  }
  return parseTail(rest, env);
}

/** Parses the arguments after `tail`. See {@link parseCommand}. */
export function parseTail(argv: readonly string[], env: CliEnv): Command {
  let values: ReturnType<typeof parseTailValues>['values'];
  let positionals: string[];
  try {
    ({ values, positionals } = parseTailValues(argv));
  } catch (err) {
    return { kind: 'usage-error', message: parseErrorMessage(err) };
  }
  if (values.help) return { kind: 'help', text: TAIL_USAGE };
  if (values.version) return { kind: 'version' };
  // A stray word is most often a value whose flag was forgotten (a token, say): not repeated.
  if (positionals.length > 0) return { kind: 'usage-error', message: 'unexpected argument: every value needs its option' };

  const app = values.app;
  if (app === undefined || app === '') return { kind: 'usage-error', message: '--app NAME is required' };
  if (!isValidAppId(app)) {
    return {
      kind: 'usage-error',
      message: '--app: an app id is 1-100 characters of a-z 0-9 . _ -, starting with a letter or digit',
    };
  }

  const levels = parseLevels(values.level ?? []);
  if (typeof levels === 'string') return { kind: 'usage-error', message: levels };

  let history = DEFAULT_HISTORY;
  if (values.num !== undefined) {
    // Digits only: Number('') is 0 and Number('1e3') is 1000, neither of which someone typed as N.
    if (!/^\d{1,7}$/.test(values.num)) return { kind: 'usage-error', message: '-n/--num: N must be a whole number ≥ 0' };
    history = Number(values.num);
  }

  if (values.regex !== undefined) {
    // Same engine as the gateway (JavaScript), so a pattern that fails here would fail there;
    // failing before connecting gives exit 2 and the engine's own explanation.
    try {
      new RegExp(values.regex);
    } catch (err) {
      return { kind: 'usage-error', message: `--regex: ${(err as Error).message}` };
    }
  }

  for (const name of ['source', 'proc', 'search'] as const) {
    if (values[name] === '') return { kind: 'usage-error', message: `--${name} must not be empty` };
  }

  const endpoint = resolveEndpoint(values.url ?? nonEmpty(env.SLUICE_URL) ?? DEFAULT_URL, values.token ?? nonEmpty(env.SLUICE_TOKEN));
  if (typeof endpoint === 'string') return { kind: 'usage-error', message: endpoint };

  const args: TailArgs = {
    app,
    history,
    wsUrl: endpoint.wsUrl,
    json: values.json === true,
    noColor: values['no-color'] === true,
    follow: values['no-follow'] !== true,
  };
  if (levels.length > 0) args.levels = levels;
  if (values.source !== undefined) args.source = values.source;
  if (values.proc !== undefined) args.proc = values.proc;
  if (values.search !== undefined) args.search = values.search;
  if (values.regex !== undefined) args.regex = values.regex;
  if (endpoint.token !== undefined) args.token = endpoint.token;
  return { kind: 'tail', args };
}

function parseTailValues(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: TAIL_OPTIONS, strict: true, allowPositionals: true });
}

/** parseArgs' messages name the option, never its value; only the long advice is cut. */
function parseErrorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cut = message.indexOf('. To specify');
  return (cut < 0 ? message : message.slice(0, cut)).split('\n')[0]!;
}

/**
 * `--level` values (repeatable, each comma-separated) → canonical names, or an error message.
 * Aliases are resolved here with the gateway's own table so a typo is a usage error before
 * connecting, and what is sent is unambiguous.
 */
export function parseLevels(raw: readonly string[]): string[] | string {
  const out: string[] = [];
  for (const part of raw.flatMap((r) => r.split(','))) {
    const name = part.trim();
    if (name === '') return '--level: empty level name';
    const level = parseLevelAlias(name);
    if (level === null) {
      // Repeated only when it looks like a misspelt level, not like a value pasted in the wrong place.
      const shown = /^[A-Za-z]{1,12}$/.test(name) ? ` "${name}"` : '';
      return `--level: unknown level${shown} (debug, info, warn, error, fatal or an alias)`;
    }
    if (!out.includes(level)) out.push(level);
  }
  return out;
}

/** Where to connect and with which token. */
export interface Endpoint {
  /** `ws://` or `wss://` URL of `/ws`, with no userinfo and no `?token=`. */
  wsUrl: string;
  token?: string;
}

/**
 * Derives the WebSocket URL from the gateway URL: `http` → `ws`, `https` → `wss`, `/ws` appended
 * to the path (so a gateway behind a path prefix works); a `ws(s)://` URL is taken as the socket
 * URL itself. A token found in the URL (`https://token:TOKEN@host`, as drain URLs are written,
 * or `?token=`) is moved out of it, to be sent as a header, unless a token was given explicitly:
 * a URL is printed in messages, a header never is.
 *
 * @returns the endpoint, or a usage error message (which never repeats the URL: it may hold a token)
 */
export function resolveEndpoint(urlText: string, explicitToken?: string): Endpoint | string {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return '--url / SLUICE_URL: not a valid URL (expected http(s)://HOST[:PORT])';
  }
  switch (url.protocol) {
    case 'http:':
      url.protocol = 'ws:';
      url.pathname = `${url.pathname.replace(/\/+$/, '')}/ws`;
      break;
    case 'https:':
      url.protocol = 'wss:';
      url.pathname = `${url.pathname.replace(/\/+$/, '')}/ws`;
      break;
    case 'ws:':
    case 'wss:':
      break;
    default:
      return '--url / SLUICE_URL: the scheme must be http, https, ws or wss';
  }
  const fromUrl =
    nonEmpty(url.searchParams.get('token') ?? undefined) ??
    nonEmpty(decodeUserinfo(url.password)) ??
    nonEmpty(decodeUserinfo(url.username));
  url.username = '';
  url.password = '';
  url.searchParams.delete('token');
  url.hash = '';
  const token = nonEmpty(explicitToken) ?? fromUrl;
  return token === undefined ? { wsUrl: url.href } : { wsUrl: url.href, token };
}

/**
 * Whether to write ANSI colours to a stream: never with `--no-color` or a non-empty `NO_COLOR`
 * (no-color.org); otherwise on a terminal, or anywhere when `FORCE_COLOR` is set (for `less -R`
 * and CI logs that render colour). `FORCE_COLOR=0`/`false` turns colour off even on a terminal,
 * as in Node's own tools.
 */
export function colorEnabled(noColorFlag: boolean, env: CliEnv, isTTY: boolean | undefined): boolean {
  if (noColorFlag) return false;
  if (nonEmpty(env.NO_COLOR) !== undefined) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  return isTTY === true;
}

/** Userinfo as typed: percent-decoded, or kept as it is when the escapes are malformed. */
function decodeUserinfo(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}
