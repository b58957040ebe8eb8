/**
 * Messages that are JSON objects: what structured loggers (pino, bunyan, winston, zap,
 * structlog) write to stdout, and so what arrives through a drain as the syslog MSG.
 */
import { entryLimits, JSON_OK, JSON_TOO_DEEP, measureJson } from './bounds.js';
import type { Level } from './entry.js';
import { levelFromFields } from './level.js';

/**
 * A message that is valid JSON but beyond the entry limits (bounds.ts): it stays text, and the
 * entry carries the flag.
 */
export interface JsonMessageRefused {
  fields?: undefined;
  refused: 'json_too_deep' | 'json_too_large';
}

/** What a JSON message contributes to its entry. */
export interface JsonMessage {
  refused?: undefined;
  /** The whole parsed object: it becomes the entry's context, every original field kept. */
  fields: Record<string, unknown>;
  /** From `level`, `severity` or `lvl` (names, syslog digits, pino numbers), else null. */
  level: Level | null;
  /** From `message`, else `msg` (strings only): the entry's message when present. */
  message: string | undefined;
  /** From `stack`, `stack_trace`, else `err.stack` / `error.stack` (pino's and winston's error shapes). */
  stack: string | undefined;
  /** From `trace_id`, `traceId`, else `request_id`. */
  traceId: string | undefined;
  /** From `tags`, when it is an array; non-string items are dropped. */
  tags: string[] | undefined;
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * Cheap test (no parse): does `message` start with `{` and end with `}`, ignoring whitespace?
 * Lets prose such as `{foo} bar` skip JSON.parse, whose failures are slow (they throw).
 */
export function looksLikeJsonObject(message: string): boolean {
  let i = 0;
  let j = message.length - 1;
  while (i <= j && isWs(message.charCodeAt(i))) i++;
  while (j > i && isWs(message.charCodeAt(j))) j--;
  return j > i && message.charCodeAt(i) === 0x7b && message.charCodeAt(j) === 0x7d;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function errorStack(v: unknown): string | undefined {
  return v !== null && typeof v === 'object' ? str((v as Record<string, unknown>).stack) : undefined;
}

/**
 * Parses a message that is a JSON object, or returns null (not an object, or not valid JSON).
 * Never throws. A JSON object nested deeper than `MAX_JSON_DEPTH` or larger than
 * `MAX_CONTEXT_BYTES` is refused (`{ refused }`): its entry keeps the text, flagged, so no stored
 * entry holds a value that cannot be serialised again.
 *
 * The entry's message becomes the JSON's `message`/`msg` when there is one (that is the text a
 * human wrote; the rest is context), and the full object, `msg` included, stays in `fields`, so
 * nothing the sender wrote is lost.
 *
 * @example
 * parseJsonMessage('{"level":50,"msg":"boom","user":7}')
 * // { fields: {level:50,msg:'boom',user:7}, level: 'ERROR', message: 'boom', stack: undefined, … }
 */
export function parseJsonMessage(message: string): JsonMessage | JsonMessageRefused | null {
  if (!looksLikeJsonObject(message)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const f = parsed as Record<string, unknown>;
  const limits = entryLimits();
  const fit = measureJson(f, limits.maxJsonDepth, limits.maxContextBytes);
  if (fit !== JSON_OK) return { refused: fit === JSON_TOO_DEEP ? 'json_too_deep' : 'json_too_large' };
  let tags: string[] | undefined;
  const rawTags = f.tags;
  if (Array.isArray(rawTags)) {
    tags = [];
    for (const t of rawTags) if (typeof t === 'string') tags.push(t);
  }
  return {
    fields: f,
    level: levelFromFields(f),
    message: str(f.message) ?? str(f.msg),
    stack: str(f.stack) ?? str(f.stack_trace) ?? errorStack(f.err) ?? errorStack(f.error),
    traceId: str(f.trace_id) ?? str(f.traceId) ?? str(f.request_id),
    tags,
  };
}
