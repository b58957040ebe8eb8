import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, basic, frame, LOGPLEX, makeGateway, type TestGateway } from '../../test/support/gateway.js';
import { sample } from '../../test/support/metrics.js';
import type { Config } from '../config.js';
import { createGatewayMetrics } from './metrics.js';

const LINE = '<158>1 2024-06-01T12:00:00.123456+00:00 host heroku router - at=info method=GET path="/" status=200 bytes=656';
/** One good frame, then one whose LEN runs past the body: 200 with one `truncated` reject. */
const SALVAGED = `${frame(LINE)}${frame(LINE)}200 <158>1 2024-06-01T12:00:01+00:00 host app web.1 - cut`;
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

async function gateway(overrides: Partial<Config> = {}): Promise<TestGateway> {
  return makeGateway(overrides, undefined, { metrics: createGatewayMetrics({ defaultMetrics: false }) });
}

async function scrape(gw: TestGateway, token?: string) {
  const res = await gw.app.request('/metrics', { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('GET /metrics', () => {
  it('counts drain requests by route and status, lines, rejects and store writes', async () => {
    const gw = await gateway();
    const drain = (body: string, headers: Record<string, string> = {}, path = '/drain') =>
      gw.app.request(path, { method: 'POST', headers: { ...LOGPLEX, Authorization: basic(gw.a.ingest), ...headers }, body });

    expect((await drain(SALVAGED)).status).toBe(200);
    expect((await drain(frame(LINE), {}, '/heroku/api/v1/drain')).status).toBe(200);
    expect((await drain('what am i doing here')).status).toBe(400);
    expect((await drain(frame(LINE), { 'Content-Type': 'application/json' })).status).toBe(415);
    expect((await drain(frame(LINE), { Authorization: basic('t.not-a-token') })).status).toBe(401);
    expect((await drain(frame(LINE), { 'Logplex-Frame-Id': 'F1' })).status).toBe(200);
    expect((await drain(frame(LINE), { 'Logplex-Frame-Id': 'F1' })).status).toBe(200); // duplicate
    const json = await gw.app.request('/api/logs', {
      method: 'POST',
      headers: { Authorization: `Bearer ${gw.a.ingest}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ logs: [{ message: 'ok' }, { message: 'bad', level: 'loud' }] }),
    });
    expect(json.status).toBe(201);
    expect((await gw.app.request(`/api/logs/01J0D5Q2VJ9M4G6N3S8T7W1XYZ?token=${gw.a.read}`)).status).toBe(404);
    expect((await gw.app.request('/no/such/route')).status).toBe(404);

    const { status, type, text } = await scrape(gw);
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    const req = (method: string, route: string, code: string) => sample(text, 'sluice_http_requests_total', { method, route, status: code });
    expect(req('POST', '/drain', '200')).toBe(3);
    expect(req('POST', '/drain', '400')).toBe(1);
    expect(req('POST', '/drain', '415')).toBe(1);
    expect(req('POST', '/drain', '401')).toBe(1);
    expect(req('POST', '/heroku/api/v1/drain', '200')).toBe(1);
    expect(req('POST', '/api/logs', '201')).toBe(1);
    expect(req('GET', '/api/logs/:id', '404')).toBe(1); // the template, never the id
    expect(req('GET', 'unmatched', '404')).toBe(1);

    expect(sample(text, 'sluice_ingest_lines_total', { route: '/drain', status: '200' })).toBe(3);
    expect(sample(text, 'sluice_ingest_lines_total', { route: '/heroku/api/v1/drain', status: '200' })).toBe(1);
    expect(sample(text, 'sluice_ingest_lines_total', { route: '/api/logs', status: '201' })).toBe(1);
    expect(sample(text, 'sluice_ingest_rejected_lines_total', { route: '/drain', reason: 'truncated' })).toBe(1);
    expect(sample(text, 'sluice_ingest_rejected_lines_total', { route: '/drain', reason: 'garbage' })).toBe(1);
    expect(sample(text, 'sluice_ingest_rejected_lines_total', { route: '/api/logs', reason: 'invalid_entry' })).toBe(1);
    expect(sample(text, 'sluice_ingest_rejected_requests_total', { route: '/drain', reason: 'no_valid_frames' })).toBe(1);
    expect(sample(text, 'sluice_ingest_rejected_requests_total', { route: '/drain', reason: 'unsupported_media_type' })).toBe(1);
    expect(sample(text, 'sluice_ingest_duplicate_requests_total', { route: '/drain' })).toBe(1);
    expect(sample(text, 'sluice_auth_failures_total', { route: '/drain', reason: 'unauthorized' })).toBe(1);
    // Stored: the salvaged drain, the alias, the first F1, the duplicate F1 (checked by the store), the JSON batch.
    expect(sample(text, 'sluice_store_write_duration_seconds_count', { result: 'ok' })).toBe(5);
    expect(sample(text, 'sluice_ingest_body_bytes_count', { route: '/drain' })).toBe(4);
    expect(sample(text, 'sluice_ingest_body_bytes_sum', { route: '/drain' })).toBe(
      Buffer.byteLength(SALVAGED) + Buffer.byteLength('what am i doing here') + 2 * Buffer.byteLength(frame(LINE)),
    );
    // No app ids, tokens or raw paths in label values.
    for (const secret of [gw.a.id, gw.a.ingest, gw.a.read, '01J0D5Q2VJ9M4G6N3S8T7W1XYZ', '/no/such/route']) expect(text).not.toContain(secret);
  });

  it('counts ingest requests refused as a whole: 413 and 429', async () => {
    const gw = await gateway({ maxJsonEntries: 1, rateLimitLinesPerSec: 1, rateLimitBurst: 1 });
    const post = (logs: unknown[]) =>
      gw.app.request('/api/logs', {
        method: 'POST',
        headers: { Authorization: `Bearer ${gw.a.ingest}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ logs }),
      });
    expect((await post([{ message: 'a' }, { message: 'b' }])).status).toBe(413);
    expect((await post([{ message: 'a' }])).status).toBe(201);
    expect((await post([{ message: 'b' }])).status).toBe(429);
    const { text } = await scrape(gw);
    expect(sample(text, 'sluice_ingest_rejected_requests_total', { route: '/api/logs', reason: 'body_too_large' })).toBe(1);
    expect(sample(text, 'sluice_ingest_rejected_requests_total', { route: '/api/logs', reason: 'rate_limited' })).toBe(1);
  });

  it('is open without METRICS_TOKEN', async () => {
    const gw = await gateway();
    expect((await scrape(gw)).status).toBe(200);
    expect((await scrape(gw, 'anything')).status).toBe(200);
  });

  it('requires Bearer METRICS_TOKEN (or the admin token) when set: 401 otherwise, counted', async () => {
    const gw = await gateway({ metricsToken: METRICS_TOKEN });
    const none = await scrape(gw);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text)).toMatchObject({ error: 'unauthorized' });
    expect((await scrape(gw, `${METRICS_TOKEN}x`)).status).toBe(401);
    expect((await scrape(gw, gw.a.read)).status).toBe(401);
    const basicAuth = await gw.app.request('/metrics', { headers: { Authorization: basic(METRICS_TOKEN) } });
    expect(basicAuth.status).toBe(401);
    expect(basicAuth.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await scrape(gw, ADMIN_TOKEN)).status).toBe(200);
    const ok = await scrape(gw, METRICS_TOKEN);
    expect(ok.status).toBe(200);
    expect(sample(ok.text, 'sluice_auth_failures_total', { route: '/metrics', reason: 'unauthorized' })).toBe(4);
    expect(sample(ok.text, 'sluice_http_requests_total', { method: 'GET', route: '/metrics', status: '401' })).toBe(4);
  });

  it('is not served when the gateway has no metrics', async () => {
    const gw = await makeGateway();
    expect((await gw.app.request('/metrics')).status).toBe(404);
  });
});
