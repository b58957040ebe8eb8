import type { Entry, Level } from '../normalize/entry.js';
import { syslogBatchEntries, type SyslogBatch } from '../normalize/syslog-batch.js';

/**
 * The storage seam. The embedded memory store implements it today; the Redis Streams store
 * implements the same interface and passes the same contract suite (`store.contract.ts`).
 */

/**
 * What `append` is asked to do in one call (one ingest request = one call = one round trip): store
 * either `entries` or a drain request's `syslog` batch, whose entries are
 * `syslogBatchEntries(syslog)`. A store may keep the batch's bytes instead of its entries (the
 * Redis store does: a frame is a quarter of its entry's JSON and costs no serialising).
 */
export type AppendRequest = AppendOptions &
  ({ entries: Entry[]; syslog?: undefined } | { syslog: SyslogBatch; entries?: undefined });

/** What every append request may add. */
export interface AppendOptions {
  /**
   * Idempotency key of the request (e.g. `frame:<app>:<Logplex-Frame-Id>` or
   * `batch:<app>:<batch_id>`). When this key was seen within `dedupeTtlMs`, nothing is stored and
   * `duplicate` is true. Checking and recording the key is atomic with the write: a key is only
   * recorded when the entries are stored, so a failed write never makes a retry look like a dupe.
   */
  dedupeKey?: string;
  /** How long a dedupe key is remembered, in ms. */
  dedupeTtlMs?: number;
}

/** The entries an append request stores (a syslog batch's are built here). */
export function entriesOf(req: AppendRequest): Entry[] {
  return req.syslog !== undefined ? syslogBatchEntries(req.syslog) : req.entries;
}

/** Number of entries an append request stores, without building them. */
export function countOf(req: AppendRequest): number {
  return req.syslog !== undefined ? req.syslog.count : req.entries.length;
}

export interface AppendResult {
  /** Number of entries stored by this call (0 for a duplicate). */
  stored: number;
  /** True when `dedupeKey` had been seen: the request is acknowledged without storing. */
  duplicate: boolean;
}

/** History query. All filters are optional and combine with AND. */
export interface QueryFilter {
  /** Apps to read. Empty/absent = all apps (admin only; routes enforce that). */
  appIds?: string[];
  environment?: string;
  /** Minimum level (inclusive) … */
  minLevel?: Level;
  /** … or an explicit set of levels. */
  levels?: Level[];
  /** Exact match on `source` (APP-NAME). */
  source?: string;
  /** Dyno filter like `heroku logs --dyno`: `web` matches `web.1`; `web.1` matches only it. */
  proc?: string;
  /** Case-insensitive substring of `category` (the "partial match" of the seed API). */
  category?: string;
  traceId?: string;
  batchId?: string;
  /** Case-insensitive substring of `user_agent`. */
  userAgent?: string;
  /** Inclusive bounds on `timestamp`, normalised to the 27-char µs UTC form. */
  dateFrom?: string;
  dateTo?: string;
  /** Case-insensitive substring of `message`. */
  search?: string;
  /** A JavaScript regular expression `message` must match (see `compileRegex`). */
  regex?: string;
  /**
   * How long the scan may run once it tests `regex` (`QUERY_REGEX_BUDGET_MS`, default 1000 ms):
   * beyond, the query fails with GatewayError `regex_budget_exceeded` (query/regex-budget.ts).
   */
  regexBudgetMs?: number;
  /** Page size (default 100, max 1000) and offset, newest first. */
  limit: number;
  offset: number;
}

export interface QueryResult {
  /** Number of entries matching the filter (before limit/offset). */
  total: number;
  /** The page, newest `timestamp` first (ties broken by `id`, newest first). */
  entries: Entry[];
}

/** Stops a `subscribe` listener; `ready` says when delivery is guaranteed (see Store.subscribe). */
export interface Unsubscribe {
  (): void;
  readonly ready: Promise<void>;
}

/** Health as reported by `/health`. */
export interface StoreHealth {
  kind: 'memory' | 'redis';
  ok: boolean;
  detail?: string;
}

/**
 * Entry storage: bounded per-app history, atomic dedupe, queries.
 * `append` resolves only once the entries are stored; it rejects (with a GatewayError
 * `store_unavailable`, 503) when they could not be, and then nothing was acknowledged.
 */
export interface Store {
  readonly kind: 'memory' | 'redis';
  /**
   * True when the store keeps a drain batch's frames and builds its entries when they are read
   * (Redis): ingest then only checks the frames (framing and header syntax decide acceptance),
   * and builds no record of them.
   */
  readonly keepsFrames: boolean;
  append(req: AppendRequest): Promise<AppendResult>;
  query(filter: QueryFilter): Promise<QueryResult>;
  /** One entry by `id`, or the newest entry whose `trace_id` equals it; limited to `appIds` when given. */
  get(idOrTraceId: string, appIds?: string[]): Promise<Entry | null>;
  /**
   * The newest `limit` entries of one app in append (arrival) order, oldest first: what live
   * tails replay as history and resume from. Unlike `query`, the order is the app's own order of
   * storage, not timestamps (which senders set and may not be in order).
   */
  recent(appId: string, limit: number): Promise<Entry[]>;
  /**
   * Listens to entries as they are stored (after `append` stored them, in append order).
   * The live fan-out builds on this; returns the unsubscribe function, whose `ready` resolves
   * once every entry stored from then on will be delivered (a Redis store first finds the tip of
   * each firehose shard; it rejects when that fails). Listeners must not throw and must not
   * block: they may run on the ingest path. A store shared by processes (Redis) also delivers
   * other processes' entries.
   */
  subscribe(listener: (entries: Entry[]) => void): Unsubscribe;
  health(): Promise<StoreHealth>;
  close(): Promise<void>;
}
