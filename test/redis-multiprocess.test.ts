import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, frame } from './support/gateway.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix, type TestRedis } from './support/redis.js';

/**
 * Two real gateway processes on one Redis act as one service: what one accepts, both serve,
 * and a Frame-Id replayed to the other process is not stored twice.
 */

const ADMIN = 'multi-admin-token-0123456789abcdef';

describe.skipIf(!redisAvailable)('two gateway processes on one Redis', () => {
  let redis: TestRedis;
  let prefix: string;
  let one: GatewayProcess;
  let two: GatewayProcess;
  let ingest: string;
  let read: string;

  beforeAll(async () => {
    redis = (await getTestRedis())!;
    prefix = testKeyPrefix('multi');
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, ADMIN_TOKEN: ADMIN, HOST: '127.0.0.1', APP_CACHE_TTL_MS: '200' };
    [one, two] = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
    // The app is created through process one; process two must know it through Redis.
    const res = await request(`${one.url}/api/apps`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'shared' }),
    });
    expect(res.statusCode).toBe(201);
    ({ ingest_token: ingest, read_token: read } = (await res.body.json()) as { ingest_token: string; read_token: string });
  });

  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
    if (redis) await deleteKeysWithPrefix(redis.url, prefix);
  });

  async function drain(gw: GatewayProcess, body: string, headers: Record<string, string> = {}) {
    const res = await request(`${gw.url}/drain`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/logplex-1', Authorization: basic(ingest), ...headers },
      body,
    });
    return { status: res.statusCode, json: (await res.body.json()) as { accepted: number; duplicate?: boolean } };
  }

  async function history(gw: GatewayProcess) {
    const res = await request(`${gw.url}/api/logs?token=${read}&limit=1000`);
    expect(res.statusCode).toBe(200);
    return (await res.body.json()) as { total: number; entries: { message: string; timestamp: string }[] };
  }

  it('serves from both processes every line posted alternately to each, in timestamp order', async () => {
    const n = 40;
    for (let i = 0; i < n; i++) {
      // Timestamps deliberately not in posting order: odd lines are a minute older.
      const sec = String(i % 2 ? i : 59 - (i % 60)).padStart(2, '0');
      const msg = `<190>1 2024-06-01T12:${i % 2 ? '00' : '01'}:${sec}.${String(i).padStart(6, '0')}+00:00 host app web.${(i % 3) + 1} - line ${i}`;
      const { status } = await drain(i % 2 ? two : one, frame(msg));
      expect(status).toBe(200);
    }
    const [fromOne, fromTwo] = await Promise.all([history(one), history(two)]);
    expect(fromOne.total).toBe(n);
    expect(fromTwo.entries).toEqual(fromOne.entries);
    const stamps = fromOne.entries.map((e) => e.timestamp);
    expect(stamps).toEqual([...stamps].sort().reverse());
    expect(new Set(fromOne.entries.map((e) => e.message)).size).toBe(n);
  });

  it('does not store a Frame-Id twice when Heroku retries it against the other process', async () => {
    const before = (await history(one)).total;
    const body = frame('<190>1 2024-06-01T13:00:00.000001+00:00 host app web.1 - retried batch');
    const headers = { 'Logplex-Frame-Id': 'A1B2C3D4E5F60718293A4B5C6D7E8F90' };
    expect((await drain(one, body, headers)).json).toMatchObject({ accepted: 1 });
    expect((await drain(two, body, headers)).json).toMatchObject({ accepted: 0, duplicate: true });
    expect((await history(two)).total).toBe(before + 1);
  });

  it('reports the Redis store in /health on both', async () => {
    for (const gw of [one, two]) {
      const res = await request(`${gw.url}/health`);
      expect(await res.body.json()).toMatchObject({ status: 'ok', store: 'redis' });
    }
  });
});
