/**
 * WebSocket ingest (`GET /logs` with Upgrade, issue 11) against the real gateway process: the
 * seed's Winston `DashboardTransport` and Python `DashboardHandler` as the seed prints them
 * (test/fixtures/seed-kit/), acked batches, every fault of protocol/README.md "WebSocket
 * ingest", and a restart under a producer that resends what was not acked.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import winston from 'winston';
import WebSocket from 'ws';
import { liveApp, writeAppsConfig } from './support/live.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { freePort } from './support/redis-server.js';
import { getTestRedis, testKeyPrefix } from './support/redis.js';

const KIT = fileURLToPath(new URL('./fixtures/seed-kit/', import.meta.url));

/**
 * The seed's transport, loaded at run time: the file is the seed's text, which this project's
 * stricter tsconfig (noImplicitOverride) would reject, and it must stay unchanged.
 */
type DashboardTransportCtor = new (opts: { dashboardUrl: string; appId: string; apiKey?: string }) => import('winston-transport');
const transportModule: string = './fixtures/seed-kit/DashboardTransport.ts';
const { DashboardTransport } = (await import(transportModule)) as { DashboardTransport: DashboardTransportCtor };

interface Msg {
  type: string;
  seq?: number;
  saved?: number;
  error?: string;
  retry_after?: number;
  [k: string]: unknown;
}

/** A WebSocket client that records every message and how it closed. */
function client(url: string, opts: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, opts);
  const messages: Msg[] = [];
  const waiters: (() => void)[] = [];
  let pings = 0;
  ws.on('message', (d) => {
    messages.push(JSON.parse(String(d)) as Msg);
    for (const w of waiters.splice(0)) w();
  });
  ws.on('ping', () => pings++);
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      resolve({ code, reason: String(reason) });
      for (const w of waiters.splice(0)) w();
    }),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return {
    ws,
    messages,
    opened,
    closed,
    pings: () => pings,
    send: (m: unknown) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    /** Resolves with the first message (from the start) that matches. */
    async wait(pred: (m: Msg) => boolean, timeoutMs = 5000): Promise<Msg> {
      const t0 = Date.now();
      for (;;) {
        const m = messages.find(pred);
        if (m) return m;
        if (Date.now() - t0 > timeoutMs) throw new Error(`no such message in ${JSON.stringify(messages)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
}

async function readLogs(base: string, token: string, appId?: string): Promise<Record<string, unknown>[]> {
  const res = await request(`${base}/api/logs?token=${token}&limit=5000${appId ? `&app_id=${appId}` : ''}`);
  const body = (await res.body.json()) as { entries: Record<string, unknown>[] };
  if (res.statusCode !== 200) throw new Error(`GET /api/logs → ${res.statusCode}: ${JSON.stringify(body)}`);
  return body.entries.reverse(); // oldest first
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 8000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() - t0 > timeoutMs) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const wsUrl = (gw: GatewayProcess, q = '') => `ws://127.0.0.1:${gw.port}/logs${q}`;

describe('WebSocket ingest with tokens (config file)', () => {
  const app = liveApp('ws-app');
  const other = liveApp('ws-other');
  let gw: GatewayProcess;

  beforeAll(async () => {
    gw = await startGatewayProcess({
      SLUICE_CONFIG: writeAppsConfig([app, other]),
      ADMIN_TOKEN: 'admin-token-for-ws-tests-0123456789',
      WS_INGEST_MAX_MESSAGE_BYTES: '65536',
      FANOUT_AUTH_TIMEOUT_MS: '600',
      FANOUT_HEARTBEAT_MS: '200',
      QUERY_MAX_LIMIT: '5000',
      HISTORY_PER_APP: '20000',
    });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it("delivers the seed's Winston DashboardTransport lines with their levels, context and tags", async () => {
    const transport = new DashboardTransport({ dashboardUrl: wsUrl(gw), appId: app.id, apiKey: app.ingest });
    const logger = winston.createLogger({
      level: 'info',
      format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
      transports: [transport],
    });
    // The transport drops lines while it is not connected (as the seed writes it): wait for it.
    await until(
      async () => ((await (await request(`${gw.url}/health?token=${app.read}`)).body.json()) as { ws_producers: { apps?: unknown[] } }),
      (h) => (h.ws_producers.apps?.length ?? 0) > 0,
    );
    logger.info('User logged in', { context: { user_id: '12345', ip: '192.168.1.1' }, tags: ['auth'] });
    logger.error('Payment failed', { context: { order_id: 'ORD-789', amount: 49.99 }, tags: ['payment', 'critical'] });
    logger.warn('Disk almost full');
    const entries = await until(() => readLogs(gw.url, app.read), (e) => e.length >= 3);
    const ws = (transport as unknown as { ws: WebSocket }).ws;
    ws.removeAllListeners('close'); // no reconnect loop after the test
    ws.close();
    expect(entries.map((e) => [e.level, e.message, e.context, e.tags])).toEqual([
      ['INFO', 'User logged in', { user_id: '12345', ip: '192.168.1.1' }, ['auth']],
      ['ERROR', 'Payment failed', { order_id: 'ORD-789', amount: 49.99 }, ['payment', 'critical']],
      ['WARN', 'Disk almost full', {}, []],
    ]);
    expect(entries.every((e) => e.app_id === app.id)).toBe(true);
  });

  it('acks a logs batch with seq only once stored, in the order sent, and the token may come with the upgrade', async () => {
    const c = client(wsUrl(gw, `?token=${app.ingest}`), { headers: { 'User-Agent': 'batcher/1.0' } });
    await c.opened;
    c.send({ type: 'logs', seq: 7, data: [{ message: 'b1', level: 'debug' }, { message: 'b2', level: 'WARNING' }, { message: 'no level' }] });
    c.send({ type: 'log', seq: 8, data: { message: 'b3', level: 'err', tags: ['x'] } });
    const ack7 = await c.wait((m) => m.type === 'ack' && m.seq === 7);
    expect(ack7).toEqual({ type: 'ack', seq: 7, saved: 3 });
    expect(await c.wait((m) => m.type === 'ack' && m.seq === 8)).toEqual({ type: 'ack', seq: 8, saved: 1 });
    const health = (await (await request(`${gw.url}/health`, { headers: { authorization: `Bearer ${app.read}` } })).body.json()) as {
      ws_producers: { apps: { app_id: string; user_agents: Record<string, number> }[] };
    };
    expect(health.ws_producers.apps.find((a) => a.app_id === app.id)?.user_agents['batcher/1.0']).toBe(1);
    const anonymous = (await (await request(`${gw.url}/health`)).body.json()) as { ws_producers: Record<string, unknown> };
    expect(Object.keys(anonymous.ws_producers)).toEqual(['connections']);
    const metrics = await (await request(`${gw.url}/metrics`, { headers: { authorization: 'Bearer admin-token-for-ws-tests-0123456789' } })).body.text();
    expect(metrics).toMatch(/^sluice_ws_producers [1-9]/m);
    const entries = await readLogs(gw.url, app.read);
    expect(entries.slice(-4).map((e) => [e.message, e.level])).toEqual([
      ['b1', 'DEBUG'],
      ['b2', 'WARN'],
      ['no level', 'INFO'],
      ['b3', 'ERROR'],
    ]);
    // Bearer on the upgrade works too.
    const b = client(wsUrl(gw), { headers: { Authorization: `Bearer ${app.ingest}` } });
    await b.opened;
    b.send({ type: 'log', seq: 1, data: { message: 'via bearer' } });
    expect((await b.wait((m) => m.type === 'ack')).saved).toBe(1);
    b.ws.close();
    c.ws.close();
  });

  it('stores a logs batch resent with the same batch_id once, acking the resend as a duplicate', async () => {
    const c = client(wsUrl(gw), { headers: { Authorization: `Bearer ${app.ingest}` } });
    await c.opened;
    const batch = [{ message: 'dedupe-1' }, { message: 'dedupe-2' }];
    c.send({ type: 'logs', seq: 1, batch_id: 'ws-dedupe-batch', data: batch });
    c.send({ type: 'logs', seq: 2, batch_id: 'ws-dedupe-batch', data: batch });
    c.send({ type: 'logs', seq: 3, batch_id: 42, data: batch });
    expect(await c.wait((m) => m.seq === 1)).toEqual({ type: 'ack', seq: 1, saved: 2 });
    expect(await c.wait((m) => m.seq === 2)).toMatchObject({ type: 'ack', seq: 2, saved: 0, duplicate: true });
    expect(await c.wait((m) => m.seq === 3)).toMatchObject({ type: 'error', error: 'invalid_message' });
    const entries = await readLogs(gw.url, app.read);
    expect(entries.filter((e) => String(e.message).startsWith('dedupe-')).map((e) => e.message)).toEqual(['dedupe-1', 'dedupe-2']);
    c.ws.close();
  });

  it('answers a malformed or invalid message with error and keeps the connection', async () => {
    const c = client(wsUrl(gw));
    await c.opened;
    c.send({ type: 'auth', app_id: app.id, api_key: app.ingest });
    c.send('{not json');
    c.send({ type: 'nope', seq: 1 });
    c.send({ type: 'log', seq: 2, data: { level: 'info' } });
    c.send({ type: 'log', seq: 3, data: { message: 'x', app_id: other.id } });
    c.send({ type: 'logs', seq: 4, data: { message: 'not an array' } });
    c.send({ type: 'log', seq: 5, data: { message: 'still open' } });
    expect((await c.wait((m) => m.type === 'error' && m.seq === undefined)).error).toBe('invalid_message');
    expect((await c.wait((m) => m.seq === 1)).error).toBe('invalid_message');
    expect(await c.wait((m) => m.seq === 2)).toMatchObject({ type: 'error', error: 'invalid_entry' });
    expect(await c.wait((m) => m.seq === 3)).toMatchObject({ type: 'error', error: 'forbidden' });
    expect(await c.wait((m) => m.seq === 4)).toMatchObject({ type: 'error', error: 'invalid_message' });
    expect(await c.wait((m) => m.seq === 5)).toEqual({ type: 'ack', seq: 5, saved: 1 });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.close();
  });

  it('closes with 1009 over the size limit', async () => {
    const c = client(wsUrl(gw, `?token=${app.ingest}`));
    await c.opened;
    c.send({ type: 'log', seq: 1, data: { message: 'x'.repeat(70_000) } });
    expect((await c.closed).code).toBe(1009);
  });

  it('refuses bad, foreign and read tokens with error and 1008, and a producer without auth (not demo mode)', async () => {
    const cases: [unknown, string][] = [
      [{ type: 'auth', app_id: app.id, api_key: 't.no-such-token-0123456789' }, 'unauthorized'],
      [{ type: 'auth', app_id: app.id, api_key: other.ingest }, 'forbidden'],
      [{ type: 'auth', app_id: app.id, api_key: app.read }, 'forbidden'],
      [{ type: 'auth', app_id: app.id }, 'unauthorized'],
      [{ type: 'log', data: { app_id: app.id, message: 'no auth' } }, 'unauthorized'],
    ];
    for (const [first, code] of cases) {
      const c = client(wsUrl(gw));
      await c.opened;
      c.send(first);
      expect((await c.wait((m) => m.type === 'error')).error).toBe(code);
      expect((await c.closed).code).toBe(1008);
    }
  });

  it('closes a socket that never authenticates at the auth deadline, and pings producers that stay', async () => {
    const silent = client(wsUrl(gw));
    const idle = client(wsUrl(gw, `?token=${app.ingest}`));
    await Promise.all([silent.opened, idle.opened]);
    expect((await silent.closed).code).toBe(1008);
    expect(silent.messages.at(-1)?.error).toBe('unauthorized');
    await new Promise((r) => setTimeout(r, 800));
    expect(idle.ws.readyState).toBe(WebSocket.OPEN);
    expect(idle.pings()).toBeGreaterThanOrEqual(2);
    idle.ws.close();
  });

  it('still serves /ws and answers 404 to other upgrade paths', async () => {
    const live = client(`ws://127.0.0.1:${gw.port}/ws?token=${app.read}`);
    await live.opened;
    expect((await live.wait((m) => m.type === 'connected')).type).toBe('connected');
    live.ws.close();
    await expect(client(`ws://127.0.0.1:${gw.port}/elsewhere`).opened).rejects.toThrow(/404/);
  });
});

describe('WebSocket ingest rate limit', () => {
  const app = liveApp('ws-rate');
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGatewayProcess({ SLUICE_CONFIG: writeAppsConfig([app]), RATE_LIMIT_LINES_PER_SEC: '1', RATE_LIMIT_BURST: '5' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('answers rate_limited with retry_after, as HTTP answers 429, and keeps the connection', async () => {
    const c = client(wsUrl(gw, `?token=${app.ingest}`));
    await c.opened;
    c.send({ type: 'logs', seq: 1, data: [1, 2, 3, 4].map((i) => ({ message: `m${i}` })) });
    c.send({ type: 'logs', seq: 2, data: [5, 6, 7, 8].map((i) => ({ message: `m${i}` })) });
    expect(await c.wait((m) => m.seq === 1)).toEqual({ type: 'ack', seq: 1, saved: 4 });
    const refused = await c.wait((m) => m.seq === 2);
    expect(refused).toMatchObject({ type: 'error', error: 'rate_limited' });
    expect(refused.retry_after).toBeGreaterThanOrEqual(1);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    expect((await readLogs(gw.url, `r.live-ws-rate-read-0123456789`)).length).toBe(4);
    c.ws.close();
  });
});

const redis = await getTestRedis();

describe.skipIf(!redis)('WebSocket ingest with Redis', () => {
  afterAll(async () => {
    await redis?.stop();
  });

  it('a store outage answers unavailable and closes 1013; a paused store back-pressures the socket', async () => {
    const { startRedisServer } = await import('./support/redis-server.js');
    const own = await startRedisServer();
    const app = liveApp('ws-outage');
    const gw = await startGatewayProcess({
      SLUICE_CONFIG: writeAppsConfig([app]),
      REDIS_URL: own.url,
      REDIS_PREFIX: testKeyPrefix('ws-outage'),
      REDIS_COMMAND_TIMEOUT_MS: '500',
      WS_INGEST_MAX_QUEUED_BYTES: '65536',
    });
    try {
      const c = client(wsUrl(gw, `?token=${app.ingest}`));
      await c.opened;
      c.send({ type: 'log', seq: 1, data: { message: 'before' } });
      expect((await c.wait((m) => m.seq === 1)).type).toBe('ack');
      await own.kill('SIGSTOP');
      try {
        // 16 MB of messages while the store does not answer: the gateway stops reading, so they
        // wait in this client's socket buffer instead of the gateway's memory.
        const line = JSON.stringify({ type: 'log', data: { message: 'y'.repeat(1000) } });
        for (let i = 0; i < 16_000; i++) c.ws.send(line);
        c.send({ type: 'log', seq: 2, data: { message: 'during' } });
        await new Promise((r) => setTimeout(r, 300));
        // The kernel's socket buffers hold a few MB; the gateway itself holds at most 64 kB queued.
        expect(c.ws.bufferedAmount).toBeGreaterThan(8_000_000);
        const err = await c.wait((m) => m.type === 'error', 5000);
        expect(err.error).toBe('unavailable');
        expect((await c.closed).code).toBe(1013);
      } finally {
        await own.kill('SIGCONT');
      }
    } finally {
      await gw.stop();
      await own.stop();
    }
  }, 30_000);

  it('a restarted gateway loses nothing and stores nothing twice for a producer that resends what was not acked', async () => {
    const app = liveApp('ws-restart');
    const port = await freePort();
    const env = {
      SLUICE_CONFIG: writeAppsConfig([app]),
      REDIS_URL: redis!.url,
      REDIS_PREFIX: testKeyPrefix('ws-restart'),
      PORT: String(port),
      QUERY_MAX_LIMIT: '5000',
      HISTORY_PER_APP: '20000',
    };
    let gw = await startGatewayProcess(env);
    const total = 3000;
    const unacked = new Map<number, string>();
    let next = 0;
    let connections = 0;
    let stopped = false;
    // A producer as a careful client writes one: every entry has a seq, kept until acked, and
    // resent in order on every new connection.
    const run = async () => {
      while (!stopped) {
        const c = client(`ws://127.0.0.1:${port}/logs?token=${app.ingest}`);
        try {
          await c.opened;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        connections++;
        c.ws.on('message', (d) => {
          const m = JSON.parse(String(d)) as Msg;
          if (m.type === 'ack') unacked.delete(m.seq!);
        });
        for (const [, frame] of unacked) c.ws.send(frame);
        while (c.ws.readyState === WebSocket.OPEN && next < total) {
          const frame = JSON.stringify({ type: 'log', seq: next, data: { message: `n${next}` } });
          unacked.set(next++, frame);
          c.ws.send(frame);
          if (next % 10 === 0) await new Promise((r) => setTimeout(r, 20));
        }
        await c.closed;
        if (next >= total && unacked.size === 0) return;
      }
    };
    const producer = run();
    await until(async () => next, (n) => n > total / 3, 20_000);
    await gw.stop();
    gw = await startGatewayProcess(env);
    await until(async () => next >= total && unacked.size === 0, (v) => v, 30_000);
    stopped = true;
    const entries = await readLogs(gw.url, app.read);
    const messages = entries.map((e) => e.message as string);
    expect(connections).toBeGreaterThanOrEqual(2);
    expect(messages.length).toBe(total);
    expect(new Set(messages).size).toBe(total);
    expect(messages).toEqual(Array.from({ length: total }, (_, i) => `n${i}`));
    await gw.stop();
    await Promise.race([producer, new Promise((r) => setTimeout(r, 1000))]);
  }, 90_000);

  it("accepts the seed's kit without api_key in demo mode only, into the app its app_id names (created on first use)", async () => {
    const prefix = testKeyPrefix('ws-demo');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-ws-demo-'));
    const gw = await startGatewayProcess({ SLUICE_CONFIG: join(dir, 'none.json'), REDIS_URL: redis!.url, REDIS_PREFIX: prefix });
    const r = new Redis(redis!.url);
    try {
      expect(gw.stderr()).toMatch(/WebSocket ingest: ws:\/\/127\.0\.0\.1:\d+\/logs +producers without an api_key are accepted/);
      const transport = new DashboardTransport({ dashboardUrl: wsUrl(gw), appId: 'my-node-app' });
      const logger = winston.createLogger({ format: winston.format.json(), transports: [transport] });
      await until(
        async () => ((await (await request(`${gw.url}/health`)).body.json()) as { ws_producers: { connections: number } }),
        (h) => h.ws_producers.connections > 0,
      );
      logger.info('hello from an unauthenticated producer', { tags: ['demo'] });
      const py = await runPythonKit(gw.port);
      const readToken = async (id: string) => {
        const raw = await r.hget(`${prefix}:{meta}:apps`, id);
        return raw ? (JSON.parse(raw) as { readTokens: string[] }).readTokens[0]! : null;
      };
      const nodeRead = await until(() => readToken('my-node-app'), (t) => t !== null);
      // In demo mode a read token reads every app (test/demo-mode.test.ts): name the app.
      const nodeEntries = await until(() => readLogs(gw.url, nodeRead!, 'my-node-app'), (e) => e.length >= 1);
      expect(nodeEntries.map((e) => [e.level, e.message, e.tags])).toEqual([['INFO', 'hello from an unauthenticated producer', ['demo']]]);
      const ws = (transport as unknown as { ws: WebSocket }).ws;
      ws.removeAllListeners('close');
      ws.close();
      if (py) {
        const pyRead = await until(() => readToken('my-python-app'), (t) => t !== null);
        const pyEntries = await until(() => readLogs(gw.url, pyRead!, 'my-python-app'), (e) => e.length >= 3);
        // The seed formats with '%(message)s': logging appends the traceback to the message too.
        expect(pyEntries.map((e) => [e.level, (e.message as string).split('\n')[0]])).toEqual([
          ['INFO', 'Application started'],
          ['WARN', 'Cache miss'],
          ['ERROR', 'Division by zero error'],
        ]);
        expect(pyEntries[0]!.context).toMatchObject({ module: 'main', function: '<module>' });
        expect(String(pyEntries[2]!.stack_trace)).toContain('ZeroDivisionError');
      }
    } finally {
      r.disconnect();
      await gw.stop();
    }
  }, 40_000);
});

/**
 * Runs the seed's Python "Use in your app" lines with its `logging_config.py` against the gateway
 * (Debian's python3-websocket provides the `websocket` module it imports). Skipped when that
 * module is missing, except under CI, where .ci/run installs it and a missing one fails.
 */
async function runPythonKit(port: number): Promise<boolean> {
  const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import websocket']).status === 0);
  if (!python) {
    if (process.env.CI) throw new Error('python3 with the websocket module (Debian python3-websocket) is required under CI');
    console.warn('skipping the Python DashboardHandler: no python3 with the websocket module (apt-get install python3-websocket)');
    return false;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pykit-'));
  // The seed's main.py, with the gateway's URL for setup_logging's default.
  writeFileSync(
    join(dir, 'main.py'),
    [
      'import sys, time',
      `sys.path.insert(0, ${JSON.stringify(KIT)})`,
      'from logging_config import setup_logging',
      'import logging',
      '',
      `logger = setup_logging('my-python-app', 'ws://127.0.0.1:${port}/logs')`,
      '',
      "logger.info('Application started')",
      "logger.warning('Cache miss', extra={",
      "    'context': {'cache_key': 'user:12345'}",
      '})',
      '',
      'try:',
      '    result = 1 / 0',
      'except Exception:',
      "    logger.exception('Division by zero error')",
      'time.sleep(3)',
    ].join('\n'),
  );
  const child = spawn(python, ['main.py'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`python kit exited ${code}: ${out}`);
  return true;
}
