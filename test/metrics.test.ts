import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Point } from '../src/metrics/bucket.js';
import { RELATIVE_ACCURACY } from '../src/metrics/sketch.js';
import { basic, frame } from './support/gateway.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix, type TestRedis } from './support/redis.js';

/**
 * Metrics from logs through the real routes: router lines with known service times posted to
 * POST /drain come back from GET /api/metrics with exact counts and percentiles within the
 * sketch's bound; count# sums and sample# lasts exact; two processes on one Redis agree.
 */

const ADMIN = 'metrics-admin-token-0123456789abcdef';

interface Series {
  kind: string | null;
  unit?: string;
  step: number;
  points: Point[];
}

/** RFC 5424 time of epoch ms `t`, µs kept. */
function iso(tMs: number, micros = 0): string {
  return new Date(tMs).toISOString().replace('Z', `${String(micros).padStart(3, '0')}+00:00`);
}

function routerLine(tMs: number, i: number, status: number, serviceMs: number, dyno: string, code?: string): string {
  const at = code ? `at=error code=${code} desc="Request timeout"` : 'at=info';
  return `<158>1 ${iso(tMs, i % 1000)} host heroku router - ${at} method=GET path="/p/${i}" host=shop.example.com request_id=r-${i} fwd="10.0.0.${i % 250}" dyno=${dyno} connect=${i % 3}ms service=${serviceMs}ms status=${status} bytes=${100 + i} protocol=https`;
}

/** Deterministic service times: exponential-ish body with a slow tail (seeded LCG). */
function serviceTimes(n: number): number[] {
  let x = 12345;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const u = x / 2 ** 31;
    out.push(i % 50 === 0 ? 2000 + Math.round(u * 3000) : 1 + Math.round(-Math.log(1 - u) * 40));
  }
  return out;
}

function exactQuantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)]!;
}

async function createApp(gw: GatewayProcess, id: string) {
  const res = await request(`${gw.url}/api/apps`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ id }),
  });
  expect(res.statusCode).toBe(201);
  return (await res.body.json()) as { ingest_token: string; read_token: string };
}

async function drain(gw: GatewayProcess, ingest: string, lines: string[]) {
  for (let k = 0; k < lines.length; k += 100) {
    const body = lines.slice(k, k + 100).map((l) => frame(l)).join('');
    const res = await request(`${gw.url}/drain`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/logplex-1', 'User-Agent': 'Logplex/v123', Authorization: basic(ingest) },
      body,
    });
    const answer = (await res.body.json()) as { accepted: number };
    expect(res.statusCode).toBe(200);
    expect(answer.accepted).toBe(Math.min(100, lines.length - k));
  }
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.json() };
}

async function series(gw: GatewayProcess, read: string, q: string): Promise<Series> {
  const { status, body } = await getJson(`${gw.url}/api/metrics?token=${read}&${q}`);
  expect(status, JSON.stringify(body)).toBe(200);
  return body as Series;
}

/** Polls until `check` passes (metrics flush every METRICS_FLUSH_MS). */
async function eventually<T>(fn: () => Promise<T>, check: (v: T) => boolean, ms = 8000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (check(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sumOf = (s: Series) => s.points.reduce((a, p) => a + (p.sum ?? 0), 0);

/** The router traffic every suite posts: 1000 lines in one closed 10 s bucket, known statuses. */
function traffic(bucketStartMs: number) {
  const times = serviceTimes(1000);
  const lines: string[] = [];
  const statuses = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  let h12 = 0;
  times.forEach((ms, i) => {
    const t = bucketStartMs + (i % 9000);
    if (ms >= 2000) {
      h12++;
      statuses['5xx']++;
      lines.push(routerLine(t, i, 503, ms, 'web.2', 'H12'));
    } else {
      const status = i % 10 === 0 ? 404 : i % 7 === 0 ? 302 : 200;
      statuses[`${Math.floor(status / 100)}xx` as keyof typeof statuses]++;
      lines.push(routerLine(t, i, status, ms, i % 2 ? 'web.1' : 'web.2'));
    }
  });
  return { lines, times, statuses, h12 };
}

describe('metrics from logs (memory store, one process)', () => {
  let gw: GatewayProcess;
  let ingest: string;
  let read: string;
  let otherRead: string;
  // A closed bucket 20-30 s ago: within the Sources panel's last minute (buckets starting in
  // the last 70 s) for the suite's first 40 s, even on a loaded CI machine.
  const bucket = Math.floor(Date.now() / 10_000) * 10_000 - 20_000;
  const t10 = bucket / 1000;
  const posted = traffic(bucket);

  beforeAll(async () => {
    gw = await startGatewayProcess({ ADMIN_TOKEN: ADMIN, HOST: '127.0.0.1', METRICS_FLUSH_MS: '100', METRICS_LIVE_INTERVAL_MS: '200', RATE_LIMIT_LINES_PER_SEC: '0' });
    ({ ingest_token: ingest, read_token: read } = await createApp(gw, 'shop'));
    ({ read_token: otherRead } = await createApp(gw, 'other'));
    const app = [
      `<190>1 ${iso(bucket + 500)} host app web.1 - count#orders.placed=3 count#orders.placed=2 sample#queue.depth=7 measure#db.query=12ms`,
      `<190>1 ${iso(bucket + 800)} host app web.1 - count#orders.placed=5 sample#queue.depth=4 measure#db.query=-3ms`,
      `<190>1 ${iso(bucket + 700)} host app web.1 - sample#queue.depth=99`,
      `<45>1 ${iso(bucket + 900)} host heroku web.1 - source=web.1 dyno=heroku.1.abc sample#load_avg_1m=0.42 sample#memory_rss=211.5MB sample#memory_total=230.25MB sample#memory_quota=512.00MB`,
    ];
    await drain(gw, ingest, [...posted.lines, ...app]);
    // Metrics trail the acknowledgements by up to METRICS_FLUSH_MS (longer on a loaded machine):
    // every test below reads them at once, so wait until all 1004 lines are counted.
    await eventually(
      () => series(gw, read, `name=producer.lines&from=${t10}&to=${t10}`),
      (s) => sumOf(s) === 1004,
      15_000,
    );
  }, 40_000);
  afterAll(async () => {
    await gw?.stop();
  });

  it('router service time: exact count, sum, min and max; p50/p95/p99 within the stated bound', async () => {
    const s = await eventually(
      () => series(gw, read, `name=router.service&from=${t10}&to=${t10 + 9}&step=10`),
      (s) => s.points[0]?.count === 1000,
    );
    expect(s).toMatchObject({ kind: 'measure', unit: 'ms', step: 10 });
    expect(s.points).toHaveLength(1);
    const p = s.points[0]!;
    expect(p.t).toBe(t10);
    expect(p.count).toBe(1000);
    expect(p.sum).toBe(posted.times.reduce((a, b) => a + b, 0));
    expect(p.min).toBe(Math.min(...posted.times));
    expect(p.max).toBe(Math.max(...posted.times));
    for (const [k, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
      const exact = exactQuantile(posted.times, q);
      expect(Math.abs(p[k]! - exact), `${k}: ${p[k]} vs exact ${exact}`).toBeLessThanOrEqual(RELATIVE_ACCURACY * exact);
    }
  });

  it('one dyno alone, and the 60 s bucket holds the same traffic', async () => {
    const web2 = await series(gw, read, `name=router.service&source=web.2&from=${t10}&to=${t10 + 9}&step=10`);
    const expected = posted.times.filter((ms, i) => ms >= 2000 || i % 2 === 0);
    expect(web2.points[0]!.count).toBe(expected.length);
    expect(web2.points[0]!.max).toBe(Math.max(...expected));
    const minute = await series(gw, read, `name=router.service&from=${t10 - 60}&to=${t10 + 60}&step=60`);
    expect(minute.points.reduce((a, p) => a + p.count, 0)).toBe(1000);
  });

  it('requests by status class and Heroku error code are exact', async () => {
    for (const [cls, n] of Object.entries(posted.statuses)) {
      const s = await series(gw, read, `name=router.status.${cls}&from=${t10}&to=${t10}`);
      expect(sumOf(s), cls).toBe(n);
    }
    expect(sumOf(await series(gw, read, `name=router.requests&from=${t10}&to=${t10}`))).toBe(1000);
    const h12 = await series(gw, read, `name=router.error.H12&from=${t10}&to=${t10}`);
    expect(h12.kind).toBe('count');
    expect(sumOf(h12)).toBe(posted.h12);
  });

  it('count# sums, sample# lasts (by entry time) and negative measures are exact; units kept', async () => {
    const orders = await series(gw, read, `name=orders.placed&from=${t10}&to=${t10}`);
    expect(orders.points[0]).toMatchObject({ sum: 10, count: 3 });
    const depth = await series(gw, read, `name=queue.depth&from=${t10}&to=${t10}`);
    // 4 has the latest timestamp (bucket + 800 ms) although 99 came last.
    expect(depth.points[0]).toMatchObject({ last: 4, min: 4, max: 99, count: 3 });
    const db = await series(gw, read, `name=db.query&from=${t10}&to=${t10}`);
    expect(db.points[0]).toMatchObject({ count: 2, sum: 9, min: -3, max: 12 });
    const rss = await series(gw, read, `name=memory_rss&source=web.1&from=${t10}&to=${t10}`);
    expect(rss).toMatchObject({ kind: 'sample', unit: 'MB' });
    expect(rss.points[0]!.last).toBe(211.5);
  });

  it('lists the series with kinds, units and sources; log volume per level; the producer family', async () => {
    const { status, body } = await getJson(`${gw.url}/api/metrics/names?token=${read}`);
    expect(status).toBe(200);
    const byName = new Map((body.series as { name: string }[]).map((s) => [s.name, s]));
    expect(byName.get('router.service')).toMatchObject({ kind: 'measure', unit: 'ms', sources: ['web.1', 'web.2'] });
    expect(byName.get('load_avg_1m')).toMatchObject({ kind: 'sample', sources: ['web.1'] });
    expect(byName.get('producer.lines')).toMatchObject({ kind: 'count', sources: ['logplex'] });
    const info = await series(gw, read, `name=log.lines.info&from=${t10}&to=${t10}`);
    const errors = await series(gw, read, `name=log.lines.error&from=${t10}&to=${t10}`);
    expect(sumOf(info) + sumOf(errors)).toBe(1004);
  });

  it('Sources: lines per minute and last seen per app and producer family', async () => {
    const { status, body } = await getJson(`${gw.url}/api/sources?token=${read}`);
    expect(status).toBe(200);
    expect(body.apps).toEqual([{ app_id: 'shop', lines_per_min: 1004, last_seen: expect.any(Number) }]);
    expect(body.producers).toEqual([{ app_id: 'shop', family: 'logplex', lines_per_min: 1004, last_seen: expect.any(Number) }]);
    expect(Math.abs(body.apps[0].last_seen - Date.now() / 1000)).toBeLessThan(30);
  });

  it('live: subscribe_metrics sends the open buckets as lines arrive; errors for bad subscriptions', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`, { headers: { Authorization: `Bearer ${read}` } });
    const messages: any[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe_metrics', series: [] }));
    ws.send(JSON.stringify({ type: 'subscribe_metrics', app_id: 'other', series: [{ name: 'router.requests' }] }));
    ws.send(JSON.stringify({ type: 'subscribe_metrics', series: [{ name: 'router.requests' }, { name: 'router.service', source: 'web.1' }], step: 10 }));
    const errorsSeen = await eventually(async () => messages.filter((m) => m.type === 'error'), (e) => e.length >= 2, 3000);
    expect(errorsSeen.map((e) => e.error)).toEqual(['invalid_message', 'forbidden']);
    // Lines stamped now land in the open bucket (or the one before, at a boundary).
    const now = Date.now();
    await drain(gw, ingest, Array.from({ length: 7 }, (_, i) => routerLine(now, 50_000 + i, 200, 10 + i, 'web.1')));
    const update = await eventually(
      async () => messages.filter((m) => m.type === 'metrics').at(-1),
      (m) => m !== undefined && m.series[0].points.reduce((a: number, p: Point) => a + (p.sum ?? 0), 0) >= 7,
      6000,
    );
    expect(update).toMatchObject({ app_id: 'shop', step: 10 });
    expect(update.series.map((x: { name: string; source: string | null; kind: string }) => [x.name, x.source, x.kind])).toEqual([
      ['router.requests', null, 'count'],
      ['router.service', 'web.1', 'measure'],
    ]);
    const web1 = update.series[1].points.reduce((a: number, p: Point) => a + p.count, 0);
    expect(web1).toBe(7);
    ws.send(JSON.stringify({ type: 'unsubscribe_metrics' }));
    await new Promise((r) => setTimeout(r, 100));
    const count = messages.length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(messages.slice(count).filter((m) => m.type === 'metrics')).toEqual([]);
    ws.close();
  });

  it('bad parameters and other apps get the JSON error of the house', async () => {
    const bad = [
      ['name=', 400, 'invalid_parameter'],
      ['name=x&step=30', 400, 'invalid_parameter'],
      ['name=x&from=yesterday', 400, 'invalid_parameter'],
      ['name=x&from=100&to=50', 400, 'invalid_parameter'],
      [`name=x&from=0&to=${t10}&step=10`, 400, 'invalid_parameter'],
    ] as const;
    for (const [q, code, error] of bad) {
      const { status, body } = await getJson(`${gw.url}/api/metrics?token=${read}&${q}`);
      expect(status, q).toBe(code);
      expect(body).toMatchObject({ error, message: expect.any(String) });
    }
    expect((await getJson(`${gw.url}/api/metrics?name=router.service`)).status).toBe(401);
    const forbidden = await getJson(`${gw.url}/api/metrics?token=${otherRead}&app_id=shop&name=router.service`);
    expect(forbidden).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    // The other app's own token sees no series of this one.
    expect((await getJson(`${gw.url}/api/metrics/names?token=${otherRead}`)).body.series).toEqual([]);
    const admin = await request(`${gw.url}/api/metrics/names`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    expect(admin.statusCode).toBe(400);
    await admin.body.dump();
    const unknown = await series(gw, read, 'name=no.such.series');
    expect(unknown).toMatchObject({ kind: null, points: [] });
  });
});

describe.skipIf(!redisAvailable)('metrics from logs on Redis: two processes, shared buckets', () => {
  let redis: TestRedis;
  let prefix: string;
  let one: GatewayProcess;
  let two: GatewayProcess;
  let ingest: string;
  let read: string;
  // Old enough that both steps' buckets are closed: the second read comes from the summaries.
  const bucket = Math.floor(Date.now() / 60_000) * 60_000 - 180_000;
  const t10 = bucket / 1000;
  const posted = traffic(bucket);

  beforeAll(async () => {
    redis = (await getTestRedis())!;
    prefix = testKeyPrefix('metrics');
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, ADMIN_TOKEN: ADMIN, HOST: '127.0.0.1', APP_CACHE_TTL_MS: '200', METRICS_FLUSH_MS: '100', RATE_LIMIT_LINES_PER_SEC: '0' };
    [one, two] = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
    ({ ingest_token: ingest, read_token: read } = await createApp(one, 'shared'));
    await new Promise((r) => setTimeout(r, 300)); // the app cache of process two
    // Alternate requests of 100 lines between the processes: each counts what it stored.
    const half = (k: number) => posted.lines.filter((_, i) => Math.floor(i / 100) % 2 === k);
    await Promise.all([drain(one, ingest, half(0)), drain(two, ingest, half(1))]);
  }, 40_000);
  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
    if (redis) await deleteKeysWithPrefix(redis.url, prefix);
  });

  it('both processes answer the same exact counts and percentiles within the bound', async () => {
    const q = `name=router.service&from=${t10}&to=${t10 + 9}&step=10`;
    const a = await eventually(() => series(one, read, q), (s) => s.points[0]?.count === 1000);
    const b = await series(two, read, q);
    expect(b).toEqual(a);
    const p = a.points[0]!;
    expect(p.count).toBe(1000);
    expect(p.sum).toBe(posted.times.reduce((x, y) => x + y, 0));
    expect(p.max).toBe(Math.max(...posted.times));
    for (const [k, qq] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
      const exact = exactQuantile(posted.times, qq);
      expect(Math.abs(p[k]! - exact), `${k}`).toBeLessThanOrEqual(RELATIVE_ACCURACY * exact);
    }
    // Read again (now from the closed bucket's kept point): the same numbers.
    expect(await series(one, read, q)).toEqual(a);
    for (const [cls, n] of Object.entries(posted.statuses)) {
      expect(sumOf(await series(two, read, `name=router.status.${cls}&from=${t10}&to=${t10}`)), cls).toBe(n);
    }
    expect(sumOf(await series(one, read, `name=router.error.H12&from=${t10}&to=${t10}`))).toBe(posted.h12);
    const minute = await series(two, read, `name=router.requests&from=${t10}&to=${t10}&step=60`);
    expect(minute.points).toEqual([{ t: t10, sum: 1000, count: 1000 }]);
  });

  it('a late line for a closed bucket updates it on every process', async () => {
    const q = `name=router.requests&source=web.1&from=${t10}&to=${t10}&step=10`;
    const before = sumOf(await series(one, read, q));
    await drain(two, ingest, [routerLine(bucket + 5, 99_999, 200, 5, 'web.1')]);
    const after = await eventually(() => series(one, read, q), (s) => sumOf(s) === before + 1);
    expect(sumOf(after)).toBe(before + 1);
    expect(sumOf(await series(two, read, q))).toBe(before + 1);
  });

  it('names agree across processes', async () => {
    const a = (await getJson(`${one.url}/api/metrics/names?token=${read}`)).body;
    const b = (await getJson(`${two.url}/api/metrics/names?token=${read}`)).body;
    expect(a.series.map((s: { name: string }) => s.name)).toContain('router.status.5xx');
    expect(b.series.map((s: { name: string; sources: string[] }) => [s.name, s.sources])).toEqual(a.series.map((s: { name: string; sources: string[] }) => [s.name, s.sources]));
  });
});
