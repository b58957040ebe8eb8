import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, frame, LOGPLEX, makeGateway, type TestGateway } from '../../test/support/gateway.js';
import { appDeps } from '../app.js';
import { createGatewayMetrics } from '../ops/metrics.js';
import { fastIngestListener } from './fast-routes.js';

/**
 * The drain routes answered without Hono (fast-routes.ts) against the Hono routes they bypass:
 * two gateways alike, one served by Hono alone, one by the fast listener in front of it, get the
 * same requests over real HTTP; every answer (status, JSON, the headers a sender reads) and every
 * Prometheus counter must be the same.
 */

interface Served {
  gw: TestGateway;
  server: Server;
  url: string;
}

async function serve(fast: boolean): Promise<Served> {
  const gw = await makeGateway({ maxBodyBytes: 4096 }, undefined, { metrics: createGatewayMetrics({ defaultMetrics: false }) });
  const hono = getRequestListener(gw.app.fetch);
  const server = createServer(fast ? fastIngestListener(appDeps(gw.deps), hono) : hono);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { gw, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const line = (msg: string) => frame(`<134>1 2026-12-04T10:00:00.123456+00:00 host app web.1 - ${msg}`);
const READ_HEADERS = ['content-type', 'x-content-type-options', 'www-authenticate', 'retry-after', 'sluice-accepted', 'sluice-rejected', 'sluice-rejects', 'sluice-duplicate', 'sluice-msg-count-mismatch'];

/** The requests, as functions of the gateway (its tokens differ). */
const cases: [string, (gw: TestGateway) => { path: string; method?: string; headers?: Record<string, string>; body?: string | Buffer }][] = [
  ['a good body, Basic auth', (gw) => ({ path: '/drain', headers: { ...LOGPLEX, authorization: basic(gw.a.ingest), 'logplex-msg-count': '2', 'user-agent': 'Logplex/v1' }, body: line('one') + line('two') })],
  ['the same Frame-Id twice: a duplicate', (gw) => ({ path: '/drain/', headers: { ...LOGPLEX, authorization: basic(gw.a.ingest), 'logplex-frame-id': 'f-1' }, body: line('x') })],
  ['…and again', (gw) => ({ path: '/drain/', headers: { ...LOGPLEX, authorization: basic(gw.a.ingest), 'logplex-frame-id': 'f-1' }, body: line('x') })],
  ['?token= and tags, on the Heroku alias', (gw) => ({ path: `/heroku/api/v1/drain?token=${gw.b.ingest}&env=prod&canary`, headers: LOGPLEX, body: line('tagged') })],
  ['a rejected frame beside a good one, a msg-count mismatch', (gw) => ({ path: '/drain', headers: { ...LOGPLEX, authorization: basic(gw.a.ingest), 'logplex-msg-count': '5' }, body: `${line('ok')}5 <1>x` })],
  ['gzip', (gw) => ({ path: '/drain', headers: { ...LOGPLEX, authorization: basic(gw.a.ingest), 'content-encoding': 'gzip' }, body: gzipSync(line('zipped')) })],
  ['no token', () => ({ path: '/drain', headers: LOGPLEX, body: line('x') })],
  ['an unknown token', () => ({ path: '/drain', headers: { ...LOGPLEX, authorization: basic('t.nope') }, body: line('x') })],
  ['a read token', (gw) => ({ path: '/drain', headers: { ...LOGPLEX, authorization: `Bearer ${gw.a.read}` }, body: line('x') })],
  ['a JSON content type', (gw) => ({ path: '/drain', headers: { 'content-type': 'application/json', authorization: basic(gw.a.ingest) }, body: '{}' })],
  ['no valid frame', (gw) => ({ path: '/drain', headers: { ...LOGPLEX, authorization: basic(gw.a.ingest) }, body: 'garbage' })],
  ['an empty body', (gw) => ({ path: '/drain', headers: { ...LOGPLEX, authorization: basic(gw.a.ingest) }, body: '' })],
  ['over the body limit', (gw) => ({ path: '/drain', headers: { ...LOGPLEX, authorization: basic(gw.a.ingest) }, body: line('y'.repeat(5000)) })],
  ['bad gzip', (gw) => ({ path: '/drain', headers: { ...LOGPLEX, authorization: basic(gw.a.ingest), 'content-encoding': 'gzip' }, body: 'not gzip' })],
  ['GET on a drain path (Hono answers both)', () => ({ path: '/drain', method: 'GET' })],
];

describe('fast drain routes', () => {
  let hono: Served;
  let fast: Served;
  beforeAll(async () => {
    [hono, fast] = await Promise.all([serve(false), serve(true)]);
  });
  afterAll(() => {
    for (const s of [hono, fast]) s?.server.close();
  });

  const send = async (s: Served, make: (typeof cases)[number][1]) => {
    const r = make(s.gw);
    const res = await fetch(s.url + r.path, { method: r.method ?? 'POST', headers: r.headers, body: r.body });
    const headers = Object.fromEntries(READ_HEADERS.map((h) => [h, res.headers.get(h)]));
    return { status: res.status, headers, body: await res.text() };
  };

  it.each(cases)('answers as the Hono route: %s', async (_name, make) => {
    const [a, b] = [await send(hono, make), await send(fast, make)];
    expect(b).toEqual(a);
    expect(b.headers['x-content-type-options']).toBe('nosniff');
    if (b.status !== 404) expect(() => JSON.parse(b.body)).not.toThrow();
  });

  it('stores the same entries and counts the same Prometheus series', async () => {
    const strip = (es: { id: string; received_at: string }[]) => es.map(({ id: _i, received_at: _r, ...rest }) => rest);
    for (const app of ['app-a', 'app-b']) {
      expect(strip(await fast.gw.store.recent(app, 100))).toEqual(strip(await hono.gw.store.recent(app, 100)));
    }
    const counters = async (s: Served) =>
      (await s.gw.deps.metrics!.text())
        .split('\n')
        .filter((l) => /^sluice_(http_requests|ingest|auth)/.test(l) && !/_bucket|_sum|_count\{/.test(l))
        .sort();
    const fastCounters = await counters(fast);
    expect(fastCounters.length).toBeGreaterThan(5);
    expect(fastCounters).toEqual(await counters(hono));
  });
});
