import type { Logger } from 'pino';
import type { AppRegistry } from './apps/types.js';
import type { Config } from './config.js';
import type { ProducerSummary } from './ingest/ws-producers.js';
import type { AddressSlots } from './limits/address-slots.js';
import type { AuthThrottle } from './limits/auth-throttle.js';
import type { RateLimiter } from './limits/rate-limiter.js';
import type { GatewayMetrics } from './ops/metrics.js';
import type { MetricsService } from './metrics/service.js';
import type { Store } from './store/types.js';

/** Everything the HTTP app is built from: made once in main.ts (or a test), passed down. */
export interface GatewayDeps {
  config: Config;
  store: Store;
  apps: AppRegistry;
  rateLimiter: RateLimiter;
  logger: Logger;
  /** Live connection count for `/health` (the fan-out fills it in). */
  liveConnections?: () => number;
  /** WebSockets not yet authenticated, for `/health` (the fan-out fills it in). */
  liveUnauthenticated?: () => number;
  /** Producers on the WebSocket ingest (`GET /logs`) per app, for `/health`; `onlyApp`: one app's. */
  wsProducers?: (onlyApp?: string) => ProducerSummary | undefined;
  /** Failed authentications per client address (`AUTH_FAILURES_PER_MIN`); absent: not throttled. */
  authThrottle?: AuthThrottle;
  /** Open live connections per client address (`MAX_CONNECTIONS_PER_ADDRESS`); absent: unlimited. */
  streamSlots?: AddressSlots;
  /**
   * The local demo mode with anonymous WebSocket producers (main.ts: WS_INGEST_ANONYMOUS resolved
   * on because there is no ADMIN_TOKEN, no config file and a loopback bind): a read token then
   * reads every app (src/http/auth.ts, readScope). Absent: off.
   */
  demo?: boolean;
  /** Metrics aggregated from the logs (`GET /api/metrics`, live `subscribe_metrics`); absent: off. */
  logMetrics?: MetricsService;
  /** Prometheus metrics (`GET /metrics`); absent: nothing is counted and /metrics is not served. */
  metrics?: GatewayMetrics;
}
