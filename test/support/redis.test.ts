import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteKeysWithPrefix,
  dockerReachable,
  getTestRedis,
  planTestRedis,
  redisAvailable,
  redisServerAvailable,
  startRedisCluster,
  startRedisServer,
  testKeyPrefix,
  type OwnedRedis,
  type RedisProbe,
  type TestRedis,
  type TestRedisCluster,
} from './redis.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A client that fails at once while the server is away, so "commands fail" is observable. */
function strictClient(target: string | { host: string; port: number }): Redis {
  const opts = { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 20, lazyConnect: true };
  const client = typeof target === 'string' ? new Redis(target, opts) : new Redis({ ...target, ...opts });
  // Connection errors are expected here (the server is killed on purpose); commands report them.
  client.on('error', () => {});
  return client;
}

/** Whether pid runs. A zombie counts as dead: it was killed, only its reaping is pending. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/PID/stat: "pid (comm) STATE ...". An orphan is reaped by PID 1, which may take a while.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

describe('choosing where the test Redis comes from', () => {
  const probe = (over: Partial<RedisProbe>): RedisProbe => ({
    env: {},
    hasRedisServer: false,
    dockerReachable: async () => false,
    ...over,
  });

  it('rejects, saying how to get Redis, when REQUIRE_REDIS=1 and there is no way to get one', async () => {
    await expect(planTestRedis(probe({ env: { REQUIRE_REDIS: '1' } }))).rejects.toThrow(/REDIS_URL.*redis-server.*Docker/s);
    await expect(planTestRedis(probe({ env: { REQUIRE_REDIS: 'true' } }))).rejects.toThrow(/REDIS_URL/);
  });

  it('rejects in CI too, so a missing Redis is never a silent skip there', async () => {
    await expect(planTestRedis(probe({ env: { CI: 'true' } }))).rejects.toThrow(/REDIS_URL/);
    await expect(planTestRedis(probe({ env: { CI: '1' } }))).rejects.toThrow(/REDIS_URL/);
  });

  it('answers none locally so the tests can skip', async () => {
    await expect(planTestRedis(probe({}))).resolves.toEqual({ kind: 'none' });
    await expect(planTestRedis(probe({ env: { CI: 'false', REQUIRE_REDIS: '0' } }))).resolves.toEqual({ kind: 'none' });
  });

  it('prefers REDIS_URL, then a redis-server of our own, then Docker', async () => {
    let asked = false;
    const docker = async () => ((asked = true), true);
    await expect(
      planTestRedis(probe({ env: { REDIS_URL: 'redis://h:1', CI: '1' }, hasRedisServer: true, dockerReachable: docker })),
    ).resolves.toEqual({ kind: 'url', url: 'redis://h:1' });
    await expect(planTestRedis(probe({ hasRedisServer: true, dockerReachable: docker }))).resolves.toEqual({ kind: 'server' });
    expect(asked).toBe(false); // Docker is only pinged when the cheaper options are out
    await expect(planTestRedis(probe({ dockerReachable: docker }))).resolves.toEqual({ kind: 'container' });
  });
});

describe('dockerReachable', () => {
  it('pings the engine DOCKER_HOST names and says no when nothing answers', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-docker-'));
    const socketPath = path.join(dir, 'docker.sock');
    const engine = createServer((req, res) => res.writeHead(req.url === '/_ping' ? 200 : 404).end('OK'));
    await new Promise<void>((resolve) => engine.listen(socketPath, resolve));
    try {
      expect(await dockerReachable({ DOCKER_HOST: `unix://${socketPath}` })).toBe(true);
      expect(await dockerReachable({ DOCKER_HOST: `unix://${dir}/missing.sock` })).toBe(false);
      expect(await dockerReachable({ DOCKER_HOST: 'tcp://127.0.0.1:1' })).toBe(false);
    } finally {
      await new Promise((resolve) => engine.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('testKeyPrefix', () => {
  it('gives a new prefix each call, made only of characters REDIS_PREFIX accepts', () => {
    const a = testKeyPrefix('my label{x}*');
    const b = testKeyPrefix('my label{x}*');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^t-my_label_x__-[0-9a-f]{10}$/);
    expect(testKeyPrefix()).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
    expect(testKeyPrefix('x'.repeat(100)).length).toBeLessThanOrEqual(64);
  });
});

describe.skipIf(!redisAvailable)('getTestRedis', () => {
  let redis: TestRedis;
  let client: Redis;

  beforeAll(async () => {
    const got = await getTestRedis();
    expect(got).not.toBeNull();
    redis = got!;
    client = new Redis(redis.url);
  });

  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('stores and reads keys under a prefix', async () => {
    const prefix = testKeyPrefix('rw');
    await client.set(`${prefix}:a`, '1');
    expect(await client.get(`${prefix}:a`)).toBe('1');
    await deleteKeysWithPrefix(redis.url, prefix);
    expect(await client.exists(`${prefix}:a`)).toBe(0);
  });

  it('deletes only keys with the prefix, taking glob characters in it literally', async () => {
    const mine = testKeyPrefix('mine');
    const other = testKeyPrefix('other');
    const keys = Array.from({ length: 2500 }, (_, i) => `${mine}:${i}`); // more than one SCAN page
    await client.mset(...keys.flatMap((k) => [k, 'v']));
    await client.mset(`${other}:a`, 'v', `${mine.slice(0, -1)}X:near-miss`, 'v', `${mine}*x`, 'v', `${mine}yy`, 'v');

    await deleteKeysWithPrefix(redis, `${mine}*`); // a literal '*': matches `${mine}*x` only
    expect(await client.exists(`${mine}*x`, `${mine}yy`, `${mine}:0`)).toBe(2);

    await deleteKeysWithPrefix(redis.url, mine);
    expect(await client.exists(...keys, `${mine}yy`)).toBe(0);
    expect(await client.exists(`${other}:a`, `${mine.slice(0, -1)}X:near-miss`)).toBe(2);
    await deleteKeysWithPrefix(redis.url, other);
    await deleteKeysWithPrefix(redis.url, mine.slice(0, -1));
  });

  it('refuses an empty prefix', async () => {
    await expect(deleteKeysWithPrefix(redis.url, '')).rejects.toThrow(/empty prefix/);
  });

  it('shares one server between the calls in a file, stopping it after the last user', async () => {
    const second = (await getTestRedis())!;
    expect(second.url).toBe(redis.url);
    await second.stop();
    await second.stop(); // releasing twice does not release the first caller's use
    expect(await client.ping()).toBe('PONG');
  });
});

describe.skipIf(!redisServerAvailable)('startRedisServer', () => {
  let redis: OwnedRedis | undefined;
  afterAll(async () => {
    await redis?.stop();
  });

  it('fails commands after kill and answers on the same port after restart', async () => {
    redis = await startRedisServer();
    const client = strictClient(redis.url);
    await client.connect();
    await client.set('k', 'v');
    const firstPid = redis.pid();
    expect(firstPid).toBeGreaterThan(0);

    await redis.kill();
    expect(redis.pid()).toBeUndefined();
    expect(isAlive(firstPid!)).toBe(false);
    await expect(client.ping()).rejects.toThrow();

    await redis.restart();
    expect(redis.pid()).not.toBe(firstPid);
    const again = strictClient({ host: redis.host, port: redis.port });
    await again.connect();
    expect(await again.ping()).toBe('PONG');
    expect(await again.get('k')).toBeNull(); // --save "" --appendonly no: a restart starts empty
    again.disconnect();
    client.disconnect();

    const dir = redis.dir;
    await redis.stop();
    expect(existsSync(dir)).toBe(false);
    const gone = strictClient(redis.url);
    await expect(gone.connect()).rejects.toThrow();
    gone.disconnect();
  });

  it('keeps acknowledged writes across a crash with appendonly, restarting in the same dir', async () => {
    const aof = await startRedisServer({ appendonly: true });
    try {
      const client = strictClient(aof.url);
      await client.connect();
      await client.set('kept', 'yes');
      client.disconnect();
      await aof.kill('SIGKILL');
      await aof.restart();
      const again = strictClient(aof.url);
      await again.connect();
      expect(await again.get('kept')).toBe('yes');
      again.disconnect();
    } finally {
      await aof.stop();
    }
  });

  it('takes its server down with it when the test process is ended by SIGTERM or SIGKILL', async () => {
    // vitest ends fork workers with SIGTERM (no 'exit' event) and may SIGKILL hung ones.
    const script = `
      import { startRedisServer } from './test/support/redis-server.ts';
      const r = await startRedisServer();
      console.log(JSON.stringify({ pid: r.pid(), dir: r.dir }));
      setInterval(() => {}, 1000);`;
    const endedBy = async (signal: 'SIGTERM' | 'SIGKILL') => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out);
        });
        child.once('exit', (code) => reject(new Error(`helper exited ${code}: ${out}`)));
      });
      const { pid, dir } = JSON.parse(line) as { pid: number; dir: string };
      expect(isAlive(pid)).toBe(true);
      child.kill(signal);
      expect(await waitFor(() => !isAlive(pid), 3000)).toBe(true);
      // Only a handler can remove the dir; after SIGKILL nothing runs, so tidy up for it here.
      // The handler removes the dir after the server is gone: wait for it rather than race it.
      if (signal === 'SIGTERM') expect(await waitFor(() => !existsSync(dir), 3000)).toBe(true);
      else rmSync(dir, { recursive: true, force: true });
    };
    await Promise.all([endedBy('SIGTERM'), endedBy('SIGKILL')]);
  });
});

describe.skipIf(!redisServerAvailable)('startRedisCluster', () => {
  let cluster: TestRedisCluster;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Cluster(cluster.nodes);
  });

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('is three masters with all slots served', async () => {
    expect(cluster.nodes).toHaveLength(3);
    for (const node of cluster.nodes) {
      expect(node.port).toBeLessThan(55_535);
      const direct = strictClient(node);
      await direct.connect();
      const info = (await direct.call('CLUSTER', 'INFO')) as string;
      expect(info).toContain('cluster_state:ok');
      expect(info).toContain('cluster_slots_assigned:16384');
      expect(info).toContain('cluster_size:3');
      expect(((await direct.call('ROLE')) as string[])[0]).toBe('master');
      direct.disconnect();
    }
  });

  it('takes writes from a cluster client on all three masters, and cleanup by prefix empties them', async () => {
    const prefix = testKeyPrefix('cluster');
    const other = testKeyPrefix('keep');
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}:${i}`);
    await Promise.all(keys.map((k, i) => client.set(k, String(i))));
    await client.set(`${other}:a`, 'v');
    expect(await Promise.all(keys.map((k) => client.get(k)))).toEqual(keys.map((_, i) => String(i)));

    const countOnNodes = async (p: string) =>
      Promise.all(
        cluster.nodes.map(async (node) => {
          const direct = strictClient(node);
          await direct.connect();
          const [, found] = await direct.scan('0', 'MATCH', `${p}*`, 'COUNT', 10_000);
          direct.disconnect();
          return found.length;
        }),
      );
    const before = await countOnNodes(prefix);
    expect(before.every((n) => n > 0)).toBe(true);
    expect(before.reduce((a, b) => a + b, 0)).toBe(keys.length);

    await deleteKeysWithPrefix(cluster, prefix);
    expect(await countOnNodes(prefix)).toEqual([0, 0, 0]);
    expect(await client.get(`${other}:a`)).toBe('v');
  });
});
