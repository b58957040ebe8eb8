/**
 * Puts the metrics stage beside a store: what feeds it, and where its buckets live.
 *
 * The series are derived from what is stored, off the request's path (after the answer, on a
 * later turn of the event loop, or on a thread):
 *
 * - entries the event loop built anyway (every append on the memory store, JSON ingest on
 *   Redis) are counted on the event loop, by an aggregator fed on the next turn: deriving them
 *   costs less than packing them for another thread did (bench/README.md, "Metrics from logs");
 * - a drain batch on the Redis store, whose frames the store keeps and whose entries nobody built,
 *   goes as its stored block to the metrics worker thread (offload.ts), which decodes it.
 *
 * On Redis each process counts what it stored (the buckets are shared by every process, so a
 * firehose reader would count other processes' entries twice). Both aggregators flush 10 s deltas
 * to the one backend: in process (memory store) or in Redis, where deltas merge by addition.
 */
import type { Cluster, Redis } from 'ioredis';
import type { MetricsConfig } from '../config.js';
import { entryLimits } from '../normalize/bounds.js';
import { syslogBlockHeader } from '../store/block.js';
import type { Store } from '../store/types.js';
import { Aggregator, type AggregatorStats } from './aggregator.js';
import type { MetricsBackend, Retention } from './backend.js';
import { createMemoryMetricsBackend } from './memory-backend.js';
import { MetricsOffload } from './offload.js';
import { createRedisMetricsBackend } from './redis-backend.js';

export interface MetricsService {
  backend: MetricsBackend;
  config: MetricsConfig;
  /** What the stage counted about itself, the event loop's and the worker thread's together. */
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
  const backend = redis ? createRedisMetricsBackend({ redis: redis.client, prefix: redis.prefix, retention, readCacheBytes: config.readCacheBytes }) : createMemoryMetricsBackend(retention);
  const limits = {
    retention,
    flushMs: config.flushMs,
    maxSkewSec: config.maxSkewSec,
    maxSeriesPerApp: config.maxSeriesPerApp,
    maxQueuedEntries: config.maxQueuedEntries,
  };
  const aggregator = new Aggregator({ backend, ...limits, onError }).start();
  // The thread is started only where there are blocks to decode.
  const offload = redis ? new MetricsOffload({ ...limits, nice: config.threadNice, entryLimits: { ...entryLimits() } }, backend, onError) : undefined;
  const unsubscribe = redis ? undefined : store.subscribe((entries) => aggregator.add(entries));
  const metrics: MetricsService = {
    backend,
    config,
    stats: () => (offload ? sumStats(aggregator.stats, offload.stats()) : { ...aggregator.stats }),
    flush: async () => {
      await Promise.all([aggregator.flush(), offload?.flush()]);
    },
    async close() {
      unsubscribe?.();
      await Promise.all([aggregator.close(), offload?.close()]);
      await backend.close();
    },
  };
  return { store: offload ? countingStore(store, aggregator, offload) : store, metrics };
}

function sumStats(a: AggregatorStats, b: AggregatorStats): AggregatorStats {
  const out = { ...a };
  for (const k of Object.keys(out) as (keyof AggregatorStats)[]) out[k] += b[k];
  return out;
}

/** The store, its appends counted once they are stored. */
function countingStore(store: Store, aggregator: Aggregator, offload: MetricsOffload): Store {
  return Object.assign(Object.create(store) as Store, {
    async append(req: Parameters<Store['append']>[0]) {
      const result = await store.append(req);
      if (result.stored > 0) {
        const batch = req.syslog;
        if (batch !== undefined) offload.addBlock([syslogBlockHeader(batch), batch.frames], batch.count);
        else aggregator.add(req.entries);
      }
      return result;
    },
  });
}
