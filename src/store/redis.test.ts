import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteKeysWithPrefix,
  getTestRedis,
  redisAvailable,
  startRedisCluster,
  startRedisServer,
  testKeyPrefix,
  type OwnedRedis,
  type TestRedisCluster,
} from '../../test/support/redis.js';
import { createRedisClient, waitReady } from './redis-client.js';
import { RedisKeys } from './redis-keys.js';
import { createRedisStore } from './redis.js';
import { createEntryFactory, describeStoreContract, drainBatch, herokuVectorBody } from './store.contract.js';

const HISTORY = 20;
const HISTORY_BYTES = 256 * 1024;

describe.skipIf(!redisAvailable)('Redis Streams store', () => {
  describe('on a single Redis', () => {
    describeStoreContract(
      'redis',
      async () => {
        const target = (await getTestRedis())!;
        const redis = createRedisClient({ url: target.url });
        await waitReady(redis, 5000);
        const prefix = testKeyPrefix('contract');
        const store = createRedisStore({ redis, prefix, historyPerApp: HISTORY, historyBytesPerApp: HISTORY_BYTES, shards: 4 });
        return {
          store,
          cleanup: async () => {
            await deleteKeysWithPrefix(target.url, prefix);
            redis.disconnect();
          },
        };
      },
      { historyPerApp: HISTORY, historyBytesPerApp: HISTORY_BYTES },
    );
  });

  describe('on a 3-master Redis Cluster', () => {
    let cluster: TestRedisCluster;
    beforeAll(async () => {
      cluster = await startRedisCluster();
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    describeStoreContract(
      'redis cluster',
      async () => {
        const redis = createRedisClient({ clusterNodes: cluster.nodes.map((n) => `${n.host}:${n.port}`) });
        await waitReady(redis, 10_000);
        const prefix = testKeyPrefix('cluster');
        const store = createRedisStore({ redis, prefix, historyPerApp: HISTORY, historyBytesPerApp: HISTORY_BYTES, shards: 8 });
        return {
          store,
          cleanup: async () => {
            await deleteKeysWithPrefix(cluster, prefix);
            redis.disconnect();
          },
        };
      },
      { historyPerApp: HISTORY, historyBytesPerApp: HISTORY_BYTES },
    );

    it('spreads the shards over the masters and keeps each request in one slot', async () => {
      const redis = new Cluster(cluster.nodes);
      const keys = new RedisKeys('layout', 8);
      const slots = new Set<number>();
      for (let k = 0; k < 8; k++) {
        // Every key of shard k (firehose, dedupe, any app's history in it) hashes to one slot.
        const slot = Number(await redis.cluster('KEYSLOT', keys.firehose(k)));
        expect(Number(await redis.cluster('KEYSLOT', keys.dedupe(k, 'frame:x:y')))).toBe(slot);
        slots.add(slot);
      }
      expect(slots.size).toBe(8);
      redis.disconnect();
    });
  });

  describe('round trips', () => {
    let own: OwnedRedis;
    let redis: Redis;
    beforeAll(async () => {
      own = await startRedisServer();
      redis = createRedisClient({ url: own.url }) as Redis;
      await waitReady(redis, 5000);
    });
    afterAll(async () => {
      redis?.disconnect();
      await own?.stop();
    });

    async function commandCalls(): Promise<Record<string, number>> {
      const probe = new Redis(own.url);
      const info = await probe.info('commandstats');
      probe.disconnect();
      const calls: Record<string, number> = {};
      for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) calls[m[1]!] = Number(m[2]);
      return calls;
    }

    it('sends one script call for a 100-line request, never one command per line', async () => {
      const store = createRedisStore({ redis, prefix: testKeyPrefix('rt'), historyPerApp: 1500, shards: 8 });
      const make = createEntryFactory();
      const app = make.appId('drain');
      const entries = Array.from({ length: 100 }, (_, i) => make.entry(app, { at: i }));
      await store.append({ entries, dedupeKey: `frame:${app}:abc` }); // warm: loads the script, indexes the app
      const before = await commandCalls();
      await store.append({ entries: entries.map((e) => ({ ...e, id: make.id() })), dedupeKey: `frame:${app}:def` });
      const after = await commandCalls();
      const sent = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
      expect(sent('evalsha') + sent('eval')).toBe(1);
      // The request's block into the app's history, inside the script; nobody follows the
      // firehose, so no second XADD.
      expect(sent('xadd')).toBe(1);
      expect(sent('sadd')).toBe(0);
      // Once a process follows, each request goes to the firehose too, and is delivered live.
      const live: string[] = [];
      const stop = store.subscribe((es) => live.push(...es.map((e) => e.id)));
      await stop.ready;
      const third = entries.map((e) => ({ ...e, id: make.id() }));
      const mid = await commandCalls();
      await store.append({ entries: third, dedupeKey: `frame:${app}:ghi` });
      const end = await commandCalls();
      expect((end.xadd ?? 0) - (mid.xadd ?? 0)).toBe(2);
      await expect.poll(() => live.length).toBe(100);
      expect(live).toEqual(third.map((e) => e.id));
      stop();
      await store.close();
    });

    it('coalesces concurrent requests of an app into one script call, in order, each deduped on its own', async () => {
      const store = createRedisStore({ redis, prefix: testKeyPrefix('coalesce'), historyPerApp: 1500, shards: 8 });
      const make = createEntryFactory();
      const app = make.appId('coalesce');
      await store.append({ entries: [make.entry(app)] }); // warm
      const before = await commandCalls();
      const batches = Array.from({ length: 20 }, () => [make.entry(app), make.entry(app)]);
      const results = await Promise.all(
        batches.map((entries, i) => store.append({ entries, dedupeKey: `batch:${app}:${i % 10}` })),
      );
      const after = await commandCalls();
      const calls = (after.evalsha ?? 0) + (after.eval ?? 0) - (before.evalsha ?? 0) - (before.eval ?? 0);
      // Two calls go at once (pipelined); the other 18 wait for one of them and share the next.
      expect(calls).toBeLessThanOrEqual(3);
      // Keys 0…9 twice: the first of each stored, the second a duplicate (in the same call).
      expect(results.map((r) => r.duplicate)).toEqual(batches.map((_, i) => i >= 10));
      const stored = batches.slice(0, 10).flat();
      expect((await store.recent(app, 100)).slice(1).map((e) => e.id)).toEqual(stored.map((e) => e.id));
      await store.close();
    });

    it('keeps a drain request as its frames: one small block per request, bounded in lines', async () => {
      const prefix = testKeyPrefix('blocks');
      const store = createRedisStore({ redis, prefix, historyPerApp: 250, shards: 8 });
      const keys = new RedisKeys(prefix, 8);
      const make = createEntryFactory();
      const app = make.appId('blocks');
      const body = herokuVectorBody();
      let lines = 0;
      for (let i = 0; i < 40; i++) {
        const batch = drainBatch(app, body);
        lines += batch.count;
        await store.append({ syslog: batch });
      }
      // One stream entry per request; its id says which lines it holds.
      const blocks = (await redis.xrangeBuffer(keys.history(app), '-', '+')) as unknown as [Buffer, Buffer[]][];
      const [last, n] = blocks.at(-1)![0].toString().split('-').map(Number);
      expect(last).toBe(lines);
      expect(Number((await redis.get(keys.historyCount(app)))!.split(' ')[0])).toBe(lines);
      const held = last! - Number(blocks[0]![0].toString().split('-')[0]) + Number(blocks[0]![0].toString().split('-')[1]);
      expect(held).toBeGreaterThanOrEqual(250);
      // At most the trim slack (an eighth: 31 lines) and one block over the bound.
      expect(held).toBeLessThan(250 + 31 + 2 * n!);
      // The block holds the frames as received, not the entries' JSON: about the body's size.
      const newest = blocks.at(-1)![1][1]!;
      expect(newest.subarray(newest.indexOf(0x0a) + 1)).toEqual(body);
      expect(await store.recent(app, 1000)).toHaveLength(250);
      await store.close();
    });

    it('takes over the layout before the state (a bare counter and a bytes key) without losing a line', async () => {
      const prefix = testKeyPrefix('legacy');
      const store = createRedisStore({ redis, prefix, historyPerApp: 5, shards: 8 });
      const keys = new RedisKeys(prefix, 8);
      const make = createEntryFactory();
      const app = make.appId('legacy');
      const first = Array.from({ length: 4 }, () => make.entry(app));
      await store.append({ entries: first });
      const [last, bytes] = (await redis.get(keys.historyCount(app)))!.split(' ');
      // What an earlier version left: the counter alone, the bytes apart.
      await redis.set(keys.historyCount(app), last!);
      await redis.set(keys.historyBytes(app), bytes!);
      const second = Array.from({ length: 3 }, () => make.entry(app));
      await store.append({ entries: second });
      expect(await store.recent(app, 10)).toEqual([...first, ...second].slice(-5));
      const state = (await redis.get(keys.historyCount(app)))!.split(' ').map(Number);
      expect(state[0]).toBe(7);
      expect(state[1]).toBeGreaterThan(Number(bytes));
      expect(await redis.exists(keys.historyBytes(app))).toBe(0);
      await store.close();
    });

    it('goes on counting from the stream when the line counter was lost', async () => {
      const prefix = testKeyPrefix('counter');
      const store = createRedisStore({ redis, prefix, historyPerApp: 5, shards: 8 });
      const keys = new RedisKeys(prefix, 8);
      const make = createEntryFactory();
      const app = make.appId('counter');
      const first = Array.from({ length: 4 }, () => make.entry(app));
      await store.append({ entries: first });
      await redis.del(keys.historyCount(app)); // e.g. evicted by an allkeys-* maxmemory policy
      const second = Array.from({ length: 3 }, () => make.entry(app));
      await expect(store.append({ entries: second })).resolves.toEqual({ stored: 3, duplicate: false });
      expect(Number((await redis.get(keys.historyCount(app)))!.split(' ')[0])).toBe(7);
      expect(await store.recent(app, 10)).toEqual([...first, ...second].slice(-5));
      await store.close();
    });

    it('answers store_unavailable at once while Redis is down, and works again when it is back', async () => {
      const store = createRedisStore({ redis, prefix: testKeyPrefix('down'), historyPerApp: 1500 });
      const make = createEntryFactory();
      const app = make.appId('down');
      await store.append({ entries: [make.entry(app)] });
      await own.kill('SIGKILL');
      const started = Date.now();
      await expect(store.append({ entries: [make.entry(app)] })).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
      expect(Date.now() - started).toBeLessThan(2500);
      expect((await store.health()).ok).toBe(false);
      await own.restart();
      await waitReady(redis, 10_000);
      await expect(store.append({ entries: [make.entry(app)] })).resolves.toEqual({ stored: 1, duplicate: false });
      expect((await store.health()).ok).toBe(true);
      await store.close();
    });
  });
});
