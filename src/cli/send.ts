/**
 * `sluice send`: lines from stdin, or from a file followed as `tail -F` does, sent to the gateway
 * as log entries through `@sluice/client` (one entry per line).
 *
 * - Lines are cut from chunks by the gateway's own {@link LineSplitter} (no per-line readline
 *   machinery): `\n` or `\r\n` ends a line, a last line without newline still counts, a line over
 *   `maxLineBytes` keeps its first bytes (entry tagged `truncated`) and memory stays bounded.
 * - `-f FILE` follows the file with the gateway's own {@link FileTailer} (rotation by rename,
 *   copytruncate, a file that appears later), given a decoder so that its lines become the same
 *   items as stdin's; `fs.watch` plus a poll wake it, as the gateway's file watchers do.
 * - A line that is a JSON object becomes the entry it describes ({@link jsonLineToItem}); any
 *   other line is the message of an entry at `--level`.
 * - Back-pressure: reading pauses while the logger holds {@link BACKLOG} lines or bytes, and
 *   resumes when it has sent half of them. A CLI can wait for a slow or absent gateway; dropping
 *   is what an app's logger must do, not a pipe's reader.
 * - At the end (EOF, or SIGINT/SIGTERM) the logger is stopped: it keeps trying to deliver for
 *   `timeoutMs`. The exit status says whether every line arrived.
 */
import { stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import pino from 'pino';
import { createTransport, DistributedLogger, timestampMicros, toLevel, VERSION, type SendResult, type Transport } from '@sluice/client';
import type { SendArgs } from './args.js';
import { sanitize } from './format.js';
import { EXIT, type Sink } from './tail.js';
import { parseTimestampString } from '../decode/timestamp.js';
import { LineSplitter, type FileLine } from '../ingest/files/lines.js';
import type { OffsetStore } from '../ingest/files/offsets.js';
import { FileTailer, type TailerLimits } from '../ingest/files/tailer.js';
import type { Level } from '../normalize/entry.js';
import { jsonToEntry } from '../normalize/from-json.js';
import { levelFromValue } from '../normalize/level.js';

/** One entry as `POST /api/logs` takes it, handed to `DistributedLogger.logEntry`. */
export type SendItem = Record<string, unknown>;

/** Entries per request: large batches for throughput; {@link MAX_REQUEST_BYTES} bounds their size. */
export const BATCH_SIZE = 500;

/**
 * Largest JSON body of one request (before gzip). A batch over it goes as several requests, so
 * a run of long lines never meets the gateway's `MAX_BODY_BYTES` (8 MiB by default) as a 413.
 */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** The same for one WebSocket message: half the gateway's `WS_INGEST_MAX_MESSAGE_BYTES` (1 MiB by default). */
export const MAX_WS_MESSAGE_BYTES = 512 * 1024;

/** A line waits at most this long for others to share its request. */
export const FLUSH_INTERVAL_MS = 500;

/**
 * When reading pauses (`high*`) and resumes (`low*`), by lines and by bytes held in the logger.
 * The logger's own bounds (see {@link runSend}) are well above, so it never has to drop.
 */
export const BACKLOG = { highLines: 5_000, lowLines: 2_500, highBytes: 16 * 1024 * 1024, lowBytes: 8 * 1024 * 1024 } as const;

/** How often a followed file is looked at besides `fs.watch` events (which may not come: NFS). */
export const POLL_INTERVAL_MS = 1_000;

/** Bytes read from a followed file per read call, and lines handed to the logger per step. */
const READ_CHUNK_BYTES = 64 * 1024;
const LINES_PER_STEP = 500;

/** Bytes an entry costs besides its line (timestamp, level, request_id, JSON punctuation). */
const ENTRY_OVERHEAD_BYTES = 160;

/** Largest epoch ms the gateway takes (9999-12-31T23:59:59.999Z). */
const MAX_EPOCH_MS = 253402300799999;

/**
 * Below this a numeric time is taken as epoch seconds (Python's `time.time()`, zap's `ts`):
 * 10^11 ms is March 1973, 10^11 s the year 5138.
 */
const SECONDS_BELOW = 1e11;

/** Where a JSON line's time may be, in order of preference. */
const TIME_KEYS = ['timestamp', 'time', 'ts', '@timestamp'] as const;

// ---------------------------------------------------------------------------------------------
// Lines → items
// ---------------------------------------------------------------------------------------------

/**
 * One JSON line → the entry to send, or undefined when the line is not a JSON object the gateway
 * would take (the caller then sends the line as text, as the gateway's file input does).
 *
 * - message: `message`, else `msg` (pino, bunyan); a non-string one is sent as its JSON text; a
 *   line with neither has itself as the message (its fields still become context).
 * - level: the gateway's names and numbers (pino/bunyan 10–60, syslog 0–7) pass; what else
 *   the client knows is mapped by it (`silly`, `http`; a custom pino number to the nearest
 *   level); an unknown one is kept as `original_level` and the entry gets `defaultLevel`, as
 *   does a line without level.
 * - time: `timestamp`, else `time` (pino, bunyan), `ts` (zap), `@timestamp` (Logstash): ISO 8601
 *   or epoch milliseconds, or epoch seconds below 10^11. An unreadable `timestamp` is kept as
 *   `original_timestamp`; without a usable time the entry gets the time the line was read.
 * - app: the line's `app_id` is not its target: every line goes to the app `sluice send` writes
 *   (the gateway's file input does the same). With `app_key` (the PHP-style shorthand), `app_id`
 *   is the environment and is kept as `environment`.
 * - Everything else is checked with the gateway's own rules (`jsonToEntry`), so that no line of
 *   a batch is refused on arrival.
 *
 * @example jsonLineToItem('{"level":30,"time":1700000000000,"msg":"hi"}', 'INFO')
 * // { level: 30, timestamp: 1700000000000, message: 'hi' }
 */
export function jsonLineToItem(text: string, defaultLevel: Level): SendItem | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  // Freshly parsed: ours to change in place. Fields are removed by setting them undefined, which
  // JSON.stringify leaves out: `delete` would turn the object into a slow dictionary.
  const item = parsed as SendItem;

  if (item.app_key != null && item.environment == null && typeof item.app_id === 'string') item.environment = item.app_id;
  if (item.app_key !== undefined) item.app_key = undefined;
  if (item.app_id !== undefined) item.app_id = undefined;

  if (typeof item.message !== 'string') {
    const alt = item.message ?? item.msg;
    item.message = typeof alt === 'string' ? alt : alt != null ? jsonText(alt) : text;
  }
  if (item.msg !== undefined) item.msg = undefined;

  const lv = item.level;
  if (lv == null) item.level = defaultLevel;
  else if (levelFromValue(lv) === null) {
    const known = toLevel(lv);
    if (known !== undefined) item.level = known;
    else {
      item.original_level = lv;
      item.level = defaultLevel;
    }
  }

  let time: string | number | null = null;
  for (const key of TIME_KEYS) {
    const v = item[key];
    if (v == null) continue;
    time = timeValue(v);
    if (time === null) continue;
    if (key !== 'timestamp') item[key] = undefined;
    break;
  }
  if (time === null && item.timestamp != null) item.original_timestamp = item.timestamp;
  // Stamped now when the line has no usable time: the moment it was read, not the moment a
  // paused or retried batch finally reaches the gateway.
  item.timestamp = time ?? timestampMicros();

  // null is "absent" to the gateway, but would keep --source and the request_id context out.
  for (const key of ['source', 'context', 'tags'] as const) if (item[key] === null) item[key] = undefined;

  return jsonToEntry(item, VERDICT_DEFAULTS).ok ? item : undefined;
}

/** What `jsonToEntry` needs to give its verdict (its entry itself is not used). */
const VERDICT_DEFAULTS = { appId: 'sluice-send', receivedAt: '1970-01-01T00:00:00.000000Z' };

/** A usable time as the gateway reads it (ISO string, or epoch ms), or null. */
function timeValue(v: unknown): string | number | null {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return null;
    const ms = Math.abs(v) < SECONDS_BELOW ? v * 1000 : v;
    return ms >= 0 && ms <= MAX_EPOCH_MS ? ms : null;
  }
  if (typeof v === 'string') return parseTimestampString(v, { allowMissingOffset: true }) !== null ? v : null;
  return null;
}

function jsonText(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Lines → items, counting what it made. One per run; see {@link jsonLineToItem} for JSON lines. */
export class LineMapper {
  /** Non-empty lines read. */
  lines = 0;
  /** Lines that started with `{` but were not an entry the gateway would take: sent as text. */
  jsonAsText = 0;

  constructor(private readonly defaultLevel: Level) {}

  /** One line (without its newline) → its item, or null for a blank line (nothing to send). */
  map(bytes: Buffer, truncated: boolean): SendItem | null {
    const first = firstNonBlank(bytes);
    if (first < 0) return null;
    this.lines++;
    const text = bytes.toString('utf8');
    // A cut JSON line cannot parse: it is sent as the text it is.
    if (bytes[first] === 0x7b && !truncated) {
      const item = jsonLineToItem(text, this.defaultLevel);
      if (item !== undefined) return item;
      this.jsonAsText++;
    }
    const item: SendItem = { level: this.defaultLevel, message: text };
    if (truncated) item.tags = ['truncated'];
    return item;
  }
}

/** Index of the first byte that is not a space, tab or CR, or -1 for a blank line. */
function firstNonBlank(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return i;
  }
  return -1;
}

/** Splits a stream's chunks into lines (see {@link LineSplitter}); offsets are positions in the stream. */
export class StreamLines {
  private readonly splitter: LineSplitter;
  private pos = 0;
  private readonly out: FileLine[] = [];

  constructor(maxLineBytes: number) {
    this.splitter = new LineSplitter(maxLineBytes);
  }

  /** The complete lines of `chunk` (with what earlier chunks left); the array is reused. */
  push(chunk: Buffer): FileLine[] {
    this.out.length = 0;
    this.splitter.push(chunk, this.pos, this.out);
    this.pos += chunk.length;
    return this.out;
  }

  /** The last line when the stream ended without a newline, or null. */
  end(): FileLine | null {
    return this.splitter.takePartial(this.pos);
  }
}

// ---------------------------------------------------------------------------------------------
// The transport, watched
// ---------------------------------------------------------------------------------------------

/** Splits serialized entries into runs whose request body stays under `maxBytes` (one entry at least). */
export function splitBySize(entries: string[], maxBytes: number): string[][] {
  // Cheap when it obviously fits: a UTF-16 unit is at most 3 UTF-8 bytes.
  let chars = 0;
  for (const e of entries) chars += e.length + 1;
  if (chars * 3 + 64 <= maxBytes) return [entries];
  const parts: string[][] = [];
  let part: string[] = [];
  let bytes = 64; // {"batch_id":"…","logs":[…]}
  for (const e of entries) {
    const n = Buffer.byteLength(e) + 1;
    if (part.length > 0 && bytes + n > maxBytes) {
      parts.push(part);
      part = [];
      bytes = 64;
    }
    part.push(e);
    bytes += n;
  }
  parts.push(part);
  return parts;
}

/** What {@link WatchedTransport} tells its owner. */
export interface TransportWatch {
  /** A send failed in a way worth retrying (the logger retries); `error` says why. */
  failing?(error: string): void;
  /** A send succeeded after failures. */
  recovered?(): void;
  /** The gateway refused the token or the app: no later batch can succeed either. */
  fatal?(code: number, error: string): void;
}

/**
 * The logger's transport, seen from `sluice send`: it learns why sends fail (the logger only
 * counts), stops the run when the token is refused, and sends a batch larger than
 * {@link MAX_REQUEST_BYTES} as several requests.
 *
 * A split batch's parts carry `<batch_id>.<n>` as their own ids, so a part whose answer was lost
 * is deduplicated by the gateway like any batch. When a part fails in a way worth retrying, the
 * whole batch is reported failed and the logger sends it again: the parts already delivered are
 * skipped. A part the gateway refuses for good (400, 413) is counted in {@link refused} and the
 * rest still go; the logger sees the batch as sent, so the run adds `refused` to what it reports.
 */
export class WatchedTransport implements Transport {
  /** The last reason a send failed, for the final report. */
  lastError: string | undefined;
  /** Entries of parts refused while the rest of their batch was delivered (see above). */
  refused = 0;
  private failing = false;
  private progress: { batchId: string; done: Set<number>; refused: number } | null = null;

  constructor(
    private readonly inner: Transport,
    private readonly watch: TransportWatch = {},
    private readonly maxRequestBytes = MAX_REQUEST_BYTES,
  ) {}

  async send(batchId: string, entries: string[]): Promise<SendResult> {
    const parts = splitBySize(entries, this.maxRequestBytes);
    if (parts.length === 1) return this.observe(await this.inner.send(batchId, entries));
    if (this.progress?.batchId !== batchId) this.progress = { batchId, done: new Set(), refused: 0 };
    const p = this.progress;
    let refusal: SendResult | undefined;
    for (let i = 0; i < parts.length; i++) {
      if (p.done.has(i)) continue;
      const r = this.observe(await this.inner.send(`${batchId}.${i + 1}`, parts[i]!));
      if (!r.ok && r.retryable) return r;
      p.done.add(i);
      if (!r.ok) {
        p.refused += parts[i]!.length;
        refusal = r;
      }
    }
    this.progress = null;
    // Every part refused: the logger counts the batch as failed itself.
    if (refusal !== undefined && p.refused === entries.length) return refusal;
    this.refused += p.refused;
    return { ok: true, status: 201, duplicate: false };
  }

  /** Passed on only for a batch that goes as one request (the inner transport encodes it ahead). */
  prepare(batchId: string, entries: string[]): void {
    const inner = this.inner as Transport & { prepare?(batchId: string, entries: string[]): void };
    if (inner.prepare && splitBySize(entries, this.maxRequestBytes).length === 1) inner.prepare(batchId, entries);
  }

  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }

  private observe(r: SendResult): SendResult {
    if (r.ok) {
      if (this.failing) {
        this.failing = false;
        this.watch.recovered?.();
      }
      return r;
    }
    this.lastError = r.error;
    if (r.status === 401 || r.status === 403) this.watch.fatal?.(EXIT.auth, r.error);
    // No such app (admin token), or no Sluice at that URL: every other batch would get the same.
    else if (r.status === 404) this.watch.fatal?.(EXIT.failure, r.error);
    else if (r.retryable && !this.failing) {
      this.failing = true;
      this.watch.failing?.(r.error);
    }
    return r;
  }
}

// ---------------------------------------------------------------------------------------------
// Back-pressure
// ---------------------------------------------------------------------------------------------

/**
 * What the logger holds, in lines (its `stats().buffered`) and in bytes (estimated here: the
 * logger does not say). The logger sends in order, so what it still holds is the last
 * `buffered` items handed to it; their sizes are kept in hand-over order.
 */
export class Backlog {
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;

  /** An item of about `bytes` bytes was handed to the logger. */
  add(bytes: number): void {
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** The logger holds `buffered` items: the older sizes are forgotten. */
  sync(buffered: number): void {
    while (this.sizes.length - this.head > buffered) this.bytes -= this.sizes[this.head++]!;
    if (this.head > 4096 && this.head * 2 > this.sizes.length) {
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** Reading should pause. */
  full(buffered: number): boolean {
    this.sync(buffered);
    return buffered >= BACKLOG.highLines || this.bytes >= BACKLOG.highBytes;
  }

  /** Reading may resume. */
  roomy(buffered: number): boolean {
    this.sync(buffered);
    return buffered <= BACKLOG.lowLines && this.bytes <= BACKLOG.lowBytes;
  }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

/** What {@link runSend} runs with. */
export interface SendOptions extends SendArgs {
  /** SIGINT/SIGTERM: stop reading, deliver what was read, exit. */
  signal?: AbortSignal;
  /** What is read without `-f` (`process.stdin`). */
  input?: Readable & { isTTY?: boolean };
  /** Tests: what to send through instead of the `transport` named. */
  customTransport?: Transport;
  /** Tests: how often a followed file is polled. */
  pollIntervalMs?: number;
}

/**
 * Sends every line, then stops the logger; resolves with the exit status: 0 every line
 * delivered, 1 some not (`sluice send: N of M lines could not be delivered (reason)` on stderr),
 * 2 `-f` names no regular file, 3 the gateway refused the token. Never prints the token.
 */
export async function runSend(options: SendOptions, io: { err: Sink }): Promise<number> {
  const say = (text: string): void => {
    let line = sanitize(text);
    if (options.token !== '') line = line.split(options.token).join('[token]');
    io.err.write(`sluice send: ${line}\n`);
  };

  let file: string | undefined;
  if (options.file !== undefined) {
    file = resolve(options.file);
    const st = await stat(file).catch(() => null);
    // A missing file is waited for (it may be created later); a directory never becomes lines.
    if (st && !st.isFile()) {
      say(`${options.file} is not a regular file`);
      return EXIT.usage;
    }
  }

  const stopper = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stopper.signal]) : stopper.signal;
  let fatal: { code: number; error: string } | undefined;
  let timedOut = false;

  const transport = new WatchedTransport(
    options.customTransport ??
      createTransport(options.transport, {
        endpoint: options.url,
        apiKey: options.token,
        ...(options.app !== undefined && { appId: options.app }),
        timeoutMs: 10_000,
        userAgent: `sluice-send/${VERSION} (node ${process.versions.node})`,
      }),
    {
      failing: (error) => say(`cannot deliver (${error}); retrying, lines wait`),
      recovered: () => say('delivering again'),
      fatal: (code, error) => {
        if (fatal) return;
        fatal = { code, error };
        stopper.abort();
      },
    },
    options.transport === 'websocket' ? MAX_WS_MESSAGE_BYTES : MAX_REQUEST_BYTES,
  );
  const logger = new DistributedLogger({
    endpoint: options.url,
    // '' rather than undefined: the logger would fall back to SLUICE_SERVICE / SLUICE_TOKEN of
    // process.env, and the command line has already decided.
    serviceName: options.app ?? '',
    apiKey: options.token,
    ...(options.source !== undefined && { componentName: options.source }),
    transport,
    batchSize: BATCH_SIZE,
    flushIntervalMs: FLUSH_INTERVAL_MS,
    // Well above the back-pressure marks: reading pauses long before the logger would drop.
    maxBufferEntries: BACKLOG.highLines * 2 + LINES_PER_STEP * 2,
    maxBufferBytes: BACKLOG.highBytes * 4 + options.maxLineBytes * 4,
    // Never "failed" while running: a CLI keeps retrying (at the backoff cap) until it is
    // stopped. It also keeps stop() honest: once past maxRetries, one more failed try during
    // stop() ends it at once instead of trying until stopTimeoutMs.
    maxRetries: Number.MAX_SAFE_INTEGER,
    // 0 = give up at once (the logger reads 0 as "default").
    stopTimeoutMs: Math.max(1, options.timeoutMs),
    // main.ts owns the signals; the logger's hooks would re-raise them and kill the flush.
    handleExit: false,
  });
  logger.on('batch_failed', (e: { error: string; permanent: boolean }) => {
    if (e.error.startsWith('stop timed out')) timedOut = true;
  });
  logger.start();

  const mapper = new LineMapper(options.level);
  const backlog = new Backlog();
  let handed = 0;
  let notQueued = 0;

  const hand = (item: SendItem, lineBytes: number): void => {
    handed++;
    // Once stopping, the rest of a chunk already read is still handed on, unless the logger is
    // full (the gateway is not taking lines): then it would only push older lines out.
    if (signal.aborted && backlog.full(logger.stats().buffered)) notQueued++;
    else if (!logger.logEntry(item)) notQueued++;
    else backlog.add(lineBytes + ENTRY_OVERHEAD_BYTES);
  };
  /** Resolves when there is room in the logger again (at once when there is), or on stop. */
  const room = (): Promise<void> | undefined => {
    if (signal.aborted || !backlog.full(logger.stats().buffered)) return undefined;
    return new Promise<void>((done) => {
      // Also what keeps the process alive meanwhile: the logger's retry timer is unref'd (an
      // app's logger must not hold its process) and a paused stdin holds nothing.
      const keepAlive = setInterval(() => check(), 1_000);
      const check = (): void => {
        if (!signal.aborted && !backlog.roomy(logger.stats().buffered)) return;
        clearInterval(keepAlive);
        for (const ev of ['batch_sent', 'batch_failed', 'dropped']) logger.off(ev, check);
        signal.removeEventListener('abort', check);
        done();
      };
      for (const ev of ['batch_sent', 'batch_failed', 'dropped']) logger.on(ev, check);
      signal.addEventListener('abort', check);
    });
  };

  if (file === undefined && options.input?.isTTY) say('reading lines from the terminal; end with Ctrl-D');
  let readError: string | undefined;
  try {
    const refused = (): boolean => fatal !== undefined;
    if (file !== undefined) await followFile(file, options, mapper, { hand, room, refused, say }, signal);
    else if (options.input) await readInput(options.input, options.maxLineBytes, mapper, { hand, room, refused }, signal);
  } catch (err) {
    readError = (err as Error)?.message ?? String(err);
    say(`cannot read ${file ?? 'stdin'}: ${readError}`);
  }

  const waiting = logger.stats().buffered;
  if (waiting > 0 && transport.lastError !== undefined && !fatal) {
    say(`${waiting} lines not delivered yet; trying for ${seconds(options.timeoutMs)} more (Ctrl-C again to quit)`);
  }
  await logger.stop();

  const s = logger.stats();
  const lost = Math.min(handed, s.failed + s.dropped + transport.refused + notQueued);
  if (mapper.jsonAsText > 0) say(`${mapper.jsonAsText} lines starting with { were not JSON entries: sent as text`);
  const f = fatal as { code: number; error: string } | undefined;
  if (lost > 0 || f) {
    const reasons = [f?.error ?? transport.lastError ?? (s.dropped > 0 ? 'buffer full' : 'refused by the gateway')];
    if (timedOut && !f) reasons.push(`gave up after ${seconds(options.timeoutMs)}`);
    if (f) reasons.push('stopped reading');
    say(`${lost} of ${handed} lines could not be delivered (${reasons.join('; ')})`);
  }
  if (f) return f.code;
  return lost > 0 || readError !== undefined ? EXIT.failure : EXIT.ok;
}

/** How the readers hand lines on (see {@link runSend}). */
interface Hand {
  hand(item: SendItem, lineBytes: number): void;
  room(): Promise<void> | undefined;
  /** The gateway refused the token or the app: nothing more is worth reading. */
  refused(): boolean;
}

/** Reads `input` to its end (or until `signal`), pausing while the logger is full. */
async function readInput(input: Readable, maxLineBytes: number, mapper: LineMapper, h: Hand, signal: AbortSignal): Promise<void> {
  const lines = new StreamLines(maxLineBytes);
  const take = (line: FileLine): void => {
    const item = mapper.map(line.bytes, line.truncated);
    if (item !== null) h.hand(item, line.bytes.length);
  };
  // Each read is raced with the signal: a stream's destroy() may only finish once its source
  // gives up a pending read, and Ctrl-C must not wait for the next line to come.
  const stopped = new Promise<null>((done) => {
    if (signal.aborted) done(null);
    else signal.addEventListener('abort', () => done(null), { once: true });
  });
  const chunks = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      const pending = chunks.next();
      pending.catch(() => {}); // left pending on Ctrl-C: its rejection (the destroy) is expected
      const next = await Promise.race([pending, stopped]);
      if (next === null || next.done) break;
      const chunk = next.value;
      const batch = lines.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      for (let i = 0; i < batch.length; i++) {
        take(batch[i]!);
        // Within a chunk of many short lines too, not only between chunks.
        if (i % LINES_PER_STEP === LINES_PER_STEP - 1) await h.room();
      }
      await h.room();
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
  if (signal.aborted) input.destroy();
  // The last line without its newline (at EOF, or cut short by Ctrl-C): still a line.
  const last = lines.end();
  if (last && !h.refused()) take(last);
}

/** Lines of a followed file never need an offset kept: `sluice send` starts over each run. */
const NO_OFFSETS: OffsetStore = {
  where: 'memory',
  load: () => Promise.resolve(new Map()),
  save: () => Promise.resolve(),
  remove: () => Promise.resolve(),
};

/**
 * Follows `path` until `signal`, with the gateway's {@link FileTailer}: a run is started by
 * `fs.watch` events on its directory and by a poll (events may not come, and a directory that
 * does not exist yet cannot be watched), as the gateway's file watchers do. The tailer's own
 * messages (rotated, truncated, missing) go to stderr, as `tail -F` prints its own.
 */
async function followFile(
  path: string,
  options: SendOptions,
  mapper: LineMapper,
  h: Hand & { say(text: string): void },
  signal: AbortSignal,
): Promise<void> {
  const pollMs = options.pollIntervalMs ?? POLL_INTERVAL_MS;
  const limits: TailerLimits = {
    maxLineBytes: options.maxLineBytes,
    readChunkBytes: READ_CHUNK_BYTES,
    batchMax: LINES_PER_STEP,
    multilineQuietMs: 0, // no multi-line joining: the decoder below replaces the formats
    retryMs: pollMs,
  };
  const log = pino(
    { level: 'info', base: undefined, timestamp: false },
    {
      write(json: string) {
        const o = JSON.parse(json) as { msg?: string; err?: string };
        const why = o.err && !o.err.startsWith('ENOENT') ? ` (${o.err})` : '';
        h.say(`${options.file}: ${o.msg ?? ''}${why}`);
      },
    },
  );
  const tailer = new FileTailer<{ item: SendItem; bytes: number }>({
    path,
    appId: options.app ?? 'sluice-send',
    format: 'json',
    startAtEnd: !options.fromStart,
    store: {
      async append({ entries }) {
        for (const e of entries) h.hand(e.item, e.bytes);
        await h.room();
      },
    },
    decode: (bytes, truncated) => {
      const item = mapper.map(bytes, truncated);
      return item === null ? null : { item, bytes: bytes.length };
    },
    offsets: NO_OFFSETS,
    limits,
    logger: log,
  });

  const name = basename(path);
  let watcher: FSWatcher | null = null;
  const ensureWatch = (): void => {
    if (watcher) return;
    try {
      const w = watch(dirname(path), { persistent: false }, (_event, changed) => {
        if (changed === null || changed.toString() === name) void tailer.kick();
      });
      w.on('error', () => {
        w.close();
        if (watcher === w) watcher = null;
      });
      watcher = w;
    } catch {
      // missing or unwatchable directory: the poll covers it
    }
  };
  ensureWatch();
  const poll = setInterval(() => {
    ensureWatch();
    void tailer.kick();
  }, pollMs);
  try {
    await tailer.kick();
    if (!signal.aborted) await new Promise<void>((done) => signal.addEventListener('abort', () => done(), { once: true }));
    // What the file holds now is sent, its last line even without a newline: nothing keeps an
    // offset to come back for it. (Not after the token was refused: it would be refused too.)
    if (!h.refused()) await tailer.kick();
  } finally {
    clearInterval(poll);
    (watcher as FSWatcher | null)?.close();
    await tailer.stop({ takePartial: true });
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
