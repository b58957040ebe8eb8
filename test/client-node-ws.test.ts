import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import {
  DistributedLogger,
  WebSocketTransport,
  type BatchFailedEvent,
  type BatchSentEvent,
  type LoggerOptions,
} from '../clients/node/src/index.js';
import { liveApp, sleep, writeAppsConfig } from './support/live.js';
import { readHistory } from './support/history.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix, type TestRedis } from './support/redis.js';

/**
 * The Node client's WebSocket transport (`transport: 'websocket'`, clients/node/src/ws.ts)
 * against the real gateway process's `GET /logs`: entries arrive as logged; a gateway stopped
 * and started again while the app keeps logging loses nothing and stores nothing twice (the
 * unacked batch is resent with its batch_id); a bad token fails its batch for good instead of
 * being retried forever; a refused batch does not hold up the next; an app that just ends is
 * not kept alive by its idle connection.
 */

const APP = liveApp('client-node-ws');
const OTHER = liveApp('client-node-ws-other');
const CONFIG = writeAppsConfig([APP, OTHER]);
// History holds every line the outage test sends (the default keeps Logplex's 1500).
const BASE_ENV = { HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_LINES_PER_SEC: '0', HISTORY_PER_APP: '20000', SLUICE_CONFIG: CONFIG };

const started: GatewayProcess[] = [];
async function start(env: Record<string, string> = {}): Promise<GatewayProcess> {
  const gw = await startGatewayProcess({ ...BASE_ENV, ...env });
  started.push(gw);
  return gw;
}
afterEach(() => {
  for (const gw of started.splice(0)) if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
});

interface Stored {
  level: string;
  message: string;
  source?: string;
  category?: string;
  tags?: string[];
  stack_trace?: string;
  user_agent?: string;
  context?: Record<string, any>;
}

/** Every stored entry of the app, paging through the history API (newest first). */
async function history(gw: GatewayProcess): Promise<{ total: number; entries: Stored[] }> {
  return readHistory<Stored>(gw.url, APP.read);
}

function wsLogger(gw: GatewayProcess, opts: LoggerOptions = {}): DistributedLogger {
  return new DistributedLogger({
    endpoint: gw.url,
    serviceName: APP.id,
    apiKey: APP.ingest,
    transport: 'websocket',
    handleExit: false,
    ...opts,
  }).start();
}

describe('@sluice/client over the WebSocket transport, against the gateway process', () => {
  it('delivers levels, metadata as context, stack traces, tags and custom events, acked (201)', async () => {
    const gw = await start();
    const logger = wsLogger(gw, { endpoint: `${gw.url}/api/logs`, componentName: 'user-service' });
    const sent: BatchSentEvent[] = [];
    logger.on('batch_sent', (e: BatchSentEvent) => sent.push(e));
    logger.debug('cache warm', { keys: 12 });
    logger.info('User logged in successfully', { user_id: 12345, login_method: 'oauth', tags: ['auth'] });
    logger.warn('slow query', { ms: 812 });
    logger.error('Database connection failed', { database: 'users-db', error: new Error('CONN_TIMEOUT') });
    logger.fatal('out of memory');
    logger.custom('payment_completed', { amount: 99.99, currency: 'USD', transaction_id: 'txn_abc123' });
    await logger.stop();
    expect(logger.stats()).toMatchObject({ sent: 6, failed: 0, dropped: 0, buffered: 0, retries: 0, state: 'stopped' });
    expect(sent).toEqual([expect.objectContaining({ count: 6, status: 201, duplicate: false, attempts: 1 })]);

    const { total, entries } = await history(gw);
    expect(total).toBe(6);
    const by = new Map(entries.map((e) => [e.message, e]));
    expect(by.get('cache warm')).toMatchObject({ level: 'DEBUG', source: 'user-service', context: { keys: 12 } });
    expect(by.get('User logged in successfully')).toMatchObject({
      level: 'INFO',
      context: { user_id: 12345, login_method: 'oauth' },
      tags: ['auth'],
    });
    expect(by.get('slow query')).toMatchObject({ level: 'WARN' });
    const err = by.get('Database connection failed')!;
    expect(err).toMatchObject({ level: 'ERROR', context: { database: 'users-db', error: 'CONN_TIMEOUT' } });
    expect(err.stack_trace).toContain('Error: CONN_TIMEOUT');
    expect(by.get('out of memory')).toMatchObject({ level: 'FATAL' });
    expect(by.get('payment_completed')).toMatchObject({ level: 'INFO', category: 'event', context: { amount: 99.99, currency: 'USD' } });
    // The upgrade's User-Agent is kept on every entry.
    for (const e of entries) expect(e.user_agent).toMatch(/^sluice-node\//);
  });

  it('the gateway stopped and started again (same port) while the app logs: every entry after the last ack stored once, in order (memory store)', async () => {
    // The restarted gateway starts empty: what it holds must be exactly the entries the first
    // one did not acknowledge, each once, in the order logged.
    const { logged, sentBeforeRestart, gw2 } = await restartWhileLogging({});
    const { total, entries } = await history(gw2);
    const expected = Array.from({ length: logged - sentBeforeRestart }, (_, k) => sentBeforeRestart + k);
    expect(total).toBe(expected.length);
    expect(entries.map((e) => e.context?.i as number).reverse()).toEqual(expected);
  }, 60_000);

  it('a bad token fails the batch for good (close 1008): batch_failed permanent, not retried', async () => {
    const gw = await start();
    const logger = wsLogger(gw, { apiKey: 't.live-not-a-token-0123456789', batchSize: 2, random: () => 0 });
    const failed: BatchFailedEvent[] = [];
    logger.on('batch_failed', (e: BatchFailedEvent) => failed.push(e));
    for (let i = 0; i < 4; i++) logger.info(`refused ${i}`);
    const quiet = console.error;
    console.error = () => {};
    try {
      await logger.stop();
    } finally {
      console.error = quiet;
    }
    expect(failed).toEqual([
      expect.objectContaining({ count: 2, permanent: true, status: 401, error: expect.stringContaining('1008') }),
      expect.objectContaining({ count: 2, permanent: true, status: 401 }),
    ]);
    expect(failed[0]!.error).not.toContain('t.live-not-a-token');
    expect(logger.stats()).toMatchObject({ sent: 0, failed: 4, retries: 0, buffered: 0 });
    expect((await history(gw)).total).toBe(0);
  });

  it('a batch refused for its content (invalid_entry, forbidden) does not hold up the next', async () => {
    const gw = await start();
    const logger = wsLogger(gw, { batchSize: 1 });
    const sent: BatchSentEvent[] = [];
    const failed: BatchFailedEvent[] = [];
    logger.on('batch_sent', (e: BatchSentEvent) => sent.push(e));
    logger.on('batch_failed', (e: BatchFailedEvent) => failed.push(e));
    const quiet = console.error;
    console.error = () => {};
    try {
      logger.info('good 0');
      logger.logEntry({ level: 'bogus', message: 'bad level' });
      logger.info('good 1');
      logger.logEntry({ app_id: OTHER.id, message: 'another app' });
      logger.info('good 2');
      await logger.stop();
    } finally {
      console.error = quiet;
    }
    expect(failed).toEqual([
      expect.objectContaining({ count: 1, permanent: true, status: 400, error: expect.stringMatching(/^invalid_entry: .*level/) }),
      expect.objectContaining({ count: 1, permanent: true, status: 403, error: expect.stringMatching(/^forbidden: /) }),
    ]);
    expect(sent.map((e) => e.attempts)).toEqual([1, 1, 1]);
    expect(logger.stats()).toMatchObject({ sent: 3, failed: 2, retries: 0, buffered: 0 });
    const { entries } = await history(gw);
    expect(entries.map((e) => e.message).reverse()).toEqual(['good 0', 'good 1', 'good 2']);
  });
});

describe('@sluice/client over WebSocket when an ack is lost', () => {
  it('the gateway stored the batch, the connection died before the ack: the resend (same batch_id) is acked duplicate, stored once', async () => {
    const gw = await start();
    // A relay in front of the gateway's /logs: on the first connection it cuts the client as
    // soon as the gateway's ack arrives (so the batch is stored but the client never hears so);
    // later connections pass everything through.
    let connections = 0;
    const batchIds: string[] = [];
    const relay = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    relay.on('connection', (client, req) => {
      const n = ++connections;
      const headers: Record<string, string> = {};
      for (const h of ['authorization', 'user-agent']) if (req.headers[h]) headers[h] = String(req.headers[h]);
      const up = new WebSocket(`${gw.url.replace('http', 'ws')}/logs`, { headers, perMessageDeflate: false });
      const early: string[] = [];
      client.on('error', () => {});
      up.on('error', () => client.terminate());
      client.on('message', (d) => {
        const text = d.toString();
        const msg = JSON.parse(text) as { type: string; batch_id?: string; data?: { batch_id?: string } };
        const batchId = msg.data?.batch_id ?? msg.batch_id;
        if (batchId) batchIds.push(batchId);
        if (up.readyState === WebSocket.OPEN) up.send(text);
        else early.push(text);
      });
      up.on('open', () => {
        for (const t of early.splice(0)) up.send(t);
      });
      up.on('message', (d) => {
        const text = d.toString();
        if (n === 1 && (JSON.parse(text) as { type: string }).type === 'ack') {
          client.terminate();
          up.close();
          return;
        }
        client.send(text);
      });
      client.on('close', () => up.close());
      up.on('close', () => client.close());
    });
    await new Promise((r) => relay.once('listening', r));
    try {
      const logger = new DistributedLogger({
        endpoint: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
        serviceName: APP.id,
        apiKey: APP.ingest,
        transport: 'websocket',
        handleExit: false,
        random: () => 0.1,
      }).start();
      const sent: BatchSentEvent[] = [];
      logger.on('batch_sent', (e: BatchSentEvent) => sent.push(e));
      const quiet = console.error;
      console.error = () => {};
      try {
        for (let i = 0; i < 100; i++) logger.info(`lost-ack ${i}`, { i });
        await logger.stop();
      } finally {
        console.error = quiet;
      }
      expect(connections).toBe(2);
      expect(batchIds).toHaveLength(2);
      expect(batchIds[0]).toBe(batchIds[1]);
      expect(sent).toEqual([expect.objectContaining({ count: 100, duplicate: true, status: 200, attempts: 2 })]);
      expect(logger.stats()).toMatchObject({ sent: 100, failed: 0, retries: 1 });
      const { total, entries } = await history(gw);
      expect(total).toBe(100);
      expect(entries.map((e) => e.context?.i as number).reverse()).toEqual(Array.from({ length: 100 }, (_, i) => i));
    } finally {
      for (const c of relay.clients) c.terminate();
      await new Promise((r) => relay.close(r));
    }
  });
});

describe.skipIf(!redisAvailable)('@sluice/client over WebSocket across a gateway restart on Redis', () => {
  let redis: TestRedis | null = null;
  let prefix = '';
  beforeAll(async () => {
    redis = await getTestRedis();
    prefix = testKeyPrefix('client-node-ws');
  });
  afterAll(async () => {
    if (redis) await deleteKeysWithPrefix(redis, prefix);
    await redis?.stop();
  });

  it('history survives the restart: every entry logged, before, during and after the outage, stored exactly once and in order', async () => {
    const { logged, gw2 } = await restartWhileLogging({ REDIS_URL: redis!.url, REDIS_PREFIX: prefix });
    const { total, entries } = await history(gw2);
    expect(total).toBe(logged);
    expect(entries.map((e) => e.context?.i as number).reverse()).toEqual(Array.from({ length: logged }, (_, i) => i));
  }, 60_000);
});

/**
 * One logger logging 2 entries every 5 ms (batches of up to 50) from before the gateway is
 * stopped until after it is back on the same port; then flushed. The gateway gets its SIGTERM
 * just as a batch goes on the wire, so that batch is either acked before the close 1012 or not
 * acked and resent to the second gateway (both happen, depending on when the signal lands).
 * Returns how many entries were logged, how many the first gateway had acknowledged (all of them
 * before it went away: nothing else listened until the second one), and the second gateway.
 */
async function restartWhileLogging(storeEnv: Record<string, string>) {
  const gw1 = await start(storeEnv);
  const port = gw1.port;
  const ws = new WebSocketTransport({ endpoint: gw1.url, apiKey: APP.ingest, timeoutMs: 10_000, userAgent: 'sluice-node/test' });
  let stopped: Promise<number | null> | undefined;
  const logger = wsLogger(gw1, {
    transport: {
      send(batchId, entries) {
        const result = ws.send(batchId, entries);
        if (!stopped && logger.stats().sent >= 200) stopped = gw1.stop();
        return result;
      },
      close: () => ws.close(),
    },
    batchSize: 50,
    flushIntervalMs: 50,
    maxRetries: 1_000,
    // Backoff waits at most 2 s here so the test does not depend on a 30 s jitter draw.
    random: () => 0.25,
  });
  const quiet = console.error;
  console.error = () => {};
  let logged = 0;
  const ticker = setInterval(() => {
    for (let k = 0; k < 2; k++) logger.info(`entry ${logged}`, { i: logged++ });
  }, 5);
  try {
    while (!stopped) await sleep(10);
    expect(await stopped).toBe(0);
    await sleep(1_000);
    const sentBeforeRestart = logger.stats().sent;
    expect(logger.stats().retries).toBeGreaterThan(0);
    const gw2 = await start({ ...storeEnv, PORT: String(port) });
    while (logger.stats().sent <= sentBeforeRestart + 200) await sleep(20);
    clearInterval(ticker);
    await logger.flush();
    await logger.stop();
    expect(logger.stats()).toMatchObject({ sent: logged, failed: 0, dropped: 0, buffered: 0 });
    return { logged, sentBeforeRestart, gw2 };
  } finally {
    clearInterval(ticker);
    console.error = quiet;
  }
}

describe('@sluice/client over WebSocket in an app that ends', () => {
  const clientSrc = new URL('../clients/node/src/index.ts', import.meta.url).href;

  it('an idle open connection does not keep the process alive: beforeExit stops the logger, which delivers and exits', { timeout: 30_000 }, async () => {
    const gw = await start();
    // SLUICE_TRANSPORT chooses the transport; the first flush leaves the connection open and idle.
    const script = `
      const { DistributedLogger } = await import(${JSON.stringify(clientSrc)});
      const logger = new DistributedLogger({ endpoint: ${JSON.stringify(gw.url)}, serviceName: ${JSON.stringify(APP.id)}, apiKey: ${JSON.stringify(APP.ingest)} }).start();
      for (let i = 0; i < 3; i++) logger.info('first ' + i);
      await logger.flush();
      for (let i = 0; i < 2; i++) logger.info('then ' + i);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../', import.meta.url)),
      env: { ...process.env, SLUICE_TRANSPORT: 'websocket' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    // Were the idle socket holding the event loop, beforeExit would never come: killed after 15 s.
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const exited = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    clearTimeout(killer);
    expect(exited).toEqual({ code: 0, signal: null });
    const { entries } = await history(gw);
    expect(entries.map((e) => e.message).reverse()).toEqual(['first 0', 'first 1', 'first 2', 'then 0', 'then 1']);
    for (const e of entries) expect(e.user_agent).toMatch(/^sluice-node\//);
  });
});
