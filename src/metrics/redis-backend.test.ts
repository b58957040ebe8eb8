import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix } from '../../test/support/redis.js';
import { createRedisClient, waitReady } from '../store/redis-client.js';
import { newAcc, type SeriesMeta } from './bucket.js';
import type { MetricsBackend } from './backend.js';
import { createRedisMetricsBackend, seriesId } from './redis-backend.js';

const retention = { 10: 3600, 60: 86_400 };
const meta: SeriesMeta = { app: 'shop', name: 'jobs', source: '\u0000*', kind: 'count' };

describe.skipIf(!redisAvailable)('Redis metrics backend: closed points held by each process', () => {
  let url: string;
  let prefix: string;
  const clients: ReturnType<typeof createRedisClient>[] = [];
  const backend = async (readCacheBytes?: number): Promise<MetricsBackend> => {
    const redis = createRedisClient({ url });
    await waitReady(redis, 5000);
    clients.push(redis);
    return createRedisMetricsBackend({ redis, prefix, retention, ...(readCacheBytes !== undefined ? { readCacheBytes } : {}) });
  };
  // A bucket five minutes old: closed, so its point is kept (in Redis and in each reader).
  const t10 = Math.floor(Date.now() / 10_000) * 10 - 300;
  const add = (b: MetricsBackend, n: number) => {
    const acc = newAcc('count');
    Object.assign(acc, { count: n, sum: n, min: 1, max: 1, last: 1, lastT: t10 * 1000 });
    return b.write([{ meta, t10, acc }], Date.now());
  };
  const sum = async (b: MetricsBackend) => (await b.read('shop', 'jobs', undefined, t10 - 60, t10 + 60, 10)).pointsJson!.map((j) => (JSON.parse(j) as { sum: number }).sum);

  beforeAll(async () => {
    url = (await getTestRedis())!.url;
    prefix = testKeyPrefix('metrics-read');
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await deleteKeysWithPrefix(url, prefix);
  });

  it('a late write to a closed bucket reaches a process that holds its point; without a cache the same', async () => {
    const [one, two, uncached] = [await backend(), await backend(), await backend(0)];
    await add(one, 2);
    expect(await sum(one)).toEqual([2]);
    expect(await sum(two)).toEqual([2]);
    // The point is kept in Redis as well, for every process.
    const summary = `${prefix}:{m:shop}:s:10:${seriesId('jobs', '\u0000*')}`;
    expect(JSON.parse((await clients[0]!.hget(summary, String(t10)))!)).toMatchObject({ sum: 2 });
    await add(two, 3); // a late line, counted by another process
    expect(await sum(one)).toEqual([5]);
    expect(await sum(two)).toEqual([5]);
    expect(await sum(uncached)).toEqual([5]);
    expect(await sum(one)).toEqual([5]);
  });

  it('a point computed before a late write is not kept after it', async () => {
    const redis = clients[0]! as unknown as { sluiceMetricsKeep(key: string, gen: string, pairs: (string | number)[]): Promise<number> };
    const summary = `${prefix}:{m:shop}:s:10:${seriesId('jobs', '\u0000*')}`;
    const gen = (await clients[0]!.hget(summary, 'g')) ?? '0';
    await add(await backend(), 1); // the late write: deletes the kept point, counts the generation up
    expect(await redis.sluiceMetricsKeep(summary, gen, [t10, '{"stale":true}'])).toBe(0);
    expect(await clients[0]!.hget(summary, String(t10))).toBeNull();
  });
});
