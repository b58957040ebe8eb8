/**
 * The gateway as `npm start` builds it (memory store, memory app registry, memory rate limiter,
 * pino logger, createApp, @hono/node-server), run from src via tsx, for the HTTP benchmark.
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
import { createMemoryRateLimiter } from '../../src/limits/rate-limiter.js';
import { createLogger } from '../../src/log.js';
import { createMemoryStore } from '../../src/store/memory.js';

const token = process.argv[2];
if (!token) throw new Error('usage: sluice.ts <ingest token>');

// Defaults of every limit except the rate limit; logs at warn so the hot path logs nothing.
const config = loadConfig({ RATE_LIMIT_LINES_PER_SEC: '0', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0' });
const store = createMemoryStore({ historyPerApp: config.historyPerApp, maxDedupeKeys: config.dedupeMaxKeys });
const apps = createMemoryAppRegistry();
await apps.upsert({ id: 'bench', ingestTokens: [token], readTokens: [generateReadToken()] });
const deps: GatewayDeps = {
  config,
  store,
  apps,
  rateLimiter: createMemoryRateLimiter({ ratePerSec: config.rateLimitLinesPerSec, burst: config.rateLimitBurst }),
  logger: createLogger(config.logLevel),
};
const server = serve({ fetch: createApp(deps).fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`BENCH_PORT=${info.port}\n`);
}) as unknown as Server;
// As main.ts sets them.
server.requestTimeout = config.requestTimeoutMs;
server.keepAliveTimeout = config.keepAliveTimeoutMs;
server.headersTimeout = Math.min(config.requestTimeoutMs, config.keepAliveTimeoutMs + 1000);
// Exit cleanly on SIGTERM so `--cpu-prof` (bench --profile) can write its profile.
process.on('SIGTERM', () => process.exit(0));
