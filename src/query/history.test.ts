import { beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, basic, frame, LOGPLEX, makeGateway, type TestGateway } from '../../test/support/gateway.js';
import type { Entry } from '../normalize/entry.js';

let gw: TestGateway;

const lines = [
  '<158>1 2024-05-01T10:00:00.000001+00:00 host heroku router - at=info method=GET path="/" status=200 connect=1ms service=5ms bytes=10',
  '<190>1 2024-05-01T10:00:01.000002+00:00 host app web.1 - level=warn msg="slow query" trace_id=abc-123',
  '<190>1 2024-05-01T10:00:02.000003+00:00 host app web.2 - Error R14 (Memory quota exceeded)',
  '<190>1 2024-05-01T10:00:03.000004+00:00 host app worker.1 - processing job 42',
  '<190>1 2024-05-01T10:00:04.000005+00:00 host app webhook.1 - delivered hook',
];

beforeEach(async () => {
  gw = await makeGateway();
  const res = await gw.app.request('/drain', {
    method: 'POST',
    headers: { ...LOGPLEX, Authorization: basic(gw.a.ingest) },
    body: lines.map((l) => frame(l)).join(''),
  });
  expect(res.status).toBe(200);
  await gw.app.request('/drain', {
    method: 'POST',
    headers: { ...LOGPLEX, Authorization: basic(gw.b.ingest) },
    body: frame('<190>1 2024-05-01T10:00:05.000000+00:00 host app web.1 - app b line'),
  });
});

interface Page {
  total: number;
  limit: number;
  offset: number;
  entries: Entry[];
}

async function get(query: string, token = gw.a.read): Promise<Page> {
  const res = await gw.app.request(`/api/logs?${query}`, { headers: { Authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Page;
}

describe('GET /api/logs', () => {
  it('returns the token\'s app newest first with total, limit and offset', async () => {
    const page = await get('');
    expect(page.total).toBe(5);
    expect(page.limit).toBe(100);
    expect(page.entries.map((e) => e.timestamp)).toEqual([
      '2024-05-01T10:00:04.000005Z',
      '2024-05-01T10:00:03.000004Z',
      '2024-05-01T10:00:02.000003Z',
      '2024-05-01T10:00:01.000002Z',
      '2024-05-01T10:00:00.000001Z',
    ]);
  });

  it('filters by minimum level or a list of levels', async () => {
    expect((await get('level=warn')).entries.map((e) => e.level)).toEqual(['ERROR', 'WARN']);
    expect((await get('level=error')).entries.map((e) => e.message)).toEqual(['Error R14 (Memory quota exceeded)']);
    expect((await get('level=info,warning')).total).toBe(4);
  });

  it('matches proc by dyno prefix like heroku logs --dyno, and source exactly', async () => {
    expect((await get('proc=web')).entries.map((e) => e.proc)).toEqual(['web.2', 'web.1']);
    expect((await get('dyno=web.1')).entries.map((e) => e.proc)).toEqual(['web.1']);
    expect((await get('source=heroku')).entries.map((e) => e.proc)).toEqual(['router']);
  });

  it('filters by search, dates and trace_id, and pages with limit and offset', async () => {
    expect((await get('search=JOB')).entries.map((e) => e.message)).toEqual(['processing job 42']);
    const window = await get('date_from=2024-05-01T10:00:01Z&date_to=2024-05-01T10:00:02.000003Z');
    expect(window.total).toBe(2);
    expect((await get('date_from=2024-05-01&date_to=2024-05-01')).total).toBe(5);
    const page = await get('limit=2&offset=1');
    expect(page.total).toBe(5);
    expect(page.entries.map((e) => e.proc)).toEqual(['worker.1', 'web.2']);
  });

  it('filters by a regular expression on the message, and refuses one that does not compile', async () => {
    const page = await get(`regex=${encodeURIComponent('^(Error R\\d+|processing job \\d+)')}`);
    expect(page.total).toBe(2);
    expect(page.entries.map((e) => e.message)).toEqual(['processing job 42', 'Error R14 (Memory quota exceeded)']);
    for (const bad of ['(unclosed', 'x'.repeat(513)]) {
      const res = await gw.app.request(`/api/logs?regex=${encodeURIComponent(bad)}`, { headers: { Authorization: `Bearer ${gw.a.read}` } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_regex');
    }
  });

  it('refuses with 400 invalid_regex a regex the linear-time engine cannot run, saying why', async () => {
    for (const bad of ['x{17}', '(x+){17}$', '\\d{20}', 'a{2,100}', '(?<=a)b', '(a)\\1']) {
      const res = await gw.app.request(`/api/logs?regex=${encodeURIComponent(bad)}`, { headers: { Authorization: `Bearer ${gw.a.read}` } });
      expect(res.status, bad).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error, bad).toBe('invalid_regex');
      expect(body.message, bad).toMatch(/cannot run in linear time/);
    }
    // What it accepts, adversarial or not, it answers.
    expect((await get(`regex=${encodeURIComponent('(a+)+$')}`)).total).toBe(0);
    expect((await get(`regex=${encodeURIComponent('job \\d{2}$')}`)).total).toBe(1);
  });

  it('answers 400 regex_budget_exceeded instead of scanning for seconds when an accepted pattern is slow on the history', async () => {
    // `.*` 21 times then `#`: size 127, accepted; on 2 KiB lines without a `#` V8 gives up
    // backtracking and falls back to the linear-time engine, ~10 ms a line: 1500 lines, ~15 s.
    const slow = await makeGateway({ queryRegexBudgetMs: 200 });
    const message = 'x'.repeat(2048);
    const entries: Entry[] = Array.from({ length: 1500 }, (_, i) => ({
      id: `01J${String(i).padStart(23, '0')}`,
      timestamp: '2024-05-01T10:00:00.000000Z',
      received_at: '2024-05-01T10:00:00.000000Z',
      level: 'INFO',
      app_id: slow.a.id,
      message,
    }));
    await slow.store.append({ entries });
    const pattern = `${'.*'.repeat(21)}#`;
    const res = await slow.app.request(`/api/logs?regex=${encodeURIComponent(pattern)}`, { headers: { Authorization: `Bearer ${slow.a.read}` } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('regex_budget_exceeded');
    expect(body.message).toMatch(/used its 200 ms budget \(QUERY_REGEX_BUDGET_MS\) after testing \d+ entries; narrow the query/);
    // It stopped early: not every entry was tested.
    expect(Number(/after testing (\d+)/.exec(body.message)![1])).toBeLessThan(1500);
    // The same history with an ordinary pattern, and a narrower query with the slow one, answer.
    expect((await (await slow.app.request('/api/logs?regex=x%23', { headers: { Authorization: `Bearer ${slow.a.read}` } })).json()) as Page).toMatchObject({ total: 0 });
    const narrow = await slow.app.request(`/api/logs?regex=${encodeURIComponent(pattern)}&search=zzz`, { headers: { Authorization: `Bearer ${slow.a.read}` } });
    expect(narrow.status).toBe(200);
  }, 20_000);

  it('lets the admin token read every app or one, and refuses another app\'s read token with 403', async () => {
    expect((await get('', ADMIN_TOKEN)).total).toBe(6);
    expect((await get('app_id=app-b', ADMIN_TOKEN)).total).toBe(1);
    const res = await gw.app.request('/api/logs?app_id=app-b', { headers: { Authorization: `Bearer ${gw.a.read}` } });
    expect(res.status).toBe(403);
  });

  it('accepts the read token as ?token= and refuses ingest tokens and missing tokens', async () => {
    expect((await gw.app.request(`/api/logs?token=${gw.a.read}`)).status).toBe(200);
    expect((await gw.app.request(`/api/logs?token=${gw.a.ingest}`)).status).toBe(403);
    expect((await gw.app.request('/api/logs')).status).toBe(401);
  });

  it('answers 400 naming the parameter for a bad level, date or limit', async () => {
    for (const q of ['level=loud', 'date_from=yesterday', 'limit=-1']) {
      const res = await gw.app.request(`/api/logs?${q}`, { headers: { Authorization: `Bearer ${gw.a.read}` } });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe('invalid_query');
      expect(body.message.startsWith(q.split('=')[0]!)).toBe(true);
    }
  });

  it('caps limit at the configured maximum', async () => {
    expect((await get('limit=5000')).limit).toBe(1000);
  });
});

describe('GET /api/logs/:id', () => {
  it('finds an entry by id and by trace_id, and not another app\'s entry', async () => {
    const [newest] = (await get('limit=1')).entries;
    const byId = await gw.app.request(`/api/logs/${newest!.id}`, { headers: { Authorization: `Bearer ${gw.a.read}` } });
    expect(await byId.json()).toEqual(newest);
    const byTrace = await gw.app.request('/api/logs/abc-123', { headers: { Authorization: `Bearer ${gw.a.read}` } });
    expect(((await byTrace.json()) as Entry).message).toBe('level=warn msg="slow query" trace_id=abc-123');
    const other = await gw.app.request(`/api/logs/${newest!.id}`, { headers: { Authorization: `Bearer ${gw.b.read}` } });
    expect(other.status).toBe(404);
  });
});
