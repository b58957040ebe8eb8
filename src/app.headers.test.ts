import { describe, expect, it } from 'vitest';
import { basic, frame, LOGPLEX, makeGateway } from '../test/support/gateway.js';

/** `X-Content-Type-Options: nosniff` on every answer of the app (one middleware in app.ts). */
describe('security headers', () => {
  it('says nosniff on JSON answers, errors included', async () => {
    const { app, a } = await makeGateway();
    const answers = [
      await app.request('/health'),
      await app.request('/healthcheck'),
      await app.request(`/api/logs?token=${a.read}`),
      await app.request('/api/logs'), // 401
      await app.request('/no/such/route'), // 404 from notFound
      await app.request('/drain', {
        method: 'POST',
        headers: { ...LOGPLEX, Authorization: basic(a.ingest) },
        body: frame('<190>1 2024-06-01T12:00:00.000001+00:00 host app web.1 - hello'),
      }),
      await app.request('/drain', { method: 'POST', headers: { ...LOGPLEX, Authorization: basic(a.ingest) }, body: 'garbage' }), // 400
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 401, 404, 200, 400]);
    expect(answers.map((r, i) => [i, r.headers.get('x-content-type-options')])).toEqual(answers.map((_, i) => [i, 'nosniff']));
    expect(answers[2]!.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('keeps the dashboard page its own security headers', async () => {
    const { app } = await makeGateway();
    const res = await app.request('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
  });
});
