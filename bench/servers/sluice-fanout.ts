/**
 * The gateway as `main.ts` builds it, for the fan-out benchmark (bench/fanout.ts):
 * `createBackend(loadConfig(…))` (without a Redis URL: the memory store, memory app registry and
 * memory rate limiter; with one: the Redis Streams store, registry and limiter on one ioredis
 * connection), the fan-out `Hub` following the store from the start, `createApp`,
 * @hono/node-server and `attachWebSocket`, run from src via tsx.
 *
 * argv: <ingest token> <read token> [<redis url> <key prefix>]
 *
 * Settings: `loadConfig` defaults except the rate limit (off), LOG_LEVEL warn, 127.0.0.1 and
 * fan-out queues large enough that the closed-loop feeder of the benchmark never makes a
 * subscriber shed (FANOUT_QUEUE_MAX_MESSAGES 1,000,000, FANOUT_QUEUE_MAX_BYTES 1 GiB,
 * FANOUT_SLOW_CLOSE_MS 1 h). Every `FANOUT_*` variable of the environment wins over these
 * (for A/B runs, e.g. `FANOUT_BATCH_MAX=100`). FANOUT_SOCKET_HIGH_WATER_BYTES and
 * FANOUT_BATCH_MAX keep their defaults (1 MiB, 500) unless set so.
 * One app `bench` holds both tokens (`apps.upsert`).
 * Prints `BENCH_PORT=<port>` on stdout once listening.
 */
import { createBackend } from '../../src/backend.js';
import { startGateway } from '../../src/gateway.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';

const [token, readToken, redisUrl, prefix] = process.argv.slice(2);
if (!token || !readToken) throw new Error('usage: sluice-fanout.ts <ingest token> <read token> [<redis url> <key prefix>]');

const fanoutEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('FANOUT_'))) as Record<string, string>;
const config = loadConfig({
  RATE_LIMIT_LINES_PER_SEC: '0',
  LOG_LEVEL: 'warn',
  HOST: '127.0.0.1',
  PORT: '0',
  FANOUT_QUEUE_MAX_MESSAGES: '1000000',
  FANOUT_QUEUE_MAX_BYTES: String(1024 * 1024 * 1024),
  FANOUT_SLOW_CLOSE_MS: '3600000',
  ...fanoutEnv,
  ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_PREFIX: prefix ?? 'bench-fanout' } : {}),
});
const logger = createLogger(config.logLevel);
const backend = await createBackend(config, logger);
if ((await backend.store.health()).ok !== true) throw new Error(`store not ready${redisUrl ? ` (redis at ${redisUrl})` : ''}`);
const { store, apps } = backend;
await apps.upsert({ id: 'bench', ingestTokens: [token], readTokens: [readToken] });

const gateway = startGateway({
  config,
  backend,
  logger,
  host: '127.0.0.1',
  port: 0,
  onListening: (port) => process.stdout.write(`BENCH_PORT=${port}\n`),
});
const hub = gateway.hub!;
const ws = gateway.ws;

// The hub's own counters, for the benchmark's loss check (sent, dropped) at the end of a case.
process.on('message', (m: { id: number; cmd: string }) => {
  if (m.cmd === 'stats') process.send!({ re: m.id, ...hub.stats(), connections: ws?.connections() ?? 0 });
});
// FANOUT_DEBUG: the hub's queues and the event loop's delay on stderr, every 500 ms.
if (process.env.FANOUT_DEBUG) {
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  // A listener of our own beside the hub's: when the store hands a batch over (with Redis: when
  // the firehose read returns), how old its first stamped line is (latency case only).
  let storeMax = 0;
  store.subscribe((entries) => {
    const m = /bench_t[=":]+(\d{16})/.exec(entries[0]?.message ?? '');
    if (m) storeMax = Math.max(storeMax, Date.now() * 1000 - Number(m[1]));
  });
  setInterval(() => {
    const s = hub.stats();
    process.stderr.write(
      `[server] ${new Date().toISOString().slice(17, 23)} subscribed ${s.subscribed} queued ${s.queued} sent ${s.sent} dropped ${s.dropped}; ` +
        `loop delay max ${(h.max / 1e6).toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms` +
        (storeMax ? `; stamp → store listener max ${(storeMax / 1000).toFixed(1)} ms` : '') +
        '\n',
    );
    h.reset();
    storeMax = 0;
  }, 500).unref();
}
// Exit cleanly on SIGTERM so `--cpu-prof` can write its profile.
process.on('SIGTERM', () => {
  ws?.close();
  hub.close();
  void backend.close().finally(() => process.exit(0));
});
