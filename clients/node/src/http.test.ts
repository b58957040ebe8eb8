import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { GZIP_SYNC_MAX_BYTES, HttpTransport } from './http.js';

interface Seen { url: string; headers: http.IncomingHttpHeaders; body: any; raw: Buffer }

/** A server answering each request with `reply`, recording what came in (body gunzipped). */
async function server(reply: (res: http.ServerResponse, n: number) => void) {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const wire = Buffer.concat(chunks);
      const raw = req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
      seen.push({ url: req.url!, headers: req.headers, body: JSON.parse(raw.toString()), raw: wire });
      reply(res, seen.length);
    });
  });
  const counts = { connections: 0 };
  srv.on('connection', () => counts.connections++);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  servers.push(srv);
  return { seen, counts, base: `http://127.0.0.1:${port}` };
}
const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => (res: http.ServerResponse) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

function transport(base: string, timeoutMs = 2_000) {
  return new HttpTransport({ endpoint: base, apiKey: 't.secret', timeoutMs, userAgent: 'sluice-node/test' });
}

describe('HttpTransport', () => {
  it('posts { batch_id, logs } to /api/logs with the Bearer token; plain below 1 KiB, gzip above', async () => {
    const { seen, base } = await server(answer(201, { saved: 1 }));
    const t = transport(base);
    expect(await t.send('b-1', [JSON.stringify({ message: 'small' })])).toEqual({ ok: true, status: 201, duplicate: false });
    const big = Array.from({ length: 50 }, (_, i) => JSON.stringify({ message: `entry ${i} ${'x'.repeat(40)}` }));
    expect((await t.send('b-2', big)).ok).toBe(true);
    expect(seen[0]).toMatchObject({
      url: '/api/logs',
      headers: { authorization: 'Bearer t.secret', 'content-type': 'application/json', 'user-agent': 'sluice-node/test' },
      body: { batch_id: 'b-1', logs: [{ message: 'small' }] },
    });
    expect(seen[0]!.headers['content-encoding']).toBeUndefined();
    expect(seen[1]!.headers['content-encoding']).toBe('gzip');
    expect(seen[1]!.body.logs).toHaveLength(50);
  });

  it('gzips a body over GZIP_SYNC_MAX_BYTES too (in the thread pool), entries intact', async () => {
    const { seen, base } = await server(answer(201, { saved: 1 }));
    const many = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ message: `entry ${i} ${'y'.repeat(100)}` }));
    expect(many.join(',').length).toBeGreaterThan(GZIP_SYNC_MAX_BYTES);
    expect((await transport(base).send('b-big', many)).ok).toBe(true);
    expect(seen[0]!.headers['content-encoding']).toBe('gzip');
    expect(seen[0]!.body.logs.map((l: { message: string }) => l.message)).toEqual(many.map((m) => JSON.parse(m).message));
  });

  it('reads a duplicate batch_id answer as delivered', async () => {
    const { base } = await server(answer(200, { saved: 0, duplicate: true, entries: [], errors: null }));
    expect(await transport(base).send('b', ['{}'])).toEqual({ ok: true, status: 200, duplicate: true });
  });

  it('429 and 503 are retryable with their Retry-After; 400 and 403 are permanent', async () => {
    const { base } = await server((res, n) =>
      [
        answer(429, { error: 'rate_limited' }, { 'Retry-After': '2' }),
        answer(503, { error: 'store_unavailable' }, { 'Retry-After': '5' }),
        answer(400, { error: 'invalid_entry', message: 'no valid entry' }),
        answer(403, { error: 'forbidden' }),
      ][n - 1]!(res),
    );
    const t = transport(base);
    expect(await t.send('a', ['{}'])).toMatchObject({ ok: false, retryable: true, status: 429, retryAfterMs: 2_000 });
    expect(await t.send('b', ['{}'])).toMatchObject({ ok: false, retryable: true, status: 503, retryAfterMs: 5_000 });
    expect(await t.send('c', ['{}'])).toMatchObject({ ok: false, retryable: false, status: 400, error: 'HTTP 400 invalid_entry: no valid entry' });
    expect(await t.send('d', ['{}'])).toMatchObject({ ok: false, retryable: false, status: 403 });
  });

  it('sends batch after batch over one kept-alive connection', async () => {
    const { seen, counts, base } = await server(answer(201, { saved: 1 }));
    const t = transport(base);
    for (let i = 0; i < 3; i++) expect((await t.send(`b-${i}`, ['{"message":"m"}'])).ok).toBe(true);
    expect(seen).toHaveLength(3);
    expect(counts.connections).toBe(1);
  });

  it('a prepared batch goes as encoded, its retry sends the same bytes, and another batch is encoded anew', async () => {
    const { seen, base } = await server((res, n) => (n === 1 ? answer(503, { error: 'store_unavailable' }) : answer(201, { saved: 50 }))(res));
    const t = transport(base);
    const batch = (tag: string) => Array.from({ length: 50 }, (_, i) => JSON.stringify({ message: `${tag} ${i} ${'x'.repeat(40)}` }));
    t.prepare('b-1', batch('a'));
    expect(await t.send('b-1', batch('a'))).toMatchObject({ ok: false, retryable: true, status: 503 });
    expect(await t.send('b-1', batch('a'))).toEqual({ ok: true, status: 201, duplicate: false });
    // A prepared batch that is not the one sent next is not what goes.
    t.prepare('b-2', batch('b'));
    expect((await t.send('b-3', batch('c'))).ok).toBe(true);
    expect(seen.map((s) => [s.body.batch_id, s.body.logs.length, s.body.logs[0].message.slice(0, 3)])).toEqual([
      ['b-1', 50, 'a 0'],
      ['b-1', 50, 'a 0'],
      ['b-3', 50, 'c 0'],
    ]);
    expect(seen[1]!.raw.equals(seen[0]!.raw)).toBe(true);
    expect(seen.every((s) => s.headers['content-encoding'] === 'gzip')).toBe(true);
  });

  it('connection refused and timeouts are retryable', async () => {
    const refused = await transport('http://127.0.0.1:1').send('a', ['{}']);
    expect(refused).toMatchObject({ ok: false, retryable: true });
    const { base } = await server(() => {
      /* never answers */
    });
    const timedOut = await transport(base, 200).send('b', ['{}']);
    expect(timedOut).toMatchObject({ ok: false, retryable: true });
  });
});
