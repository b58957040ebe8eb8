import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { DistributedLogger } from './logger.js';
import { createTransport } from './transports.js';
import { WebSocketTransport, wsUrl, type WebSocketTransportOptions } from './ws.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>;

/**
 * A WebSocketServer playing the gateway's `GET /logs`: `answer` decides what each message gets
 * (an ack, an error, a close, nothing). Records upgrades, messages (with their connection
 * number) and close codes.
 */
async function gateway(answer: (msg: Msg, ws: WebSocket, conn: number) => void, opts: { maxPayload?: number } = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, ...opts });
  const seen = { upgrades: [] as IncomingMessage[], messages: [] as Array<Msg & { conn: number }>, closes: [] as number[] };
  wss.on('connection', (ws, req) => {
    const conn = seen.upgrades.push(req);
    ws.on('error', () => {}); // over maxPayload: ws closes with 1009 and reports it here
    ws.on('message', (d) => {
      const msg = JSON.parse(d.toString()) as Msg;
      seen.messages.push({ conn, ...msg });
      answer(msg, ws, conn);
    });
    ws.on('close', (code) => seen.closes.push(code));
  });
  await once(wss, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  );
  const port = (wss.address() as AddressInfo).port;
  return { seen, wss, base: `http://127.0.0.1:${port}` };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The gateway's ack for a logs message. */
const ack = (msg: Msg, ws: WebSocket, extra: Msg = {}) =>
  ws.send(JSON.stringify({ type: 'ack', seq: msg.seq, saved: msg.data?.length ?? 0, ...extra }));
const ackAll = (msg: Msg, ws: WebSocket) => {
  if (msg.type === 'logs') ack(msg, ws);
};

function transport(base: string, opts: Partial<WebSocketTransportOptions> = {}) {
  const t = new WebSocketTransport({ endpoint: base, apiKey: 't.secret', timeoutMs: 2_000, userAgent: 'sluice-node/test', ...opts });
  cleanups.push(() => t.close());
  return t;
}

const entries = (...messages: string[]) => messages.map((m) => JSON.stringify({ level: 'INFO', message: m }));

/** Resolves once `cond` holds (checked every 5 ms), or fails after 2 s. */
async function until(cond: () => boolean): Promise<void> {
  const end = Date.now() + 2_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('wsUrl', () => {
  it.each([
    ['http://localhost:9000', 'ws://localhost:9000/logs'],
    ['http://localhost:9000/', 'ws://localhost:9000/logs'],
    ['http://localhost:9000/api/logs', 'ws://localhost:9000/logs'],
    ['http://localhost:9000/api/logs/', 'ws://localhost:9000/logs'],
    ['https://logs.example.com', 'wss://logs.example.com/logs'],
    ['https://logs.example.com/sluice', 'wss://logs.example.com/sluice/logs'],
    ['https://logs.example.com/sluice/api/logs', 'wss://logs.example.com/sluice/logs'],
    ['ws://127.0.0.1:9000/logs', 'ws://127.0.0.1:9000/logs'],
    ['wss://proxy.example.com/custom/path', 'wss://proxy.example.com/custom/path'],
  ])('%s → %s', (endpoint, url) => {
    expect(wsUrl(endpoint)).toBe(url);
  });

  it('refuses what is not an http(s) or ws(s) URL at construction', () => {
    expect(() => wsUrl('ftp://host')).toThrow(/not http, https, ws or wss/);
    expect(() => new WebSocketTransport({ endpoint: 'localhost', timeoutMs: 1, userAgent: 'x' })).toThrow();
  });
});

describe('WebSocketTransport', () => {
  it('connects once, token and User-Agent on the upgrade, one `logs` message per batch with its batch_id, seq counting up', async () => {
    const { seen, base } = await gateway(ackAll);
    const t = transport(`${base}/api/logs`);
    expect(await t.send('b-1', entries('one', 'two'))).toEqual({ ok: true, status: 201, duplicate: false });
    expect(await t.send('b-2', entries('three'))).toEqual({ ok: true, status: 201, duplicate: false });

    expect(seen.upgrades).toHaveLength(1);
    const req = seen.upgrades[0]!;
    expect(req.url).toBe('/logs');
    expect(req.headers.authorization).toBe('Bearer t.secret');
    expect(req.headers['user-agent']).toBe('sluice-node/test');
    // With a token there is no auth message: the token names the app.
    expect(seen.messages).toEqual([
      { conn: 1, type: 'logs', seq: 1, batch_id: 'b-1', data: [{ level: 'INFO', message: 'one' }, { level: 'INFO', message: 'two' }] },
      { conn: 1, type: 'logs', seq: 2, batch_id: 'b-2', data: [{ level: 'INFO', message: 'three' }] },
    ]);
  });

  it('an ack with duplicate: true is a delivery (200, duplicate)', async () => {
    const { base } = await gateway((m, ws) => ack(m, ws, { saved: 0, duplicate: true }));
    expect(await transport(base).send('b-1', entries('again'))).toEqual({ ok: true, status: 200, duplicate: true });
  });

  it('without a token, an auth message names the app first (demo mode); no Authorization header', async () => {
    const { seen, base } = await gateway(ackAll);
    const t = transport(base, { apiKey: undefined, appId: 'my-app' });
    expect((await t.send('b-1', entries('hi'))).ok).toBe(true);
    expect(seen.upgrades[0]!.headers.authorization).toBeUndefined();
    expect(seen.messages.map((m) => m.type)).toEqual(['auth', 'logs']);
    expect(seen.messages[0]).toEqual({ conn: 1, type: 'auth', app_id: 'my-app' });
  });

  it('maps error answers: rate_limited, unavailable and ingest_disabled retryable; refusals permanent; the connection stays', async () => {
    const replies: Msg[] = [
      { error: 'rate_limited', message: 'app a is over its ingest rate; retry in 3 s', retry_after: 3 },
      { error: 'unavailable', message: 'store down' },
      { error: 'ingest_disabled', message: 'ingest is disabled on this gateway' },
      { error: 'invalid_entry', message: 'entry 0: message: required' },
      { error: 'invalid_message', message: '"data" of a log message is one entry (an object)' },
      { error: 'too_many_entries', message: '1001 entries is over the limit' },
      { error: 'forbidden', message: 'this token may not write app other' },
      { error: 'app_not_found', message: 'no app x' },
      { error: 'something_new' },
    ];
    const { seen, base } = await gateway((m, ws) => ws.send(JSON.stringify({ type: 'error', seq: m.seq, ...replies[m.seq - 1]! })));
    const t = transport(base);
    const results = [];
    for (let i = 0; i < replies.length; i++) results.push(await t.send(`b-${i}`, entries(`m${i}`)));
    expect(results).toEqual([
      { ok: false, retryable: true, status: 429, retryAfterMs: 3_000, error: 'rate_limited: app a is over its ingest rate; retry in 3 s' },
      { ok: false, retryable: true, status: 503, error: 'unavailable: store down' },
      { ok: false, retryable: true, status: 503, error: 'ingest_disabled: ingest is disabled on this gateway' },
      { ok: false, retryable: false, status: 400, error: 'invalid_entry: entry 0: message: required' },
      { ok: false, retryable: false, status: 400, error: 'invalid_message: "data" of a log message is one entry (an object)' },
      { ok: false, retryable: false, status: 413, error: 'too_many_entries: 1001 entries is over the limit' },
      { ok: false, retryable: false, status: 403, error: 'forbidden: this token may not write app other' },
      { ok: false, retryable: false, status: 404, error: 'app_not_found: no app x' },
      // A code this client does not know is not retried forever.
      { ok: false, retryable: false, error: 'something_new' },
    ]);
    expect(seen.upgrades).toHaveLength(1);
  });

  it('an answer for another seq does not settle the batch', async () => {
    const { base } = await gateway((m, ws) => {
      ws.send(JSON.stringify({ type: 'ack', seq: m.seq + 100, saved: 1 }));
      ws.send(JSON.stringify({ type: 'authenticated', app_id: 'a' }));
      ws.send('not json');
      setTimeout(() => ack(m, ws, { duplicate: true, saved: 0 }), 30);
    });
    expect(await transport(base).send('b-1', entries('x'))).toEqual({ ok: true, status: 200, duplicate: true });
  });

  it('close 1008 after a refused token is permanent, with the gateway\'s reason; the token is not in the error', async () => {
    const { base } = await gateway((_m, ws) => {
      ws.send(JSON.stringify({ type: 'error', error: 'unauthorized', message: 'unknown api_key' }));
      ws.close(1008, 'unauthorized');
    });
    const r = await transport(base).send('b-1', entries('x'));
    expect(r).toEqual({ ok: false, retryable: false, status: 401, error: 'connection closed (1008: unauthorized: unknown api_key)' });
    expect(JSON.stringify(r)).not.toContain('t.secret');
  });

  it('close 1012 mid-batch is retryable; the next send reconnects and resends the same batch_id from seq 1', async () => {
    const { seen, base } = await gateway((m, ws, conn) => {
      if (m.type !== 'logs') return;
      if (conn === 1) ws.close(1012, 'service restart');
      else ack(m, ws);
    });
    const t = transport(base);
    expect(await t.send('b-1', entries('x'))).toEqual({ ok: false, retryable: true, error: 'connection closed (1012: service restart)' });
    expect(await t.send('b-1', entries('x'))).toEqual({ ok: true, status: 201, duplicate: false });
    expect(seen.upgrades).toHaveLength(2);
    expect(seen.messages.map((m) => [m.conn, m.seq, m.batch_id])).toEqual([
      [1, 1, 'b-1'],
      [2, 1, 'b-1'],
    ]);
  });

  it('close 1013 (unavailable) after its error and a cut connection (1006) are retryable', async () => {
    const { seen, base } = await gateway((m, ws, conn) => {
      if (conn === 1) {
        ws.send(JSON.stringify({ type: 'error', seq: m.seq, error: 'unavailable', message: 'store timeout' }));
        ws.close(1013, 'unavailable');
      } else if (conn === 2) ws.terminate();
      else ack(m, ws);
    });
    const t = transport(base);
    expect(await t.send('b-1', entries('x'))).toMatchObject({ ok: false, retryable: true, status: 503 });
    await until(() => seen.closes.length === 1);
    expect(await t.send('b-1', entries('x'))).toMatchObject({ ok: false, retryable: true, error: expect.stringMatching(/^connection closed \(1006/) });
    expect(await t.send('b-1', entries('x'))).toMatchObject({ ok: true });
  });

  it('a message over the gateway\'s size limit (close 1009) is permanent', async () => {
    const { base } = await gateway(ackAll, { maxPayload: 200 });
    const r = await transport(base).send('b-1', entries('x'.repeat(500)));
    expect(r).toMatchObject({ ok: false, retryable: false, status: 413, error: expect.stringMatching(/^connection closed \(1009/) });
  });

  it('no answer within timeoutMs: retryable timeout, and the socket is cut', async () => {
    const { seen, base } = await gateway(() => {});
    const t = transport(base, { timeoutMs: 200 });
    const started = Date.now();
    expect(await t.send('b-1', entries('x'))).toEqual({ ok: false, retryable: true, error: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1_000);
    await until(() => seen.closes.length === 1);
    expect(seen.closes).toEqual([1006]);
  });

  it('nothing listening: retryable with the short error code', async () => {
    const srv = http.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise((r) => srv.close(r));
    expect(await transport(`http://127.0.0.1:${port}`).send('b-1', entries('x'))).toEqual({ ok: false, retryable: true, error: 'ECONNREFUSED' });
  });

  it('an upgrade refused with HTTP: 503 and 429 retryable with Retry-After, 404 permanent', async () => {
    const answers = [
      { status: 503, headers: { 'Retry-After': '2' }, body: { error: 'too_many_unauthenticated', message: 'retry later' } },
      { status: 429, headers: { 'Retry-After': '7' }, body: { error: 'too_many_auth_failures', message: 'slow down' } },
      { status: 404, headers: {}, body: { error: 'not_found', message: 'no such route' } },
    ];
    let n = 0;
    const srv = http.createServer((_req, res) => res.end());
    srv.on('upgrade', (_req, socket) => {
      const a = answers[n++]!;
      const body = JSON.stringify(a.body);
      const headers = Object.entries(a.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.end(`HTTP/1.1 ${a.status} X\r\n${headers}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => srv.close(r)));
    const t = transport(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`);
    expect(await t.send('b-1', entries('x'))).toEqual({
      ok: false, retryable: true, status: 503, retryAfterMs: 2_000, error: 'HTTP 503 too_many_unauthenticated: retry later',
    });
    expect(await t.send('b-1', entries('x'))).toEqual({
      ok: false, retryable: true, status: 429, retryAfterMs: 7_000, error: 'HTTP 429 too_many_auth_failures: slow down',
    });
    expect(await t.send('b-1', entries('x'))).toEqual({ ok: false, retryable: false, status: 404, error: 'HTTP 404 not_found: no such route' });
  });

  it('close() closes with 1000 and resolves; a send still waiting resolves retryable; the next send reconnects', async () => {
    let answer = false;
    const { seen, base } = await gateway((m, ws) => {
      if (answer) ack(m, ws);
    });
    const t = transport(base);
    const pending = t.send('b-1', entries('x'));
    await until(() => seen.messages.length === 1);
    await t.close();
    expect(await pending).toMatchObject({ ok: false, retryable: true });
    await until(() => seen.closes.length === 1);
    expect(seen.closes).toEqual([1000]);
    await t.close(); // closing twice is harmless
    answer = true;
    expect(await t.send('b-1', entries('x'))).toMatchObject({ ok: true });
    expect(seen.upgrades).toHaveLength(2);
  });

  it('close() before any send, or while connecting, resolves at once', async () => {
    const t = transport('http://127.0.0.1:9');
    await t.close();
    const { base } = await gateway(ackAll);
    const t2 = transport(base);
    const pending = t2.send('b-1', entries('x'));
    await t2.close();
    expect(await pending).toMatchObject({ ok: false, retryable: true });
  });
});

describe('createTransport', () => {
  it('websocket and ws give the WebSocket transport', () => {
    const settings = { endpoint: 'http://localhost:9000', timeoutMs: 1000, userAgent: 'x' };
    expect(createTransport('websocket', settings)).toBeInstanceOf(WebSocketTransport);
    expect(createTransport('ws', settings)).toBeInstanceOf(WebSocketTransport);
    expect((createTransport('ws', settings) as WebSocketTransport).url).toBe('ws://localhost:9000/logs');
  });
});

describe('DistributedLogger over the WebSocket transport', () => {
  it('a batch whose connection dropped before the ack is resent with its batch_id; the duplicate ack counts it once', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    cleanups.push(() => vi.restoreAllMocks());
    // The first connection "stores" the batch, then dies before the ack; the second answers duplicate.
    const stored = new Set<string>();
    const { seen, base } = await gateway((m, ws) => {
      if (m.type !== 'logs') return;
      if (stored.has(m.batch_id)) return ack(m, ws, { saved: 0, duplicate: true });
      stored.add(m.batch_id);
      ws.terminate();
    });
    const logger = new DistributedLogger({
      endpoint: base,
      serviceName: 'shop',
      apiKey: 't.secret',
      transport: 'websocket',
      handleExit: false,
      random: () => 0,
    }).start();
    const sent: Array<{ duplicate: boolean; attempts: number; status: number }> = [];
    logger.on('batch_sent', (e) => sent.push(e));
    for (let i = 0; i < 5; i++) logger.info(`m${i}`, { i });
    await logger.stop();
    expect(sent).toEqual([expect.objectContaining({ duplicate: true, attempts: 2, status: 200 })]);
    expect(logger.stats()).toMatchObject({ sent: 5, failed: 0, retries: 1 });
    expect(seen.upgrades).toHaveLength(2);
    const [first, second] = seen.messages;
    expect(first!.batch_id).toBe(second!.batch_id);
    expect(second!.data.map((e: Msg) => e.message)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(second!.data[0]).toMatchObject({ level: 'INFO', app_id: 'shop', context: { i: 0 } });
    // stop() closed the socket cleanly.
    await until(() => seen.closes.length === 2);
    expect(seen.closes[1]).toBe(1000);
  });
});
