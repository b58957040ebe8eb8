/**
 * JSON ingest items → universal entries, and the shapes a JSON ingest body may take.
 *
 * Two families of senders are served (see the seeds): the universal format (`app_id` is the
 * Sluice app), and the PHP-style batch API of seed 003 (`app_key` is the app, `app_id` the
 * environment such as `production`). {@link classifyJsonPayload} tells them apart once per body;
 * {@link jsonToEntry} builds one entry per item.
 */
import { z } from 'zod';
import { parseTimestampString } from '../decode/timestamp.js';
import { copyString, entryLimits, JSON_OK, measureJson, pruneJson, truncateUtf8 } from './bounds.js';
import type { Entry, EntryFlag, Level } from './entry.js';
import { levelFromNumber, parseLevelAlias } from './level.js';
import { createLogfmtTokens, scanLogfmt, setField } from './logfmt.js';
import { createMetricsResult, extractMetrics, logplexDropMetric, mayBeLogplexDropLine, mayHoldL2metKey } from './metrics.js';
import { ulid } from './ulid.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

const str = (max?: number) => (max === undefined ? z.string() : z.string().max(max)).nullish();

/**
 * One JSON item. Every field is optional here (`message`/`msg` presence is checked after, so the
 * error can say `message: required`); `null` counts as absent, since clients serialise missing
 * optionals as null. Unknown keys are not rejected: {@link jsonToEntry} moves them into context.
 */
export const ItemSchema = z.object({
  timestamp: z
    .union([z.string(), z.number()], { error: 'expected an ISO 8601 string or epoch milliseconds' })
    .nullish(),
  level: z.union([z.string(), z.number()], { error: 'expected a level name' }).nullish(),
  app_id: str(100),
  app_key: str(100),
  message: z.string().nullish(),
  msg: z.string().nullish(),
  context: z.custom<Record<string, unknown>>(isPlainObject, { error: 'expected an object' }).nullish(),
  stack_trace: z.string().nullish(),
  tags: z.array(z.string()).nullish(),
  trace_id: str(255),
  batch_id: str(255),
  category: str(100),
  user_agent: str(255),
  environment: str(100),
  source: str(255),
  proc: str(255),
  host: str(255),
});

/** Item fields with a meaning; any other key of an item goes into the entry's context. */
const KNOWN_FIELDS: ReadonlySet<string> = new Set(Object.keys(ItemSchema.shape));

type ItemFields = z.infer<typeof ItemSchema>;

/**
 * What {@link ItemSchema} accepts, checked by hand: the schema's rules on every field that is
 * present and not null. Zod's safeParse cost about a third of a JSON entry's normalisation, and
 * nearly every item is valid, so this decides; the schema still runs for an item that fails
 * here, to word the error (and stays the one statement of the rules: a test holds the two to
 * the same verdicts).
 */
const FAST_RULES: ReadonlyArray<readonly [key: string, kind: 'str' | 'strnum' | 'obj' | 'tags', max: number]> = [
  ['timestamp', 'strnum', Infinity],
  ['level', 'strnum', Infinity],
  ['app_id', 'str', 100],
  ['app_key', 'str', 100],
  ['message', 'str', Infinity],
  ['msg', 'str', Infinity],
  ['context', 'obj', 0],
  ['stack_trace', 'str', Infinity],
  ['tags', 'tags', 0],
  ['trace_id', 'str', 255],
  ['batch_id', 'str', 255],
  ['category', 'str', 100],
  ['user_agent', 'str', 255],
  ['environment', 'str', 100],
  ['source', 'str', 255],
  ['proc', 'str', 255],
  ['host', 'str', 255],
];

/** True when {@link ItemSchema} would accept `item` (a plain object) as it is. */
export function itemPassesSchema(item: Record<string, unknown>): boolean {
  for (let i = 0; i < FAST_RULES.length; i++) {
    const [key, kind, max] = FAST_RULES[i]!;
    const v = item[key];
    if (v === undefined || v === null) continue;
    switch (kind) {
      case 'str':
        if (typeof v !== 'string' || v.length > max) return false;
        break;
      case 'strnum':
        if (typeof v !== 'string' && typeof v !== 'number') return false;
        if (typeof v === 'number' && !Number.isFinite(v)) return false;
        break;
      case 'obj':
        if (!isPlainObject(v)) return false;
        break;
      case 'tags':
        if (!Array.isArray(v)) return false;
        for (let j = 0; j < v.length; j++) if (typeof v[j] !== 'string') return false;
        break;
    }
  }
  return true;
}

/** What {@link jsonToEntry} needs besides the item. */
export interface JsonEntryDefaults {
  /** The Sluice app the request was authorised for: the entry's `app_id`. */
  appId: string;
  /** When the request was accepted (27-char µs form): `received_at`, and `timestamp` when the item has none. */
  receivedAt: string;
  /** `batch_id` for items that carry none (the envelope's, or one made per request). */
  batchId?: string;
  /** `environment` for items that carry none (seed-003: the envelope's `app_id`). */
  environment?: string;
  /** `user_agent` for items that carry none (the request's User-Agent). */
  userAgent?: string;
  /** Tags of the request; put before the item's own tags. Used as given, not copied. */
  tags?: string[];
  /**
   * Seed-003 semantics for every item (from {@link classifyJsonPayload}): an item's `app_id` is
   * its environment. An item that has an `app_key` uses these semantics anyway.
   */
  appKeyForm?: boolean;
}

/**
 * Every item of a request → entries (in order) and the rejected items' errors (by index).
 * The defaults object is built once per app with every field present, not spread per item:
 * a fresh object of a varying shape per item made `jsonToEntry`'s reads of it megamorphic and
 * cost ~2 µs per entry, three times the rest of the normalisation (bench/README.md, issue 15).
 */
export function jsonItemsToEntries(
  items: readonly unknown[],
  appIds: readonly string[],
  base: Omit<JsonEntryDefaults, 'appId'>,
  entries: Entry[],
  errors: { index: number; error: string }[],
  indexOf?: readonly number[],
): void {
  let defaults: JsonEntryDefaults | undefined;
  for (let i = 0; i < items.length; i++) {
    const appId = appIds[i]!;
    if (defaults === undefined || defaults.appId !== appId) {
      defaults = {
        appId,
        receivedAt: base.receivedAt,
        batchId: base.batchId,
        environment: base.environment,
        userAgent: base.userAgent,
        tags: base.tags,
        appKeyForm: base.appKeyForm,
      };
    }
    const res = jsonToEntry(items[i], defaults);
    if (res.ok) entries.push(res.entry);
    else errors.push({ index: indexOf ? indexOf[i]! : i, error: res.error });
  }
}

/** Result of {@link jsonToEntry}: never thrown. */
export type JsonEntryResult = { ok: true; entry: Entry } | { ok: false; error: string };

/** JSON senders often omit the zone: read it as UTC. */
const TS_OPTIONS = { allowMissingOffset: true };

const tokens = createLogfmtTokens();
const metricsOut = createMetricsResult();

/** Largest epoch ms the 27-char form can hold (9999-12-31T23:59:59.999Z). */
const MAX_EPOCH_MS = 253402300799999;

/**
 * One JSON item → an entry, or the reason it is not one (`<field>: <problem>`).
 *
 * - `timestamp`: ISO 8601 with any fraction digits and zone (no zone = UTC), or a number of epoch
 *   ms; missing → `receivedAt`, unflagged: "missing timestamp = now" is the documented JSON
 *   contract (curl users rarely send one), unlike a syslog line whose sender must; unparsable →
 *   error.
 * - `level`: aliases of {@link parseLevelAlias} in any case, or a number ({@link levelFromNumber}:
 *   syslog 0–7, pino 10–60); missing → INFO; unknown → error `level: unknown level "x"`.
 * - `message` (else `msg`) is required. l2met keys in its text become metrics
 *   (`measure#db=12ms`; a bare `measure#db` or `measure#db=` counts 1), with flag
 *   `invalid_metric` for non-numeric values; a Logplex L10/L11 line gives its dropped count.
 * - `app_id`: the Sluice app in the universal format (the route checks it against the token, see
 *   {@link classifyJsonPayload}); the environment under seed-003 semantics (`app_key` present or
 *   `defaults.appKeyForm`). `environment` wins over both.
 * - Unknown fields go into `context` (beside the item's own `context`, which wins on a clash), so
 *   nothing a sender wrote is dropped and no sender is rejected for an extra field.
 * - No `trace_id` is invented: the entry's ULID already identifies it.
 * - Bounds (bounds.ts): `message` and `stack_trace` are cut to `MAX_MESSAGE_BYTES` and tags to
 *   100 of 256 characters (flag `truncated`); a `context` deeper than `MAX_JSON_DEPTH` or over
 *   `MAX_CONTEXT_BYTES` keeps what fits (flag `context_truncated`). The entry is stored, never
 *   refused for its size: the sender could not do better by retrying.
 *
 * @example
 * jsonToEntry({ level: 'warn', message: 'slow', timestamp: '2025-01-15T14:22:00Z' },
 *   { appId: 'billing', receivedAt: nowMicros() })
 * // { ok: true, entry: { id, timestamp: '2025-01-15T14:22:00.000000Z', level: 'WARN', … } }
 */
export function jsonToEntry(item: unknown, defaults: JsonEntryDefaults): JsonEntryResult {
  try {
    return toEntry(item, defaults);
  } catch {
    // Not expected (the input is parsed JSON); kept so one odd item can never fail its batch.
    return { ok: false, error: 'item could not be read' };
  }
}

function toEntry(item: unknown, defaults: JsonEntryDefaults): JsonEntryResult {
  if (!isPlainObject(item)) return { ok: false, error: 'expected a JSON object' };
  let d: ItemFields;
  if (itemPassesSchema(item)) d = item as ItemFields;
  else {
    const parsed = ItemSchema.safeParse(item);
    if (!parsed.success) {
      return {
        ok: false,
        error: parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'item'}: ${i.message}`).join('; '),
      };
    }
    d = parsed.data;
  }

  const sentMessage = d.message ?? d.msg;
  if (sentMessage == null) return { ok: false, error: 'message: required' };
  const limits = entryLimits();
  // Bounds (bounds.ts): every stored entry can be served again, and costs a bounded amount.
  const message = truncateUtf8(sentMessage, limits.maxMessageBytes);
  let truncated = message !== sentMessage;

  let timestamp: string;
  const ts = d.timestamp;
  if (ts == null) {
    timestamp = defaults.receivedAt;
  } else if (typeof ts === 'string') {
    const t = parseTimestampString(ts, TS_OPTIONS);
    if (t === null) return { ok: false, error: 'timestamp: not an ISO 8601 time' };
    timestamp = t;
  } else {
    if (!(ts >= 0 && ts <= MAX_EPOCH_MS)) return { ok: false, error: 'timestamp: epoch milliseconds out of range' };
    timestamp = formatEpochMs(ts);
  }

  let level: Level = 'INFO';
  const lv = d.level;
  if (lv != null) {
    const l = typeof lv === 'string' ? parseLevelAlias(lv) : levelFromNumber(lv);
    if (l === null) return { ok: false, error: `level: unknown level ${JSON.stringify(lv)}` };
    level = l;
  }

  // Unknown keys → context, unless the item's own context has the key.
  let context = d.context ?? undefined;
  let copied = false;
  for (const key in item) {
    if (KNOWN_FIELDS.has(key)) continue;
    if (!copied) {
      context = context === undefined ? {} : { ...context };
      copied = true;
    }
    if (!Object.prototype.hasOwnProperty.call(context, key)) setField(context!, key, item[key]);
  }

  let contextTruncated = false;
  if (context !== undefined && measureJson(context, limits.maxJsonDepth, limits.maxContextBytes) !== JSON_OK) {
    context = pruneJson(context, limits.maxJsonDepth, limits.maxContextBytes) as Record<string, unknown>;
    contextTruncated = true;
  }

  let metrics: Entry['metrics'];
  let invalidMetric = false;
  if (mayHoldL2metKey(message)) {
    const m = extractMetrics(scanLogfmt(message, tokens), false, metricsOut);
    metrics = m.metrics;
    invalidMetric = m.invalid;
  }
  if (mayBeLogplexDropLine(message)) {
    const dropped = logplexDropMetric(message);
    if (dropped !== null) (metrics ??= []).push(dropped);
  }

  const appKeyForm = d.app_key != null || defaults.appKeyForm === true;
  const environment = d.environment ?? (appKeyForm ? d.app_id : undefined) ?? defaults.environment;
  let sentTags = d.tags ?? undefined;
  if (sentTags !== undefined && (sentTags.length > MAX_TAGS || !tagsFit(sentTags))) {
    sentTags = sentTags.slice(0, MAX_TAGS).map((t) => (t.length > MAX_TAG_CHARS ? copyString(t.slice(0, MAX_TAG_CHARS)) : t));
    truncated = true;
  }
  const tags =
    sentTags === undefined ? defaults.tags : defaults.tags === undefined ? sentTags : defaults.tags.concat(sentTags);

  const entry: Entry = {
    id: ulid(),
    timestamp,
    received_at: defaults.receivedAt,
    level,
    app_id: defaults.appId,
    message,
  };
  if (d.source != null) entry.source = d.source;
  if (d.proc != null) entry.proc = d.proc;
  if (d.host != null) entry.host = d.host;
  if (context !== undefined) entry.context = context;
  if (metrics !== undefined) entry.metrics = metrics;
  if (tags !== undefined) entry.tags = tags;
  if (d.stack_trace != null) {
    entry.stack_trace = truncateUtf8(d.stack_trace, limits.maxMessageBytes);
    if (entry.stack_trace !== d.stack_trace) truncated = true;
  }
  if (d.trace_id != null) entry.trace_id = d.trace_id;
  const batchId = d.batch_id ?? defaults.batchId;
  if (batchId !== undefined) entry.batch_id = batchId;
  if (d.category != null) entry.category = d.category;
  const userAgent = d.user_agent ?? defaults.userAgent;
  if (userAgent !== undefined) entry.user_agent = userAgent;
  if (environment != null) entry.environment = environment;
  let flags: EntryFlag[] | undefined;
  if (invalidMetric) flags = ['invalid_metric'];
  if (truncated) (flags ??= []).push('truncated');
  if (contextTruncated) (flags ??= []).push('context_truncated');
  if (flags !== undefined) entry.flags = flags;
  return { ok: true, entry };
}

/** Most tags kept from one item, and the longest tag (the excess is cut, flag `truncated`). */
const MAX_TAGS = 100;
const MAX_TAG_CHARS = 256;

function tagsFit(tags: string[]): boolean {
  for (const t of tags) if (t.length > MAX_TAG_CHARS) return false;
  return true;
}

/**
 * Epoch ms (fraction = sub-ms digits) → the 27-char form. ms and µs are kept apart because
 * `ms * 1000` stops being an exact double after the year 2255.
 */
function formatEpochMs(ts: number): string {
  let ms = Math.floor(ts);
  let us = Math.round((ts - ms) * 1000);
  if (us === 1000) {
    ms++;
    us = 0;
  }
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ for 1970–9999
  return `${iso.slice(0, 23)}${us < 10 ? '00' : us < 100 ? '0' : ''}${us}Z`;
}

/** The body shapes a JSON ingest request may take. */
export type JsonPayloadForm =
  | 'entry' // one universal-format entry
  | 'logs' // { "logs": [...] }, optional envelope app_id / batch_id
  | 'batch' // seed 003: { "app_key", "app_id", "batch_id", "logs": [...] }
  | 'shorthand' // seed 003 single entry: { "app_key", "app_id", "level", "message", ... }
  | 'array'; // [ entry, entry, ... ]

/** The envelope of a `logs` or `batch` body. */
export interface JsonBatchInfo {
  appKey?: string;
  appId?: string;
  batchId?: string;
}

/** What {@link classifyJsonPayload} found. */
export interface ClassifiedJsonPayload {
  form: JsonPayloadForm;
  /** The items, each to be passed to {@link jsonToEntry} (not yet validated). */
  items: unknown[];
  /**
   * Per item (same index), the Sluice app the sender says it targets, or undefined when it names
   * none: the item's `app_key`; else, in the `batch` form, the envelope's `app_key`; else the
   * item's `app_id`; else the envelope's `app_id`. The route must check it against the app its
   * token grants (and reject or 403 a mismatch); it is never the environment.
   */
  targetAppIds: (string | undefined)[];
  /** Defaults to pass to {@link jsonToEntry} for every item, beside `appId` and `receivedAt`. */
  defaults: Pick<JsonEntryDefaults, 'batchId' | 'environment' | 'appKeyForm'>;
  /** The envelope, for `logs` and `batch` bodies. */
  batch?: JsonBatchInfo;
}

function optionalString(o: Record<string, unknown>, key: string): string | undefined | null {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : null;
}

function itemString(item: unknown, key: string): string | undefined {
  if (!isPlainObject(item)) return undefined;
  const v = item[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Recognises the shape of a parsed JSON ingest body. Never throws.
 *
 * - a top-level array → each element is an item (`array`);
 * - an object with `logs` (must be an array) → `batch` when it has `app_key` (seed 003: app_key =
 *   Sluice app, app_id = environment), else `logs` (app_id = Sluice app);
 * - an object without `logs` → `shorthand` when it has `app_key`, else a single `entry`.
 *
 * @example
 * classifyJsonPayload({ app_key: 'billing-api', app_id: 'production', logs: [{ message: 'x' }] })
 * // { form: 'batch', items: [{ message: 'x' }], targetAppIds: ['billing-api'],
 * //   defaults: { environment: 'production', appKeyForm: true }, batch: { appKey: 'billing-api', appId: 'production' } }
 */
export function classifyJsonPayload(body: unknown): ClassifiedJsonPayload | { error: string } {
  if (Array.isArray(body)) {
    const targets: (string | undefined)[] = new Array(body.length);
    for (let i = 0; i < body.length; i++) targets[i] = itemString(body[i], 'app_key') ?? itemString(body[i], 'app_id');
    return { form: 'array', items: body, targetAppIds: targets, defaults: {} };
  }
  if (!isPlainObject(body)) return { error: 'expected a JSON object or array' };

  const appKey = optionalString(body, 'app_key');
  const appId = optionalString(body, 'app_id');
  const batchId = optionalString(body, 'batch_id');
  if (appKey === null) return { error: 'app_key: expected a string' };
  if (appId === null) return { error: 'app_id: expected a string' };
  if (batchId === null) return { error: 'batch_id: expected a string' };

  if (!('logs' in body) || body.logs === undefined) {
    const target = appKey ?? appId;
    return { form: appKey !== undefined ? 'shorthand' : 'entry', items: [body], targetAppIds: [target], defaults: {} };
  }
  const logs = body.logs;
  if (!Array.isArray(logs)) return { error: 'logs: expected an array' };

  const batch: JsonBatchInfo = {};
  if (appKey !== undefined) batch.appKey = appKey;
  if (appId !== undefined) batch.appId = appId;
  if (batchId !== undefined) batch.batchId = batchId;
  const targets: (string | undefined)[] = new Array(logs.length);
  const defaults: ClassifiedJsonPayload['defaults'] = {};
  if (batchId !== undefined) defaults.batchId = batchId;

  if (appKey !== undefined) {
    if (appId !== undefined) defaults.environment = appId;
    defaults.appKeyForm = true;
    for (let i = 0; i < logs.length; i++) targets[i] = itemString(logs[i], 'app_key') ?? appKey;
    return { form: 'batch', items: logs, targetAppIds: targets, defaults, batch };
  }
  const environment = optionalString(body, 'environment');
  if (environment === null) return { error: 'environment: expected a string' };
  if (environment !== undefined) defaults.environment = environment;
  for (let i = 0; i < logs.length; i++) targets[i] = itemString(logs[i], 'app_key') ?? itemString(logs[i], 'app_id') ?? appId;
  return { form: 'logs', items: logs, targetAppIds: targets, defaults, batch };
}
