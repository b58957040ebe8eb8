import { z } from 'zod';

/**
 * The only place that reads `process.env`. Every limit of the gateway is named here, with its
 * default; README.md's configuration table lists the same names.
 */

const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', ''])
  .transform((v) => v === '1' || v === 'true' || v === 'yes' || v === 'on');

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

const EnvSchema = z.object({
  PORT: int(9000, 0, 65535),
  HOST: z.string().optional(),
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters').optional(),
  METRICS_TOKEN: z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional(),
  SLUICE_CONFIG: z.string().default('sluice.config.json'),
  PUBLIC_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  HISTORY_PER_APP: int(1500, 1, 1_000_000),
  HISTORY_BYTES_PER_APP: int(8 * 1024 * 1024, 64 * 1024, 16 * 1024 * 1024 * 1024),
  MAX_MESSAGE_BYTES: int(64 * 1024, 256, 8 * 1024 * 1024),
  MAX_CONTEXT_BYTES: int(64 * 1024, 256, 8 * 1024 * 1024),
  MAX_JSON_DEPTH: int(32, 1, 1000),
  MAX_FRAME_BYTES: int(10240, 64, 65536),
  MAX_BODY_BYTES: int(8 * 1024 * 1024, 1024, 256 * 1024 * 1024),
  MAX_INFLATED_BYTES: int(32 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  MAX_JSON_ENTRIES: int(10_000, 1, 1_000_000),
  DEDUPE_TTL_SEC: int(900, 1, 7 * 24 * 3600),
  DEDUPE_MAX_KEYS: int(100_000, 100, 10_000_000),
  RATE_LIMIT_LINES_PER_SEC: int(50_000, 0, 100_000_000),
  RATE_LIMIT_BURST: int(100_000, 1, 1_000_000_000),
  REQUEST_TIMEOUT_MS: int(30_000, 1000, 600_000),
  KEEP_ALIVE_TIMEOUT_MS: int(65_000, 1000, 600_000),
  SHUTDOWN_GRACE_MS: int(25_000, 1000, 600_000),
  QUERY_MAX_LIMIT: int(1000, 1, 100_000),
  QUERY_REGEX_BUDGET_MS: int(1000, 1, 600_000),
  INGEST_DISABLED: bool.default(false),
  TRUST_PROXY: bool.default(false),
  AUTH_FAILURES_PER_MIN: int(30, 0, 1_000_000),
  MAX_CONNECTIONS_PER_ADDRESS: int(100, 0, 1_000_000),
  REDIS_URL: z.string().url().optional(),
  REDIS_CLUSTER_NODES: z.string().optional(),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default('sluice'),
  REDIS_SHARDS: int(8, 1, 1024),
  REDIS_FIREHOSE_MAXLEN: int(1000, 10, 10_000_000),
  REDIS_FOLLOW_BATCH: int(100, 1, 10_000),
  REDIS_TLS_REJECT_UNAUTHORIZED: bool.default(true),
  REDIS_COMMAND_TIMEOUT_MS: int(2000, 100, 60_000),
  REDIS_CONNECT_WAIT_MS: int(5000, 0, 120_000),
  APP_CACHE_TTL_MS: int(5000, 0, 600_000),
  SLUICE_ROLES: z
    .string()
    .default('ingest,fanout')
    .transform((v) => new Set(v.split(',').map((r) => r.trim()).filter(Boolean)))
    .refine((set) => [...set].every((r) => r === 'ingest' || r === 'fanout') && set.size > 0, {
      message: 'SLUICE_ROLES is a comma-separated list of ingest, fanout',
    }),
  FANOUT_QUEUE_MAX_MESSAGES: int(10_000, 10, 10_000_000),
  FANOUT_QUEUE_MAX_BYTES: int(4 * 1024 * 1024, 4096, 1024 * 1024 * 1024),
  FANOUT_SOCKET_HIGH_WATER_BYTES: int(1024 * 1024, 1024, 256 * 1024 * 1024),
  FANOUT_SLOW_CLOSE_MS: int(10_000, 100, 3_600_000),
  FANOUT_HEARTBEAT_MS: int(25_000, 100, 600_000),
  FANOUT_PONG_TIMEOUT_MS: int(10_000, 100, 600_000),
  FANOUT_AUTH_TIMEOUT_MS: int(3_000, 100, 600_000),
  FANOUT_SSE_HEARTBEAT_MS: int(15_000, 100, 600_000),
  FANOUT_MAX_CONNECTIONS: int(10_000, 1, 1_000_000),
  FANOUT_MAX_UNAUTHENTICATED: int(100, 1, 1_000_000),
  FANOUT_BATCH_MAX: int(500, 1, 100_000),
  FANOUT_REGEX_BUDGET_MS_PER_SEC: int(50, 1, 1000),
  SESSION_TTL_MS: int(360_000, 1000, 86_400_000),
  RATE_LIMIT_SYNC_MS: int(100, 10, 10_000),
  SYSLOG_TCP_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  SYSLOG_TCP_APP: z.string().optional(),
  SYSLOG_TLS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  SYSLOG_TLS_APP: z.string().optional(),
  SYSLOG_TLS_CERT: z.string().optional(),
  SYSLOG_TLS_KEY: z.string().optional(),
  SYSLOG_MAX_BAD_FRAMES: int(10, 1, 1_000_000),
  SYSLOG_IDLE_TIMEOUT_MS: int(600_000, 1000, 86_400_000),
  SYSLOG_MAX_FRAME_BYTES: int(64 * 1024, 256, 1024 * 1024),
  SYSLOG_MAX_CONNECTIONS: int(1000, 1, 1_000_000),
  CREATE_DEMO_APP: bool.optional(),
  FILE_POLL_INTERVAL_MS: int(1000, 50, 600_000),
  FILE_MAX_LINE_BYTES: int(256 * 1024, 256, 64 * 1024 * 1024),
  FILE_READ_CHUNK_BYTES: int(64 * 1024, 1024, 64 * 1024 * 1024),
  FILE_BATCH_MAX: int(500, 1, 100_000),
  FILE_MULTILINE_QUIET_MS: int(500, 0, 600_000),
  FILE_MAX_FILES: int(1000, 1, 1_000_000),
  WS_INGEST_ANONYMOUS: z.enum(['auto', 'true', 'false', '1', '0', 'yes', 'no', 'on', 'off']).default('auto'),
  WS_INGEST_MAX_MESSAGE_BYTES: int(1024 * 1024, 1024, 256 * 1024 * 1024),
  WS_INGEST_MAX_QUEUED_BYTES: int(4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  METRICS_ENABLED: bool.default(true),
  METRICS_RETENTION_10S: int(3600, 60, 7 * 86_400),
  METRICS_RETENTION_60S: int(86_400, 600, 90 * 86_400),
  METRICS_FLUSH_MS: int(1000, 50, 60_000),
  METRICS_MAX_SKEW_SEC: int(300, 1, 7 * 86_400),
  METRICS_MAX_SERIES_PER_APP: int(2000, 10, 1_000_000),
  METRICS_MAX_QUEUED_ENTRIES: int(200_000, 1000, 100_000_000),
  METRICS_THREAD_NICE: int(10, 0, 19),
  METRICS_READ_CACHE_BYTES: int(32 * 1024 * 1024, 0, 16 * 1024 * 1024 * 1024),
  METRICS_LIVE_INTERVAL_MS: int(2000, 100, 60_000),
  METRICS_LIVE_MAX_SERIES: int(50, 1, 1000),
  METRICS_MAX_POINTS: int(10_000, 100, 1_000_000),
});

/** Every environment variable the gateway reads (README.md's configuration table lists them all). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(EnvSchema.shape);


/** Resolved configuration. */
export interface Config {
  port: number;
  /** Address to bind; resolved by {@link resolveBindHost} when not set explicitly. */
  host?: string;
  adminToken?: string;
  /** Bearer token `GET /metrics` requires (the admin token works too); unset: /metrics is open. */
  metricsToken?: string;
  configPath: string;
  /** Base URL used in drain URLs handed out by `POST /api/apps`; else taken from the request. */
  publicUrl?: string;
  logLevel: string;
  /** Lines kept per app (Logplex keeps 1500). */
  historyPerApp: number;
  /**
   * Bytes of history kept per app, beside the line bound: the oldest entries go first when
   * either is exceeded (memory store: the entries' approximate size; Redis: the stored blocks).
   */
  historyBytesPerApp: number;
  /** Bounds on one entry (normalize/bounds.ts): message bytes, context bytes, nesting depth. */
  entryLimits: { maxMessageBytes: number; maxContextBytes: number; maxJsonDepth: number };
  /** Largest octet-counted frame accepted (Logplex: 10240). */
  maxFrameBytes: number;
  /** Largest request body as sent (compressed or not) → 413 above. */
  maxBodyBytes: number;
  /** Largest body after gzip/deflate inflation → 413 above (gzip bombs). */
  maxInflatedBytes: number;
  /** Most entries in one JSON / NDJSON request → 413 above. */
  maxJsonEntries: number;
  /** How long a Logplex-Frame-Id or batch_id is remembered for dedupe. */
  dedupeTtlMs: number;
  dedupeMaxKeys: number;
  /** Sustained ingest rate per app in lines/s (0 = unlimited) and the burst allowed above it. */
  rateLimitLinesPerSec: number;
  rateLimitBurst: number;
  /** Whole-request timeout of the HTTP server. */
  requestTimeoutMs: number;
  /** Idle keep-alive timeout; above the 60 s of common load balancers so they close first. */
  keepAliveTimeoutMs: number;
  /**
   * On SIGTERM/SIGINT, how long in-flight requests (uploads still sending their body included)
   * get to finish before the process exits anyway, with code 1 (see src/shutdown.ts). The
   * default, 25 s, fits inside the 30 s Heroku waits before SIGKILL.
   */
  shutdownGraceMs: number;
  /** Largest `limit` accepted by `GET /api/logs`. */
  queryMaxLimit: number;
  /**
   * How long a history read (`GET /api/logs`, a live tail's history or resume) may scan once it
   * tests a `regex`: beyond, 400 `regex_budget_exceeded` (src/query/regex-budget.ts).
   */
  queryRegexBudgetMs: number;
  /** Answer 503 on the ingest routes (maintenance switch, Logplex's "ingress disabled"). */
  ingestDisabled: boolean;
  /**
   * Take the client's address from the last `X-Forwarded-For` hop instead of the socket (behind
   * Heroku's router or a load balancer that appends it). Only when every request comes through
   * such a proxy: otherwise clients could claim any address. See src/http/client-address.ts.
   */
  trustProxy: boolean;
  /**
   * Failed authentications (unknown tokens) allowed per client address per minute, also the
   * burst; above it, requests whose token this process does not already know valid get 429
   * `too_many_auth_failures` without a store lookup. 0 = off. See src/limits/auth-throttle.ts.
   */
  authFailuresPerMin: number;
  /** Open live connections (WebSockets, SSE and session streams) per client address → 503 above; 0 = unlimited. */
  maxConnectionsPerAddress: number;
  /** Create the `demo` app at start; default: only when no admin token and no config file. */
  createDemoApp?: boolean;
  /** Redis: absent = the embedded memory store. */
  redis?: RedisConfig;
  /** What this process does: accept logs (`ingest`), relay them live (`fanout`), or both. */
  roles: { ingest: boolean; fanout: boolean };
  fanout: FanoutConfig;
  /** The file input (`file_watchers` of the config file, src/ingest/files/). */
  files: FileInputConfig;
  /** Syslog over TCP (RFC 6587) and TLS (RFC 5425): listeners started only when their port is set. */
  syslog: SyslogConfig;
  wsIngest: WsIngestConfig;
  metrics: MetricsConfig;
}

/** Metrics aggregated from logs (src/metrics/): buckets, bounds and the live updates. */
export interface MetricsConfig {
  /** Off: no aggregation, the metrics routes answer 404 `metrics_disabled`. */
  enabled: boolean;
  /** Seconds each step's buckets are kept: 10 s buckets (default 1 h), 60 s buckets (default 24 h). */
  retention10s: number;
  retention60s: number;
  /** How often each process writes its deltas to the buckets (with Redis: to the shared ones). */
  flushMs: number;
  /** An entry whose timestamp is further than this from its receive time counts at receive time. */
  maxSkewSec: number;
  /** Series per app; observations of further series are dropped (and counted). */
  maxSeriesPerApp: number;
  /** Stored entries waiting to be counted; beyond, entries are left out of the metrics (never the store). */
  maxQueuedEntries: number;
  /** Niceness of the metrics worker thread (Linux; 0 = the process's): ingest comes first under CPU pressure. */
  threadNice: number;
  /** Redis: bytes of closed buckets' points each process keeps to answer reads without fetching them (0: none). */
  readCacheBytes: number;
  /** Interval of the `metrics` messages of a live subscription. */
  liveIntervalMs: number;
  /** Series one live subscription may follow. */
  liveMaxSeries: number;
  /** Most buckets one `GET /api/metrics` may span (range / step). */
  maxPoints: number;
}

/** The WebSocket ingest endpoint (`GET /logs` with Upgrade, src/ingest/ws-logs.ts). */
export interface WsIngestConfig {
  /**
   * Producers without a token (the seed's kit without `api_key`): `auto` accepts them only in
   * the local demo mode (no ADMIN_TOKEN, no config file, loopback bind), `on` always, `off` never.
   */
  anonymous: 'auto' | 'on' | 'off';
  /** Largest message; above it the connection is closed with 1009. */
  maxMessageBytes: number;
  /** Bytes of messages received and not yet stored per connection before its socket stops being read. */
  maxQueuedBytes: number;
}

/** The syslog listeners (src/ingest/syslog-tcp/) and their limits. */
export interface SyslogConfig {
  /** Plain TCP listener (`SYSLOG_TCP_PORT`), optionally bound to one app (`SYSLOG_TCP_APP`). */
  tcp?: { port: number; app?: string };
  /** TLS listener (`SYSLOG_TLS_PORT`), with PEM certificate chain and key paths. */
  tls?: { port: number; app?: string; certPath: string; keyPath: string };
  /** Frames without a valid app (or not syslog) before the gateway closes the connection. */
  maxBadFrames: number;
  /** A connection silent this long is closed. */
  idleTimeoutMs: number;
  /** Largest frame accepted; bigger ones are skipped and counted. */
  maxFrameBytes: number;
  /** Open connections per listener. */
  maxConnections: number;
}

/** Limits of the file input (src/ingest/files/). */
export interface FileInputConfig {
  /** Interval of the poll besides fs.watch (network filesystems send no events); also the retry interval. */
  pollIntervalMs: number;
  /** Longest line kept; longer ones are cut (flag `truncated`). Also the most one multi-line text entry keeps. */
  maxLineBytes: number;
  /** Bytes read from a file per read. */
  readChunkBytes: number;
  /** Most entries per store append. */
  batchMax: number;
  /** A pending multi-line `text` entry is stored after this long without a new line. */
  multilineQuietMs: number;
  /** Most files one watcher (glob) follows. */
  maxFiles: number;
}

/** Limits of the live fan-out (per subscriber unless said otherwise). */
export interface FanoutConfig {
  /** Entries queued for one subscriber before the oldest are dropped (and a gap announced). */
  queueMaxMessages: number;
  /** Bytes queued for one subscriber before the oldest are dropped. */
  queueMaxBytes: number;
  /** Bytes allowed in a subscriber's socket buffer; above it the queue holds entries instead. */
  socketHighWaterBytes: number;
  /** A subscriber over its limits this long is closed with 4008 "slow" (it can resume). */
  slowCloseMs: number;
  /** Heartbeat interval (WebSocket ping and a `heartbeat` message when idle). */
  heartbeatMs: number;
  /** A peer that does not answer a ping within this time is closed. */
  pongTimeoutMs: number;
  /** A WebSocket without a valid token after this time is closed with 4001 (default 3 s). */
  authTimeoutMs: number;
  /** SSE `: heartbeat` comment interval (proxies close idle streams at 60–100 s). */
  sseHeartbeatMs: number;
  /**
   * Most authenticated WebSocket connections per process (503 on upgrade above). Sockets not yet
   * authenticated do not count here, so they can never keep a reader with a token out.
   */
  maxConnections: number;
  /**
   * Most WebSockets per process not yet authenticated (upgraded, no valid token resolved yet).
   * Above it, upgrades without a token in the URL or `Authorization` get 503; upgrades with one
   * are let through (and authenticated at once).
   */
  maxUnauthenticated: number;
  /** Most entries in one batched frame. */
  batchMax: number;
  /**
   * Time a live subscription's `regex` may take a second, on average over 2 s; beyond, the
   * subscription is ended with `regex_budget_exceeded` (src/query/regex-budget.ts).
   */
  regexBudgetMsPerSec: number;
  /** A Logplex session unused this long expires (404). */
  sessionTtlMs: number;
}

/** Redis settings (set when `REDIS_URL` or `REDIS_CLUSTER_NODES` is). */
export interface RedisConfig {
  url?: string;
  clusterNodes?: string[];
  /** Prefix of every key, so several deployments can share one Redis. */
  prefix: string;
  /** Firehose shards; part of the key layout (changing it orphans existing history). */
  shards: number;
  /** Firehose stream entries (requests) kept per shard for live followers. */
  firehoseMaxLen: number;
  /** Firehose entries (requests) a live follower reads per XREAD: bounds one reply's size. */
  followBatch: number;
  /** Verify TLS certificates of `rediss://` (Heroku Redis needs false: self-signed). */
  tlsRejectUnauthorized: boolean;
  /** A Redis command not answered in this time fails the request with 503. */
  commandTimeoutMs: number;
  /** How long start-up waits for Redis before serving anyway (degraded, 503 on ingest). */
  connectWaitMs: number;
  /** How long a process caches token lookups (a revoked token works this long elsewhere). */
  appCacheTtlMs: number;
  /** How often each process syncs its rate-limit consumption with Redis. */
  rateLimitSyncMs: number;
}

/**
 * Reads the configuration from an environment (default `process.env`).
 * Throws an Error naming every invalid variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  if (e.SYSLOG_TLS_PORT !== undefined && (!e.SYSLOG_TLS_CERT || !e.SYSLOG_TLS_KEY)) {
    throw new Error('invalid configuration:\n  SYSLOG_TLS_PORT: needs SYSLOG_TLS_CERT and SYSLOG_TLS_KEY (PEM file paths)');
  }
  if (e.REDIS_URL || e.REDIS_CLUSTER_NODES) {
    const ms = estimatedHistoryReadMs(e.HISTORY_PER_APP, e.HISTORY_BYTES_PER_APP);
    if (ms > e.REDIS_COMMAND_TIMEOUT_MS) {
      throw new Error(
        `invalid configuration:\n  HISTORY_PER_APP: ${e.HISTORY_PER_APP} lines (with HISTORY_BYTES_PER_APP ${e.HISTORY_BYTES_PER_APP}) ` +
          `may take up to ${Math.round(ms)} ms for Redis to read back, over REDIS_COMMAND_TIMEOUT_MS ${e.REDIS_COMMAND_TIMEOUT_MS}: ` +
          'every history read and live-tail start would fail; lower them or raise the timeout',
      );
    }
  }
  return {
    port: e.PORT,
    host: e.HOST,
    adminToken: e.ADMIN_TOKEN,
    metricsToken: e.METRICS_TOKEN,
    configPath: e.SLUICE_CONFIG,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    logLevel: e.LOG_LEVEL,
    historyPerApp: e.HISTORY_PER_APP,
    historyBytesPerApp: e.HISTORY_BYTES_PER_APP,
    entryLimits: { maxMessageBytes: e.MAX_MESSAGE_BYTES, maxContextBytes: e.MAX_CONTEXT_BYTES, maxJsonDepth: e.MAX_JSON_DEPTH },
    maxFrameBytes: e.MAX_FRAME_BYTES,
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxInflatedBytes: e.MAX_INFLATED_BYTES,
    maxJsonEntries: e.MAX_JSON_ENTRIES,
    dedupeTtlMs: e.DEDUPE_TTL_SEC * 1000,
    dedupeMaxKeys: e.DEDUPE_MAX_KEYS,
    rateLimitLinesPerSec: e.RATE_LIMIT_LINES_PER_SEC,
    rateLimitBurst: e.RATE_LIMIT_BURST,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    queryMaxLimit: e.QUERY_MAX_LIMIT,
    queryRegexBudgetMs: e.QUERY_REGEX_BUDGET_MS,
    ingestDisabled: e.INGEST_DISABLED,
    trustProxy: e.TRUST_PROXY,
    authFailuresPerMin: e.AUTH_FAILURES_PER_MIN,
    maxConnectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS,
    createDemoApp: e.CREATE_DEMO_APP,
    roles: { ingest: e.SLUICE_ROLES.has('ingest'), fanout: e.SLUICE_ROLES.has('fanout') },
    files: {
      pollIntervalMs: e.FILE_POLL_INTERVAL_MS,
      maxLineBytes: e.FILE_MAX_LINE_BYTES,
      readChunkBytes: e.FILE_READ_CHUNK_BYTES,
      batchMax: e.FILE_BATCH_MAX,
      multilineQuietMs: e.FILE_MULTILINE_QUIET_MS,
      maxFiles: e.FILE_MAX_FILES,
    },
    fanout: {
      queueMaxMessages: e.FANOUT_QUEUE_MAX_MESSAGES,
      queueMaxBytes: e.FANOUT_QUEUE_MAX_BYTES,
      socketHighWaterBytes: e.FANOUT_SOCKET_HIGH_WATER_BYTES,
      slowCloseMs: e.FANOUT_SLOW_CLOSE_MS,
      heartbeatMs: e.FANOUT_HEARTBEAT_MS,
      pongTimeoutMs: e.FANOUT_PONG_TIMEOUT_MS,
      authTimeoutMs: e.FANOUT_AUTH_TIMEOUT_MS,
      sseHeartbeatMs: e.FANOUT_SSE_HEARTBEAT_MS,
      maxConnections: e.FANOUT_MAX_CONNECTIONS,
      maxUnauthenticated: e.FANOUT_MAX_UNAUTHENTICATED,
      batchMax: e.FANOUT_BATCH_MAX,
      regexBudgetMsPerSec: e.FANOUT_REGEX_BUDGET_MS_PER_SEC,
      sessionTtlMs: e.SESSION_TTL_MS,
    },
    wsIngest: {
      anonymous: e.WS_INGEST_ANONYMOUS === 'auto' ? 'auto' : ['true', '1', 'yes', 'on'].includes(e.WS_INGEST_ANONYMOUS) ? 'on' : 'off',
      maxMessageBytes: e.WS_INGEST_MAX_MESSAGE_BYTES,
      maxQueuedBytes: e.WS_INGEST_MAX_QUEUED_BYTES,
    },
    metrics: {
      enabled: e.METRICS_ENABLED,
      retention10s: e.METRICS_RETENTION_10S,
      retention60s: e.METRICS_RETENTION_60S,
      flushMs: e.METRICS_FLUSH_MS,
      maxSkewSec: e.METRICS_MAX_SKEW_SEC,
      maxSeriesPerApp: e.METRICS_MAX_SERIES_PER_APP,
      maxQueuedEntries: e.METRICS_MAX_QUEUED_ENTRIES,
      readCacheBytes: e.METRICS_READ_CACHE_BYTES,
      threadNice: e.METRICS_THREAD_NICE,
      liveIntervalMs: e.METRICS_LIVE_INTERVAL_MS,
      liveMaxSeries: e.METRICS_LIVE_MAX_SERIES,
      maxPoints: e.METRICS_MAX_POINTS,
    },
    syslog: {
      tcp: e.SYSLOG_TCP_PORT !== undefined ? { port: e.SYSLOG_TCP_PORT, app: e.SYSLOG_TCP_APP } : undefined,
      tls:
        e.SYSLOG_TLS_PORT !== undefined
          ? { port: e.SYSLOG_TLS_PORT, app: e.SYSLOG_TLS_APP, certPath: e.SYSLOG_TLS_CERT!, keyPath: e.SYSLOG_TLS_KEY! }
          : undefined,
      maxBadFrames: e.SYSLOG_MAX_BAD_FRAMES,
      idleTimeoutMs: e.SYSLOG_IDLE_TIMEOUT_MS,
      maxFrameBytes: e.SYSLOG_MAX_FRAME_BYTES,
      maxConnections: e.SYSLOG_MAX_CONNECTIONS,
    },
    redis:
      e.REDIS_URL || e.REDIS_CLUSTER_NODES
        ? {
            url: e.REDIS_URL,
            clusterNodes: e.REDIS_CLUSTER_NODES?.split(',').map((s) => s.trim()).filter(Boolean),
            prefix: e.REDIS_PREFIX,
            shards: e.REDIS_SHARDS,
            firehoseMaxLen: e.REDIS_FIREHOSE_MAXLEN,
            followBatch: e.REDIS_FOLLOW_BATCH,
            tlsRejectUnauthorized: e.REDIS_TLS_REJECT_UNAUTHORIZED,
            commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
            connectWaitMs: e.REDIS_CONNECT_WAIT_MS,
            appCacheTtlMs: e.APP_CACHE_TTL_MS,
            rateLimitSyncMs: e.RATE_LIMIT_SYNC_MS,
          }
        : undefined,
  };
}

/**
 * How long Redis may take, at worst, to return one app's retained history (the read script's
 * XRANGE): a cost per stored block (at worst one line each) and per byte, from measurements on
 * the 2-core bench machine (2.8–6.5 µs per stream entry, 124–310 MB/s) with a margin of about
 * two: 7 µs per block and 100 MB/s. `loadConfig` refuses a history that may need more than the
 * command timeout, since every history read and live-tail start would then fail.
 */
export function estimatedHistoryReadMs(historyPerApp: number, historyBytesPerApp: number): number {
  return historyPerApp * 0.007 + historyBytesPerApp / 100_000;
}

/**
 * Where to listen. An explicit HOST wins. Otherwise a gateway with no admin token and no config
 * file (the quickstart: a demo app with printed tokens) binds to loopback only, so a laptop does
 * not expose an open gateway; with credentials configured it binds to all interfaces (PaaS).
 */
export function resolveBindHost(config: Config, hasConfigFile: boolean): string {
  if (config.host) return config.host;
  return config.adminToken || hasConfigFile ? '0.0.0.0' : '127.0.0.1';
}
