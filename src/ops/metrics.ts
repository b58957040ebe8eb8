import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { unservableEntries } from '../normalize/serialize.js';
import type { AggregatorStats } from '../metrics/aggregator.js';
import type { AppendRequest, AppendResult, Store, StoreHealth } from '../store/types.js';

/**
 * The gateway's Prometheus metrics (`GET /metrics`). Each gateway gets its own registry, never
 * prom-client's global one: tests and several gateways in one process (benchmarks) do not
 * collide. Label values are bounded: route templates (`/api/logs/:id`, never the raw path),
 * status codes, and the gateway's own reason and error codes; never an app id or a token.
 */

/** What the scrape-time gauges read: the fan-out hub of the process, if it has that role. */
export interface FanoutSource {
  stats(): { subscribed: number; queued: number };
  totals(): { sent: number; dropped: number };
}

/** Options of {@link createGatewayMetrics}. */
export interface GatewayMetricsOptions {
  /** Its `health()` feeds `sluice_redis_up` (registered only for a Redis store). */
  store?: Pick<Store, 'kind' | 'health'>;
  /** The fan-out hub: subscribers, queued, sent and dropped entries. */
  fanout?: FanoutSource;
  /** Open WebSocket connections (registered only with a fan-out). */
  connections?: () => number;
  /** Producers connected to the WebSocket ingest (`GET /logs`); registered when given. */
  producers?: () => number;
  /** The metrics-from-logs stage's own counts (series, drops, flushes); registered when given. */
  aggregation?: () => AggregatorStats;
  /** prom-client's default process and Node.js metrics (heap, event-loop lag, GC, CPU). Default true. */
  defaultMetrics?: boolean;
}

/** The metrics of one gateway, with one typed method per thing counted. */
export interface GatewayMetrics {
  readonly registry: Registry;
  /** `Content-Type` of {@link GatewayMetrics.text}. */
  readonly contentType: string;
  /** The text exposition of every metric (runs the scrape-time collectors). */
  text(): Promise<string>;
  /** One HTTP request answered, by method, route template and status. */
  requests(method: string, route: string, status: number): void;
  /** `n` lines stored by an ingest request answered `status`. */
  lines(route: string, status: number, n: number): void;
  /** `n` lines (drain frames, JSON entries) given up inside an ingest request, by reason. */
  rejectedLines(route: string, reason: string, n: number): void;
  /** One ingest request refused as a whole, by error code (413, 415, 429, 400, 503 …). */
  rejectedRequest(route: string, reason: string): void;
  /** One ingest request acknowledged as a duplicate (Logplex-Frame-Id, batch_id) and not stored. */
  duplicate(route: string): void;
  /** The size of one ingest request's body, after gzip/deflate. */
  bodyBytes(route: string, n: number): void;
  /** One `store.append`: how long it took and whether the store confirmed it. */
  storeWrite(seconds: number, ok: boolean): void;
  /** One 401/403, by route template and error code. */
  authFailures(route: string, reason: string): void;
  /** `n` syslog frames of a listener (`tcp`, `tls`): `stored`, or why they were dropped. */
  syslogFrames(listener: string, result: string, n: number): void;
  /** One syslog connection closed by the gateway, by listener and reason (`bad_frames`, `idle`, …). */
  syslogClosed(listener: string, reason: string): void;
}

/** Store write latency: from the memory store's microseconds to Redis's command timeout. */
const STORE_WRITE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Body sizes: one Heroku line (~250 B) to far over the 8 MiB default limit. */
const BODY_BUCKETS = [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];
/** Methods kept as label values; anything else is `other`. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function createGatewayMetrics(opts: GatewayMetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const httpRequests = new Counter({
    name: 'sluice_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers,
  });
  const lines = new Counter({
    name: 'sluice_ingest_lines_total',
    help: 'Lines stored by ingest requests, by route and the status they were answered with.',
    labelNames: ['route', 'status'] as const,
    registers,
  });
  const rejectedLines = new Counter({
    name: 'sluice_ingest_rejected_lines_total',
    help: 'Lines given up inside ingest requests (drain frames, JSON entries), by route and reason.',
    labelNames: ['route', 'reason'] as const,
    registers,
  });
  const rejectedRequests = new Counter({
    name: 'sluice_ingest_rejected_requests_total',
    help: 'Ingest requests refused as a whole (4xx but 401/403, 5xx), by route and error code.',
    labelNames: ['route', 'reason'] as const,
    registers,
  });
  const duplicates = new Counter({
    name: 'sluice_ingest_duplicate_requests_total',
    help: 'Ingest requests acknowledged as duplicates (Logplex-Frame-Id, batch_id) and not stored again.',
    labelNames: ['route'] as const,
    registers,
  });
  const bodyBytes = new Histogram({
    name: 'sluice_ingest_body_bytes',
    help: 'Size of ingest request bodies after gzip/deflate, by route.',
    labelNames: ['route'] as const,
    buckets: BODY_BUCKETS,
    registers,
  });
  const storeWrites = new Histogram({
    name: 'sluice_store_write_duration_seconds',
    help: 'Time of one store append (one ingest request), by result (ok, error).',
    labelNames: ['result'] as const,
    buckets: STORE_WRITE_BUCKETS,
    registers,
  });
  const authFailures = new Counter({
    name: 'sluice_auth_failures_total',
    help: 'Requests answered 401 or 403, by route template and error code.',
    labelNames: ['route', 'reason'] as const,
    registers,
  });

  const syslogFrames = new Counter({
    name: 'sluice_syslog_frames_total',
    help: 'Syslog frames received over TCP/TLS, by listener and result (stored, or why dropped: no_token, bad_token, too_large, …).',
    labelNames: ['listener', 'result'] as const,
    registers,
  });
  const syslogClosed = new Counter({
    name: 'sluice_syslog_connections_closed_total',
    help: 'Syslog TCP/TLS connections closed by the gateway, by listener and reason (bad_frames, idle, max_connections, store_unavailable, shutdown).',
    labelNames: ['listener', 'reason'] as const,
    registers,
  });
  const store = opts.store;
  if (store?.kind === 'redis') {
    new Gauge({
      name: 'sluice_redis_up',
      help: '1 when Redis answers (the /health check: client ready and PING answered), else 0.',
      registers,
      async collect() {
        let health: StoreHealth;
        try {
          health = await store.health();
        } catch {
          health = { kind: 'redis', ok: false };
        }
        this.set(health.ok ? 1 : 0);
      },
    });
  }
  const fanout = opts.fanout;
  if (fanout) {
    new Gauge({
      name: 'sluice_fanout_subscribers',
      help: 'Live subscribers (WebSocket, SSE, Logplex sessions) attached to this process.',
      registers,
      collect() {
        this.set(fanout.stats().subscribed);
      },
    });
    new Gauge({
      name: 'sluice_fanout_queued_entries',
      help: 'Entries waiting in live subscribers\' queues.',
      registers,
      collect() {
        this.set(fanout.stats().queued);
      },
    });
    new Counter({
      name: 'sluice_fanout_sent_entries_total',
      help: 'Entries written to live subscribers.',
      registers,
      collect() {
        this.reset();
        this.inc(fanout.totals().sent);
      },
    });
    new Counter({
      name: 'sluice_fanout_dropped_entries_total',
      help: 'Entries dropped from slow live subscribers\' queues (announced to them as gaps).',
      registers,
      collect() {
        this.reset();
        this.inc(fanout.totals().dropped);
      },
    });
  }
  new Counter({
    name: 'sluice_unservable_entries_total',
    help: 'Entries left out of an answer, a live frame or a stored block because they could not be serialised (expected 0: normalisation bounds every entry).',
    registers,
    collect() {
      this.reset();
      this.inc(unservableEntries());
    },
  });
  const connections = opts.connections;
  if (connections) {
    new Gauge({
      name: 'sluice_websocket_connections',
      help: 'Open WebSocket connections (/ws).',
      registers,
      collect() {
        this.set(connections());
      },
    });
  }
  const aggregation = opts.aggregation;
  if (aggregation) {
    new Gauge({
      name: 'sluice_metrics_series',
      help: 'Series (app × name × source) the metrics-from-logs stage of this process counts into.',
      registers,
      collect() {
        this.set(aggregation().series);
      },
    });
    new Counter({
      name: 'sluice_metrics_dropped_total',
      help: 'Observations or entries left out of the metrics (not the store), by reason: series over METRICS_MAX_SERIES_PER_APP or of another kind, queue full, older than the 60 s retention.',
      labelNames: ['reason'] as const,
      registers,
      collect() {
        const st = aggregation();
        this.reset();
        this.inc({ reason: 'series_limit' }, st.droppedObservations);
        this.inc({ reason: 'queue_full' }, st.droppedEntries);
        this.inc({ reason: 'too_old' }, st.tooOld);
      },
    });
    new Counter({
      name: 'sluice_metrics_flush_errors_total',
      help: 'Failed writes of counted deltas to the metrics buckets (kept and retried with the next flush).',
      registers,
      collect() {
        this.reset();
        this.inc(aggregation().flushErrors);
      },
    });
  }
  const producers = opts.producers;
  if (producers) {
    new Gauge({
      name: 'sluice_ws_producers',
      help: 'Producers connected to the WebSocket ingest (GET /logs), authenticated or not.',
      registers,
      collect() {
        this.set(producers());
      },
    });
  }

  return {
    registry,
    contentType: registry.contentType,
    text: () => registry.metrics(),
    requests(method, route, status) {
      httpRequests.inc({ method: METHODS.has(method) ? method : 'other', route, status: String(status) });
    },
    lines(route, status, n) {
      if (n > 0) lines.inc({ route, status: String(status) }, n);
    },
    rejectedLines(route, reason, n) {
      if (n > 0) rejectedLines.inc({ route, reason }, n);
    },
    rejectedRequest(route, reason) {
      rejectedRequests.inc({ route, reason });
    },
    duplicate(route) {
      duplicates.inc({ route });
    },
    bodyBytes(route, n) {
      bodyBytes.observe({ route }, n);
    },
    storeWrite(seconds, ok) {
      storeWrites.observe({ result: ok ? 'ok' : 'error' }, seconds);
    },
    authFailures(route, reason) {
      authFailures.inc({ route, reason });
    },
    syslogFrames(listener, result, n) {
      if (n > 0) syslogFrames.inc({ listener, result }, n);
    },
    syslogClosed(listener, reason) {
      syslogClosed.inc({ listener, reason });
    },
  };
}

/**
 * The store with `append` timed into `sluice_store_write_duration_seconds`; every other method
 * is the store's own. The one place store writes are measured, whichever route writes.
 */
export function timedStore(store: Store, metrics: GatewayMetrics): Store {
  return {
    get kind() {
      return store.kind;
    },
    get keepsFrames() {
      return store.keepsFrames;
    },
    async append(req: AppendRequest): Promise<AppendResult> {
      const start = performance.now();
      let ok = false;
      try {
        const result = await store.append(req);
        ok = true;
        return result;
      } finally {
        metrics.storeWrite((performance.now() - start) / 1000, ok);
      }
    },
    query: (filter) => store.query(filter),
    get: (idOrTraceId, appIds) => store.get(idOrTraceId, appIds),
    recent: (appId, limit) => store.recent(appId, limit),
    subscribe: (listener) => store.subscribe(listener),
    health: () => store.health(),
    close: () => store.close(),
  };
}
