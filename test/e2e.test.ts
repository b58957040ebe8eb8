import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, frame } from './support/gateway.js';
import { LiveClient, SseClient } from './support/live.js';
import { sample } from './support/metrics.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';

/**
 * End to end: the real process (src/main.ts), on a free port, driven over HTTP on every route.
 */

const ADMIN = 'e2e-admin-token-0123456789abcdef';
const INGEST = 't.e2e00000-0000-4000-8000-000000000001';
const READ = 'r.e2e00000-0000-4000-8000-000000000002';
const METRICS = 'e2e-metrics-token-0123456789abcdef';

async function call(gw: GatewayProcess, method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer } = {}) {
  const res = await request(`${gw.url}${path}`, { method: method as 'GET', headers: opts.headers, body: opts.body });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json: json as Record<string, unknown> };
}

describe('the gateway process with a config file', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
    const configPath = join(dir, 'sluice.config.json');
    writeFileSync(configPath, JSON.stringify({ apps: [{ id: 'shop', ingest_tokens: [INGEST], read_tokens: [READ] }] }));
    gw = await startGatewayProcess({ ADMIN_TOKEN: ADMIN, SLUICE_CONFIG: configPath, HOST: '127.0.0.1', METRICS_TOKEN: METRICS });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('drives every route over HTTP', async () => {
    const lp = { 'Content-Type': 'application/logplex-1', Authorization: basic(INGEST) };
    const router =
      '<158>1 2024-06-01T12:00:00.123456+00:00 host heroku router - at=error code=H12 desc="Request timeout" method=GET path="/" dyno=web.1 connect=6ms service=30001ms status=503 bytes=0';
    const drain = await call(gw, 'POST', '/drain?region=eu', {
      headers: { ...lp, 'Logplex-Msg-Count': '1', 'Logplex-Frame-Id': 'F1', 'User-Agent': 'Logplex/v72' },
      body: frame(router),
    });
    expect(drain.status).toBe(200);
    expect(drain.headers['sluice-accepted']).toBe('1');

    const alias = await call(gw, 'POST', '/heroku/api/v1/drain', {
      headers: { ...lp, 'Content-Encoding': 'gzip' },
      body: gzipSync(frame('<190>1 2024-06-01T12:00:01.000001+00:00 host app web.1 - [ERROR] payment failed')),
    });
    expect(alias.status).toBe(200);

    const input = await call(gw, 'POST', '/logs', {
      headers: { ...lp, 'User-Agent': 'MyAddon/1.0' },
      body: frame('<190>1 2024-06-01T12:00:02.000002+00:00 addon my-addon worker.1 - [meta sequenceId="1"] sample#queue.length=99'),
    });
    expect(input.status).toBe(204);
    expect((await call(gw, 'GET', '/logs')).status).toBe(405);

    const json = await call(gw, 'POST', '/api/logs', {
      headers: { Authorization: `Bearer ${INGEST}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ timestamp: '2024-06-01T12:00:03.5Z', level: 'warning', message: 'disk 91%', trace_id: 'tr-1' }),
    });
    expect(json.status).toBe(201);

    const history = await call(gw, 'GET', `/api/logs?token=${READ}&limit=10`);
    expect(history.status).toBe(200);
    const entries = history.json.entries as { message: string; level: string; id: string; tags?: string[] }[];
    expect(history.json.total).toBe(4);
    // JSON answers are not to be sniffed into anything else (one middleware sets it on all).
    expect(history.headers['x-content-type-options']).toBe('nosniff');
    expect(entries.map((e) => e.level)).toEqual(['WARN', 'INFO', 'ERROR', 'ERROR']);
    expect(entries[3]!.tags).toEqual(['region=eu']);

    const one = await call(gw, 'GET', '/api/logs/tr-1', { headers: { Authorization: `Bearer ${READ}` } });
    expect(one.json.message).toBe('disk 91%');

    const created = await call(gw, 'POST', '/api/apps', {
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'billing-api' }),
    });
    expect(created.status).toBe(201);
    const apps = await call(gw, 'GET', '/api/apps', { headers: { Authorization: `Bearer ${ADMIN}` } });
    expect((apps.json.apps as { id: string }[]).map((a) => a.id)).toEqual(['billing-api', 'shop']);
    const detail = await call(gw, 'GET', '/api/apps/billing-api', { headers: { Authorization: `Bearer ${ADMIN}` } });
    expect(detail.json.ingest_tokens).toEqual([created.json.ingest_token]);
    const rotated = await call(gw, 'POST', '/api/apps/billing-api/rotate', {
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'read' }),
    });
    expect(rotated.json.read_token).not.toBe(created.json.read_token);

    expect((await call(gw, 'GET', '/health')).json).toMatchObject({ status: 'ok', store: 'memory' });
    expect((await call(gw, 'GET', '/healthcheck')).text).toBe('OK');
    const home = await call(gw, 'GET', '/');
    expect(home.status).toBe(200);
    expect(home.headers['content-type']).toMatch(/text\/html/);
  });

  it('answers a catastrophically backtracking regex at once instead of freezing', async () => {
    // /(a+)+$/ against 40 a's and a b backtracks 2^40 times in V8's default engine (hours of one
    // core, every other request waiting). With the flags npm start, the Procfile and the
    // Dockerfile pass, V8 gives up after 1000 backtracks and finishes on its linear-time engine.
    const lp = { 'Content-Type': 'application/logplex-1', Authorization: basic(INGEST) };
    const line = `<190>1 2024-06-01T12:00:09.000001+00:00 host app web.1 - ${'a'.repeat(40)}b`;
    expect((await call(gw, 'POST', '/drain', { headers: lp, body: frame(line) })).status).toBe(200);
    const evil = encodeURIComponent('(a+)+$');
    const res = await request(`${gw.url}/api/logs?token=${READ}&regex=${evil}`, { signal: AbortSignal.timeout(15_000) });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { total: number }).total).toBe(0);
    expect((await call(gw, 'GET', '/health')).status).toBe(200);
  });

  it('refuses at once a regex the linear-time engine cannot run, over HTTP and the WebSocket', async () => {
    // A counted repetition above {16} keeps V8 off its linear-time engine, fallback flag or not:
    // /(x+){17}$/ against 27 x's and a "!" backtracks for seconds (more with every x). Refused
    // before it runs; the socket that asked stays open.
    const lp = { 'Content-Type': 'application/logplex-1', Authorization: basic(INGEST) };
    const line = `<190>1 2024-06-01T12:00:10.000001+00:00 host app web.1 - ${'x'.repeat(27)}!`;
    expect((await call(gw, 'POST', '/drain', { headers: lp, body: frame(line) })).status).toBe(200);
    const evil = '(x+){17}$';
    const res = await request(`${gw.url}/api/logs?token=${READ}&regex=${encodeURIComponent(evil)}`, { signal: AbortSignal.timeout(5_000) });
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toMatchObject({ error: 'invalid_regex', message: expect.stringMatching(/linear time/) });

    const client = await LiveClient.connect(gw.url, { token: READ });
    try {
      client.send({ type: 'subscribe', regex: evil, history: 10 });
      expect(await client.waitForType('error', 5_000)).toMatchObject({ error: 'invalid_regex' });
      const from = client.messages.length;
      client.send({ type: 'ping' });
      await client.waitFor((m) => m.type === 'pong', 5_000, from);
      expect(client.closeInfo).toBeUndefined();
    } finally {
      client.ws.close();
      await client.closed;
    }
  });

  it('bounds a slow pattern it accepts: 400 regex_budget_exceeded for history, an error for live tails, the socket open', async () => {
    // An app of its own: its 8 KiB lines would slow the other tests' regexes.
    const created = await call(gw, 'POST', '/api/apps', {
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'slow-regex' }),
    });
    expect(created.status).toBe(201);
    const read = created.json.read_token as string;
    const lp = { 'Content-Type': 'application/logplex-1', Authorization: basic(created.json.ingest_token as string) };
    const line = (i: number) => `<190>1 2024-06-01T12:00:11.${String(i).padStart(6, '0')}+00:00 host app web.1 - ${'x'.repeat(8000)}`;
    const lines = (n: number) => Array.from({ length: n }, (_, i) => frame(line(i))).join('');
    expect((await call(gw, 'POST', '/drain', { headers: lp, body: lines(300) })).status).toBe(200);
    // Size 127, accepted; without a `#` in the line V8 falls back to its linear-time engine:
    // tens of ms a line, seconds for the app, so the budget (QUERY_REGEX_BUDGET_MS, 1 s) ends it.
    const slow = `${'.*'.repeat(21)}#`;
    const res = await request(`${gw.url}/api/logs?token=${read}&regex=${encodeURIComponent(slow)}`, { signal: AbortSignal.timeout(15_000) });
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toMatchObject({ error: 'regex_budget_exceeded', message: expect.stringMatching(/QUERY_REGEX_BUDGET_MS/) });
    expect((await call(gw, 'GET', '/health')).status).toBe(200);

    const client = await LiveClient.connect(gw.url, { token: read });
    try {
      // A subscription's history is a history read: the same budget, an `error`, the socket open.
      client.send({ type: 'subscribe', regex: slow, history: 300 });
      expect(await client.waitForType('error', 15_000)).toMatchObject({ error: 'regex_budget_exceeded' });
      // Live, its regex may take 50 ms a second (FANOUT_REGEX_BUDGET_MS_PER_SEC) over 2 s: a few of these lines.
      let from = client.messages.length;
      client.send({ type: 'subscribe', regex: slow });
      await client.waitForType('live', 5_000, from);
      expect((await call(gw, 'POST', '/drain', { headers: lp, body: lines(20) })).status).toBe(200);
      expect(await client.waitFor((m) => m.type === 'error', 15_000, from)).toMatchObject({
        error: 'regex_budget_exceeded',
        message: expect.stringMatching(/FANOUT_REGEX_BUDGET_MS_PER_SEC/),
      });
      from = client.messages.length;
      client.send({ type: 'ping' });
      await client.waitFor((m) => m.type === 'pong', 5_000, from);
      expect(client.closeInfo).toBeUndefined();
    } finally {
      client.ws.close();
      await client.closed;
    }

    // SSE: the stream has begun (200) when the history read runs out; an error event ends it.
    const sse = await SseClient.open(`${gw.url}/api/logs/stream?token=${read}&history=300&regex=${encodeURIComponent(slow)}`);
    expect(sse.status).toBe(200);
    await sse.ended;
    const last = sse.events.at(-1)!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toMatchObject({ error: 'regex_budget_exceeded' });
  }, 60_000);

  it('has no loopback hint in its banner: HOST=127.0.0.1 was chosen, credentials are set', () => {
    expect(gw.stderr()).toMatch(/listening on 127\.0\.0\.1:\d+\n/);
    expect(gw.stderr()).not.toContain('loopback only');
  });

  it('serves Prometheus metrics at /metrics behind METRICS_TOKEN: its own and the process\'s', async () => {
    expect((await call(gw, 'GET', '/metrics')).status).toBe(401);
    const res = await call(gw, 'GET', '/metrics', { headers: { Authorization: `Bearer ${METRICS}` } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    // The drains of the tests above, counted by route template and status.
    expect(sample(res.text, 'sluice_http_requests_total', { method: 'POST', route: '/drain', status: '200' })).toBeGreaterThanOrEqual(2);
    expect(sample(res.text, 'sluice_ingest_lines_total', { route: '/drain', status: '200' })).toBeGreaterThanOrEqual(2);
    expect(sample(res.text, 'sluice_store_write_duration_seconds_count', { result: 'ok' })).toBeGreaterThanOrEqual(4);
    expect(sample(res.text, 'sluice_auth_failures_total', { route: '/metrics', reason: 'unauthorized' })).toBe(1);
    expect(sample(res.text, 'sluice_fanout_subscribers')).toBe(0);
    expect(sample(res.text, 'sluice_websocket_connections')).toBe(0);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(sample(res.text, name)).toBeGreaterThanOrEqual(0);
    }
    expect(res.text).not.toContain('shop');
    expect(gw.stdout() + gw.stderr()).not.toContain(METRICS);
  });

  it('never writes a token into its own logs', () => {
    const logs = gw.stdout() + gw.stderr();
    expect(logs).not.toContain(INGEST);
    expect(logs).not.toContain(READ);
    expect(logs).not.toContain(ADMIN);
  });

  it('exits cleanly on SIGTERM', async () => {
    expect(await gw.stop()).toBe(0);
  });
});

describe('the quickstart (no config at all)', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGatewayProcess({ SLUICE_CONFIG: join(tmpdir(), 'sluice-no-such-config.json') });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('binds to loopback, creates the demo app and prints its token and the dashboard URL', () => {
    const banner = gw.stderr();
    expect(banner).toMatch(/listening on 127\.0\.0\.1:\d+ \(loopback only/);
    expect(banner).toMatch(/Dashboard: +http:\/\/127\.0\.0\.1:\d+\//);
    expect(banner).toMatch(/Demo app: +demo +ingest token t\.[0-9a-f-]{36}/);
  });

  it('prints curl lines that work when pasted, one per ingest route', async () => {
    const curls = gw
      .stderr()
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('curl '));
    expect(curls.length).toBeGreaterThanOrEqual(4);
    for (const line of curls) {
      // A live tail never ends by itself: give it a second, then read the status it answered.
      const streaming = line.includes(' -N ');
      const run = spawnSync('bash', ['-c', `${line} -s ${streaming ? '--max-time 1 ' : ''}-o /dev/null -w '%{http_code}'`], { encoding: 'utf8' });
      expect([line, run.stdout]).toEqual([line, expect.stringMatching(/^20[014]$/)]);
    }
    const read = curls.find((l) => l.includes('/api/logs?token='))!;
    const body = JSON.parse(execFileSync('bash', ['-c', `${read} -s`], { encoding: 'utf8' })) as { total: number };
    expect(body.total).toBe(3);
  });
});
