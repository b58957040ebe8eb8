import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { entriesOf, LiveClient, sleep } from '../../test/support/live.js';
import { createBackend, type Backend } from '../backend.js';
import { loadConfig } from '../config.js';
import { startGateway, type RunningGateway } from '../gateway.js';
import { createLogger } from '../log.js';

/**
 * The upgrade of `GET /ws` as browsers make it: the token offered as the subprotocol
 * `sluice.token.<token>` next to `sluice.v1` (protocol/README.md, "WebSocket GET /ws"). On an
 * in-process gateway whose logs (at trace level) are captured, to show the token never gets there.
 */

const ADMIN = 'ws-admin-token-0123456789abcdef';
const PER_MIN = 3;

/** What an upgrade request got: 101 and its socket, or the HTTP answer that refused it. */
interface Upgraded {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  socket?: Socket;
}

/** A raw upgrade request to `/ws` with `protocols` in `Sec-WebSocket-Protocol` (a header value). */
function upgrade(port: number, protocols?: string, from?: string): Promise<Upgraded> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/ws',
      localAddress: from,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...(protocols === undefined ? {} : { 'Sec-WebSocket-Protocol': protocols }),
      },
    });
    req.on('upgrade', (res, socket) => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: '', socket: socket as Socket }));
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('GET /ws with the token in Sec-WebSocket-Protocol', () => {
  const logged: string[] = [];
  let backend: Backend;
  let gw: RunningGateway;
  let url: string;
  let port: number;
  let read: string;
  let ingest: string;

  beforeAll(async () => {
    const config = loadConfig({
      ADMIN_TOKEN: ADMIN,
      RATE_LIMIT_LINES_PER_SEC: '0',
      AUTH_FAILURES_PER_MIN: String(PER_MIN),
      // One socket fills the unauthenticated pool, and stays in it for the length of a test.
      FANOUT_MAX_UNAUTHENTICATED: '1',
      FANOUT_AUTH_TIMEOUT_MS: '10000',
    });
    const logger = createLogger('trace', { write: (line: string) => void logged.push(line) });
    backend = await createBackend(config, logger);
    const created = await backend.apps.create('ws-app');
    [read, ingest] = [created.readTokens[0]!, created.ingestTokens[0]!];
    port = await new Promise<number>((resolve) => {
      gw = startGateway({ config, backend, logger, host: '127.0.0.1', port: 0, onListening: resolve });
    });
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  const unauthenticated = () => gw.ws!.unauthenticated();

  it('answers sluice.v1 and never the token subprotocol, whatever the order offered', async () => {
    for (const offered of [`sluice.v1, sluice.token.${read}`, `sluice.token.${read}, sluice.v1`, `sluice.token.${read},sluice.v1,other`]) {
      const res = await upgrade(port, offered);
      expect(res.status).toBe(101);
      expect(res.headers['sec-websocket-protocol']).toBe('sluice.v1');
      expect(res.rawHeaders.join('\n')).not.toContain(read);
      res.socket!.destroy();
    }
  });

  it('takes the token at the upgrade: subscribed and fed with no token in any message', async () => {
    const c = await LiveClient.connect(url, { protocols: ['sluice.v1', `sluice.token.${read}`] });
    expect(c.ws.protocol).toBe('sluice.v1');
    c.send({ type: 'subscribe', apps: ['ws-app'] });
    await c.waitForType('live');
    const line = `through the subprotocol ${randomUUID()}`;
    const res = await request(`${url}/api/logs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ingest}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: line }),
    });
    expect(res.statusCode).toBe(201);
    await res.body.text();
    await c.waitFor((m) => entriesOf(m).some((e) => e.message === line));
    expect(c.messages.filter((m) => m.type === 'error')).toEqual([]);
    c.terminate();
  });

  it('counts it as a token at the upgrade: let in while the unauthenticated pool is full', async () => {
    const filler = await upgrade(port);
    expect(filler.status).toBe(101);
    await until(() => unauthenticated() === 1, 'the pool to fill');
    try {
      // Without a token at the upgrade: refused, sluice.token.* without sluice.v1 included.
      for (const offered of [undefined, 'sluice.v1', `sluice.token.${read}`, 'sluice.v1, sluice.token.']) {
        const res = await upgrade(port, offered);
        expect({ offered, status: res.status }).toEqual({ offered, status: 503 });
        expect(JSON.parse(res.body)).toMatchObject({ error: 'too_many_unauthenticated' });
      }
      const res = await upgrade(port, `sluice.v1, sluice.token.${read}`);
      expect(res.status).toBe(101);
      expect(res.headers['sec-websocket-protocol']).toBe('sluice.v1');
      res.socket!.destroy();
    } finally {
      filler.socket!.destroy();
    }
    await until(() => unauthenticated() === 0, 'the pool to empty');
  });

  it('answers no subprotocol to a client that asks for none or not for sluice.v1, which works as before', async () => {
    for (const offered of [undefined, 'other', `sluice.token.${read}`]) {
      const res = await upgrade(port, offered);
      expect(res.status).toBe(101);
      expect(res.headers['sec-websocket-protocol']).toBeUndefined();
      res.socket!.destroy();
    }
    await until(() => unauthenticated() === 0, 'the pool to empty');
    const c = await LiveClient.connect(url);
    expect(c.ws.protocol).toBe('');
    c.send({ type: 'subscribe', apps: ['ws-app'], token: read });
    await c.waitForType('live');
    c.terminate();
  });

  it('answers 400 to a malformed Sec-WebSocket-Protocol (a duplicate, a character outside tchar)', async () => {
    for (const offered of ['sluice.v1, sluice.v1', `sluice.v1, sluice.token.${read}/x`]) {
      const res = await upgrade(port, offered);
      expect(res.status).toBe(400);
      expect(res.body).toBe('Invalid Sec-WebSocket-Protocol header');
    }
    await until(() => unauthenticated() === 0, 'the pool to empty');
  });

  it('refuses an unknown or ingest token in the subprotocol like one in the URL: error unauthorized, close 4001', async () => {
    for (const token of [`r.wrong-${randomUUID()}`, ingest]) {
      const c = await LiveClient.connect(url, { protocols: ['sluice.v1', `sluice.token.${token}`] });
      const closed = await c.closed;
      expect(closed.code).toBe(4001);
      expect(c.messages.find((m) => m.type === 'error')).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('throttles wrong subprotocol tokens per address: 429 at the upgrade past AUTH_FAILURES_PER_MIN, a known token still in', async () => {
    const from = '127.0.0.7';
    const open = (token: string) =>
      new Promise<{ ws?: WebSocket; code?: number; status?: number }>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['sluice.v1', `sluice.token.${token}`], { localAddress: from });
        ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
        ws.on('close', (code) => resolve({ code }));
        ws.on('error', () => {});
      });
    for (let i = 0; i < PER_MIN; i++) expect(await open(`r.wrong-${randomUUID()}`)).toEqual({ code: 4001 });
    const over = await upgrade(port, `sluice.v1, sluice.token.r.wrong-${randomUUID()}`, from);
    expect(over.status).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(over.body)).toMatchObject({ error: 'too_many_auth_failures' });
    // The read token was resolved valid before (earlier tests): it is not slowed by the failures.
    const known = await upgrade(port, `sluice.v1, sluice.token.${read}`, from);
    expect(known.status).toBe(101);
    known.socket!.destroy();
  });

  it('writes no token and no Sec-WebSocket-Protocol value to the logs, even if handed the request headers', async () => {
    const secret = `r.${randomUUID()}`;
    gw.deps.logger.error({ req: { headers: { 'sec-websocket-protocol': `sluice.v1, sluice.token.${secret}`, authorization: `Bearer ${secret}` } } }, 'probe');
    gw.deps.logger.error({ headers: { 'sec-websocket-protocol': `sluice.token.${secret}` } }, 'probe');
    await sleep(50);
    const text = logged.join('');
    expect(text).toContain('probe');
    expect(text).not.toContain(secret);
    expect(text).not.toContain(read);
    expect(text).not.toContain('sluice.token.');
  });
});
