/**
 * The `sluice tail` connection loop: connect to `/ws`, subscribe, print entries, and after a
 * dropped connection reconnect with backoff and resume after the last entry printed.
 *
 * Everything outside the process is injected (the URL and `ws` options, the output sinks, the
 * random source, an abort signal), so tests drive it against an in-test WebSocket server.
 * The wire protocol is the "Live tail" section of protocol/README.md.
 */
import type { IncomingMessage } from 'node:http';
import WebSocket, { type ClientOptions, type RawData } from 'ws';
import { formatEntry, formatError, formatJson, formatNotice, formatWarning, type PrintableEntry } from './format.js';

/** Exit statuses of the CLI. */
export const EXIT = {
  /** Stopped by the user (Ctrl-C) or `--no-follow` done. */
  ok: 0,
  /** The gateway refused the subscription for a reason other than the token, or gave up. */
  failure: 1,
  /** Bad command line (or a filter the gateway refused: the arguments were wrong). */
  usage: 2,
  /** The token was missing, unknown or may not read the app. */
  auth: 3,
} as const;

/** Close codes of the protocol. */
const CLOSE_AUTH_TIMEOUT = 4001;
const CLOSE_SLOW = 4008;
const CLOSE_GOING_AWAY = 1001;

/** What the subscription asks for (protocol `subscribe`, minus what the loop fills in). */
export interface Subscription {
  apps: string[];
  levels?: string[];
  source?: string;
  proc?: string;
  search?: string;
  regex?: string;
  /** Entries of history on the first connection; resumes use `since_id` instead. */
  history: number;
}

/**
 * Where text goes: `process.stdout`/`stderr` in the CLI, a collector in tests. `write` returning
 * false plus `once('drain')` is stream back-pressure, which the loop honours (see {@link runTail}).
 */
export interface Sink {
  write(chunk: string): boolean;
  once?(event: 'drain', listener: () => void): unknown;
}

/** Reconnection delays. */
export interface BackoffOptions {
  /** First delay (before jitter). */
  initialMs: number;
  /** Largest delay (before jitter). */
  maxMs: number;
}

/** The protocol-level defaults: 250 ms doubling to 10 s. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000 };

/**
 * Silence after which the connection is presumed dead: the gateway sends a heartbeat after 25 s
 * of silence (and WebSocket pings), so three missed heartbeats means a half-open TCP connection
 * (a laptop that slept, a NAT that forgot us), which would otherwise hang the tail forever.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 75_000;

/** Options of {@link runTail}. */
export interface TailOptions {
  /** `ws(s)://…/ws`, without credentials (it is shown in messages). */
  url: string;
  /** Read or admin token, sent as `Authorization: Bearer`. Never written to a sink. */
  token?: string;
  /** Extra `ws` client options (TLS settings, an agent, a handshake timeout, headers). */
  wsOptions?: ClientOptions;
  subscription: Subscription;
  /** False: print the history and return at `live`. */
  follow: boolean;
  /** NDJSON on `out` instead of text lines. */
  json: boolean;
  /** Colour on `out` (text mode only). */
  color: boolean;
  /** Colour on `err`. */
  errColor: boolean;
  /**
   * Print `-- live --` on `err` when history is done. The CLI turns it on only when stderr is a
   * terminal: it is for a person watching, not for a log file. Resumptions after a reconnection
   * are always announced, because the disconnection was.
   */
  announceLive: boolean;
  /** Stops the tail (Ctrl-C): the socket is closed and `runTail` resolves with 0. */
  signal?: AbortSignal;
  backoff?: BackoffOptions;
  /** See {@link DEFAULT_IDLE_TIMEOUT_MS}; 0 disables. */
  idleTimeoutMs?: number;
  /**
   * Consecutive failed connections (none reaching `live` or delivering an entry) before giving
   * up with exit 1. Default: forever when following (a tail should outlive a deploy), 5 with
   * `--no-follow` (a script must not hang on a gateway that is down).
   */
  maxAttempts?: number;
  /** Random source in [0, 1) for the jitter; injectable so tests are deterministic. */
  random?: () => number;
}

/** Output sinks of {@link runTail}. */
export interface TailIO {
  /** Entries. */
  out: Sink;
  /** Notices, warnings and errors. */
  err: Sink;
}

/**
 * Delay before reconnection attempt `attempt` (0-based): exponential from `initialMs`, capped at
 * `maxMs`, with "equal jitter" (a uniform draw in the upper half) so many tails cut off by the
 * same gateway restart do not all come back in the same millisecond, while none retries at once.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random, options = DEFAULT_BACKOFF): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (random() * base) / 2);
}

/**
 * Ids printed recently, to drop an entry delivered twice (the seam between history and live, or
 * a resume that starts one entry early). A bounded set rather than "id > last id": ULIDs sort by
 * the receiving process's clock, and with several gateway processes the append order of one app
 * need not be id order, so comparing ids could drop entries that were never printed.
 */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity = 10_000) {}

  /** True when `id` was already added; adds it otherwise (evicting the oldest past capacity). */
  seen(id: string): boolean {
    if (this.ids.has(id)) return true;
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
    return false;
  }
}

/** How one connection ended. */
type Outcome =
  | { kind: 'exit'; code: number }
  | {
      kind: 'retry';
      /** Shown to the user; never contains the token. */
      reason: string;
      /** 4008: the gateway asked for a resume; retry after the first backoff step. */
      resume: boolean;
    };

/** State carried across connections. */
interface LoopState {
  /** Id of the last entry printed: the `since_id` of the next resume. */
  lastId?: string;
  readonly recent: RecentIds;
  /** Failed connections in a row. */
  attempt: number;
  /** A `live` was received on some connection. */
  wentLive: boolean;
  /** The current connection follows a disconnection (its `live` is announced as a resume). */
  reconnecting: boolean;
  /** The current connection delivered an entry or reached `live`: the backoff starts over. */
  progressed: boolean;
  /** Malformed entries already reported (reported once, not per entry). */
  warnedMalformed: boolean;
}

/** Error codes of `error` messages that end the tail, with the exit status for each. */
const FATAL_ERRORS: Readonly<Record<string, number>> = {
  unauthorized: EXIT.auth,
  forbidden: EXIT.auth,
  unknown_app: EXIT.failure,
  invalid_regex: EXIT.usage,
  // The gateway ended the subscription (its regex took too long): nothing more comes on this socket.
  regex_budget_exceeded: EXIT.failure,
  invalid_level: EXIT.usage,
  invalid_message: EXIT.usage,
};

/**
 * Follows the subscription until the signal aborts (→ 0), `--no-follow` reaches `live` (→ 0),
 * the gateway refuses the token or the subscription (→ 3, 1 or 2), or `maxAttempts` connections
 * in a row fail (→ 1). Any other close or network error reconnects with {@link backoffDelay} and
 * resumes with `since_id` = the last entry printed, so nothing is printed twice and history is
 * not replayed; what the gateway could not deliver in between it reports as a `gap`, which is
 * printed on `err`.
 *
 * Back-pressure: when `out` reports a full buffer (a slow pipe, `less` scrolled back) the socket
 * is paused until `out` drains, so memory stays bounded; the gateway then sees a slow subscriber
 * and says so with a `gap` or a 4008 close, after which the tail resumes.
 */
export async function runTail(options: TailOptions, io: TailIO): Promise<number> {
  const state: LoopState = {
    recent: new RecentIds(),
    attempt: 0,
    wentLive: false,
    reconnecting: false,
    progressed: false,
    warnedMalformed: false,
  };
  const maxAttempts = options.maxAttempts ?? (options.follow ? Infinity : 5);
  const random = options.random ?? Math.random;
  const errOpts = { color: options.errColor };

  for (;;) {
    if (options.signal?.aborted) return EXIT.ok;
    state.progressed = false;
    const outcome = await connectOnce(options, io, state);
    if (outcome.kind === 'exit') return outcome.code;
    if (options.signal?.aborted) return EXIT.ok;

    state.attempt = state.progressed ? 0 : state.attempt + 1;
    if (state.attempt >= maxAttempts) {
      io.err.write(`${formatError(`${outcome.reason}; giving up after ${state.attempt} attempts`, errOpts)}\n`);
      return EXIT.failure;
    }
    const delay = backoffDelay(outcome.resume ? 0 : state.attempt, random, options.backoff ?? DEFAULT_BACKOFF);
    const next = outcome.resume ? 'resuming' : 'reconnecting';
    io.err.write(`${formatWarning(`${outcome.reason}; ${next} in ${formatSeconds(delay)}`, errOpts)}\n`);
    state.reconnecting = true;
    if (!(await sleep(delay, options.signal))) return EXIT.ok;
  }
}

/** One connection, from handshake to close. Never rejects. */
function connectOnce(options: TailOptions, io: TailIO, state: LoopState): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const errOpts = { color: options.errColor };
    const headers: Record<string, string> = { ...(options.wsOptions?.headers as Record<string, string> | undefined) };
    if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
    let ws: WebSocket;
    try {
      ws = new WebSocket(options.url, { handshakeTimeout: 10_000, ...options.wsOptions, headers });
    } catch (err) {
      // A URL ws refuses outright (args.ts validates first; this guards other callers).
      io.err.write(`${formatError(`cannot connect to ${displayUrl(options.url)}: ${(err as Error).message}`, errOpts)}\n`);
      resolve({ kind: 'exit', code: EXIT.failure });
      return;
    }

    let outcome: Outcome | undefined;
    let lastError: Error | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let paused = false;
    const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;

    /** Decides how this connection ends (first decision wins) and closes it; `close` resolves. */
    const finish = (o: Outcome): void => {
      if (outcome !== undefined) return;
      outcome = o;
      clearTimeout(idleTimer);
      if (ws.readyState === WebSocket.OPEN) {
        ws.close(1000);
        // A gateway that never answers the close frame would keep the process alive for ws's
        // 30 s close timeout; Ctrl-C should not wait for it.
        killTimer = setTimeout(() => ws.terminate(), 1000);
      } else if (ws.readyState === WebSocket.CONNECTING) {
        ws.terminate();
      }
    };

    const onAbort = (): void => finish({ kind: 'exit', code: EXIT.ok });
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const touch = (): void => {
      clearTimeout(idleTimer);
      if (idleMs > 0 && !paused && outcome === undefined) {
        idleTimer = setTimeout(() => {
          finish({ kind: 'retry', reason: `no message from the gateway for ${formatSeconds(idleMs)}`, resume: false });
        }, idleMs);
      }
    };

    const write = (chunk: string): void => {
      if (io.out.write(chunk) || paused || io.out.once === undefined) return;
      // Stop reading instead of queueing in memory; the idle watchdog is off meanwhile because
      // the silence is ours, not the gateway's.
      paused = true;
      clearTimeout(idleTimer);
      ws.pause();
      io.out.once('drain', () => {
        paused = false;
        ws.resume();
        touch();
      });
    };

    const deliver = (list: readonly unknown[]): void => {
      let chunk = '';
      for (const item of list) {
        if (!isPrintable(item)) {
          if (!state.warnedMalformed) {
            state.warnedMalformed = true;
            io.err.write(`${formatWarning('skipped an entry without id, timestamp, level or message', errOpts)}\n`);
          }
          continue;
        }
        if (state.recent.seen(item.id)) continue;
        state.lastId = item.id;
        state.progressed = true;
        chunk += `${options.json ? formatJson(item) : formatEntry(item, { color: options.color })}\n`;
      }
      // One write per frame: a history batch is one syscall, not hundreds.
      if (chunk !== '') write(chunk);
    };

    const onMessage = (msg: Record<string, unknown>): void => {
      switch (msg.type) {
        case 'log':
          deliver([msg.data]);
          break;
        case 'logs':
          if (Array.isArray(msg.data)) deliver(msg.data);
          break;
        case 'live':
          state.progressed = true;
          if (!options.follow) {
            finish({ kind: 'exit', code: EXIT.ok });
            break;
          }
          if (state.reconnecting) io.err.write(`${formatNotice('resumed', errOpts)}\n`);
          else if (!state.wentLive && options.announceLive) io.err.write(`${formatNotice('live', errOpts)}\n`);
          state.wentLive = true;
          state.reconnecting = false;
          break;
        case 'gap':
          io.err.write(`${gapLine(msg, errOpts)}\n`);
          break;
        case 'error': {
          const code = typeof msg.error === 'string' ? msg.error : 'error';
          const text = typeof msg.message === 'string' && msg.message !== '' ? `${code}: ${msg.message}` : code;
          const hint = code === 'unauthorized' && options.token === undefined ? ' (set SLUICE_TOKEN or pass --token)' : '';
          io.err.write(`${formatError(`${text}${hint}`, errOpts)}\n`);
          const exit = FATAL_ERRORS[code];
          // Unknown codes come from a newer gateway; the connection stays open, so keep tailing.
          if (exit !== undefined) finish({ kind: 'exit', code: exit });
          break;
        }
        default:
        // connected, heartbeat, pong, stats and future types: nothing to print.
      }
    };

    ws.on('open', () => {
      touch();
      ws.send(JSON.stringify(subscribeMessage(options.subscription, state.lastId)));
    });

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (outcome !== undefined) return; // decided (e.g. --no-follow at live): ignore the rest
      touch();
      if (isBinary) return; // the protocol is text frames only
      let msg: unknown;
      try {
        msg = JSON.parse(rawText(data));
      } catch {
        return; // a frame we cannot read carries nothing we could print
      }
      if (msg !== null && typeof msg === 'object' && !Array.isArray(msg)) onMessage(msg as Record<string, unknown>);
    });

    ws.on('ping', touch);

    ws.on('unexpected-response', (req, res) => {
      // The gateway refused the upgrade with an HTTP answer: its JSON error says why.
      void readErrorBody(res).then((body) => {
        const status = res.statusCode ?? 0;
        const detail = body ? `${body.error}${body.message ? `: ${body.message}` : ''}` : `HTTP ${status}`;
        if (status === 401 || status === 403) {
          const hint = status === 401 && options.token === undefined ? ' (set SLUICE_TOKEN or pass --token)' : '';
          io.err.write(`${formatError(`${detail}${hint}`, errOpts)}\n`);
          finish({ kind: 'exit', code: EXIT.auth });
        } else if (status === 404 && body?.error === 'app_not_found') {
          io.err.write(`${formatError(detail, errOpts)}\n`);
          finish({ kind: 'exit', code: EXIT.failure });
        } else if (status === 404) {
          io.err.write(`${formatError(`no live tail at ${displayUrl(options.url)} (${detail})`, errOpts)}\n`);
          finish({ kind: 'exit', code: EXIT.failure });
        } else {
          // 502/503 from a proxy during a deploy, 429, …: worth retrying.
          finish({ kind: 'retry', reason: `the gateway answered ${detail}`, resume: false });
        }
        req.destroy();
      });
    });

    // Always listened to: ws emits 'error' before 'close', and an unheard 'error' would crash.
    ws.on('error', (err: Error) => {
      lastError = err;
    });

    ws.on('close', (code: number, reason: Buffer) => {
      clearTimeout(idleTimer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (outcome === undefined) outcome = closeOutcome(code, reason.toString(), lastError, options, io);
      resolve(outcome);
    });
  });
}

/** How an undecided close ends the connection. */
function closeOutcome(code: number, reason: string, error: Error | undefined, options: TailOptions, io: TailIO): Outcome {
  const shownReason = reason === '' ? '' : ` ${JSON.stringify(reason.slice(0, 100))}`;
  if (code === CLOSE_AUTH_TIMEOUT) {
    const hint = options.token === undefined ? ': set SLUICE_TOKEN or pass --token' : '';
    io.err.write(`${formatError(`the gateway closed the connection: no valid token (4001)${hint}`, { color: options.errColor })}\n`);
    return { kind: 'exit', code: EXIT.auth };
  }
  if (code === CLOSE_SLOW) {
    return { kind: 'retry', reason: 'the gateway closed this tail as too slow (4008)', resume: true };
  }
  if (code === CLOSE_GOING_AWAY) return { kind: 'retry', reason: 'the gateway is restarting (1001)', resume: false };
  if (error !== undefined && code === 1006) {
    return { kind: 'retry', reason: `cannot reach ${displayUrl(options.url)}: ${errorText(error)}`, resume: false };
  }
  return { kind: 'retry', reason: `connection closed (${code}${shownReason})`, resume: false };
}

/**
 * The `subscribe` message: history on a first connection, `since_id` on a resume (and then no
 * history, which would repeat entries already printed). Always batched: history arrives as a few
 * frames instead of one per entry.
 */
export function subscribeMessage(sub: Subscription, sinceId?: string): Record<string, unknown> {
  const msg: Record<string, unknown> = { type: 'subscribe', apps: sub.apps };
  if (sub.levels !== undefined && sub.levels.length > 0) msg.levels = sub.levels;
  if (sub.source !== undefined) msg.source = sub.source;
  if (sub.proc !== undefined) msg.proc = sub.proc;
  if (sub.search !== undefined) msg.search = sub.search;
  if (sub.regex !== undefined) msg.regex = sub.regex;
  if (sinceId !== undefined) msg.since_id = sinceId;
  else msg.history = sub.history;
  msg.batch = true;
  return msg;
}

/** The stderr line for a `gap` message. */
export function gapLine(msg: Record<string, unknown>, options: { color: boolean }): string {
  const count = typeof msg.count === 'number' ? msg.count : undefined;
  const what = count === undefined ? 'an unknown number of entries' : `${count} ${count === 1 ? 'entry' : 'entries'}`;
  if (msg.recovered === true) return formatNotice(`gap: ${what} delayed; they follow`, options);
  const after = typeof msg.since_id === 'string' ? ` after ${msg.since_id}` : '';
  return formatWarning(`gap: ${what} not delivered${after}`, options);
}

/** The URL as shown to the user: scheme, host and path only. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'the gateway';
  }
}

function isPrintable(item: unknown): item is PrintableEntry & { id: string } {
  if (item === null || typeof item !== 'object') return false;
  const e = item as Record<string, unknown>;
  return (
    typeof e.id === 'string' &&
    e.id !== '' &&
    typeof e.timestamp === 'string' &&
    typeof e.level === 'string' &&
    typeof e.message === 'string' &&
    (e.source === undefined || typeof e.source === 'string') &&
    (e.proc === undefined || typeof e.proc === 'string') &&
    (e.stack_trace === undefined || typeof e.stack_trace === 'string')
  );
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/** `{ error, message }` from a refused upgrade, or null; reads at most 8 KiB for at most 2 s. */
function readErrorBody(res: IncomingMessage): Promise<{ error: string; message?: string } | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      res.removeAllListeners('data');
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        if (body !== null && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string') {
          const { error, message } = body as { error: string; message?: unknown };
          resolve(typeof message === 'string' ? { error, message } : { error });
          return;
        }
      } catch {
        // not JSON (a proxy's HTML page): the status is all we have
      }
      resolve(null);
    };
    const timer = setTimeout(done, 2000);
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= 8192) chunks.push(chunk);
      else done();
    });
    res.once('end', done);
    res.once('error', done);
  });
}

/** An error as shown: the code or message, never an object dump (which could hold headers). */
function errorText(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined ? code : err.message;
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

/** Waits `ms`; false when the signal aborted first. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
