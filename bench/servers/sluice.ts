/**
 * The gateway as `npm start` builds it (memory store, memory app registry, memory rate limiter,
 * the fan-out hub and WebSocket endpoint of the default roles, pino logger, createApp,
 * @hono/node-server), run from src via tsx, for the HTTP benchmark.
 * Rate limiting is off (ratePerSec 0); one app `bench` holds the ingest token given as argv[2].
 * Prints `BENCH_PORT=<port>` on stdout once listening on 127.0.0.1.
 */
import { generateReadToken } from '../../src/apps/tokens.js';
import { createBackend } from '../../src/backend.js';
import { loadConfig } from '../../src/config.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';

const token = process.argv[2];
if (!token) throw new Error('usage: sluice.ts <ingest token>');

// Defaults of every limit except the rate limit; logs at warn so the hot path logs nothing.
// SLUICE_ROLES from the environment when set (e.g. `ingest`: no hub), else the default roles.
// METRICS_* from the environment too (bench/metrics.ts: aggregation on and off, a 24 h backfill).
const config = loadConfig({
  RATE_LIMIT_LINES_PER_SEC: '0',
  LOG_LEVEL: 'warn',
  HOST: '127.0.0.1',
  PORT: '0',
  SLUICE_ROLES: process.env.SLUICE_ROLES,
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('METRICS_'))),
});
const logger = createLogger(config.logLevel);
// Without REDIS_URL createBackend builds the memory store, registry and limiter, as main.ts does.
const backend = await createBackend(config, logger);
await backend.apps.upsert({ id: 'bench', ingestTokens: [token], readTokens: [process.env.BENCH_READ_TOKEN ?? generateReadToken()] });
startGateway({
  config,
  backend,
  logger,
  host: '127.0.0.1',
  port: 0,
  onListening: (port) => process.stdout.write(`BENCH_PORT=${port}\n`),
});
// Exit cleanly on SIGTERM so `--cpu-prof` (bench --profile) can write its profile.
process.on('SIGTERM', () => process.exit(0));
