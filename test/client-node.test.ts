import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DistributedLogger } from '../clients/node/src/index.js';
import { liveApp, sleep, writeAppsConfig } from './support/live.js';
import { readHistory } from './support/history.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix, type TestRedis } from './support/redis.js';

/**
 * The Node client (clients/node, issue 12) against the real gateway process: levels, context,
 * stack traces and events arrive as logged; entries logged while the gateway is down are
 * buffered and arrive exactly once after it comes back (memory store: the restarted gateway
 * starts empty, so what it holds is exactly what the outage buffered); a lost acknowledgement
 * gives no duplicate.
 */

const APP = liveApp('client-node');
const CONFIG = writeAppsConfig([APP]);
// History holds every line the outage test sends (the default keeps Logplex's 1500).
const BASE_ENV = { HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_LINES_PER_SEC: '0', HISTORY_PER_APP: '10000', SLUICE_CONFIG: CONFIG };

const started: GatewayProcess[] = [];
async function start(env: Record<string, string> = {}): Promise<GatewayProcess> {
  const gw = await startGatewayProcess({ ...BASE_ENV, ...env });
  started.push(gw);
  return gw;
}
afterEach(() => {
  for (const gw of started.splice(0)) if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
});

interface Stored { level: string; message: string; source?: string; category?: string; tags?: string[]; stack_trace?: string; context?: Record<string, any> }

/** Every stored entry of the app, paging through the history API. */
async function history(gw: GatewayProcess): Promise<{ total: number; entries: Stored[] }> {
  return readHistory<Stored>(gw.url, APP.read);
}

describe('@sluice/client against the gateway process', () => {
  it('delivers levels, metadata as context, stack traces, tags and custom events', async () => {
    const gw = await start();
    const logger = new DistributedLogger({
      endpoint: `${gw.url}/api/logs`,
      serviceName: APP.id,
      componentName: 'user-service',
      apiKey: APP.ingest,
      handleExit: false,
    }).start();
    const sent: number[] = [];
    logger.on('batch_sent', (e: { count: number }) => sent.push(e.count));
    logger.debug('cache warm', { keys: 12 });
    logger.info('User logged in successfully', { user_id: 12345, login_method: 'oauth', tags: ['auth'] });
    logger.warn('slow query', { ms: 812 });
    logger.error('Database connection failed', { database: 'users-db', error: new Error('CONN_TIMEOUT') });
    logger.fatal('out of memory');
    logger.custom('payment_completed', { amount: 99.99, currency: 'USD', transaction_id: 'txn_abc123' });
    await logger.stop();
    expect(logger.stats()).toMatchObject({ sent: 6, failed: 0, dropped: 0, buffered: 0, state: 'stopped' });
    expect(sent).toEqual([6]);

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
    expect(new Set(entries.map((e) => e.context?.request_id)).size).toBe(6);
  });

  it('entries logged while the gateway is stopped arrive exactly once after it restarts (memory store)', async () => {
    // The restarted gateway starts empty: what it holds is exactly what the outage buffered.
    await outage({}, false);
  }, 60_000);
});

describe.skipIf(!redisAvailable)('@sluice/client across a gateway restart on Redis', () => {
  let redis: TestRedis | null = null;
  let prefix = '';
  beforeAll(async () => {
    redis = await getTestRedis();
    prefix = testKeyPrefix('client-node');
  });
  afterAll(async () => {
    if (redis) await deleteKeysWithPrefix(redis, prefix);
    await redis?.stop();
  });

  it('history survives the restart: every entry, before and during the outage, stored once and in order', async () => {
    await outage({ REDIS_URL: redis!.url, REDIS_PREFIX: prefix }, true);
  }, 60_000);
});

/**
 * One logger; one entry delivered; the gateway stopped; N entries logged while it is down; the
 * gateway started again on the same port: all N arrive once, in the order logged.
 */
async function outage(storeEnv: Record<string, string>, historySurvives: boolean): Promise<void> {
  const gw1 = await start(storeEnv);
  const port = gw1.port;
  const logger = new DistributedLogger({
    endpoint: gw1.url,
    serviceName: APP.id,
    apiKey: APP.ingest,
    handleExit: false,
    flushIntervalMs: 200,
    maxRetries: 1_000,
    // Backoff waits at most 2 s here so the test does not depend on a 30 s jitter draw.
    random: () => 0.25,
  }).start();
  logger.info('before the outage', { i: -1 });
  await logger.flush();
  expect(logger.stats().sent).toBe(1);

  expect(await gw1.stop()).toBe(0);
  const N = 3_000;
  for (let i = 0; i < N; i++) logger.info(`during ${i}`, { i });
  await sleep(3_000);
  const s = logger.stats();
  expect(s.sent).toBe(1);
  expect(s.buffered).toBe(N);
  expect(s.retries).toBeGreaterThan(0);
  expect(['error', 'retrying', 'sending']).toContain(s.state);

  const gw2 = await start({ ...storeEnv, PORT: String(port) });
  await logger.flush();
  await logger.stop();
  expect(logger.stats()).toMatchObject({ sent: N + 1, failed: 0, dropped: 0, buffered: 0 });

  const { total, entries } = await history(gw2);
  const expected = Array.from({ length: N }, (_, i) => i);
  if (historySurvives) expected.unshift(-1);
  expect(total).toBe(expected.length);
  // History is newest first: reversed, it is the order the logger sent.
  expect(entries.map((e) => e.context?.i as number).reverse()).toEqual(expected);
}

describe('@sluice/client with a full buffer', () => {
  it('drops exactly the oldest while the gateway is down; the stored WARN entry gives the count', async () => {
    const gw1 = await start();
    const port = gw1.port;
    await gw1.stop();
    const logger = new DistributedLogger({
      endpoint: gw1.url,
      serviceName: APP.id,
      apiKey: APP.ingest,
      handleExit: false,
      maxBufferEntries: 50,
      flushIntervalMs: 100,
      random: () => 0.25,
    }).start();
    for (let i = 0; i < 120; i++) logger.info(`overflow ${i}`, { i });
    expect(logger.stats()).toMatchObject({ dropped: 70, buffered: 50 });
    await sleep(500);
    const gw2 = await start({ PORT: String(port) });
    await logger.stop();
    expect(logger.stats()).toMatchObject({ sent: 51, dropped: 70, failed: 0, buffered: 0 });

    const { entries } = await history(gw2);
    const kept = entries.filter((e) => typeof e.context?.i === 'number').map((e) => e.context!.i as number).sort((a, b) => a - b);
    expect(kept).toEqual(Array.from({ length: 50 }, (_, k) => k + 70));
    const warns = entries.filter((e) => e.category === 'sluice.client');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ level: 'WARN', context: { dropped: 70 } });
    expect(warns[0]!.message).toMatch(/^sluice client: buffer overflow, 70 entries dropped since \d{4}-\d\d-\d\dT/);
  }, 30_000);
});

describe('@sluice/client when an acknowledgement is lost', () => {
  it('the gateway stored the batch, the connection died before the answer: the retry (same batch_id) stores nothing twice', async () => {
    const gw = await start();
    // A proxy that forwards the first request, waits for the gateway's answer, then cuts the
    // client's connection instead of passing the answer on; later requests pass through.
    let requests = 0;
    const batchIds: string[] = [];
    const proxy = http.createServer((req, res) => {
      const n = ++requests;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const raw = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
        batchIds.push((JSON.parse(raw.toString()) as { batch_id: string }).batch_id);
        const up = http.request(`${gw.url}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
          const parts: Buffer[] = [];
          upRes.on('data', (c: Buffer) => parts.push(c));
          upRes.on('end', () => {
            if (n === 1) return req.socket.destroy();
            res.writeHead(upRes.statusCode!, upRes.headers);
            res.end(Buffer.concat(parts));
          });
        });
        up.end(body);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const logger = new DistributedLogger({
        endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        serviceName: APP.id,
        apiKey: APP.ingest,
        handleExit: false,
        random: () => 0.1,
      }).start();
      const sent: Array<{ duplicate: boolean; attempts: number }> = [];
      logger.on('batch_sent', (e) => sent.push(e));
      for (let i = 0; i < 100; i++) logger.info(`lost-ack ${i}`, { i });
      await logger.stop();
      expect(requests).toBe(2);
      expect(batchIds[0]).toBe(batchIds[1]);
      expect(sent).toEqual([expect.objectContaining({ duplicate: true, attempts: 2 })]);
      expect(logger.stats()).toMatchObject({ sent: 100, failed: 0, retries: 1 });
      const { total } = await history(gw);
      expect(total).toBe(100);
    } finally {
      proxy.closeAllConnections();
      proxy.close();
    }
  });
});

describe('@sluice/client handleExit', () => {
  const clientSrc = new URL('../clients/node/src/index.ts', import.meta.url).href;
  function runApp(gw: GatewayProcess, body: string) {
    const script = `
      const { DistributedLogger } = await import(${JSON.stringify(clientSrc)});
      const logger = new DistributedLogger({ endpoint: ${JSON.stringify(gw.url)}, serviceName: ${JSON.stringify(APP.id)}, apiKey: ${JSON.stringify(APP.ingest)} }).start();
      ${body}`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on('exit', (code, signal) => r({ code, signal })),
    );
    return { child, exited, stdout: () => out };
  }

  it('an app that just ends (beforeExit) has its entries delivered, without calling stop()', async () => {
    const gw = await start();
    const app = runApp(gw, `for (let i = 0; i < 3; i++) logger.info('exit ' + i);`);
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect((await history(gw)).total).toBe(3);
  });

  it('SIGTERM flushes, then the signal takes its default course', async () => {
    const gw = await start();
    const app = runApp(gw, `logger.info('a'); logger.info('b'); setInterval(() => {}, 1000); console.log('ready');`);
    while (!app.stdout().includes('ready')) await sleep(20);
    app.child.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect((await history(gw)).total).toBe(2);
  });
});
