import { beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, basic, frame, LOGPLEX, makeGateway, type TestGateway } from '../../test/support/gateway.js';

let gw: TestGateway;
beforeEach(async () => {
  gw = await makeGateway({ publicUrl: undefined });
});

const admin = { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' };

describe('app administration', () => {
  it('creates an app whose ingest token writes at once through the returned drain URL', async () => {
    const res = await gw.app.request('http://sluice.example/api/apps', {
      method: 'POST',
      headers: { ...admin, 'X-Forwarded-Proto': 'https' },
      body: JSON.stringify({ id: 'billing-api' }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; ingest_token: string; read_token: string; drain_url: string };
    expect(created.id).toBe('billing-api');
    expect(created.ingest_token).toMatch(/^t\./);
    expect(created.read_token).toMatch(/^r\./);
    const url = new URL(created.drain_url);
    expect(url.protocol).toBe('https:');
    expect(url.pathname).toBe('/drain');
    expect(decodeURIComponent(url.password)).toBe(created.ingest_token);

    const drained = await gw.app.request('/drain', {
      method: 'POST',
      headers: { ...LOGPLEX, Authorization: basic(created.ingest_token) },
      body: frame('<190>1 2024-05-01T10:00:00Z host app web.1 - hello'),
    });
    expect(drained.status).toBe(200);
  });

  it('answers 409 for an existing id, 400 for an invalid one, 401/403 without the admin token', async () => {
    const post = (id: string, headers: Record<string, string> = admin) =>
      gw.app.request('/api/apps', { method: 'POST', headers, body: JSON.stringify({ id }) });
    expect((await post('app-a')).status).toBe(409);
    expect((await post('Has Spaces')).status).toBe(400);
    expect((await post('x', { 'Content-Type': 'application/json' })).status).toBe(401);
    expect((await post('x', { ...admin, Authorization: `Bearer ${gw.a.read}` })).status).toBe(403);
  });

  it('lists every app to the admin token and only its own app to an app token, without tokens', async () => {
    const all = await gw.app.request('/api/apps', { headers: admin });
    const body = (await all.json()) as { apps: { id: string }[] };
    expect(body.apps.map((a) => a.id)).toEqual(['app-a', 'app-b']);
    expect(JSON.stringify(body)).not.toContain(gw.a.ingest);
    const own = await gw.app.request('/api/apps', { headers: { Authorization: `Bearer ${gw.a.read}` } });
    expect(((await own.json()) as { apps: { id: string }[] }).apps.map((a) => a.id)).toEqual(['app-a']);
  });

  it('rotates an ingest token: the new one works and the old one is refused', async () => {
    const res = await gw.app.request('/api/apps/app-a/rotate', { method: 'POST', headers: admin, body: JSON.stringify({ kind: 'ingest' }) });
    expect(res.status).toBe(200);
    const { ingest_token } = (await res.json()) as { ingest_token: string };
    expect(ingest_token).not.toBe(gw.a.ingest);
    const send = (token: string) =>
      gw.app.request('/drain', { method: 'POST', headers: { ...LOGPLEX, Authorization: basic(token) }, body: frame('<190>1 2024-05-01T10:00:00Z host app web.1 - x') });
    expect((await send(gw.a.ingest)).status).toBe(401);
    expect((await send(ingest_token)).status).toBe(200);
    const missing = await gw.app.request('/api/apps/nope/rotate', { method: 'POST', headers: admin, body: JSON.stringify({ kind: 'read' }) });
    expect(missing.status).toBe(404);
  });
});

describe('health', () => {
  it('reports status, store kind and live connections; /healthcheck answers OK', async () => {
    const res = await gw.app.request('/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', store: 'memory', ws_connections: 0, time: expect.any(String) });
    expect(await (await gw.app.request('/healthcheck')).text()).toBe('OK');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await gw.app.request('/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });
});
