import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { answerClientErrors } from './http/client-error.js';
import { getRequestListener } from '@hono/node-server';
import { fastIngestListener } from './http/fast-routes.js';
import type { Logger } from 'pino';
import { appDeps, createApp } from './app.js';
import type { Backend } from './backend.js';
import type { Config } from './config.js';
import type { GatewayDeps } from './deps.js';
import { Hub } from './fanout/hub.js';
import { attachWebSocket, type WebSocketEndpoint } from './fanout/websocket.js';
import { createUpgradeRouter } from './http/upgrade.js';
import { attachWsIngest, type WsIngestEndpoint } from './ingest/ws-logs.js';
import { AddressSlots } from './limits/address-slots.js';
import { createAuthThrottle } from './limits/auth-throttle.js';
import { createGatewayMetrics } from './ops/metrics.js';
import { startSyslogInputs, type SyslogInputs } from './ingest/syslog-tcp/index.js';

/** Options of {@link startGateway}. */
export interface StartGatewayOptions {
  config: Config;
  backend: Backend;
  logger: Logger;
  host: string;
  port: number;
  /** Called once the server listens, with the port it got (port 0 picks a free one). */
  onListening?: (port: number) => void;
  /**
   * Accept WebSocket producers without a token (`GET /logs`): main.ts resolves
   * WS_INGEST_ANONYMOUS against the demo mode (see anonymousIngestAllowed). Default: only when
   * WS_INGEST_ANONYMOUS=true.
   */
  anonymousIngest?: boolean;
  /**
   * The local demo mode with anonymous producers on (main.ts: `anonymousIngest` resolved on by
   * the demo-mode rule): a read token reads every app (GatewayDeps.demo). Default: off.
   */
  demo?: boolean;
}

/** A running gateway: its HTTP server, and the fan-out parts when the process has that role. */
export interface RunningGateway {
  server: Server;
  deps: GatewayDeps;
  hub?: Hub;
  ws?: WebSocketEndpoint;
  /** The WebSocket ingest (`GET /logs`), with the `ingest` role. */
  wsIngest?: WsIngestEndpoint;
  /** The syslog TCP/TLS listeners, when configured (`SYSLOG_TCP_PORT`, `SYSLOG_TLS_PORT`). */
  syslog?: SyslogInputs;
  /** Stops live connections and the hub, stops accepting, answers what is in flight. */
  close(): Promise<void>;
}

/**
 * Assembles the HTTP side from a backend: dependencies, the fan-out hub (with the `fanout`
 * role), the Hono app, the Node server with its timeouts, and the WebSocket endpoint. The one
 * assembly that `main.ts` and the benchmark servers share.
 */
export function startGateway(opts: StartGatewayOptions): RunningGateway {
  const { config, backend, logger } = opts;
  const { store, apps } = backend;
  let ws: WebSocketEndpoint | undefined;
  let wsIngest: WsIngestEndpoint | undefined;
  const deps: GatewayDeps = {
    config,
    store,
    apps,
    rateLimiter: backend.rateLimiter,
    logger,
    liveConnections: () => ws?.connections() ?? 0,
    liveUnauthenticated: () => ws?.unauthenticated() ?? 0,
    wsProducers: (onlyApp) => wsIngest?.producers(onlyApp),
    // Per client address (src/http/client-address.ts): auth failures, open live connections.
    authThrottle: createAuthThrottle({ perMinute: config.authFailuresPerMin }),
    streamSlots: new AddressSlots(config.maxConnectionsPerAddress),
    demo: opts.demo === true,
    logMetrics: backend.metrics,
  };
  const hub = config.roles.fanout
    ? new Hub(store, {
        ...config.fanout,
        historyPerApp: config.historyPerApp,
        queryRegexBudgetMs: config.queryRegexBudgetMs,
        listApps: async () => (await apps.list()).map((a) => a.id),
      })
    : undefined;
  // Prometheus metrics (GET /metrics); the gauges read the store, the hub and /ws at scrape time.
  deps.metrics = createGatewayMetrics({ store, fanout: hub, connections: hub ? () => ws?.connections() ?? 0 : undefined,
    producers: config.roles.ingest ? () => wsIngest?.connections() ?? 0 : undefined,
    aggregation: backend.metrics ? () => backend.metrics!.stats() : undefined,
  });
  // Hono's listener, behind the drain routes answered without it (src/http/fast-routes.ts).
  const app = createApp(deps, hub);
  const honoListener = getRequestListener(app.fetch, { hostname: opts.host });
  const server = createServer(config.roles.ingest ? fastIngestListener(appDeps(deps), honoListener) : honoListener);
  server.listen(opts.port, opts.host, () => {
    const addr = server.address();
    opts.onListening?.(typeof addr === 'object' && addr ? addr.port : 0);
  });
  answerClientErrors(server);
  server.requestTimeout = config.requestTimeoutMs;
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  server.headersTimeout = Math.min(config.requestTimeoutMs, config.keepAliveTimeoutMs + 1000);
  // One `upgrade` listener routes by path: /ws (live tail), /logs (WebSocket ingest); else 404.
  const upgrades = createUpgradeRouter(server);
  if (hub) ws = attachWebSocket(upgrades, deps, hub);
  if (config.roles.ingest) {
    wsIngest = attachWsIngest(upgrades, deps, { anonymous: opts.anonymousIngest ?? config.wsIngest.anonymous === 'on' });
  }

  // Syslog over TCP/TLS: its own listeners on the same address, only when configured.
  const syslog = startSyslogInputs(deps, opts.host);

  return {
    server,
    deps,
    hub,
    ws,
    syslog,
    wsIngest,
    close: () =>
      new Promise<void>((resolve) => {
        ws?.close();
        void wsIngest?.close();
        hub?.close();
        void syslog?.close();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
