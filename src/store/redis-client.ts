import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';

/** How to reach Redis: `REDIS_URL` (single node, `redis://` or `rediss://`) or cluster seed nodes. */
export interface RedisConnectOptions {
  url?: string;
  /** `host:port` seeds of a Redis Cluster (`REDIS_CLUSTER_NODES`); wins over `url`'s host. */
  clusterNodes?: string[];
  /**
   * Verify the server's TLS certificate (`REDIS_TLS_REJECT_UNAUTHORIZED`, default true).
   * Heroku Redis presents a self-signed certificate: set it to false there.
   */
  tlsRejectUnauthorized?: boolean;
  /** A command not answered in this time fails (and the request gets 503). Default 2000 ms. */
  commandTimeoutMs?: number;
  /** Connect timeout per attempt. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Longest pause between reconnect attempts. Default 2000 ms. */
  maxReconnectDelayMs?: number;
}

/** Commands sent without auto-pipelining: the Redis store's append script (see below). */
export const UNPIPELINED_COMMANDS = ['sluiceAppend'] as const;

/**
 * Creates the command connection. Chosen so that no acknowledged data is ever lost and nothing
 * queues without bound while Redis is away:
 * - `enableOfflineQueue: false`, `maxRetriesPerRequest: 0`: while disconnected a command fails at
 *   once (the route answers 503 + Retry-After and Heroku retries) instead of waiting in memory;
 *   a command in flight when the connection drops fails too (its retry is deduped if it landed).
 * - `commandTimeout`: a stuck Redis cannot hang a request past its timeout.
 * - reconnects forever with capped exponential backoff; the gateway recovers by itself.
 * - `enableAutoPipelining`: commands issued in one tick share one round trip. Except the store's
 *   append script: ioredis keeps at most one auto-pipeline in flight per connection (per node on
 *   a Cluster) and queues the next one until its replies are back, so appends, each a long
 *   script carrying a whole request, would run one at a time with Redis idle while the gateway
 *   parses the next body. Sent as plain commands they pipeline on the connection instead.
 */
export function createRedisClient(opts: RedisConnectOptions): Redis | Cluster {
  const maxDelay = opts.maxReconnectDelayMs ?? 2000;
  const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay);
  const base: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs ?? 2000,
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    retryStrategy,
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: [...UNPIPELINED_COMMANDS],
    // Keep reconnecting on errors such as READONLY after a failover.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
  const url = opts.url ? new URL(opts.url) : undefined;
  const tls = url?.protocol === 'rediss:' ? { rejectUnauthorized: opts.tlsRejectUnauthorized ?? true } : undefined;

  if (opts.clusterNodes && opts.clusterNodes.length > 0) {
    const nodes: ClusterNode[] = opts.clusterNodes.map((n) => {
      const [host, port] = n.split(':');
      return { host: host!, port: Number(port ?? 6379) };
    });
    return new Cluster(nodes, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      autoPipeliningIgnoredCommands: [...UNPIPELINED_COMMANDS],
      clusterRetryStrategy: retryStrategy,
      redisOptions: {
        ...base,
        enableAutoPipelining: undefined,
        username: url?.username ? decodeURIComponent(url.username) : undefined,
        password: url?.password ? decodeURIComponent(url.password) : undefined,
        tls,
      },
    });
  }
  if (!opts.url) throw new Error('REDIS_URL or REDIS_CLUSTER_NODES is required for the Redis store');
  return new Redis(opts.url, { ...base, tls });
}

/**
 * Waits until the connection is ready, or `timeoutMs` passed. Resolves true when ready; false
 * otherwise (the gateway still starts: health says degraded and ingest answers 503 until Redis
 * comes, then it recovers by itself).
 */
export function waitReady(redis: Redis | Cluster, timeoutMs: number): Promise<boolean> {
  if ((redis as Redis).status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}
