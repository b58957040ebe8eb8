/**
 * `@sluice/client/pino`: a pino transport. pino runs it in a worker thread
 * (`pino.transport({ target: '@sluice/client/pino', options })`) and writes its JSON lines to the
 * stream this module's default export builds; each line becomes one entry of a
 * {@link DistributedLogger} living in that worker.
 *
 * Only this entry point imports `pino-abstract-transport` (an optional peer dependency).
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import build from 'pino-abstract-transport';
import { isoMicros, levelFromNumber, toLevel, type Level } from './entry.js';
import { DistributedLogger, type LoggerOptions } from './logger.js';

/** The transport's `options`: the logger's, plus pino's keys when they are not the defaults. */
export interface SluicePinoOptions extends LoggerOptions {
  /** The key of the message in pino's lines. Default: pino's `messageKey` (sent by pino), `msg`. */
  messageKey?: string;
  /** The key of the serialised error. Default: pino's `errorKey` (sent by pino), `err`. */
  errorKey?: string;
}

/** What pino sends its transports (`PINO_CONFIG`) when a logger is made with them. */
interface PinoConfig {
  levels?: { labels?: Record<string, string>; values?: Record<string, number> };
  messageKey?: string;
  errorKey?: string;
}

/**
 * In the worker, how long to wait for pino's config before reading lines with the defaults. pino
 * sends it as the logger is made, so it is normally queued before the worker even starts; the
 * wait only runs out for a transport written to without a pino logger.
 */
const CONFIG_WAIT_MS = 1_000;

/**
 * thread-stream's `end()` blocks the main thread at most 10 s waiting for this stream to close
 * (on `transport.end()` and on process exit), then kills the worker: stop must give up first.
 */
const WORKER_STOP_TIMEOUT_MS = 8_000;

const ISO_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?$/;

/**
 * A pino level → a Sluice level. A number is placed on pino's scale, nearest wins and a tie
 * goes to the more severe level: trace 10 and debug 20 → DEBUG, info 30 → INFO, warn 40 → WARN,
 * error 50 → ERROR, fatal 60 → FATAL (a custom 35 → WARN, 55 → FATAL, 100 → FATAL). A custom
 * level whose name Sluice knows (`notice`, `critical` …) goes by its name. A label (from a
 * `formatters.level` that writes names) goes by name, else by its number in pino's config.
 */
export function pinoLevel(level: unknown, config?: PinoConfig['levels']): Level {
  if (typeof level === 'number') {
    const label = config?.labels?.[level];
    return (label !== undefined ? toLevel(label) : undefined) ?? nearestLevel(level);
  }
  if (typeof level === 'string') {
    const byName = toLevel(level);
    if (byName) return byName;
    const n = config?.values?.[level];
    if (typeof n === 'number') return nearestLevel(n);
  }
  return 'info';
}

const nearestLevel = levelFromNumber;

/**
 * pino's `time`: epoch milliseconds (the default, `epochTime`), epoch seconds (`unixTime`: any
 * number below 1e11, which as milliseconds would be 1973) or an ISO string (`isoTime`).
 */
function timestampOf(t: unknown): string | undefined {
  // 8.64e15 is the last epoch millisecond a Date holds (beyond it toISOString() throws).
  if (typeof t === 'number' && t >= 0 && t <= 8.64e15) return isoMicros(t < 1e11 ? t * 1000 : t);
  if (typeof t === 'string' && ISO_TIMESTAMP.test(t)) return t;
  return undefined;
}

/** pino's config, from the main thread's pino logger, when this runs in pino's worker. */
function configFromMainThread(): Promise<PinoConfig | undefined> {
  if (isMainThread || !parentPort) return Promise.resolve(undefined);
  const port = parentPort;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      port.off('message', onMessage);
      resolve(undefined);
    }, CONFIG_WAIT_MS);
    function onMessage(msg: { code?: string; config?: PinoConfig } | null): void {
      if (msg?.code !== 'PINO_CONFIG') return;
      clearTimeout(timer);
      port.off('message', onMessage);
      resolve(msg.config);
    }
    port.on('message', onMessage);
  });
}

/**
 * Builds the transport stream: pino's worker calls this with the `options` given to
 * `pino.transport()`; in the main thread it can be called directly and the stream given to
 * `pino(opts, stream)`.
 *
 * - In the worker the logger's `handleExit` is off (signals and exit are the main thread's:
 *   pino ends the transport on exit) and `stopTimeoutMs` defaults to 8 s (pino kills the worker
 *   after 10 s). Ending the stream (`transport.end()`, process exit) stops the logger, so what is
 *   buffered is delivered before the worker goes; `logger.flush(cb)` calls back once delivered.
 * - Options left out come from the environment as for {@link DistributedLogger}
 *   (`SLUICE_URL`, `SLUICE_SERVICE`, `SLUICE_TOKEN`, `SLUICE_TRANSPORT`), read in the worker,
 *   which starts with a copy of the main thread's environment.
 * - Mapping: `level` → level ({@link pinoLevel}), `msg` → message, `time` → timestamp, `err`
 *   → `stack_trace` (and `context.err` without the stack), `hostname` → `host`, `pid` →
 *   `proc`, `tags` (an array) → tags; every other field (bindings, the logged object) →
 *   `context`, the fields of a `context` object merged in.
 */
export default async function sluicePinoTransport(options: SluicePinoOptions = {}) {
  const fromPino = (options as { pinoWillSendConfig?: boolean }).pinoWillSendConfig === true;
  let config = fromPino ? await configFromMainThread() : undefined;
  let messageKey = options.messageKey ?? config?.messageKey ?? 'msg';
  let errorKey = options.errorKey ?? config?.errorKey ?? 'err';

  const logger = new DistributedLogger({
    ...options,
    handleExit: isMainThread ? options.handleExit : false,
    stopTimeoutMs: options.stopTimeoutMs ?? (isMainThread ? undefined : WORKER_STOP_TIMEOUT_MS),
  }).start();

  const write = (obj: Record<string, unknown>): void => {
    const level = pinoLevel(obj.level, config?.levels);
    let message = obj[messageKey];
    let extra: Record<string, unknown> | undefined;
    const timestamp = timestampOf(obj.time);
    if (timestamp !== undefined) {
      (extra ??= {}).timestamp = timestamp;
      obj.time = undefined;
    }
    const err = obj[errorKey];
    if (err && typeof err === 'object') {
      const { stack, ...rest } = err as Record<string, unknown>;
      if (typeof stack === 'string') (extra ??= {}).stack_trace = stack;
      obj[errorKey] = rest;
      if (message === undefined && typeof rest.message === 'string') message = rest.message;
    }
    if (typeof obj.hostname === 'string') {
      (extra ??= {}).host = obj.hostname;
      obj.hostname = undefined;
    }
    if (typeof obj.pid === 'number' || typeof obj.pid === 'string') {
      (extra ??= {}).proc = String(obj.pid);
      obj.pid = undefined;
    }
    const ctx = obj.context;
    if (ctx && typeof ctx === 'object' && !Array.isArray(ctx)) {
      // `{ context: {…} }` (the seed's shape): its fields are the entry's context, not nested.
      obj.context = undefined;
      for (const k in ctx as Record<string, unknown>) obj[k] = (ctx as Record<string, unknown>)[k];
    }
    // The parsed line is ours alone, so it is the metadata itself: the fields the entry took
    // are blanked (undefined is left out of the JSON) instead of copying the rest elsewhere.
    obj.level = undefined;
    obj[messageKey] = undefined;
    logger.log(level, message === undefined ? '' : typeof message === 'string' ? message : String(message), obj, extra);
  };

  const stream = build(
    async (source) => {
      for await (const obj of source) {
        try {
          write(obj as Record<string, unknown>);
        } catch {
          // One odd line is skipped: a throw here would end the stream and lose what follows.
        }
      }
    },
    {
      // Called once the stream ends (pino's transport.end(), process exit) or breaks.
      close: async () => {
        await logger.stop();
      },
    },
  );

  // Given to pino in this thread, the config comes as an event on the stream itself.
  stream.on('message', (msg: { code?: string; config?: PinoConfig } | null) => {
    if (msg?.code !== 'PINO_CONFIG' || !msg.config) return;
    config = msg.config;
    messageKey = options.messageKey ?? config.messageKey ?? messageKey;
    errorKey = options.errorKey ?? config.errorKey ?? errorKey;
  });

  // thread-stream forwards pino's `logger.flush(cb)` here: lines already written but not yet
  // read by the loop above go first, then the logger delivers.
  Object.defineProperty(stream, 'flush', {
    value: async (): Promise<void> => {
      while (stream.readableLength > 0) await new Promise((r) => setImmediate(r));
      await logger.flush();
    },
  });

  return stream;
}
