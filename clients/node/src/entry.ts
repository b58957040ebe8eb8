/**
 * What one log call becomes on the wire: an entry of `POST /api/logs` as a JSON string, built
 * once at the log call (so the buffer holds compact strings, not live objects the app may still
 * mutate).
 */
import { randomUUID } from 'node:crypto';

export type Level = 'debug' | 'info' | 'warning' | 'error' | 'fatal';
export const LEVEL_RANK: Record<Level, number> = { debug: 10, info: 20, warning: 30, error: 40, fatal: 50 };
const LEVEL_WIRE: Record<Level, string> = { debug: 'DEBUG', info: 'INFO', warning: 'WARN', error: 'ERROR', fatal: 'FATAL' };

/**
 * A level number as pino and bunyan write them (10 trace, 20 debug, 30 info, 40 warn, 50 error,
 * 60 fatal) → the nearest {@link Level}; a tie goes to the more severe one (35 → warning).
 */
export function levelFromNumber(n: number): Level {
  if (n >= 55) return 'fatal';
  if (n >= 45) return 'error';
  if (n >= 35) return 'warning';
  if (n >= 25) return 'info';
  return 'debug';
}

/**
 * `warn`, `WARNING`, `critical` … → a {@link Level}; a pino/bunyan level number by
 * {@link levelFromNumber}; undefined for a name no logger uses.
 */
export function toLevel(name: unknown): Level | undefined {
  if (typeof name === 'number') return Number.isFinite(name) ? levelFromNumber(name) : undefined;
  if (typeof name !== 'string') return undefined;
  switch (name.toLowerCase()) {
    case 'trace':
    case 'debug':
    case 'verbose':
    case 'silly':
      return 'debug';
    case 'info':
    case 'information':
    case 'notice':
    case 'http':
      return 'info';
    case 'warn':
    case 'warning':
      return 'warning';
    case 'error':
    case 'err':
      return 'error';
    case 'fatal':
    case 'critical':
    case 'crit':
    case 'alert':
    case 'emerg':
    case 'emergency':
    case 'panic':
      return 'fatal';
    default:
      return undefined;
  }
}

// The wall clock read with sub-millisecond precision: the monotonic clock, re-anchored on
// Date.now() every second so a long-running process does not drift from wall time.
let anchorMs = Date.now() - performance.now();
let anchoredAt = performance.now();

/** `YYYY-MM-DDTHH:MM:SS.ffffffZ`, microseconds from the high-resolution clock. */
export function timestampMicros(): string {
  const mono = performance.now();
  if (mono - anchoredAt > 1000) {
    anchorMs = Date.now() - mono;
    anchoredAt = mono;
  }
  return isoMicros(anchorMs + mono);
}

// `YYYY-MM-DDTHH:MM:SS.` of the last second formatted: log calls come many to a second, and
// Date#toISOString was a third of a timestamp's cost.
let cachedSecond = NaN;
let cachedPrefix = '';

/** Epoch milliseconds (fractional allowed) → `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function isoMicros(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  // µs within the second, 0 … 999999, as six digits.
  const micros = Math.min(999_999, Math.floor((epochMs - second * 1000) * 1000));
  return `${cachedPrefix}${String(micros).padStart(6, '0')}Z`;
}

/** Who is logging: the defaults every entry of one logger carries. */
export interface EntryIdentity {
  appId?: string;
  source?: string;
}

/**
 * One entry as JSON. `metadata` becomes `context` (plus a unique `request_id`); an `Error`
 * under `error` or `err` gives `stack_trace`; `tags` (an array) becomes the entry's tags.
 * `extra` sets top-level fields (`timestamp`, `stack_trace`, `category`, `tags`, …) last, so a
 * transport can carry the time its logger recorded. Circular or BigInt metadata is replaced by
 * a note, never thrown.
 */
export function serializeEntry(
  who: EntryIdentity,
  level: Level,
  message: string,
  metadata?: Record<string, unknown>,
  extra?: Record<string, unknown>,
): string {
  const entry: Record<string, unknown> = {
    timestamp: timestampMicros(),
    level: LEVEL_WIRE[level],
    message: typeof message === 'string' ? message : String(message),
  };
  if (who.appId) entry.app_id = who.appId;
  if (who.source) entry.source = who.source;
  const context: Record<string, unknown> = { request_id: randomUUID() };
  let tags: string[] | undefined;
  if (metadata && typeof metadata === 'object') {
    for (const k in metadata) {
      if (!Object.prototype.hasOwnProperty.call(metadata, k)) continue;
      const v = metadata[k];
      if (k === 'tags' && Array.isArray(v)) tags = v.map(String);
      else if (v instanceof Error) {
        // An Error under `error`/`err` gives the stack trace; one under any other key keeps its
        // type and message (JSON.stringify would write it as {}).
        if (k === 'error' || k === 'err') {
          entry.stack_trace = v.stack ?? String(v);
          context[k] = v.message;
        } else context[k] = { type: v.name, message: v.message };
      } else context[k] = v;
    }
  }
  entry.context = context;
  if (extra) Object.assign(entry, extra);
  if (tags) entry.tags = Array.isArray(extra?.tags) ? [...(extra.tags as string[]), ...tags] : tags;
  try {
    return JSON.stringify(entry);
  } catch (err) {
    // Circular or BigInt metadata: the entry still goes, its context says why it is bare.
    entry.context = { request_id: context.request_id, unserializable_metadata: String((err as Error).message) };
    return JSON.stringify(entry);
  }
}

/**
 * An entry object given whole (a JSON line of `sluice send`): the logger's app and source fill
 * in what it lacks, a `request_id` is added to its context, and a missing timestamp is now.
 * Returns undefined for something that is not an object.
 */
export function serializeRawEntry(who: EntryIdentity, raw: unknown): string | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const entry: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  if (entry.timestamp === undefined) {
    // pino and bunyan lines carry `time` (epoch ms or ISO): the gateway reads it as `timestamp`.
    const t = entry.time;
    entry.timestamp = typeof t === 'number' || typeof t === 'string' ? t : timestampMicros();
  }
  if (entry.app_id === undefined && who.appId) entry.app_id = who.appId;
  if (entry.source === undefined && who.source) entry.source = who.source;
  const ctx = entry.context;
  if (ctx === undefined || (ctx && typeof ctx === 'object' && !Array.isArray(ctx))) {
    entry.context = { request_id: randomUUID(), ...(ctx as Record<string, unknown> | undefined) };
  }
  try {
    return JSON.stringify(entry);
  } catch {
    return undefined;
  }
}
