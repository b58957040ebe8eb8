/**
 * `@sluice/client/winston`: a Winston transport that hands each log call to a
 * {@link DistributedLogger}, so Winston's call returns as soon as the entry is buffered and the
 * logger's batching, retries and bounded buffer do the rest.
 *
 * Only this entry point imports `winston-transport` (an optional peer dependency): apps that do
 * not use Winston never load it.
 */
import TransportStream from 'winston-transport';
import { isoMicros, toLevel, type Level } from './entry.js';
import { DistributedLogger, type LoggerOptions } from './logger.js';

// triple-beam's keys, by their registered names (triple-beam is winston's dependency, not ours).
const LEVEL = Symbol.for('level');

/** The last epoch millisecond a Date can hold: beyond it toISOString() throws. */
const MAX_EPOCH_MS = 8.64e15;

/**
 * A timestamp the gateway takes as sent: ISO 8601 with seconds, an optional fraction and an
 * optional zone. Anything else (a custom `format.timestamp({ format })`) would make the gateway
 * refuse the entry, so it is kept in `context.timestamp` instead.
 */
const ISO_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?$/;

/**
 * The {@link DistributedLogger} options (endpoint, serviceName, componentName, apiKey, batching …)
 * and Winston's transport options (`level`, `format`, `silent`, `handleExceptions` …).
 */
export interface SluiceTransportOptions extends LoggerOptions, TransportStream.TransportStreamOptions {
  /**
   * A logger to share with the app's own calls (or other transports). The transport then
   * flushes it on close but leaves stopping it to its owner, and the other logger options here
   * are ignored. Without it the transport makes, starts and stops a logger of its own.
   */
  logger?: DistributedLogger;
  /**
   * Sluice levels for custom Winston level names, e.g. `{ audit: 'info', panic: 'fatal' }`. The
   * npm and syslog level names are mapped already; any other name becomes INFO.
   */
  levelMap?: Record<string, Level | 'warn'>;
}

/**
 * A Winston transport sending to Sluice.
 *
 * - Levels: npm `error` `warn` `info` `http` `verbose` `debug` `silly` and syslog `emerg` `alert`
 *   `crit` `error` `warning` `notice` `info` `debug` → FATAL, ERROR, WARN, INFO, DEBUG (the table
 *   is in the README); the name before any `format.colorize()` is used.
 * - The info's other fields (meta, `defaultMeta`, child bindings) → `context`, the fields of a
 *   `context` object (the seed's `logger.info(msg, { context, tags })`) merged in; `tags` (an array)
 *   → the entry's tags; `stack` (from `format.errors({ stack: true })` or an Error given as meta)
 *   → `stack_trace`; an ISO `timestamp` (from `format.timestamp()`) → the entry's timestamp.
 * - `logger.end()` resolves in order: Winston ends each transport and emits `finish` only after
 *   they finished, and this transport finishes when its logger has delivered everything (or
 *   given up after `stopTimeoutMs`). So `logger.end()` then waiting for `finish` means delivered.
 *   `logger.close()` (or removing the transport) starts the same delivery without a way to wait.
 *
 * @example
 * const logger = winston.createLogger({
 *   format: winston.format.combine(winston.format.errors({ stack: true }), winston.format.timestamp()),
 *   transports: [new winston.transports.Console(), new SluiceTransport({ serviceName: 'shop', apiKey })],
 * });
 */
export class SluiceTransport extends TransportStream {
  /** Winston names transports; this one is `sluice`. */
  readonly name = 'sluice';
  /** The logger entries go to: its `stats()` and events (`batch_failed`, `dropped`) report delivery. */
  readonly logger: DistributedLogger;
  private readonly owned: boolean;
  private readonly levelMap: Record<string, Level | 'warn'> | undefined;

  constructor(options: SluiceTransportOptions = {}) {
    super(options);
    this.owned = !options.logger;
    this.logger = options.logger ?? new DistributedLogger(options).start();
    this.levelMap = options.levelMap;
  }

  /** Winston's write: one entry into the logger's buffer; never waits on the network. */
  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const name = (info[LEVEL] ?? info.level) as string;
    const level = (this.levelMap?.[name] ?? toLevel(name) ?? 'info') as Level | 'warn';

    // The only copy made here: the fields that are not the entry's own (the entry's context is
    // built from it). `info` may be shared with other transports (Winston passes the same
    // object when a transport has no format of its own), so it is read, never changed. for…in
    // skips triple-beam's symbol keys.
    let meta: Record<string, unknown> | undefined;
    let extra: Record<string, unknown> | undefined;
    for (const k in info) {
      const v = info[k];
      switch (k) {
        case 'level':
        case 'message':
        case 'stack':
          continue;
        case 'context':
          // The seed's style, `logger.info(msg, { context: {…}, tags })`: its fields are the
          // entry's context, not a `context` inside it.
          if (v && typeof v === 'object' && !Array.isArray(v)) {
            meta ??= {};
            for (const ck in v as Record<string, unknown>) meta[ck] = (v as Record<string, unknown>)[ck];
            continue;
          }
          break;
        case 'timestamp':
          if (typeof v === 'string' && ISO_TIMESTAMP.test(v)) {
            (extra ??= {}).timestamp = v;
            continue;
          }
          if (typeof v === 'number' && v >= 0 && v <= MAX_EPOCH_MS) {
            (extra ??= {}).timestamp = isoMicros(v);
            continue;
          }
          break;
      }
      if (v !== undefined) (meta ??= {})[k] = v;
    }
    // An Error logged as the message or as meta has a non-enumerable `stack`: read it directly.
    const stack = info.stack;
    if (typeof stack === 'string') (extra ??= {}).stack_trace = stack;

    this.logger.log(level, messageOf(info.message), meta, extra);
    this.emit('logged', info);
    next();
    // Winston's exception and rejection handlers wait at most 3 s for their transports before
    // exiting: the crash entry goes now instead of when its batch would have closed.
    if (info.exception === true || info.rejection === true) void this.logger.flush();
  }

  /** Sends everything buffered now; resolves when delivered, or when the logger has failed. */
  flush(): Promise<void> {
    return this.logger.flush();
  }

  /**
   * Called by Winston when the transport is removed (`logger.close()`, `logger.remove()`,
   * `logger.clear()`), and after `finish`. Starts delivering what is buffered: an owned logger
   * is stopped (its pending fetches keep the process alive until done), a shared one flushed.
   */
  override close(): void {
    void this.settle();
  }

  /** The stream's end (Winston's `logger.end()` ends every transport): `finish` waits for delivery. */
  override _final(callback: (error?: Error | null) => void): void {
    this.settle().then(
      () => callback(),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  }

  private settle(): Promise<void> {
    // stop() is idempotent (the same promise while stopping, resolved once stopped), so the
    // close that follows `finish` costs nothing.
    return this.owned ? this.logger.stop() : this.logger.flush();
  }
}

function messageOf(m: unknown): string {
  if (typeof m === 'string') return m;
  if (m === undefined || m === null) return '';
  if (typeof m === 'object') {
    try {
      return JSON.stringify(m);
    } catch {
      // fall through: a cycle or a BigInt
    }
  }
  return String(m);
}

export default SluiceTransport;
