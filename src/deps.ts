import type { Logger } from 'pino';
import type { AppRegistry } from './apps/types.js';
import type { Config } from './config.js';
import type { RateLimiter } from './limits/rate-limiter.js';
import type { GatewayMetrics } from './ops/metrics.js';
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
  /** Prometheus metrics (`GET /metrics`); absent: nothing is counted and /metrics is not served. */
  metrics?: GatewayMetrics;
}
