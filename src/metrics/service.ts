/**
 * Puts the metrics stage beside a store: what feeds the aggregator, and where its buckets live.
 *
 * - Memory store: the store's own subscription (it calls listeners with each append's entries,
 *   already built); buckets in process.
 * - Redis store: `subscribe` would also bring other processes' entries (the firehose), which
 *   they count themselves; so each process counts what it stored, by a wrapper around
 *   `append`, into buckets in Redis shared by every process.
 */
import type { Cluster, Redis } from 'ioredis';
import type { MetricsConfig } from '../config.js';
import { entriesOf, type Store } from '../store/types.js';
import { Aggregator } from './aggregator.js';
import type { MetricsBackend, Retention } from './backend.js';
import { createMemoryMetricsBackend } from './memory-backend.js';
import { createRedisMetricsBackend } from './redis-backend.js';

export interface MetricsService {
  aggregator: Aggregator;
  backend: MetricsBackend;
  config: MetricsConfig;
  /** Flushes what is pending and stops. */
  close(): Promise<void>;
}

export interface MetricsSetup {
  /** The store to use from now on (with Redis: the wrapper that feeds the aggregator). */
  store: Store;
  metrics: MetricsService;
}

/** Builds the stage for `store`; `redis` (with its key prefix) when the store is the Redis one. */
export function createMetricsService(
  config: MetricsConfig,
  store: Store,
  redis?: { client: Redis | Cluster; prefix: string },
  onError?: (err: unknown) => void,
): MetricsSetup {
  const retention: Retention = { 10: config.retention10s, 60: config.retention60s };
  const backend = redis ? createRedisMetricsBackend({ redis: redis.client, prefix: redis.prefix, retention }) : createMemoryMetricsBackend(retention);
  const aggregator = new Aggregator({
    backend,
    retention,
    flushMs: config.flushMs,
    maxSkewSec: config.maxSkewSec,
    maxSeriesPerApp: config.maxSeriesPerApp,
    maxQueuedEntries: config.maxQueuedEntries,
    onError,
  }).start();
  let fed = store;
  let unsubscribe: (() => void) | undefined;
  if (!redis) unsubscribe = store.subscribe((entries) => aggregator.add(entries));
  else fed = countingStore(store, aggregator);
  const metrics: MetricsService = {
    aggregator,
    backend,
    config,
    async close() {
      unsubscribe?.();
      await aggregator.close();
      await backend.close();
    },
  };
  return { store: fed, metrics };
}

/**
 * The store, its appends counted once they are stored. Entries of a drain request are built
 * from its frames on the next event-loop turn (the Redis store keeps the frames), not on the
 * request's path.
 */
function countingStore(store: Store, aggregator: Aggregator): Store {
  return Object.assign(Object.create(store) as Store, {
    async append(req: Parameters<Store['append']>[0]) {
      const result = await store.append(req);
      if (result.stored > 0) {
        setImmediate(() => {
          try {
            aggregator.add(entriesOf(req));
          } catch {
            // a batch that no longer builds is the store's concern; metrics skip it
          }
        });
      }
      return result;
    },
  });
}
