/**
 * The command line of `sluice`, parsed without side effects: argv and the environment in, a
 * {@link Command} out. Nothing here touches the process, the network or the terminal, so every
 * rule (defaults, environment fallbacks, URL derivation, colour) is a plain function to test.
 */
import { parseArgs } from 'node:util';
import { INGEST_TOKEN_PATTERN, isValidAppId, READ_TOKEN_PATTERN } from '../apps/tokens.js';
import type { Level } from '../normalize/entry.js';
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

/**
 * Longest line `sluice send` keeps when `--max-line-bytes` is not given: the gateway's own file
 * input default (`FILE_MAX_LINE_BYTES`), so `sluice send -f` and a `file_watchers` entry cut a
 * line at the same place. What the gateway stores of a message is its own `MAX_MESSAGE_BYTES`.
 */
export const DEFAULT_MAX_LINE_BYTES = 256 * 1024;

/** How long `sluice send` keeps trying to deliver at the end when `--timeout` is not given. */
export const DEFAULT_SEND_TIMEOUT_MS = 10_000;

/** Everything `sluice send` needs, resolved from flags and environment. */
export interface SendArgs {
  /** The app; absent when an ingest token names it (the gateway writes the token's app). */
  app?: string;
  /** The gateway's base URL (`http(s)://HOST[/PREFIX]`), without credentials or `?token=`. */
  url: string;
  /** The ingest (or admin) token, sent only as `Authorization: Bearer`; never printed. */
  token: string;
  /** Follow this file (as `tail -F`); absent (or `-`) = read stdin to its end. */
  file?: string;
  /** Level of lines that do not carry their own (plain text, JSON without `level`). */
  level: Level;
  /** `source` of entries that do not carry their own. */
  source?: string;
  /** `-f`: read the file's existing content first instead of starting at its end. */
  fromStart: boolean;
  /** How long to keep trying to deliver what is buffered once input ends (or on Ctrl-C). */
  timeoutMs: number;
  /** Longest line kept; the rest up to its newline is cut (the entry is tagged `truncated`). */
  maxLineBytes: number;
  /** How batches travel: `POST /api/logs` requests, or one acked WebSocket to `GET /logs`. */
  transport: SendTransport;
}

/** The transports of `@sluice/client` that `sluice send` offers. */
export type SendTransport = 'http' | 'websocket';

/** Which command's help a usage error points to. */
export type HelpTopic = 'tail' | 'send' | 'main';

/** What the command line asks for. */
export type Command =
  | { kind: 'tail'; args: TailArgs }
  | { kind: 'send'; args: SendArgs }
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'usage-error'; message: string; topic?: HelpTopic };

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

/** Help for `sluice send`. */
export const SEND_USAGE = `Usage: sluice send [--app NAME] [options]          (lines on stdin)
       sluice send -f FILE [--app NAME] [options]  (follow a file, as tail -F)

Send lines to a Sluice gateway as log entries, through @sluice/client: one entry per line.
A line that is a JSON object is sent as the entry it describes (level, message or msg,
timestamp or time, context, tags, ...; pino and bunyan numeric levels work); any other line
is the message of an entry at --level. Empty lines are skipped.

Options:
  -a, --app NAME            app to write (default $SLUICE_SERVICE); may be left out with
                            an ingest token, which names its app
      --token TOKEN         the app's ingest token (default $SLUICE_TOKEN, which is better:
                            arguments are visible to other users in ps)
      --url URL             gateway URL (default $SLUICE_URL, else ${DEFAULT_URL})
      --transport T         http: a POST /api/logs request per batch; websocket: one
                            connection to GET /logs, each batch acknowledged (default
                            $SLUICE_TRANSPORT, else http)
  -f, --file FILE           follow FILE instead of reading stdin: new lines as they are
                            written, across rotation (rename + new file) and truncation,
                            until Ctrl-C or SIGTERM
      --from-start          with -f: send what FILE already holds first (default: start at
                            its end, so a restart does not send the file again; a file
                            that appears later is read from its start)
  -l, --level LEVEL         level of lines that do not carry one (default info; aliases
                            like warning, crit work)
  -s, --source SRC          source of entries that do not carry one
      --timeout DURATION    how long to keep trying to deliver once input ends or on Ctrl-C
                            (default ${DEFAULT_SEND_TIMEOUT_MS / 1000}s; 500ms, 30s, 2m)
      --max-line-bytes N    longest line kept (default ${DEFAULT_MAX_LINE_BYTES / 1024}k; 64k, 1m); the rest of a
                            longer line is cut and its entry tagged truncated
  -h, --help                show this help

Reading pauses while the gateway cannot keep up or is unreachable: lines wait, nothing is
dropped. A line's own app_id is not used: every line goes to the one app.

Exit status: 0 every line delivered, 1 some lines not delivered (how many is said on
stderr), 2 usage error, 3 token refused.
`;

/** Top-level help: the commands, each with its own --help. */
export const MAIN_USAGE = `Usage: sluice <command> [options]

Commands:
  tail    follow an app's logs (sluice tail --help)
  send    send lines from stdin or a file as log entries (sluice send --help)

Options:
  -h, --help      show this help
  -V, --version   print the version

Environment: SLUICE_URL (gateway URL, default ${DEFAULT_URL}), SLUICE_TOKEN (the token),
SLUICE_SERVICE (the app sluice send writes).
`;

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
  if (first === undefined) return { kind: 'usage-error', message: 'a command is required (tail or send)', topic: 'main' };
  if (first === '-h' || first === '--help' || first === 'help') return { kind: 'help', text: MAIN_USAGE };
  if (first === '-V' || first === '--version') return { kind: 'version' };
  if (first === 'tail') return withTopic(parseTail(rest, env), 'tail');
  if (first === 'send') return withTopic(parseSend(rest, env), 'send');
  // Only something shaped like a command name is repeated: the word may be a pasted token
  // (`sluice r.…`) or an option with its value (`sluice --token=…`).
  const shown = /^[a-z][a-z-]{0,19}$/.test(first) ? `"${first}"` : 'that command';
  return { kind: 'usage-error', message: `unknown command: ${shown} (the commands are tail and send)`, topic: 'main' };
}

function withTopic(c: Command, topic: HelpTopic): Command {
  return c.kind === 'usage-error' && c.topic === undefined ? { ...c, topic } : c;
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

const SEND_OPTIONS = {
  app: { type: 'string', short: 'a' },
  token: { type: 'string' },
  url: { type: 'string' },
  file: { type: 'string', short: 'f' },
  'from-start': { type: 'boolean' },
  level: { type: 'string', short: 'l' },
  source: { type: 'string', short: 's' },
  timeout: { type: 'string' },
  'max-line-bytes': { type: 'string' },
  transport: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

/** Bounds of `--max-line-bytes`: the gateway's own for `FILE_MAX_LINE_BYTES`. */
const MIN_LINE_BYTES = 256;
const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * Parses the arguments after `send`. See {@link parseCommand}.
 *
 * The gateway always wants a token on `POST /api/logs`, and with an ingest token it writes the
 * token's own app to entries that name none, so `--app` is optional exactly when the token is an
 * ingest token (`t.…`); the admin token needs it (the gateway refuses entries without `app_id`),
 * and a read token cannot write: both are told before anything is read.
 */
export function parseSend(argv: readonly string[], env: CliEnv): Command {
  let values: ReturnType<typeof parseSendValues>['values'];
  let positionals: string[];
  try {
    ({ values, positionals } = parseSendValues(argv));
  } catch (err) {
    return { kind: 'usage-error', message: parseErrorMessage(err) };
  }
  if (values.help) return { kind: 'help', text: SEND_USAGE };
  if (values.version) return { kind: 'version' };
  if (positionals.length > 0) {
    return { kind: 'usage-error', message: 'unexpected argument: every value needs its option (a file is given with -f FILE)' };
  }

  const transportName = values.transport ?? nonEmpty(env.SLUICE_TRANSPORT) ?? 'http';
  const transport: SendTransport | undefined =
    transportName === 'http' ? 'http' : transportName === 'websocket' || transportName === 'ws' ? 'websocket' : undefined;
  if (transport === undefined) return { kind: 'usage-error', message: '--transport / SLUICE_TRANSPORT: http or websocket' };

  const endpoint = resolveHttpEndpoint(
    values.url ?? nonEmpty(env.SLUICE_URL) ?? DEFAULT_URL,
    values.token ?? nonEmpty(env.SLUICE_TOKEN),
    transport === 'websocket',
  );
  if (typeof endpoint === 'string') return { kind: 'usage-error', message: endpoint };
  const token = endpoint.token;
  if (token === undefined) return { kind: 'usage-error', message: "a token is required: the app's ingest token in SLUICE_TOKEN (or --token)" };
  if (READ_TOKEN_PATTERN.test(token)) return { kind: 'usage-error', message: "that is a read token: sending needs the app's ingest token" };

  const app = values.app ?? nonEmpty(env.SLUICE_SERVICE);
  if (app === '') return { kind: 'usage-error', message: '--app must not be empty' };
  if (app === undefined && !INGEST_TOKEN_PATTERN.test(token)) {
    return { kind: 'usage-error', message: '--app NAME (or SLUICE_SERVICE) is required: only an ingest token names its app' };
  }
  if (app !== undefined && !isValidAppId(app)) {
    return {
      kind: 'usage-error',
      message: '--app: an app id is 1-100 characters of a-z 0-9 . _ -, starting with a letter or digit',
    };
  }

  let level: Level = 'INFO';
  if (values.level !== undefined) {
    const levels = parseLevels([values.level]);
    if (typeof levels === 'string') return { kind: 'usage-error', message: levels };
    if (levels.length !== 1) return { kind: 'usage-error', message: '--level: one level (the level of lines that carry none)' };
    level = levels[0] as Level;
  }

  let timeoutMs = DEFAULT_SEND_TIMEOUT_MS;
  if (values.timeout !== undefined) {
    const ms = parseDuration(values.timeout);
    if (ms === null) return { kind: 'usage-error', message: '--timeout: a duration such as 10, 10s, 500ms or 2m (at most 24h)' };
    timeoutMs = ms;
  }

  let maxLineBytes = DEFAULT_MAX_LINE_BYTES;
  if (values['max-line-bytes'] !== undefined) {
    const n = parseByteSize(values['max-line-bytes']);
    if (n === null || n < MIN_LINE_BYTES || n > MAX_LINE_BYTES) {
      return { kind: 'usage-error', message: `--max-line-bytes: a size from ${MIN_LINE_BYTES} to 64m (bytes; k and m suffixes)` };
    }
    maxLineBytes = n;
  }

  if (values.file === '') return { kind: 'usage-error', message: '-f/--file must not be empty' };
  const file = values.file === '-' ? undefined : values.file;
  if (values['from-start'] && file === undefined) return { kind: 'usage-error', message: '--from-start goes with -f FILE' };
  if (values.source === '') return { kind: 'usage-error', message: '--source must not be empty' };

  const args: SendArgs = {
    url: endpoint.url,
    token,
    level,
    fromStart: values['from-start'] === true,
    timeoutMs,
    maxLineBytes,
    transport,
  };
  if (app !== undefined) args.app = app;
  if (file !== undefined) args.file = file;
  if (values.source !== undefined) args.source = values.source;
  return { kind: 'send', args };
}

function parseSendValues(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: SEND_OPTIONS, strict: true, allowPositionals: true });
}

/**
 * `10`, `10s`, `1.5s`, `500ms`, `2m` → milliseconds (a bare number is seconds), or null. Zero is
 * allowed: give up at once on what is not delivered by the end.
 */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,9}(?:\.\d{1,3})?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return null;
  const unit = m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : m[2] === 'h' ? 3_600_000 : 1000;
  const ms = Math.round(Number(m[1]) * unit);
  return ms <= 86_400_000 ? ms : null;
}

/** `65536`, `64k`, `1m` (binary: k = 1024) → bytes, or null. */
export function parseByteSize(text: string): number | null {
  const m = /^(\d{1,9})([kKmM]?)$/.exec(text.trim());
  if (!m) return null;
  const unit = m[2] === '' ? 1 : m[2] === 'k' || m[2] === 'K' ? 1024 : 1024 * 1024;
  return Number(m[1]) * unit;
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

/** Where `sluice send` posts and with which token. */
export interface HttpEndpoint {
  /** `http(s)://HOST[:PORT][/PREFIX]` (or a `ws(s)://` socket URL), with no userinfo and no `?token=`. */
  url: string;
  token?: string;
}

/**
 * The gateway URL `sluice send` sends to (the client appends `/api/logs`, or `/logs` for the
 * WebSocket, to its path: a path prefix is kept), with a token found in it moved out as
 * {@link resolveEndpoint} does. http and https; with `allowWs` (the WebSocket transport) also a
 * `ws(s)://` URL, which that transport uses as it is.
 *
 * @returns the endpoint, or a usage error message (which never repeats the URL)
 */
export function resolveHttpEndpoint(urlText: string, explicitToken?: string, allowWs = false): HttpEndpoint | string {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return '--url / SLUICE_URL: not a valid URL (expected http(s)://HOST[:PORT])';
  }
  const ws = url.protocol === 'ws:' || url.protocol === 'wss:';
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && !(ws && allowWs)) {
    return `--url / SLUICE_URL: the scheme must be http or https${allowWs ? ' (or ws, wss)' : ''}`;
  }
  const fromUrl = takeUrlToken(url);
  // The client appends `/api/logs` to the URL's text: a query would end up before it.
  if (url.search !== '') return '--url / SLUICE_URL: sluice send takes no query string (only ?token=)';
  const href = url.href.replace(/\/+$/, '');
  const token = nonEmpty(explicitToken) ?? fromUrl;
  return token === undefined ? { url: href } : { url: href, token };
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
  const fromUrl = takeUrlToken(url);
  const token = nonEmpty(explicitToken) ?? fromUrl;
  return token === undefined ? { wsUrl: url.href } : { wsUrl: url.href, token };
}

/** Removes the credentials (userinfo, `?token=`) and fragment from `url`; returns the token found. */
function takeUrlToken(url: URL): string | undefined {
  const fromUrl =
    nonEmpty(url.searchParams.get('token') ?? undefined) ??
    nonEmpty(decodeUserinfo(url.password)) ??
    nonEmpty(decodeUserinfo(url.username));
  url.username = '';
  url.password = '';
  url.searchParams.delete('token');
  url.hash = '';
  return fromUrl;
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
