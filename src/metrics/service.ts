/**
 * Puts the metrics stage beside a store: what feeds it, and where its buckets live.
 *
 * The series are derived off the event loop, by the metrics worker thread (offload.ts), from
 * what is stored:
 *
 * - memory store: the store's own subscription (it calls listeners with each append's entries,
 *   already built), packed for the thread;
 * - Redis store: each process counts what it stored (the buckets are shared by every process,
 *   so a firehose reader would count other processes' entries twice), by a wrapper around
 *   `append`: built entries are packed, and a drain batch (whose frames the store keeps, and
 *   nobody built entries of) goes as its stored block, which the thread decodes.
 *
 * The thread flushes 10 s deltas to the one backend: in process (memory store) or in Redis.
 */
import type { Cluster, Redis } from 'ioredis';
import type { MetricsConfig } from '../config.js';
import { entryLimits } from '../normalize/bounds.js';
import { syslogBlockHeader } from '../store/block.js';
import type { Store } from '../store/types.js';
import type { AggregatorStats } from './aggregator.js';
import type { MetricsBackend, Retention } from './backend.js';
import { createMemoryMetricsBackend } from './memory-backend.js';
import { MetricsOffload } from './offload.js';
import { createRedisMetricsBackend } from './redis-backend.js';

export interface MetricsService {
  backend: MetricsBackend;
  config: MetricsConfig;
  /** What the stage counted about itself, the worker thread's and the event loop's together. */
  stats(): AggregatorStats;
  /** Counts and writes everything stored so far (tests, shutdown). */
  flush(): Promise<void>;
  /** Flushes what is pending and stops. */
  close(): Promise<void>;
}

export interface MetricsSetup {
  /** The store to use from now on: the wrapper that feeds the stage. */
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
  const limits = {
    retention,
    flushMs: config.flushMs,
    maxSkewSec: config.maxSkewSec,
    maxSeriesPerApp: config.maxSeriesPerApp,
    maxQueuedEntries: config.maxQueuedEntries,
  };
  const offload = new MetricsOffload({ ...limits, nice: config.threadNice, entryLimits: { ...entryLimits() } }, backend, onError);
  const unsubscribe = redis ? undefined : store.subscribe((entries) => offload.addEntries(entries));
  const metrics: MetricsService = {
    backend,
    config,
    stats: () => offload.stats(),
    flush: () => offload.flush(),
    async close() {
      unsubscribe?.();
      await offload.close();
      await backend.close();
    },
  };
  return { store: redis ? countingStore(store, offload) : store, metrics };
}

/** The store, its appends counted once they are stored. */
function countingStore(store: Store, offload: MetricsOffload): Store {
  return Object.assign(Object.create(store) as Store, {
    async append(req: Parameters<Store['append']>[0]) {
      const result = await store.append(req);
      if (result.stored > 0) {
        const batch = req.syslog;
        if (batch !== undefined) offload.addBlock([syslogBlockHeader(batch), batch.frames], batch.count);
        else offload.addEntries(req.entries);
      }
      return result;
    },
  });
}
