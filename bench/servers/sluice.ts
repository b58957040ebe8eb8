/**
 * The gateway as `npm start` builds it (memory store, memory app registry, memory rate limiter,
 * the fan-out hub and WebSocket endpoint of the default roles, pino logger, createApp,
 * @hono/node-server), run from src via tsx, for the HTTP benchmark.
 * Rate limiting is off (ratePerSec 0); one app `bench` holds the ingest token given as argv[2].
 * Prints `BENCH_PORT=<port>` on stdout once listening on 127.0.0.1.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { createApp } from '../../src/app.js';
import { createMemoryAppRegistry } from '../../src/apps/memory-registry.js';
import { generateReadToken } from '../../src/apps/tokens.js';
import { loadConfig } from '../../src/config.js';
import type { GatewayDeps } from '../../src/deps.js';
import { Hub } from '../../src/fanout/hub.js';
import { attachWebSocket, type WebSocketEndpoint } from '../../src/fanout/websocket.js';
import { createMemoryRateLimiter } from '../../src/limits/rate-limiter.js';
import { createLogger } from '../../src/log.js';
import { createMemoryStore } from '../../src/store/memory.js';

const token = process.argv[2];
if (!token) throw new Error('usage: sluice.ts <ingest token>');

// Defaults of every limit except the rate limit; logs at warn so the hot path logs nothing.
// SLUICE_ROLES from the environment when set (e.g. `ingest`: no hub), else the default roles.
const config = loadConfig({ RATE_LIMIT_LINES_PER_SEC: '0', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0', SLUICE_ROLES: process.env.SLUICE_ROLES });
const store = createMemoryStore({ historyPerApp: config.historyPerApp, maxDedupeKeys: config.dedupeMaxKeys });
const apps = createMemoryAppRegistry();
await apps.upsert({ id: 'bench', ingestTokens: [token], readTokens: [generateReadToken()] });
let ws: WebSocketEndpoint | undefined;
const deps: GatewayDeps = {
  config,
  store,
  apps,
  rateLimiter: createMemoryRateLimiter({ ratePerSec: config.rateLimitLinesPerSec, burst: config.rateLimitBurst }),
  logger: createLogger(config.logLevel),
  liveConnections: () => ws?.connections() ?? 0,
};
// As main.ts: with the default roles (ingest + fanout) the hub follows the store from the start.
const hub = config.roles.fanout
  ? new Hub(store, { ...config.fanout, historyPerApp: config.historyPerApp, listApps: async () => (await apps.list()).map((a) => a.id) })
  : undefined;
const server = serve({ fetch: createApp(deps, hub).fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`BENCH_PORT=${info.port}\n`);
}) as unknown as Server;
if (hub) ws = attachWebSocket(server, deps, hub);
// As main.ts sets them.
server.requestTimeout = config.requestTimeoutMs;
server.keepAliveTimeout = config.keepAliveTimeoutMs;
server.headersTimeout = Math.min(config.requestTimeoutMs, config.keepAliveTimeoutMs + 1000);
// Exit cleanly on SIGTERM so `--cpu-prof` (bench --profile) can write its profile.
process.on('SIGTERM', () => process.exit(0));
