import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { findOnPath, startRedisServer, type TestRedis, type TestRedisCluster } from './redis-server.js';

/**
 * The one place tests get Redis from (team rule): `REDIS_URL` if set, else a `redis-server` we
 * start on a free port, else a testcontainers Redis when a Docker engine answers, else none,
 * which is a skip locally and a failure in CI (`REQUIRE_REDIS=1` or `CI`).
 *
 * @example
 * import { getTestRedis, redisAvailable, testKeyPrefix, deleteKeysWithPrefix } from './support/redis.js';
 * describe.skipIf(!redisAvailable)('the Redis store', () => {
 *   let redis: TestRedis;
 *   const prefix = testKeyPrefix('store');
 *   beforeAll(async () => { redis = (await getTestRedis())!; });
 *   afterAll(async () => { await deleteKeysWithPrefix(redis.url, prefix); await redis.stop(); });
 * });
 */

export {
  startRedisCluster,
  startRedisServer,
  type OwnedRedis,
  type StartRedisServerOptions,
  type TestRedis,
  type TestRedisCluster,
} from './redis-server.js';

/** What the choice of a Redis depends on; injectable so the decision can be tested. @internal */
export interface RedisProbe {
  env: Record<string, string | undefined>;
  /** `redis-server` is on PATH. */
  hasRedisServer: boolean;
  /** A Docker engine answers (only asked when the cheaper options are out). */
  dockerReachable: () => Promise<boolean>;
}

/** Where the test Redis comes from. @internal */
export type RedisPlan = { kind: 'url'; url: string } | { kind: 'server' } | { kind: 'container' } | { kind: 'none' };

const HOW_TO_GET_REDIS =
  'Redis is required here (REQUIRE_REDIS or CI is set) but there is no way to get one: set ' +
  'REDIS_URL=redis://host:port, or put redis-server on PATH (apt-get install redis-server, ' +
  'brew install redis), or run a Docker engine for testcontainers.';

/** `REQUIRE_REDIS` is 1/true, or `CI` is set to anything but ''/0/false: a missing Redis fails. */
export function redisRequired(env: Record<string, string | undefined>): boolean {
  const on = (v: string | undefined) => v !== undefined && !/^(|0|false|no)$/i.test(v.trim());
  return /^(1|true|yes)$/i.test(env.REQUIRE_REDIS?.trim() ?? '') || on(env.CI);
}

/**
 * Decides where the test Redis comes from, in the team's order of preference. Rejects with how
 * to get Redis when none is available but one is required. @internal
 */
export async function planTestRedis(probe: RedisProbe): Promise<RedisPlan> {
  const url = probe.env.REDIS_URL?.trim();
  if (url) return { kind: 'url', url };
  if (probe.hasRedisServer) return { kind: 'server' };
  if (await probe.dockerReachable()) return { kind: 'container' };
  if (redisRequired(probe.env)) throw new Error(HOW_TO_GET_REDIS);
  return { kind: 'none' };
}

/** GET /_ping on a Docker engine; false on any error or after 1 s. */
function pingDocker(target: { socketPath: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ ...target, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * Whether a Docker engine answers, cheaply: look for its socket (or DOCKER_HOST) before pinging,
 * so machines without Docker pay a few `stat` calls.
 */
export async function dockerReachable(env: Record<string, string | undefined> = process.env): Promise<boolean> {
  const host = env.DOCKER_HOST?.trim();
  if (host) {
    if (host.startsWith('unix://')) return pingDocker({ socketPath: host.slice('unix://'.length) });
    if (/^(tcp|http):\/\//.test(host) && !env.DOCKER_TLS_VERIFY) {
      const u = new URL(host.replace(/^tcp:/, 'http:'));
      return pingDocker({ host: u.hostname, port: Number(u.port || 2375) });
    }
    // TLS, ssh:// or npipe: too much to reproduce here; testcontainers will say if it fails.
    return true;
  }
  // testcontainers' own config file may point at a remote engine.
  if (existsSync(path.join(os.homedir(), '.testcontainers.properties'))) return true;
  const sockets = [
    env.TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE,
    '/var/run/docker.sock',
    env.XDG_RUNTIME_DIR && path.join(env.XDG_RUNTIME_DIR, 'docker.sock'), // rootless Docker
    path.join(os.homedir(), '.docker', 'run', 'docker.sock'), // Docker Desktop
    path.join(os.homedir(), '.docker', 'desktop', 'docker.sock'),
  ];
  for (const socketPath of sockets) {
    if (socketPath && existsSync(socketPath) && (await pingDocker({ socketPath }))) return true;
  }
  return false;
}

/** Decided once per test file, at import: the environment does not change under a test run. */
const plan: Promise<RedisPlan> = planTestRedis({
  env: process.env,
  hasRedisServer: findOnPath('redis-server') !== undefined,
  dockerReachable: () => dockerReachable(process.env),
});

/**
 * For `describe.skipIf(!redisAvailable)`: false only when {@link getTestRedis} would resolve to
 * null. Never false when REQUIRE_REDIS/CI is set: the tests then run and fail, saying why.
 */
export const redisAvailable: boolean = await plan.then(
  (p) => p.kind !== 'none',
  () => true,
);

/**
 * For `describe.skipIf(!redisServerAvailable)` around tests that need {@link startRedisServer}
 * or `startRedisCluster` (kill, restart, flush, cluster): `redis-server` is on PATH, or Redis is
 * required (then the tests run and fail, saying redis-server is missing).
 */
export const redisServerAvailable: boolean = findOnPath('redis-server') !== undefined || redisRequired(process.env);

async function startContainer(): Promise<TestRedis> {
  // Imported here so that runs which never need Docker never load testcontainers.
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer(process.env.REDIS_TEST_IMAGE ?? 'redis:7-alpine')
    .withExposedPorts(6379)
    .withCommand(['redis-server', '--save', '', '--appendonly', 'no'])
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start();
  const host = container.getHost();
  const port = container.getMappedPort(6379);
  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    owned: true,
    stop: async () => {
      await container.stop();
    },
  };
}

async function createTestRedis(): Promise<TestRedis | null> {
  const p = await plan;
  switch (p.kind) {
    case 'url': {
      const u = new URL(p.url);
      // Not ours: stop() leaves it running, and tests must not flush it (use a key prefix).
      return { url: p.url, host: u.hostname, port: Number(u.port || 6379), owned: false, stop: async () => {} };
    }
    case 'server':
      return startRedisServer();
    case 'container':
      return startContainer();
    case 'none':
      return null;
  }
}

interface Shared {
  redis: Promise<TestRedis | null>;
  users: number;
}
let shared: Shared | undefined;

/**
 * A Redis to test against: `REDIS_URL` if set; else a `redis-server` we start; else a
 * testcontainers Redis when a Docker engine answers; else `null`, unless `REQUIRE_REDIS` is
 * 1/true or `CI` is set, then it rejects saying how to get Redis.
 *
 * One server is shared by the calls in a test file (module state; vitest gives each file its
 * own). Each returned handle's `stop()` releases that caller's use; the server stops when the
 * last user has stopped, and in any case when the test process ends. Use key prefixes
 * ({@link testKeyPrefix}), never FLUSHALL: `owned` is false for `REDIS_URL`.
 */
export function getTestRedis(): Promise<TestRedis | null> {
  const entry = (shared ??= { redis: createTestRedis(), users: 0 });
  entry.users++;
  return entry.redis.then(
    (redis) => {
      if (!redis) return null;
      let released = false;
      return {
        url: redis.url,
        host: redis.host,
        port: redis.port,
        owned: redis.owned,
        async stop() {
          if (released) return;
          released = true;
          if (--entry.users > 0) return;
          if (shared === entry) shared = undefined;
          await redis.stop();
        },
      };
    },
    (err: unknown) => {
      // Let a later call try again instead of replaying a cached failure.
      if (shared === entry) shared = undefined;
      throw err;
    },
  );
}

/**
 * A new, unique key prefix such as `t-store-3f9a1c0b7e`, so parallel runs on a shared Redis never
 * collide. Only `[A-Za-z0-9_.-]` (fits `REDIS_PREFIX`, has no glob or `{hash tag}` characters),
 * at most 53 characters. Append your own separator: `${prefix}:key`.
 */
export function testKeyPrefix(label?: string): string {
  const rand = randomBytes(5).toString('hex');
  const safe = label?.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40);
  return safe ? `t-${safe}-${rand}` : `t-${rand}`;
}

/** Escapes Redis glob characters so that MATCH treats the prefix literally. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\^]/g, '\\$&');
}

/** A client that fails fast instead of reconnecting forever when the server is gone. */
function cleanupClient(url: string | { host: string; port: number }): Redis {
  const opts = { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: false } as const;
  return typeof url === 'string' ? new Redis(url, opts) : new Redis({ ...url, ...opts });
}

async function deleteOnNode(client: Redis, pattern: string, cluster: boolean): Promise<void> {
  try {
    if (cluster) {
      // Replicas hold copies of the masters' keys and refuse writes: masters only.
      const role = (await client.call('ROLE')) as [string, ...unknown[]];
      if (role[0] !== 'master') return;
    }
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      if (cluster) {
        // One key per UNLINK: keys in different slots in one command fail with CROSSSLOT.
        const pipeline = client.pipeline();
        for (const key of keys) pipeline.unlink(key);
        await pipeline.exec();
      } else {
        await client.unlink(...keys);
      }
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/**
 * Deletes every key starting with `prefix` (SCAN MATCH prefix* + UNLINK; for a cluster on every
 * master). Safe on the shared Redis: it touches only keys with that prefix, and refuses an empty
 * one. Accepts a URL, a {@link TestRedis} or a {@link TestRedisCluster}.
 */
export async function deleteKeysWithPrefix(target: string | TestRedis | TestRedisCluster, prefix: string): Promise<void> {
  if (!prefix) throw new Error('deleteKeysWithPrefix: refusing an empty prefix (it would delete every key)');
  const pattern = `${escapeGlob(prefix)}*`;
  if (typeof target !== 'string' && 'nodes' in target) {
    await Promise.all(target.nodes.map((n) => deleteOnNode(cleanupClient(n), pattern, true)));
  } else {
    await deleteOnNode(cleanupClient(typeof target === 'string' ? target : target.url), pattern, false);
  }
}
