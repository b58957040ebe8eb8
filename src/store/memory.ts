import { LRUCache } from 'lru-cache';
import { storeUnavailable } from '../errors.js';
import type { Entry } from '../normalize/entry.js';
import { approxEntryBytes } from '../normalize/bounds.js';
import { compareNewestFirst, compileFilter, selectPage } from './query.js';
import { Ring } from './ring.js';
import { entriesOf, type AppendRequest, type AppendResult, type QueryFilter, type QueryResult, type Store, type StoreHealth, type Unsubscribe } from './types.js';

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Entries kept per app; the oldest are dropped beyond it. Default 1500, as Logplex keeps. */
  historyPerApp?: number;
  /**
   * Approximate bytes kept per app ({@link approxEntryBytes}); the oldest entries are dropped
   * beyond it, the newest always kept. Default 8 MiB (`HISTORY_BYTES_PER_APP`).
   */
  historyBytesPerApp?: number;
  /**
   * Dedupe keys remembered at most (least recently used dropped first). Default 100 000. A key
   * dropped early by this bound no longer catches its replay, so size it above the number of
   * requests expected within `dedupeTtlMs`.
   */
  maxDedupeKeys?: number;
  /** Called with what a subscribe listener threw (the error is otherwise dropped). */
  onListenerError?: (error: unknown) => void;
}

/** How long a dedupe key is remembered when the request does not say: 15 minutes. */
export const DEFAULT_DEDUPE_TTL_MS = 15 * 60_000;
/** History per app when not configured, as Logplex keeps (1500 lines). */
export const DEFAULT_HISTORY_PER_APP = 1500;
/** History bytes per app when not configured. */
export const DEFAULT_HISTORY_BYTES_PER_APP = 8 * 1024 * 1024;

/** One app's history: its entries, their approximate sizes (same positions) and their sum. */
interface AppHistory {
  entries: Ring<Entry>;
  sizes: Ring<number>;
  bytes: number;
}
const DEFAULT_MAX_DEDUPE_KEYS = 100_000;

/**
 * The embedded store: per-app ring buffers in this process (lost on restart), an LRU of dedupe
 * keys, and synchronous notification of subscribers.
 *
 * Entries are kept by reference: callers must treat entries as immutable once appended (as the
 * ingest path does), and so must readers of `query`/`get` results.
 *
 * Cost: `append` is O(entries). `query` and a `get` by trace id scan every entry of the apps asked
 * for (all apps when `appIds` is empty): O(historyPerApp × apps) tests, then a page selection (see
 * `selectPage`). In a quick measurement, 1500 × 100 apps = 150 000 entries took 6–11 ms per query
 * (limit 100), run synchronously: it holds the event loop that long, fine up to a few hundred busy
 * apps. `get` by id scans too: an id index would cost a Map entry per stored line for a rare
 * dashboard click.
 *
 * @example
 * const store = createMemoryStore({ historyPerApp: 1500 });
 * await store.append({ entries, dedupeKey: `frame:${appId}:${frameId}` });
 * const { total, entries: page } = await store.query({ appIds: [appId], limit: 100, offset: 0 });
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const historyPerApp = options.historyPerApp ?? DEFAULT_HISTORY_PER_APP;
  if (!Number.isInteger(historyPerApp) || historyPerApp < 1) {
    throw new RangeError(`historyPerApp must be a positive integer, got ${historyPerApp}`);
  }
  const maxDedupeKeys = options.maxDedupeKeys ?? DEFAULT_MAX_DEDUPE_KEYS;
  if (!Number.isInteger(maxDedupeKeys) || maxDedupeKeys < 1) {
    throw new RangeError(`maxDedupeKeys must be a positive integer, got ${maxDedupeKeys}`);
  }
  const historyBytes = options.historyBytesPerApp ?? DEFAULT_HISTORY_BYTES_PER_APP;
  if (!(historyBytes >= 1)) throw new RangeError(`historyBytesPerApp must be positive, got ${historyBytes}`);
  const onListenerError = options.onListenerError;

  const histories = new Map<string, AppHistory>();
  const rings = new Map<string, Ring<Entry>>();
  // Per-item TTL from each request; `max` bounds memory whatever the traffic.
  const seen = new LRUCache<string, true>({ max: maxDedupeKeys });
  const listeners = new Set<(entries: Entry[]) => void>();
  let closed = false;

  function ringsFor(appIds: string[] | undefined): Ring<Entry>[] {
    if (!appIds || appIds.length === 0) return [...rings.values()];
    const out: Ring<Entry>[] = [];
    for (const id of new Set(appIds)) {
      const ring = rings.get(id);
      if (ring) out.push(ring);
    }
    return out;
  }

  function notify(entries: Entry[]): void {
    for (const listener of [...listeners]) {
      try {
        listener(entries);
      } catch (error) {
        // A listener runs on the ingest path: its failure must not fail the append or starve others.
        try {
          onListenerError?.(error);
        } catch {
          // nothing more to do
        }
      }
    }
  }

  return {
    kind: 'memory',
    keepsFrames: false,

    async append(req: AppendRequest): Promise<AppendResult> {
      if (closed) throw storeUnavailable('the store is closed');
      const ttl = req.dedupeTtlMs ?? DEFAULT_DEDUPE_TTL_MS;
      if (req.dedupeKey !== undefined) {
        if (!Number.isFinite(ttl) || ttl <= 0) {
          throw new RangeError(`dedupeTtlMs must be a positive number of ms, got ${ttl}`);
        }
        if (seen.has(req.dedupeKey)) return { stored: 0, duplicate: true };
      }
      // Everything below is synchronous: check, store and record cannot interleave with another
      // append, which is what makes the dedupe atomic here.
      const entries = entriesOf(req);
      for (const entry of entries) {
        let h = histories.get(entry.app_id);
        if (!h) {
          h = { entries: new Ring<Entry>(historyPerApp), sizes: new Ring<number>(historyPerApp), bytes: 0 };
          histories.set(entry.app_id, h);
          rings.set(entry.app_id, h.entries);
        }
        const size = approxEntryBytes(entry);
        h.entries.push(entry);
        const evicted = h.sizes.push(size);
        h.bytes += size - (evicted ?? 0);
        // The byte bound: oldest first, never the entry just stored.
        while (h.bytes > historyBytes && h.entries.size > 1) {
          h.entries.shift();
          h.bytes -= h.sizes.shift()!;
        }
      }
      if (req.dedupeKey !== undefined) seen.set(req.dedupeKey, true, { ttl: Math.ceil(ttl) });
      if (entries.length > 0 && listeners.size > 0) notify(entries.slice());
      return { stored: entries.length, duplicate: false };
    },

    async query(filter: QueryFilter): Promise<QueryResult> {
      if (closed) throw storeUnavailable('the store is closed');
      const matches = compileFilter(filter);
      const found: Entry[] = [];
      for (const ring of ringsFor(filter.appIds)) {
        // Newest first: rings are mostly in time order, so the sort meets long ordered runs.
        for (let i = ring.size - 1; i >= 0; i--) {
          const entry = ring.at(i)!;
          if (matches(entry)) found.push(entry);
        }
      }
      return { total: found.length, entries: selectPage(found, filter.offset, filter.limit) };
    },

    async recent(appId: string, limit: number): Promise<Entry[]> {
      if (closed) throw storeUnavailable('the store is closed');
      const ring = rings.get(appId);
      if (!ring) return [];
      const from = Math.max(0, ring.size - limit);
      const out: Entry[] = [];
      for (let i = from; i < ring.size; i++) out.push(ring.at(i)!);
      return out;
    },

    async get(idOrTraceId: string, appIds?: string[]): Promise<Entry | null> {
      if (closed) throw storeUnavailable('the store is closed');
      if (idOrTraceId === '') return null;
      let byTrace: Entry | null = null;
      for (const ring of ringsFor(appIds)) {
        for (let i = ring.size - 1; i >= 0; i--) {
          const entry = ring.at(i)!;
          if (entry.id === idOrTraceId) return entry;
          if (entry.trace_id === idOrTraceId && (byTrace === null || compareNewestFirst(entry, byTrace) < 0)) {
            byTrace = entry;
          }
        }
      }
      return byTrace;
    },

    subscribe(listener: (entries: Entry[]) => void): Unsubscribe {
      // Wrapped so the same function subscribed twice gets two independent subscriptions.
      const wrapped = (entries: Entry[]): void => listener(entries);
      listeners.add(wrapped);
      // Listeners are called synchronously by append: delivery is guaranteed at once.
      return Object.assign(() => void listeners.delete(wrapped), { ready: Promise.resolve() });
    },

    async health(): Promise<StoreHealth> {
      return closed ? { kind: 'memory', ok: false, detail: 'closed' } : { kind: 'memory', ok: true };
    },

    async close(): Promise<void> {
      closed = true;
      listeners.clear();
      rings.clear();
      histories.clear();
      seen.clear();
    },
  };
}
