import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, makeGateway, type TestGateway } from '../../test/support/gateway.js';
import { BARE_METRIC_CASES, LOGPLEX_DROP_CASES } from '../../test/support/metric-cases.js';
import { EntrySchema, type Entry } from '../normalize/entry.js';

let gw: TestGateway;
beforeEach(async () => {
  gw = await makeGateway();
});

interface Saved {
  saved: number;
  entries: Entry[];
  errors: { index: number; error: string }[] | null;
  duplicate?: boolean;
}

function post(body: unknown, opts: { token?: string; type?: string; headers?: Record<string, string> } = {}) {
  return gw.app.request('/api/logs', {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${opts.token ?? gw.a.ingest}`,
      'Content-Type': opts.type ?? 'application/json',
      ...opts.headers,
    },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
}

describe('POST /api/logs', () => {
  it('stores a single universal-format entry and answers 201 with the stored entry', async () => {
    const res = await post({
      timestamp: '2025-12-01T10:30:45.123456Z',
      level: 'ERROR',
      app_id: 'app-a',
      message: 'Database connection failed',
      context: { error_code: 'ECONNREFUSED' },
      stack_trace: 'Error: x\n  at y',
      tags: ['database'],
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Saved;
    expect(body.saved).toBe(1);
    expect(body.errors).toBeNull();
    const e = body.entries[0]!;
    expect(EntrySchema.parse(e)).toEqual(e);
    expect(e).toMatchObject({
      timestamp: '2025-12-01T10:30:45.123456Z',
      level: 'ERROR',
      app_id: 'app-a',
      context: { error_code: 'ECONNREFUSED' },
      stack_trace: 'Error: x\n  at y',
      tags: ['database'],
    });
    const stored = await gw.store.get(e.id);
    expect(stored).toEqual(e);
  });

  it('fills a missing timestamp with the receive time and a missing app_id with the token\'s app', async () => {
    const before = new Date().toISOString();
    const res = await post({ level: 'info', message: 'no time given' });
    const e = ((await res.json()) as Saved).entries[0]!;
    expect(e.app_id).toBe('app-a');
    expect(e.timestamp >= before.slice(0, 19)).toBe(true);
    expect(e.timestamp).toBe(e.received_at);
  });

  it('accepts { logs: [...] }, a bare array and NDJSON', async () => {
    const logs = [
      { level: 'warning', message: 'one' },
      { level: 'crit', message: 'two' },
    ];
    for (const [body, type] of [
      [{ logs }, 'application/json'],
      [logs, 'application/json'],
      [logs.map((l) => JSON.stringify(l)).join('\n') + '\n', 'application/x-ndjson'],
    ] as const) {
      const res = await post(body, { type });
      expect(res.status).toBe(201);
      const saved = (await res.json()) as Saved;
      expect(saved.entries.map((e) => [e.level, e.message])).toEqual([
        ['WARN', 'one'],
        ['FATAL', 'two'],
      ]);
    }
  });

  it('reads the seed-003 batch form: app_key is the app, app_id the environment, batch_id kept', async () => {
    const res = await post(
      {
        app_key: 'app-a',
        app_id: 'production',
        batch_id: '550e8400-e29b-41d4-a716-446655440000',
        logs: [
          {
            trace_id: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
            level: 'error',
            category: 'payments',
            message: 'Charge failed for invoice #1234',
            context: { invoice_id: 1234, code: 'card_declined' },
            timestamp: '2025-01-15T14:22:00.000Z',
          },
        ],
      },
      { headers: { 'User-Agent': 'BillingService/2.1.0 (PHP 8.3)' } },
    );
    expect(res.status).toBe(201);
    const e = ((await res.json()) as Saved).entries[0]!;
    expect(e).toMatchObject({
      app_id: 'app-a',
      environment: 'production',
      batch_id: '550e8400-e29b-41d4-a716-446655440000',
      trace_id: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
      category: 'payments',
      level: 'ERROR',
      user_agent: 'BillingService/2.1.0 (PHP 8.3)',
      timestamp: '2025-01-15T14:22:00.000000Z',
    });
  });

  it('reads the seed-003 single-entry shorthand', async () => {
    const res = await post({ app_key: 'app-a', app_id: 'production', level: 'info', category: 'startup', message: 'Service started' });
    expect(res.status).toBe(201);
    expect(((await res.json()) as Saved).entries[0]).toMatchObject({ app_id: 'app-a', environment: 'production', category: 'startup' });
  });

  it('acknowledges a repeated batch_id without storing the entries twice', async () => {
    const batch = { app_key: 'app-a', app_id: 'production', batch_id: 'b-1', logs: [{ message: 'once' }] };
    expect((await post(batch)).status).toBe(201);
    const again = await post(batch);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ saved: 0, duplicate: true });
    expect((await gw.store.query({ appIds: ['app-a'], limit: 10, offset: 0 })).total).toBe(1);
  });

  it('Prefer: return=minimal answers the count and the errors without echoing the stored entries', async () => {
    const batch = { batch_id: 'b-min', logs: [{ message: 'kept' }, { level: 'info' }] };
    const res = await post(batch, { headers: { Prefer: 'respond-async, RETURN = minimal; x=1' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('preference-applied')).toBe('return=minimal');
    expect(await res.json()).toEqual({ saved: 1, errors: [{ index: 1, error: 'message: required' }] });
    const again = await post(batch, { headers: { Prefer: 'return=minimal' } });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ saved: 0, duplicate: true, errors: null });
    // Without the preference the answer is the full one.
    const full = (await (await post({ message: 'full' }, { headers: { Prefer: 'return=representation' } })).json()) as Saved;
    expect(full.entries[0]).toMatchObject({ message: 'full' });
    expect((await gw.store.query({ appIds: ['app-a'], limit: 10, offset: 0 })).entries.map((e) => e.message).sort()).toEqual(['full', 'kept']);
  });

  it('stores the valid entries of a batch and lists the invalid ones by index', async () => {
    const res = await post({ logs: [{ message: 'ok' }, { level: 'loud', message: 'bad level' }, { level: 'info' }] });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Saved;
    expect(body.saved).toBe(1);
    expect(body.errors).toEqual([
      { index: 1, error: expect.stringMatching(/^level: /) },
      { index: 2, error: expect.stringMatching(/^message: /) },
    ]);
  });

  it('answers 400 naming the field when no entry is valid', async () => {
    const res = await post({ level: 'info', message: 'x', timestamp: 'yesterday-ish' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('invalid_entry');
    expect(body.message).toMatch(/timestamp/);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const res = await post('{"level": "info", ');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_json' });
  });

  it('keeps the good NDJSON lines when one line is not JSON', async () => {
    const res = await post('{"message":"a"}\n{oops\n{"message":"c"}\n', { type: 'application/x-ndjson' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Saved;
    expect(body.entries.map((e) => e.message)).toEqual(['a', 'c']);
    expect(body.errors).toEqual([{ index: 1, error: expect.stringMatching(/^invalid JSON/) }]);
  });

  it('answers 403 when a token writes another app, and stores nothing', async () => {
    const res = await post({ logs: [{ message: 'mine' }, { app_id: 'app-b', message: 'theirs' }] });
    expect(res.status).toBe(403);
    expect((await gw.store.query({ limit: 10, offset: 0 })).total).toBe(0);
  });

  it('lets the admin token write any existing app, and answers 404 for an unknown one', async () => {
    const ok = await post({ app_id: 'app-b', message: 'from admin' }, { token: ADMIN_TOKEN });
    expect(ok.status).toBe(201);
    const unknown = await post({ app_id: 'nope', message: 'x' }, { token: ADMIN_TOKEN });
    expect(unknown.status).toBe(404);
  });

  it('answers 401 without a token and 403 with a read token', async () => {
    const none = await gw.app.request('/api/logs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(none.status).toBe(401);
    expect((await post({ message: 'x' }, { token: gw.a.read })).status).toBe(403);
  });

  it('answers 415 for a form-encoded body (curl -d without a Content-Type)', async () => {
    const res = await post('message=hi', { type: 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
  });

  it('accepts gzip and answers 413 past the entry limit', async () => {
    const zipped = await post(gzipSync(JSON.stringify({ message: 'zipped' })), { headers: { 'Content-Encoding': 'gzip' } });
    expect(zipped.status).toBe(201);
    const small = await makeGateway({ maxJsonEntries: 2 });
    const res = await small.app.request('/api/logs', {
      method: 'POST',
      headers: { Authorization: `Bearer ${small.a.ingest}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ logs: [{ message: '1' }, { message: '2' }, { message: '3' }] }),
    });
    expect(res.status).toBe(413);
  });

  it('raises the level from the message content and extracts metrics from JSON entries', async () => {
    const res = await post({ message: 'at=error code=H12 desc="Request timeout" measure#db.latency=20ms count#errors=1' });
    const e = ((await res.json()) as Saved).entries[0]!;
    expect(e.metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'measure', name: 'db.latency', value: 20, unit: 'ms' }),
        expect.objectContaining({ kind: 'count', name: 'errors', value: 1 }),
      ]),
    );
  });
});

describe('POST /api/logs: metrics of bare l2met keys and of Logplex L10/L11 lines (issue 10)', () => {
  it('reads a bare or empty-valued l2met key as 1 in every message, as the drain does', async () => {
    const res = await post({ logs: BARE_METRIC_CASES.map(([message]) => ({ message })) });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Saved;
    expect(body.entries.map((e) => e.metrics ?? [])).toEqual(BARE_METRIC_CASES.map(([, want]) => want));
  });

  it('gives a Logplex overflow line its dropped count as a metric', async () => {
    const cases = LOGPLEX_DROP_CASES.filter(([m]) => m !== '');
    const res = await post({ logs: cases.map(([message]) => ({ message, level: 'error' })) });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Saved;
    expect(body.entries.map((e) => e.metrics)).toEqual(cases.map(([, want]) => (want === null ? undefined : [want])));
  });
});
