import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  deleteKeysWithPrefix,
  getTestRedis,
  redisAvailable,
  redisServerAvailable,
  startRedisCluster,
  testKeyPrefix,
  type TestRedis,
  type TestRedisCluster,
} from '../../test/support/redis.js';
import { createRedisClient, waitReady } from '../store/redis-client.js';
import { createRedisAppRegistry, type RedisAppRegistryOptions } from './redis-registry.js';
import { tokenDigest } from './registry-rules.js';
import { describeAppRegistryContract } from './registry.contract.js';
import { generateIngestToken } from './tokens.js';
import type { App } from './types.js';

/** A client configured like the gateway's (fails fast, auto-pipelining), connected. */
async function connect(target: { url: string } | { nodes: { host: string; port: number }[] }): Promise<Redis | Cluster> {
  const client =
    'url' in target
      ? createRedisClient({ url: target.url })
      : createRedisClient({ clusterNodes: target.nodes.map((n) => `${n.host}:${n.port}`) });
  if (!(await waitReady(client, 10_000))) throw new Error('test Redis not ready');
  return client;
}

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

async function until(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe.skipIf(!redisAvailable)('createRedisAppRegistry', () => {
  let server: TestRedis;
  const clients: (Redis | Cluster)[] = [];
  const prefixes: string[] = [];

  async function client(): Promise<Redis | Cluster> {
    const made = await connect(server);
    clients.push(made);
    return made;
  }

  function prefix(label: string): string {
    const p = testKeyPrefix(label);
    prefixes.push(p);
    return p;
  }

  /** A registry in its own "process": its own connection, its own cache. */
  async function registry(options: Omit<RedisAppRegistryOptions, 'redis'>) {
    const redis = await client();
    return { registry: createRedisAppRegistry({ redis, ...options }), redis };
  }

  beforeAll(async () => {
    server = (await getTestRedis())!;
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const p of prefixes.splice(0)) await deleteKeysWithPrefix(server, p);
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await server?.stop();
  });

  let shared: Promise<Redis | Cluster> | undefined;
  describeAppRegistryContract('redis', async (options) => {
    const p = prefix('registry-contract');
    const redis = await (shared ??= client());
    return { registry: createRedisAppRegistry({ redis, prefix: p, ...options }) };
  });

  describe('keys', () => {
    it('keeps apps and token grants in two hashes under one hash tag, tokens only as digests', async () => {
      const p = prefix('registry-keys');
      const { registry: apps, redis } = await registry({ prefix: p });
      const app = await apps.create('billing-api');
      const keys = (await (redis as Redis).keys(`${p}*`)).sort();
      expect(keys).toEqual([`${p}:{meta}:apps`, `${p}:{meta}:tokens`]);
      const fields = await redis.hkeys(`${p}:{meta}:tokens`);
      const digests = [...app.ingestTokens, ...app.readTokens].map((t) => tokenDigest(t).toString('hex'));
      expect(fields.sort()).toEqual(digests.sort());
      for (const field of fields) expect(field).toMatch(/^[0-9a-f]{64}$/);
      const grants = await redis.hvals(`${p}:{meta}:tokens`);
      for (const token of [...app.ingestTokens, ...app.readTokens]) expect(grants.join()).not.toContain(token);
      const stored = JSON.parse((await redis.hget(`${p}:{meta}:apps`, 'billing-api'))!);
      expect(stored).toMatchObject(app);
    });

    it('removes the grant of a rotated-out token from Redis once its grace is over, even unused', async () => {
      const c = clock();
      const p = prefix('registry-sweep');
      const { registry: apps, redis } = await registry({ prefix: p, now: c.now });
      const first = await apps.create('app');
      await apps.rotate('app', 'ingest', 1_000);
      c.advance(1_000);
      const last = await apps.rotate('app', 'ingest');
      const fields = await redis.hkeys(`${p}:{meta}:tokens`);
      const expected = [last.ingestTokens[0], first.readTokens[0]].map((t) => tokenDigest(t).toString('hex'));
      expect(fields.sort()).toEqual(expected.sort());
    });

    it('removes an expired grant from Redis when it is presented', async () => {
      const c = clock();
      const p = prefix('registry-lazy');
      const { registry: apps, redis } = await registry({ prefix: p, now: c.now });
      const before = await apps.create('app');
      await apps.rotate('app', 'read', 1_000);
      const digest = tokenDigest(before.readTokens[0]).toString('hex');
      await expect(redis.hexists(`${p}:{meta}:tokens`, digest)).resolves.toBe(1);
      c.advance(1_000);
      await expect(apps.resolve(before.readTokens[0])).resolves.toBeNull();
      await until(async () => (await redis.hexists(`${p}:{meta}:tokens`, digest)) === 0);
    });
  });

  describe('cache', () => {
    it('answers repeated resolves of a token without asking Redis again', async () => {
      const { registry: apps, redis } = await registry({ prefix: prefix('registry-cache') });
      const app = await apps.create('app');
      const hget = vi.spyOn(redis, 'hget');
      const unknown = generateIngestToken();
      for (let i = 0; i < 5; i++) {
        await expect(apps.resolve(app.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'app' });
        await expect(apps.resolve(unknown)).resolves.toBeNull();
      }
      expect(hget).toHaveBeenCalledTimes(2);
    });

    it('asks Redis once for many concurrent resolves of an uncached token', async () => {
      const { registry: apps, redis } = await registry({ prefix: prefix('registry-coalesce') });
      const app = await apps.create('app');
      const hget = vi.spyOn(redis, 'hget');
      const results = await Promise.all(Array.from({ length: 20 }, () => apps.resolve(app.readTokens[0])));
      expect(results).toEqual(Array.from({ length: 20 }, () => ({ kind: 'read', appId: 'app' })));
      expect(hget).toHaveBeenCalledTimes(1);
    });

    it('answers resolveCached from the cache alone, still knowing a token valid past the cache TTL', async () => {
      const { registry: apps, redis } = await registry({ prefix: prefix('registry-cached'), cacheTtlMs: 100 });
      const app = await apps.create('app');
      const unknown = generateIngestToken();
      const hget = vi.spyOn(redis, 'hget');
      expect(apps.resolveCached(app.ingestTokens[0])).toBeUndefined();
      await apps.resolve(app.ingestTokens[0]);
      await apps.resolve(unknown);
      expect(hget).toHaveBeenCalledTimes(2);
      expect(apps.resolveCached(app.ingestTokens[0])).toEqual({ kind: 'ingest', appId: 'app' });
      expect(apps.resolveCached(unknown)).toBeNull();
      await sleep(150);
      expect(apps.resolveCached(app.ingestTokens[0])).toEqual({ kind: 'ingest', appId: 'app' });
      expect(apps.resolveCached(generateIngestToken())).toBeUndefined();
      expect(hget).toHaveBeenCalledTimes(2);
      // resolve then checks with Redis (the entry was stale).
      await expect(apps.resolve(app.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'app' });
      expect(hget).toHaveBeenCalledTimes(3);
    });

    it('asks Redis every time when the cache is off', async () => {
      const { registry: apps, redis } = await registry({ prefix: prefix('registry-nocache'), cacheTtlMs: 0 });
      const app = await apps.create('app');
      const hget = vi.spyOn(redis, 'hget');
      for (let i = 0; i < 3; i++) await apps.resolve(app.ingestTokens[0]);
      expect(hget).toHaveBeenCalledTimes(3);
    });

    it('writes nothing when the same configuration is loaded again', async () => {
      const { registry: apps, redis } = await registry({ prefix: prefix('registry-noop') });
      const config = { id: 'cfg', ingestTokens: [`t.${'1'.repeat(32)}`], readTokens: [`r.${'2'.repeat(32)}`] };
      await apps.upsert(config);
      const evalsha = vi.spyOn(redis, 'evalsha');
      const evalScript = vi.spyOn(redis, 'eval');
      await apps.upsert(config);
      expect(evalsha).not.toHaveBeenCalled();
      expect(evalScript).not.toHaveBeenCalled();
    });

    it('refuses a negative cache TTL', async () => {
      const redis = await client();
      expect(() => createRedisAppRegistry({ redis, prefix: 'unused', cacheTtlMs: -1 })).toThrow(RangeError);
    });
  });

  describe('two processes on one Redis', () => {
    it('resolves on one process an app created on the other', async () => {
      const p = prefix('registry-two');
      const a = (await registry({ prefix: p })).registry;
      const b = (await registry({ prefix: p })).registry;
      const app = await a.create('shared');
      await expect(b.resolve(app.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'shared' });
      await expect(b.get('shared')).resolves.toEqual(app);
      await expect(b.list()).resolves.toEqual([{ id: 'shared', createdAt: app.createdAt }]);
    });

    it('stops taking a token rotated out on the other process once the cache TTL has passed', async () => {
      const p = prefix('registry-ttl');
      const cacheTtlMs = 1_000;
      const a = (await registry({ prefix: p, cacheTtlMs })).registry;
      const b = (await registry({ prefix: p, cacheTtlMs })).registry;
      const before = await a.create('app');
      await expect(b.resolve(before.ingestTokens[0])).resolves.toMatchObject({ appId: 'app' });
      const rotatedAt = performance.now();
      const after = await a.rotate('app', 'ingest');
      await expect(a.resolve(before.ingestTokens[0])).resolves.toBeNull();
      // b still trusts what it cached: the documented price of not asking Redis per request.
      const stale = await b.resolve(before.ingestTokens[0]);
      if (performance.now() - rotatedAt < cacheTtlMs / 2) expect(stale).toMatchObject({ appId: 'app' });
      await until(async () => (await b.resolve(before.ingestTokens[0])) === null, cacheTtlMs + 2_000);
      expect(performance.now() - rotatedAt).toBeLessThan(cacheTtlMs + 2_000);
      await expect(b.resolve(after.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'app' });
    });

    it('lets exactly one of many processes create the same app', async () => {
      const p = prefix('registry-race');
      const processes = await Promise.all(Array.from({ length: 8 }, () => registry({ prefix: p })));
      const results = await Promise.allSettled(processes.map(({ registry: r }) => r.create('contested')));
      const won = results.filter((r): r is PromiseFulfilledResult<App> => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(7);
      for (const r of lost) expect(r.reason).toMatchObject({ code: 'app_exists', status: 409 });
      const stored = await processes[0].registry.get('contested');
      expect(stored).toEqual(won[0].value);
      // Only the winner's tokens were claimed.
      await expect(processes[0].redis.hlen(`${p}:{meta}:tokens`)).resolves.toBe(2);
    });

    it('lets exactly one of many processes claim the same token for different apps', async () => {
      const p = prefix('registry-token-race');
      const token = generateIngestToken();
      const processes = await Promise.all(Array.from({ length: 6 }, () => registry({ prefix: p })));
      const results = await Promise.allSettled(
        processes.map(({ registry: r }, i) => r.create(`app-${i}`, { ingestTokens: [token] })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((r) => r.status === 'rejected')) {
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'token_in_use' });
      }
      await expect(processes[0].registry.list()).resolves.toHaveLength(1);
    });

    it('gives every process the same app when all seed the same configuration at once', async () => {
      const p = prefix('registry-seed');
      const config = { id: 'cfg', ingestTokens: [`t.${'1'.repeat(32)}`], readTokens: [`r.${'2'.repeat(32)}`] };
      const processes = await Promise.all(Array.from({ length: 6 }, () => registry({ prefix: p })));
      const apps = await Promise.all(processes.map(({ registry: r }) => r.upsert(config)));
      for (const app of apps) expect(app).toMatchObject(config);
      await expect(processes[0].registry.get('cfg')).resolves.toMatchObject(config);
    });

    it('leaves one working token of the kind when two processes rotate at once', async () => {
      const p = prefix('registry-rotate-race');
      const a = (await registry({ prefix: p })).registry;
      const b = (await registry({ prefix: p })).registry;
      const before = await a.create('app');
      const [fromA, fromB] = await Promise.all([a.rotate('app', 'ingest'), b.rotate('app', 'ingest')]);
      const final = (await a.get('app'))!;
      expect(final.ingestTokens).toHaveLength(1);
      expect([fromA.ingestTokens[0], fromB.ingestTokens[0]]).toContain(final.ingestTokens[0]);
      const { registry: fresh } = await registry({ prefix: p });
      await expect(fresh.resolve(final.ingestTokens[0])).resolves.toMatchObject({ appId: 'app' });
      for (const token of [before.ingestTokens[0], fromA.ingestTokens[0], fromB.ingestTokens[0]]) {
        if (token !== final.ingestTokens[0]) await expect(fresh.resolve(token)).resolves.toBeNull();
      }
    });
  });

  describe('when Redis is unreachable', () => {
    it('answers store_unavailable (503, Retry-After 5) and never a token', async () => {
      // A client that is not connected and does not queue: every command fails at once.
      const redis = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
      clients.push(redis);
      const apps = createRedisAppRegistry({ redis, prefix: 'unreachable', adminToken: 'admin-secret-0123456789' });
      const token = generateIngestToken();
      const calls = [
        apps.resolve(token),
        apps.get('app'),
        apps.list(),
        apps.create('app', { ingestTokens: [token] }),
        apps.upsert({ id: 'app', ingestTokens: [token], readTokens: [] }),
        apps.rotate('app', 'ingest'),
      ];
      for (const call of calls) {
        const error = await call.then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toMatchObject({ code: 'store_unavailable', status: 503, headers: { 'Retry-After': '5' } });
        expect((error as Error).message).not.toContain(token);
      }
      // The admin token needs no Redis; validation still comes first.
      await expect(apps.resolve('admin-secret-0123456789')).resolves.toEqual({ kind: 'admin' });
      await expect(apps.create('Bad Id')).rejects.toMatchObject({ code: 'invalid_app_id' });
    });
  });
});

describe.skipIf(!redisServerAvailable)('createRedisAppRegistry on a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  const clients: (Redis | Cluster)[] = [];
  const prefixes: string[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterEach(async () => {
    for (const p of prefixes.splice(0)) await deleteKeysWithPrefix(cluster, p);
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await cluster?.stop();
  });

  let shared: Promise<Redis | Cluster> | undefined;
  describeAppRegistryContract('redis cluster', async (options) => {
    const p = testKeyPrefix('registry-cluster');
    prefixes.push(p);
    const redis = await (shared ??= connect(cluster).then((c) => (clients.push(c), c)));
    return { registry: createRedisAppRegistry({ redis, prefix: p, ...options }) };
  });
});
