/**
 * Bounds on what one entry may hold, applied at normalisation so that nothing stored can later
 * fail to serialise (a JSON message nested thousands of levels deep makes `JSON.stringify` throw
 * `RangeError`) or cost unbounded memory (a 7 MB message, kept 1500 times per app).
 *
 * The limits are process-wide (configured once at start from `MAX_MESSAGE_BYTES`,
 * `MAX_JSON_DEPTH`, `MAX_CONTEXT_BYTES`): the Redis store rebuilds drain entries from their frames
 * when it reads them, and must bound them exactly as ingest did, so both stores return identical
 * entries.
 */
import type { Entry } from './entry.js';

/** The bounds of one entry. */
export interface EntryLimits {
  /** Largest `message` (and `stack_trace`) in UTF-8 bytes; the excess is cut, flag `truncated`. */
  maxMessageBytes: number;
  /**
   * Deepest nesting of a structured value (`context`, a JSON message), the outer object being
   * level 1. A JSON message nested deeper stays text (flag `json_too_deep`); an API `context`
   * has its deeper values replaced by a marker (flag `context_truncated`).
   */
  maxJsonDepth: number;
  /** Largest structured value, measured as its approximate JSON size in bytes. */
  maxContextBytes: number;
}

/** The defaults: a 64 KiB message and context, 32 levels of nesting. */
export const DEFAULT_ENTRY_LIMITS: Readonly<EntryLimits> = Object.freeze({
  maxMessageBytes: 64 * 1024,
  maxJsonDepth: 32,
  maxContextBytes: 64 * 1024,
});

let current: EntryLimits = { ...DEFAULT_ENTRY_LIMITS };

/** Sets the process-wide entry limits (main.ts, from the configuration; tests). */
export function setEntryLimits(limits: Partial<EntryLimits>): void {
  current = { ...current, ...limits };
}

/** The process-wide entry limits in force. */
export function entryLimits(): Readonly<EntryLimits> {
  return current;
}

/** What the marker of a value nested too deep says, in place of that value. */
export const DEPTH_MARKER = '[truncated: nested too deep]';

let scratch = new Uint8Array(0);

/**
 * `s` cut to at most `maxBytes` UTF-8 bytes at a character boundary, or `s` itself when it fits.
 * Cheap when it fits by length alone (a UTF-16 unit is at most 3 UTF-8 bytes).
 *
 * @example
 * truncateUtf8('héllo', 2) // 'h' (é is 2 bytes and does not fit after h)
 */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (s.length * 3 <= maxBytes) return s;
  if (s.length <= maxBytes && Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  if (scratch.length < maxBytes) scratch = new Uint8Array(maxBytes);
  // encodeInto never writes half a character (nor half a surrogate pair): `read` is a boundary.
  const { read } = new TextEncoder().encodeInto(s, scratch.subarray(0, maxBytes));
  return copyString(s.slice(0, read));
}

/**
 * A string that owns its characters. V8 makes a slice of a long string a view that keeps the
 * whole original alive (a 64 KiB message cut from 7 MB held the 7 MB), so what is cut to be kept
 * is copied. The JSON round trip is exact, lone surrogates included.
 */
export function copyString(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

/** Result of {@link measureJson}. */
export const JSON_OK = 0;
export const JSON_TOO_DEEP = 1;
export const JSON_TOO_LARGE = 2;
export type JsonMeasure = typeof JSON_OK | typeof JSON_TOO_DEEP | typeof JSON_TOO_LARGE;

/**
 * Whether a parsed JSON value fits `maxDepth` levels and about `maxBytes` of JSON. Stops at the
 * first level past the bound, so its own recursion is never deeper than `maxDepth + 1` and its
 * work never more than the budget: safe on any input.
 */
export function measureJson(value: unknown, maxDepth: number, maxBytes: number): JsonMeasure {
  const st = { left: maxBytes, result: JSON_OK as JsonMeasure };
  walk(value, 0, maxDepth, st);
  return st.result;
}

function walk(v: unknown, depth: number, maxDepth: number, st: { left: number; result: JsonMeasure }): void {
  if (typeof v === 'string') {
    st.left -= v.length + 2;
  } else if (v === null || typeof v !== 'object') {
    st.left -= 8;
  } else if (depth >= maxDepth) {
    st.result = JSON_TOO_DEEP;
    return;
  } else if (Array.isArray(v)) {
    st.left -= 2;
    for (let i = 0; i < v.length && st.result === JSON_OK; i++) {
      st.left -= 1;
      walk(v[i], depth + 1, maxDepth, st);
    }
  } else {
    st.left -= 2;
    const o = v as Record<string, unknown>;
    for (const k in o) {
      if (st.result !== JSON_OK) return;
      st.left -= k.length + 4;
      walk(o[k], depth + 1, maxDepth, st);
    }
  }
  if (st.left < 0 && st.result === JSON_OK) st.result = JSON_TOO_LARGE;
}

/**
 * A copy of `value` within the bounds: values nested deeper than `maxDepth` become
 * {@link DEPTH_MARKER}, and once about `maxBytes` of JSON are spent the string being copied is
 * cut and the remaining keys and items are left out. Used only when {@link measureJson} said the
 * value does not fit (the common case copies nothing).
 */
export function pruneJson(value: unknown, maxDepth: number, maxBytes: number): unknown {
  return prune(value, 0, maxDepth, { left: maxBytes });
}

function prune(v: unknown, depth: number, maxDepth: number, st: { left: number }): unknown {
  if (typeof v === 'string') {
    const room = st.left - 2;
    st.left -= v.length + 2;
    return v.length <= room ? v : truncateUtf8(v, room > 0 ? room : 0);
  }
  if (v === null || typeof v !== 'object') {
    st.left -= 8;
    return v;
  }
  if (depth >= maxDepth) {
    st.left -= DEPTH_MARKER.length + 2;
    return DEPTH_MARKER;
  }
  st.left -= 2;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (let i = 0; i < v.length && st.left > 0; i++) {
      st.left -= 1;
      out.push(prune(v[i], depth + 1, maxDepth, st));
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  const o = v as Record<string, unknown>;
  for (const k in o) {
    if (st.left <= k.length + 4) break;
    st.left -= k.length + 4;
    const pruned = prune(o[k], depth + 1, maxDepth, st);
    // `__proto__` as an own key (JSON.parse makes one) must stay data, not the prototype.
    if (k === '__proto__') Object.defineProperty(out, k, { value: pruned, enumerable: true, writable: true, configurable: true });
    else out[k] = pruned;
  }
  return out;
}

/**
 * About how many bytes an entry holds in memory, for the memory store's byte bound: a fixed
 * part for ids, times and short fields, the message and stack trace, and the context. A syslog
 * entry's context is derived from its message (logfmt, JSON) or its frame's SD, so it is counted
 * as the message again rather than walked on the hot path; a JSON entry's sent context is walked.
 */
export function approxEntryBytes(e: Entry): number {
  let n = 400 + e.message.length;
  if (e.stack_trace !== undefined) n += e.stack_trace.length;
  if (e.metrics !== undefined) n += e.metrics.length * 96;
  if (e.tags !== undefined) for (const t of e.tags) n += t.length + 16;
  if (e.context !== undefined) {
    if (e.facility !== undefined) n += e.message.length + 64;
    else n += approxJsonBytes(e.context, current.maxContextBytes * 2);
  }
  return n;
}

/** The approximate JSON size of a value within the entry limits, at most `cap`. */
function approxJsonBytes(value: unknown, cap: number): number {
  const st = { left: cap, result: JSON_OK as JsonMeasure };
  walk(value, 0, current.maxJsonDepth + 1, st);
  return cap - Math.max(0, st.left);
}
