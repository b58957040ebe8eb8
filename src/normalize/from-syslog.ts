/**
 * Syslog record → universal entry: the drain and Logplex-input hot path.
 *
 * What the message contributes, in this order of preference:
 * 1. A JSON object message (see {@link parseJsonMessage}): its fields are the context, its
 *    `message`/`msg` the entry's message, its level/stack/trace id/tags are used.
 * 2. Otherwise, when the message holds a `=` or may hold a bare l2met key (`measure#a`:
 *    {@link mayHoldL2metKey}), logfmt: pairs → context (string values, bare keys `true` under
 *    the prose rule of {@link keepBareKeys}, in prose only plain keys; l2met keys left out
 *    because the metrics hold them), l2met metrics (bare and empty-valued keys count 1 whatever
 *    else the line holds) and router measures ({@link extractMetrics}), level fields
 *    ({@link levelFromLogfmt}).
 * 3. The text's prefix (`[ERROR]`, `Error R14 (…)`, …: {@link levelFromText}) when nothing
 *    structured stated a level.
 * 4. Logplex's `Error L10`/`Error L11` lines: the dropped count as a metric
 *    ({@link logplexDropMetric}: `logplex.l10.dropped` / `logplex.l11.dropped`).
 */
import type { SyslogRecord } from '../decode/types.js';
import type { Entry, EntryFlag, Level } from './entry.js';
import { entryLimits, truncateUtf8 } from './bounds.js';
import { parseJsonMessage } from './json-message.js';
import { levelFromLogfmt, levelFromText, resolveLevel } from './level.js';
import {
  createLogfmtTokens,
  isL2metClass,
  keepBareKeys,
  KEY_PROTO,
  KEY_REQUEST_ID,
  KEY_TRACE_ID,
  LOGFMT_BARE,
  scanLogfmt,
  setField,
  type LogfmtTokens,
} from './logfmt.js';
import {
  createMetricsResult,
  extractMetrics,
  hasL2metKeys,
  isRouterLine,
  logplexDropMetric,
  mayBeLogplexDropLine,
  mayHoldL2metKey,
} from './metrics.js';
import { ulid } from './ulid.js';

/** Per-request facts the record itself does not carry. */
export interface SyslogEntryContext {
  /** The Sluice app the request was authorised for. */
  appId: string;
  /** When the request was accepted: the 27-char µs form (`nowMicros()`), shared by the batch. */
  receivedAt: string;
  /** Entry id; a new {@link ulid} when absent. */
  id?: string;
  /** `Logplex-Frame-Id` of the drain request. */
  frameId?: string;
  /** `Logplex-Drain-Token` (d.<uuid>). */
  drainToken?: string;
  userAgent?: string;
  /** Tags for every entry of the request (the drain URL's query). Used as given, not copied. */
  tags?: string[];
  /** Replaces APP-NAME as `source` (the Logplex input route swaps a `t.` token for the app's name). */
  appNameOverride?: string;
}

// Scratch state reused by every call: the function is synchronous and not re-entrant.
const tokens = createLogfmtTokens();
const metricsOut = createMetricsResult();

/**
 * Builds the entry of one syslog record. Pure apart from the id (a fresh ULID unless `ctx.id`)
 * and never throws. Absent fields are omitted (no undefined-valued keys); keys are set in
 * `EntrySchema` order so equal entries serialise to equal JSON.
 *
 * - `timestamp`: the record's, else `ctx.receivedAt` with flag `invalid_timestamp` (set whenever
 *   the record has no timestamp: unparsable or `-`; entry.ts defines the flag as "unparsable or
 *   missing: timestamp is the receive time").
 * - `level`: {@link resolveLevel} of the severity and the content level.
 * - `context`: message fields (JSON or logfmt) plus SD elements nested by SD-ID
 *   (`[meta sequenceId="1"]` → `context.meta = { sequenceId: '1' }`); an SD-ID wins over a message
 *   field of the same name, because the SD was structured by the sender on purpose.
 * - `trace_id`: `trace_id=`, else `request_id=` (the Heroku router's request id, which apps see as
 *   `X-Request-ID`: it ties the router line to the app's own lines), or the JSON equivalents.
 * - `status`: the HTTP status of a Heroku router line.
 * - `flags`: invalid_timestamp, invalid_utf8, invalid_metric, rfc3164, truncated (message or
 *   stack over `MAX_MESSAGE_BYTES`), json_too_deep / json_too_large (a JSON message beyond the
 *   entry limits, kept as text), in that order.
 *
 * @example
 * syslogToEntry(record, { appId: 'shop', receivedAt: nowMicros(), frameId })
 */
export function syslogToEntry(rec: SyslogRecord, ctx: SyslogEntryContext): Entry {
  const raw = rec.message;
  let message = raw;
  let context: Record<string, unknown> | undefined;
  let content: Level | null = null;
  let traceId: string | undefined;
  let stack: string | undefined;
  let tags = ctx.tags;
  let metrics: Entry['metrics'];
  let status: number | undefined;
  let invalidMetric = false;

  const json = startsWithBrace(raw) ? parseJsonMessage(raw) : null;
  let refusedJson: EntryFlag | undefined;
  if (json !== null && json.refused !== undefined) {
    // Valid JSON beyond the entry limits: the message stays text (not scanned as logfmt either).
    refusedJson = json.refused;
  } else if (json !== null) {
    for (const _ in json.fields) {
      context = json.fields; // `{}` adds no context
      break;
    }
    content = json.level;
    if (json.message !== undefined) message = json.message;
    stack = json.stack;
    traceId = json.traceId;
    if (json.tags !== undefined && json.tags.length > 0) tags = tags === undefined ? json.tags : tags.concat(json.tags);
  } else if (raw.indexOf('=') !== -1 || mayHoldL2metKey(raw)) {
    // A bare l2met key is a metric too (`measure#a` alone: an empty value counts as 1), so a
    // line without `=` is scanned when it may hold one; with no pair it yields only metrics.
    const t = scanLogfmt(raw, tokens);
    if (t.pairs > 0 || hasL2metKeys(t)) {
      context = contextFromTokens(t);
      content = levelFromLogfmt(t);
      traceId = findTraceId(t);
      const m = extractMetrics(t, isRouterLine(t, rec.procId), metricsOut);
      metrics = m.metrics;
      status = m.status;
      invalidMetric = m.invalid;
    }
  }
  if (content === null) content = levelFromText(message);
  // Logplex's L10/L11 overflow lines: their dropped count as a metric (one char test otherwise).
  if (mayBeLogplexDropLine(raw)) {
    const dropped = logplexDropMetric(raw);
    if (dropped !== null) (metrics ??= []).push(dropped);
  }

  const sd = rec.structuredData;
  if (sd !== null) {
    for (const sdId in sd) setField((context ??= {}), sdId, sd[sdId]);
  }

  const limits = entryLimits();
  const cut = truncateUtf8(message, limits.maxMessageBytes);
  let truncated = cut !== message;
  if (stack !== undefined) {
    const s = truncateUtf8(stack, limits.maxMessageBytes);
    if (s !== stack) {
      stack = s;
      truncated = true;
    }
  }
  const entry: Entry = {
    id: ctx.id ?? ulid(),
    timestamp: rec.timestamp ?? ctx.receivedAt,
    received_at: ctx.receivedAt,
    level: resolveLevel(rec.severity, content),
    app_id: ctx.appId,
    message: cut,
  };
  const source = ctx.appNameOverride ?? rec.appName;
  if (source != null) entry.source = source;
  if (rec.procId !== null) entry.proc = rec.procId;
  if (rec.hostname !== null) entry.host = rec.hostname;
  if (context !== undefined) entry.context = context;
  if (metrics !== undefined) entry.metrics = metrics;
  if (tags !== undefined) entry.tags = tags;
  if (stack !== undefined) entry.stack_trace = stack;
  if (traceId !== undefined) entry.trace_id = traceId;
  if (ctx.userAgent !== undefined) entry.user_agent = ctx.userAgent;
  entry.facility = rec.facility;
  entry.severity = rec.severity;
  if (ctx.frameId !== undefined) entry.frame_id = ctx.frameId;
  if (ctx.drainToken !== undefined) entry.drain_token = ctx.drainToken;
  if (status !== undefined) entry.status = status;

  let flags: EntryFlag[] | undefined;
  if (rec.timestamp === null || rec.invalidTimestamp) flags = ['invalid_timestamp'];
  if (rec.invalidUtf8) (flags ??= []).push('invalid_utf8');
  if (invalidMetric) (flags ??= []).push('invalid_metric');
  if (rec.format === 'rfc3164') (flags ??= []).push('rfc3164');
  if (rec.lengthMismatch) (flags ??= []).push('length_mismatch');
  if (rec.missingSd) (flags ??= []).push('missing_sd');
  if (truncated) (flags ??= []).push('truncated');
  if (refusedJson !== undefined) (flags ??= []).push(refusedJson);
  if (flags !== undefined) entry.flags = flags;
  return entry;
}

/** First non-whitespace char is `{` (cheap gate before the JSON path). */
function startsWithBrace(s: string): boolean {
  const n = s.length < 16 ? s.length : 16;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x7b) return true;
    if (c !== 0x20 && c !== 0x09) return false;
  }
  return false;
}

/**
 * Context of a logfmt line: pairs as strings (logfmt is untyped: `id=007` must stay `'007'`),
 * bare keys as `true` when {@link keepBareKeys} allows, l2met keys left out. In a line that does
 * not start with a pair (prose), only pairs with a plain key are kept ({@link isPlainKey}).
 * A repeated key keeps its last value. Undefined when nothing is left.
 */
function contextFromTokens(t: LogfmtTokens): Record<string, unknown> | undefined {
  const bare = keepBareKeys(t);
  const prose = !t.firstIsPair;
  let ctx: Record<string, unknown> | undefined;
  for (let k = 0; k < t.length; k++) {
    const isBare = t.kinds[k] === LOGFMT_BARE;
    if (isBare && !bare) continue;
    const cls = t.classes[k]!;
    if (isL2metClass(cls)) continue;
    if (prose && !isPlainKey(t.keys[k]!)) continue;
    ctx ??= {};
    if (cls === KEY_PROTO) setField(ctx, t.keys[k]!, isBare ? true : t.values[k]);
    else ctx[t.keys[k]!] = isBare ? true : t.values[k];
  }
  return ctx;
}

/**
 * `[A-Za-z0-9_.-]+`: in prose, a `key=value` whose key is not of this shape is most likely part
 * of something else (`Redirected to https://x/?page=2` must not yield a key `https://x/?page`).
 */
function isPlainKey(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    const lower = c | 0x20;
    if (!((lower >= 0x61 && lower <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e || c === 0x2d)) {
      return false;
    }
  }
  return true;
}

const TRACE_KEYS_MASK = (1 << KEY_TRACE_ID) | (1 << KEY_REQUEST_ID);

/** `trace_id=`, else `request_id=` (non-empty), else undefined. */
function findTraceId(t: LogfmtTokens): string | undefined {
  if ((t.mask & TRACE_KEYS_MASK) === 0) return undefined;
  let requestId: string | undefined;
  for (let k = 0; k < t.length; k++) {
    if (t.kinds[k] === LOGFMT_BARE) continue;
    const cls = t.classes[k];
    if (cls === KEY_TRACE_ID) {
      const v = t.values[k]!;
      if (v.length > 0) return v;
    } else if (cls === KEY_REQUEST_ID && requestId === undefined) {
      const v = t.values[k]!;
      if (v.length > 0) requestId = v;
    }
  }
  return requestId;
}
