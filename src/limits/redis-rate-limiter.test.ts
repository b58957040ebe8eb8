import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  deleteKeysWithPrefix,
  getTestRedis,
  redisAvailable,
  redisServerAvailable,
  startRedisCluster,
  startRedisServer,
  testKeyPrefix,
  type OwnedRedis,
  type TestRedis,
  type TestRedisCluster,
} from '../../test/support/redis.js';
import { createRedisClient, waitReady } from '../store/redis-client.js';
import { describeRateLimiterContract, manualClock as clock } from './rate-limiter.contract.js';
import type { RateLimiter } from './rate-limiter.js';
import { createRedisRateLimiter, type RedisRateLimiter, type RedisRateLimiterOptions } from './redis-rate-limiter.js';

async function connect(url: string): Promise<Redis | Cluster> {
  const client = createRedisClient({ url });
  if (!(await waitReady(client, 10_000))) throw new Error('test Redis not ready');
  return client;
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

/** Sums the cost `limiter` lets through when asked for `cost` every millisecond or so for `ms`. */
async function hammer(limiter: RateLimiter, key: string, cost: number, ms: number): Promise<number> {
  let allowed = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if ((await limiter.take(key, cost)).ok) allowed += cost;
    await sleep(1);
  }
  return allowed;
}

describe('createRedisRateLimiter without Redis traffic', () => {
  /** A client that fails the test if the limiter touches it at all. */
  const untouchable = new Proxy({} as Redis, {
    get: (_, name) => {
      throw new Error(`the limiter used redis.${String(name)}`);
    },
  });

  // That a rate of 0 never limits, and which limits are refused, is in the contract (needs Redis).
  it('never calls Redis when the rate is 0, not even to sync or close', async () => {
    const limiter = createRedisRateLimiter({ redis: untouchable, prefix: 'p', ratePerSec: 0, burst: 0 });
    await expect(limiter.take('app', 1_000_000)).resolves.toEqual({ ok: true });
    await limiter.sync();
    await limiter.close();
  });

  it('refuses a sync interval that is not a positive number', () => {
    const base = { redis: untouchable, prefix: 'p', ratePerSec: 10, burst: 10 };
    expect(() => createRedisRateLimiter({ ...base, syncIntervalMs: 0 })).toThrow(RangeError);
  });

  it('fails open when Redis cannot be reached, and says so once', async () => {
    // Not connected and not queueing: every command fails at once, like a gateway whose Redis is down.
    const redis = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    const changes: boolean[] = [];
    const limiter = createRedisRateLimiter({
      redis,
      prefix: 'p',
      ratePerSec: 1,
      burst: 1,
      syncIntervalMs: 10,
      onHealthChange: (healthy) => changes.push(healthy),
    });
    try {
      for (let i = 0; i < 100; i++) await expect(limiter.take('app', 1_000)).resolves.toEqual({ ok: true });
      await sleep(50);
      for (let i = 0; i < 100; i++) await expect(limiter.take('app', 1_000)).resolves.toEqual({ ok: true });
      expect(changes).toEqual([false]);
    } finally {
      await limiter.close();
      redis.disconnect();
    }
  });
});

describe.skipIf(!redisAvailable)('createRedisRateLimiter', () => {
  let server: TestRedis;
  let redis: Redis | Cluster;
  const prefixes: string[] = [];
  const limiters: RedisRateLimiter[] = [];
  const extraClients: (Redis | Cluster)[] = [];

  function make(options: Omit<RedisRateLimiterOptions, 'redis' | 'prefix'> & { prefix?: string; redis?: Redis | Cluster }) {
    const prefix = options.prefix ?? testKeyPrefix('rate');
    if (!prefixes.includes(prefix)) prefixes.push(prefix);
    const limiter = createRedisRateLimiter({ redis, ...options, prefix });
    limiters.push(limiter);
    return { limiter, prefix };
  }

  beforeAll(async () => {
    server = (await getTestRedis())!;
    redis = await connect(server.url);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const limiter of limiters.splice(0)) await limiter.close();
    for (const p of prefixes.splice(0)) await deleteKeysWithPrefix(server, p);
  });
  afterAll(async () => {
    for (const c of extraClients.splice(0)) c.disconnect();
    redis?.disconnect();
    await server?.stop();
  });

  // One process on Redis must limit exactly like the memory limiter: the same contract.
  // Timers never fire here (syncIntervalMs is an hour), so only the injected clock moves the local view.
  // make() registers each limiter and its fresh prefix: the afterEach above closes and deletes them.
  describeRateLimiterContract('redis', async (options) => ({
    limiter: make({ ...options, syncIntervalMs: 3_600_000 }).limiter,
  }));

  describe('sync', () => {
    async function bucket(prefix: string, key: string): Promise<number | null> {
      const raw = await redis.hget(`${prefix}:{rate:${key}}`, 't');
      return raw === null ? null : Number(raw);
    }

    it('sends what was taken to the shared bucket under its own hash tag', async () => {
      const c = clock();
      const { limiter, prefix } = make({ ratePerSec: 1, burst: 100, syncIntervalMs: 3_600_000, now: c.now });
      await limiter.take('app', 30);
      await limiter.take('app', 12);
      await expect(bucket(prefix, 'app')).resolves.toBeCloseTo(100, 0); // learnt, nothing sent yet
      await limiter.sync();
      await expect(bucket(prefix, 'app')).resolves.toBeCloseTo(58, 0);
      const ttl = await redis.pttl(`${prefix}:{rate:app}`);
      expect(ttl).toBeGreaterThan(42_000); // expires once it would be full again, not before
      expect(ttl).toBeLessThanOrEqual(43_000);
    });

    it('learns at the next sync what another process took', async () => {
      const c = clock();
      const opts = { ratePerSec: 1, burst: 100, syncIntervalMs: 3_600_000, now: c.now };
      const { limiter: a, prefix } = make(opts);
      const { limiter: b } = make({ ...opts, prefix });
      await a.take('app', 60);
      await b.take('app', 1);
      await a.sync();
      await b.sync();
      // 100 − 60 − 1 = 39 (plus a trickle of real-time refill in Redis, well under 1).
      await expect(b.take('app', 40)).resolves.toMatchObject({ ok: false });
      await expect(b.take('app', 39)).resolves.toEqual({ ok: true });
      await expect(b.take('app', 1)).resolves.toMatchObject({ ok: false });
    });

    it('refills the shared bucket by Redis time', async () => {
      const c = clock();
      const { limiter, prefix } = make({ ratePerSec: 100, burst: 1_000, syncIntervalMs: 3_600_000, now: c.now });
      await limiter.take('app', 1_000);
      await limiter.sync();
      const before = (await bucket(prefix, 'app'))!;
      const started = performance.now();
      await sleep(300);
      await limiter.sync(); // the key was just used, so it is synced (with nothing to send)
      const elapsedSec = (performance.now() - started) / 1000;
      const refilled = (await bucket(prefix, 'app'))! - before;
      expect(refilled).toBeGreaterThanOrEqual(100 * 0.29);
      expect(refilled).toBeLessThanOrEqual(100 * (elapsedSec + 0.05));
    });

    it('asks Redis only for the first take of a key, then decides locally', async () => {
      const { limiter } = make({ ratePerSec: 10, burst: 1_000, syncIntervalMs: 3_600_000 });
      const evalsha = vi.spyOn(redis, 'evalsha');
      const evalScript = vi.spyOn(redis, 'eval');
      for (let i = 0; i < 200; i++) await limiter.take('app', 1);
      expect(evalsha.mock.calls.length + evalScript.mock.calls.length).toBe(1);
    });

    it('shares one budget between two processes: together they stay near rate + burst', async () => {
      const prefix = testKeyPrefix('rate-shared');
      const ratePerSec = 200;
      const burst = 100;
      const windowMs = 1_500;
      const second = await connect(server.url);
      extraClients.push(second);
      const { limiter: a } = make({ prefix, ratePerSec, burst, syncIntervalMs: 50 });
      const { limiter: b } = make({ prefix, redis: second, ratePerSec, burst, syncIntervalMs: 50 });
      const [fromA, fromB] = await Promise.all([hammer(a, 'app', 5, windowMs), hammer(b, 'app', 5, windowMs)]);
      const budget = burst + (ratePerSec * windowMs) / 1000; // 400
      // Overshoot allowance: ~N × rate × syncInterval (2 × 200 × 0.05 = 20), plus timer jitter.
      expect(fromA + fromB).toBeLessThanOrEqual(budget + 80);
      // Two unshared limiters would let through about twice the budget; a shared one still grants most of it.
      expect(fromA + fromB).toBeGreaterThanOrEqual(budget * 0.75);
      // Both processes got a share: neither was starved by the other.
      expect(Math.min(fromA, fromB)).toBeGreaterThan(budget * 0.2);
    });

    it('keeps sending the cost taken on a key whose view was evicted', async () => {
      const c = clock();
      const { limiter, prefix } = make({ ratePerSec: 1, burst: 10, maxKeys: 2, syncIntervalMs: 3_600_000, now: c.now });
      await limiter.take('a', 10);
      await limiter.take('b', 1);
      await limiter.take('c', 1); // pushes out 'a' before its cost was sent
      await limiter.sync();
      await expect(bucket(prefix, 'a')).resolves.toBeLessThan(1);
      // A fresh view of 'a' is learnt from Redis: still empty.
      await expect(limiter.take('a', 5)).resolves.toMatchObject({ ok: false });
    });

    it('stops syncing once closed, after sending what was left', async () => {
      const { limiter, prefix } = make({ ratePerSec: 1, burst: 100, syncIntervalMs: 20 });
      await limiter.take('app', 7);
      await limiter.close();
      await expect(bucket(prefix, 'app')).resolves.toBeCloseTo(93, 0);
      const evalsha = vi.spyOn(redis, 'evalsha');
      const evalScript = vi.spyOn(redis, 'eval');
      await limiter.take('app', 1);
      await limiter.take('other', 1);
      await sleep(150);
      expect(evalsha).not.toHaveBeenCalled();
      expect(evalScript).not.toHaveBeenCalled();
    });

  });
});

describe.skipIf(!redisServerAvailable)('createRedisRateLimiter when its Redis goes away', () => {
  let server: OwnedRedis;
  let redis: Redis | Cluster;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = await connect(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('fails open while Redis is down and limits again once it is back', async () => {
    const changes: boolean[] = [];
    const limiter = createRedisRateLimiter({
      redis,
      prefix: 'outage',
      ratePerSec: 1,
      burst: 10,
      syncIntervalMs: 20,
      onHealthChange: (healthy) => changes.push(healthy),
    });
    try {
      await expect(limiter.take('app', 10)).resolves.toEqual({ ok: true });
      await expect(limiter.take('app', 10)).resolves.toMatchObject({ ok: false });
      await server.kill();
      await until(async () => (await limiter.take('app', 10)).ok);
      for (let i = 0; i < 20; i++) await expect(limiter.take('app', 10)).resolves.toEqual({ ok: true });
      await server.restart();
      await until(async () => !(await limiter.take('app', 10)).ok);
      expect(changes[0]).toBe(false);
      expect(changes.at(-1)).toBe(true);
    } finally {
      await limiter.close();
    }
  });

  it('lets the first take of a key through after 500 ms when Redis does not answer', async () => {
    const limiter = createRedisRateLimiter({ redis, prefix: 'hung', ratePerSec: 1, burst: 1, syncIntervalMs: 3_600_000 });
    await server.kill('SIGSTOP'); // connected but silent: a hung server
    try {
      const started = performance.now();
      await expect(limiter.take('new-key', 100)).resolves.toEqual({ ok: true });
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(450);
      expect(waited).toBeLessThan(1_500);
    } finally {
      await server.kill('SIGCONT');
      await limiter.close();
    }
  });

  it('sends the script again when Redis forgot it', async () => {
    const c = clock();
    const limiter = createRedisRateLimiter({ redis, prefix: 'noscript', ratePerSec: 1, burst: 100, syncIntervalMs: 3_600_000, now: c.now });
    try {
      await limiter.take('app', 10);
      await (redis as Redis).script('FLUSH'); // our own server: nobody else's scripts go
      await limiter.sync();
      const tokens = Number(await redis.hget('noscript:{rate:app}', 't'));
      expect(tokens).toBeCloseTo(90, 0);
    } finally {
      await limiter.close();
    }
  });
});

describe.skipIf(!redisServerAvailable)('createRedisRateLimiter on a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let redis: Redis | Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    redis = createRedisClient({ clusterNodes: cluster.nodes.map((n) => `${n.host}:${n.port}`) });
    if (!(await waitReady(redis, 10_000))) throw new Error('test cluster not ready');
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  });

  it('keeps each key in its own slot and shares it between processes', async () => {
    const c = clock();
    const prefix = testKeyPrefix('rate-cluster');
    const opts = { redis, prefix, ratePerSec: 1, burst: 100, syncIntervalMs: 3_600_000, now: c.now };
    const a = createRedisRateLimiter(opts);
    const b = createRedisRateLimiter(opts);
    // Enough keys to land on every master, each of which must load the script on first use.
    const keys = Array.from({ length: 12 }, (_, i) => `app-${i}`);
    try {
      for (const key of keys) await a.take(key, 70);
      await a.sync();
      for (const key of keys) {
        await expect(b.take(key, 31)).resolves.toMatchObject({ ok: false });
        await expect(b.take(key, 30)).resolves.toEqual({ ok: true });
      }
    } finally {
      await a.close();
      await b.close();
      await deleteKeysWithPrefix(cluster, prefix);
    }
  });
});
