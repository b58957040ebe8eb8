/**
 * The gateway as `npm start` builds it with `REDIS_URL` set: `createBackend` (Redis Streams store,
 * Redis app registry, Redis rate limiter, on one ioredis connection with auto-pipelining), the
 * fan-out hub and WebSocket endpoint of the default roles (`SLUICE_ROLES=ingest,fanout`: the hub
 * follows the firehose from the start, as in main.ts), pino, createApp, @hono/node-server, run
 * from src via tsx, for the HTTP benchmark.
 *
 * argv: <ingest token> <redis url> <key prefix> [roles]. Rate limiting is off (ratePerSec 0: the limiter
 * sends nothing to Redis); every other setting is `loadConfig`'s default (HISTORY_PER_APP,
 * REDIS_SHARDS, REDIS_FIREHOSE_MAXLEN, DEDUPE_TTL_SEC, APP_CACHE_TTL_MS), except `SLUICE_ROLES`,
 * taken from argv[5] or else the environment when given (`ingest`: no hub, no firehose reader).
 * One app `bench` holds the ingest token, written to the Redis registry with `apps.upsert`.
 * Prints `BENCH_PORT=<port>` on stdout once listening on 127.0.0.1.
 */
import { generateReadToken } from '../../src/apps/tokens.js';
import { createBackend } from '../../src/backend.js';
import { startGateway } from '../../src/gateway.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';

const [token, redisUrl, prefix, roles] = process.argv.slice(2);
if (!token || !redisUrl || !prefix) throw new Error('usage: sluice-redis.ts <ingest token> <redis url> <key prefix> [SLUICE_ROLES]');

// As sluice.ts, plus the Redis settings; logs at warn so the hot path logs nothing.
const config = loadConfig({
  RATE_LIMIT_LINES_PER_SEC: '0',
  LOG_LEVEL: 'warn',
  HOST: '127.0.0.1',
  PORT: '0',
  REDIS_URL: redisUrl,
  REDIS_PREFIX: prefix,
  SLUICE_ROLES: roles ?? process.env.SLUICE_ROLES,
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('METRICS_'))),
});
const logger = createLogger(config.logLevel);
const backend = await createBackend(config, logger);
if ((await backend.store.health()).ok !== true) throw new Error(`redis not ready at ${redisUrl}`);
const { store, apps } = backend;
await apps.upsert({ id: 'bench', ingestTokens: [token], readTokens: [process.env.BENCH_READ_TOKEN ?? generateReadToken()] });
const gateway = startGateway({
  config,
  backend,
  logger,
  host: '127.0.0.1',
  port: 0,
  onListening: (port) => process.stdout.write(`BENCH_PORT=${port}\n`),
});
// Exit cleanly on SIGTERM so `--cpu-prof` (bench --profile) can write its profile.
process.on('SIGTERM', () => {
  void gateway.close().then(() => backend.close()).finally(() => process.exit(0));
});
