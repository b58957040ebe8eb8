import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createMemoryAppRegistry } from './apps/memory-registry.js';
import { createRedisAppRegistry } from './apps/redis-registry.js';
import type { AppRegistry } from './apps/types.js';
import type { Config } from './config.js';
import { createMemoryRateLimiter, type RateLimiter } from './limits/rate-limiter.js';
import { createRedisRateLimiter } from './limits/redis-rate-limiter.js';
import { setEntryLimits } from './normalize/bounds.js';
import { createMemoryStore } from './store/memory.js';
import { createRedisStore } from './store/redis.js';
import { createRedisClient, waitReady } from './store/redis-client.js';
import type { Store } from './store/types.js';
import { createMetricsService, type MetricsService } from './metrics/service.js';

/** Where entries, apps and rate budgets live: all in process memory, or all in Redis. */
export interface Backend {
  store: Store;
  apps: AppRegistry;
  rateLimiter: RateLimiter;
  /** The Redis connection of a Redis backend (the file input keeps its offsets there). */
  redis?: Redis | Cluster;
  /** Metrics aggregated from the stored entries (absent with METRICS_ENABLED=false). */
  metrics?: MetricsService;
  /** Closes what the backend opened (Redis connections, sync timers). */
  close(): Promise<void>;
}

/**
 * Builds the backend from configuration: the embedded memory store without Redis settings;
 * with `REDIS_URL` (or `REDIS_CLUSTER_NODES`) the Redis Streams store, the Redis app registry and
 * the shared rate limiter, so any number of gateway processes act as one service.
 */
export async function createBackend(config: Config, logger: Logger): Promise<Backend> {
  // Process-wide: the Redis store rebuilds drain entries when read and must bound them as ingest did.
  setEntryLimits(config.entryLimits);
  const r = config.redis;
  const metricsError = (err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'metrics flush failed; retrying');
  if (!r) {
    const memory = createMemoryStore({
      historyPerApp: config.historyPerApp,
      historyBytesPerApp: config.historyBytesPerApp,
      maxDedupeKeys: config.dedupeMaxKeys,
    });
    const m = config.metrics.enabled ? createMetricsService(config.metrics, memory, undefined, metricsError) : undefined;
    return {
      store: m?.store ?? memory,
      apps: createMemoryAppRegistry({ adminToken: config.adminToken }),
      rateLimiter: createMemoryRateLimiter({ ratePerSec: config.rateLimitLinesPerSec, burst: config.rateLimitBurst }),
      metrics: m?.metrics,
      close: async () => {
        await m?.metrics.close();
      },
    };
  }
  const redis = createRedisClient({
    url: r.url,
    clusterNodes: r.clusterNodes,
    tlsRejectUnauthorized: r.tlsRejectUnauthorized,
    commandTimeoutMs: r.commandTimeoutMs,
  });
  // Log state changes, not every failed attempt: a dead Redis would flood the log.
  let lastState = '';
  const state = (s: string, err?: unknown) => {
    if (s === lastState) return;
    lastState = s;
    if (s === 'ready') logger.info('redis ready');
    else logger.warn({ err: err instanceof Error ? err.message : undefined }, `redis ${s}`);
  };
  redis.on('ready', () => state('ready'));
  redis.on('error', (err) => state('error', err));
  redis.on('end', () => state('end'));
  if (!(await waitReady(redis, r.connectWaitMs))) {
    logger.warn({ waitedMs: r.connectWaitMs }, 'redis not ready: serving degraded (ingest answers 503) until it is');
  }
  const store = createRedisStore({
    redis,
    prefix: r.prefix,
    historyPerApp: config.historyPerApp,
    historyBytesPerApp: config.historyBytesPerApp,
    shards: r.shards,
    firehoseMaxLen: r.firehoseMaxLen,
    followBatch: r.followBatch,
    dedupeTtlMs: config.dedupeTtlMs,
    onFollowError: (err) => state('follow error', err),
  });
  const rateLimiter = createRedisRateLimiter({
    redis,
    prefix: r.prefix,
    ratePerSec: config.rateLimitLinesPerSec,
    burst: config.rateLimitBurst,
    syncIntervalMs: r.rateLimitSyncMs,
  });
  const m = config.metrics.enabled ? createMetricsService(config.metrics, store, { client: redis, prefix: r.prefix }, metricsError) : undefined;
  return {
    store: m?.store ?? store,
    apps: createRedisAppRegistry({ redis, prefix: r.prefix, adminToken: config.adminToken, cacheTtlMs: r.appCacheTtlMs }),
    rateLimiter,
    redis,
    metrics: m?.metrics,
    close: async () => {
      // Metrics first: their last flush needs Redis.
      await m?.metrics.close().catch(() => {});
      await store.close();
      await rateLimiter.close();
      redis.disconnect();
    },
  };
}
