import type { Cluster, Redis } from 'ioredis';
import { storeUnavailable, GatewayError } from '../errors.js';
import type { Entry } from '../normalize/entry.js';
import { compileFilter, compareNewestFirst, selectPage } from './query.js';
import { RedisKeys, shardOf } from './redis-keys.js';
import type { AppendRequest, AppendResult, QueryFilter, QueryResult, Store, StoreHealth } from './types.js';

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** The command connection (single node or Cluster), with auto-pipelining on. */
  redis: Redis | Cluster;
  /** Key prefix (`REDIS_PREFIX`, default `sluice`); tests use their own. */
  prefix?: string;
  /** Lines kept per app (`HISTORY_PER_APP`, default 1500). */
  historyPerApp?: number;
  /** Firehose shards (`REDIS_SHARDS`, default 8): part of the key layout, see redis-keys.ts. */
  shards?: number;
  /** Firehose stream entries (one per request and app) kept per shard (default 1000). */
  firehoseMaxLen?: number;
  /** Default dedupe TTL when a request gives none (default 15 min). */
  dedupeTtlMs?: number;
  /** Stream entries read per XREAD while following (default 1000). */
  followBatch?: number;
  /** Called when the follower fails to read (it retries with backoff); for logging. */
  onFollowError?: (err: unknown) => void;
}

/**
 * One Lua script per request and app: dedupe check, one history XADD per line, the trim, and one
 * firehose XADD carrying the whole batch. Atomic, so a dedupe key is recorded only together with
 * its entries, and a duplicate never reaches the firehose (so never a live tail).
 *
 * KEYS: 1 firehose of the app's shard, 2 dedupe key, 3 the app's history stream (one slot).
 * ARGV: 1 history MAXLEN, 2 firehose MAXLEN, 3 dedupe TTL ms (0 = no dedupe), 4 the batch (the
 * JSON array of the entries, as the firehose carries it), 5.. each entry's length in bytes.
 * Returns the number of entries stored, or -1 for a duplicate.
 *
 * The batch is sent once and each history entry is cut out of it (`string.sub`, by bytes): joining
 * the entries in Lua (`table.concat`) cost more than all the XADDs together (about 300 of the
 * script's 530 µs for 100 lines of 820 bytes, see bench/README.md).
 *
 * The key count is fixed (3) on purpose: ioredis routes a command on a Cluster by its first key.
 * The script is not auto-pipelined (`UNPIPELINED_COMMANDS` in redis-client.ts): many calls stay
 * in flight on the connection instead of one auto-pipeline at a time.
 */
const APPEND_SCRIPT = `
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ttl) then return -1 end
end
local batch = ARGV[4]
local sub = string.sub
local from = 2
for i = 5, #ARGV do
  local to = from + tonumber(ARGV[i])
  redis.call('XADD', KEYS[3], '*', 'e', sub(batch, from, to - 1))
  from = to + 1
end
redis.call('XTRIM', KEYS[3], 'MAXLEN', '~', ARGV[1])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'b', batch)
return #ARGV - 4
`;

type RedisLike = (Redis | Cluster) & {
  sluiceAppend(...args: (string | number)[]): Promise<number>;
};

/**
 * The Redis Streams store: bounded per-app history in streams, atomic dedupe, a sharded firehose
 * that fan-out processes follow. Passes the same contract suite as the memory store.
 *
 * Cost per entry on ingest: one XADD into its app's stream (its JSON once) inside the request's
 * script, plus its JSON once more inside the request's single firehose XADD; one XTRIM per app
 * and request. One request = one script call per app it touches (one, for a drain request),
 * all written at once: one round trip.
 */
export function createRedisStore(options: RedisStoreOptions): Store {
  const redis = options.redis as RedisLike;
  const keys = new RedisKeys(options.prefix ?? 'sluice', options.shards ?? 8);
  const historyPerApp = options.historyPerApp ?? 1500;
  const firehoseMaxLen = options.firehoseMaxLen ?? 1000;
  const defaultTtl = options.dedupeTtlMs ?? 15 * 60_000;
  const followBatch = options.followBatch ?? 1000;
  if (typeof redis.sluiceAppend !== 'function') {
    redis.defineCommand('sluiceAppend', { lua: APPEND_SCRIPT, numberOfKeys: 3 });
  }
  const knownApps = new Set<string>();
  const listeners = new Set<(entries: Entry[]) => void>();
  let follower: Follower | undefined;
  let closed = false;

  async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (closed) throw storeUnavailable('store closed');
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw storeUnavailable(`${what}: ${(err as Error).message}`);
    }
  }

  /** One app's script call: its entries, and the dedupe key when this call carries it. */
  function appendApp(appId: string, payloads: string[], dedupeKey: string | undefined, ttl: number): Promise<number> {
    const shard = shardOf(appId, keys.shards);
    return redis.sluiceAppend(
      keys.firehose(shard),
      keys.dedupe(shard, dedupeKey ?? '-'),
      keys.log(appId),
      historyPerApp,
      firehoseMaxLen,
      dedupeKey ? ttl : 0,
      `[${payloads.join(',')}]`,
      ...payloads.map((p) => Buffer.byteLength(p)),
    );
  }

  async function appendImpl(req: AppendRequest): Promise<AppendResult> {
    const { entries } = req;
    if (entries.length === 0) return { stored: 0, duplicate: false };
    const ttl = req.dedupeTtlMs ?? defaultTtl;
    // Group by app, serialising each entry once: the batch sent is their join, and the script cuts
    // each history entry out of it.
    const byApp = new Map<string, string[]>();
    for (const e of entries) {
      let list = byApp.get(e.app_id);
      if (!list) byApp.set(e.app_id, (list = []));
      list.push(JSON.stringify(e));
    }
    const newApps = [...byApp.keys()].filter((a) => !knownApps.has(a));
    const indexApps = newApps.length ? redis.sadd(keys.logApps(), ...newApps) : undefined;
    const groups = [...byApp.entries()];

    if (groups.length === 1 || !req.dedupeKey) {
      // The common case (a drain request is one app): every call is written at once, one round
      // trip.
      const results = await Promise.all(groups.map(([app, payloads], i) => appendApp(app, payloads, i === 0 ? req.dedupeKey : undefined, ttl)));
      await indexApps;
      for (const a of newApps) knownApps.add(a);
      if (results[0] === -1) return { stored: 0, duplicate: true };
      return { stored: entries.length, duplicate: false };
    }
    // A deduped request spanning several apps (an admin JSON batch): the first app's script
    // claims the key; if another app's write then fails, the claim is released so the retry is
    // stored (at worst the first app's lines twice, never none).
    const [[firstApp, firstPayloads], ...rest] = groups;
    if ((await appendApp(firstApp!, firstPayloads!, req.dedupeKey, ttl)) === -1) {
      await indexApps;
      return { stored: 0, duplicate: true };
    }
    try {
      await Promise.all(rest.map(([app, payloads]) => appendApp(app, payloads, undefined, ttl)));
    } catch (err) {
      await redis.del(keys.dedupe(shardOf(firstApp!, keys.shards), req.dedupeKey)).catch(() => {});
      throw err;
    }
    await indexApps;
    for (const a of newApps) knownApps.add(a);
    return { stored: entries.length, duplicate: false };
  }

  /** The newest `historyPerApp` entries of each app, parsed. */
  async function readHistory(appIds: string[]): Promise<Entry[]> {
    const streams = await Promise.all(appIds.map((app) => redis.xrevrange(keys.log(app), '+', '-', 'COUNT', historyPerApp)));
    const out: Entry[] = [];
    for (const stream of streams) for (const [, fields] of stream) out.push(JSON.parse(fields[1]!) as Entry);
    return out;
  }

  async function appsFor(appIds: string[] | undefined): Promise<string[]> {
    if (appIds && appIds.length > 0) return appIds;
    return redis.smembers(keys.logApps());
  }

  return {
    kind: 'redis',

    append(req) {
      return guard('append', () => appendImpl(req));
    },

    query(filter: QueryFilter): Promise<QueryResult> {
      return guard('query', async () => {
        // Each app's retained history is read whole (≤ HISTORY_PER_APP entries, newest first)
        // and filtered here with the memory store's rules: `total` is exact, and a query costs
        // one XREVRANGE per app in the filter (all apps when none is given).
        const match = compileFilter(filter);
        const matches = (await readHistory(await appsFor(filter.appIds))).filter(match);
        return { total: matches.length, entries: selectPage(matches, filter.offset, filter.limit) };
      });
    },

    recent(appId, limit) {
      return guard('recent', async () => {
        const n = Math.min(limit, historyPerApp);
        if (n <= 0) return [];
        const stream = await redis.xrevrange(keys.log(appId), '+', '-', 'COUNT', n);
        const out: Entry[] = new Array(stream.length);
        for (let i = 0; i < stream.length; i++) out[stream.length - 1 - i] = JSON.parse(stream[i]![1][1]!) as Entry;
        return out;
      });
    },

    get(idOrTraceId, appIds) {
      return guard('get', async () => {
        const all = await readHistory(await appsFor(appIds));
        const byId = all.find((e) => e.id === idOrTraceId);
        if (byId) return byId;
        const traced = all.filter((e) => e.trace_id === idOrTraceId).sort(compareNewestFirst);
        return traced[0] ?? null;
      });
    },

    subscribe(listener) {
      const wrapped = (entries: Entry[]) => listener(entries);
      listeners.add(wrapped);
      if (closed) return Object.assign(() => {}, { ready: Promise.reject(storeUnavailable('store closed')) });
      if (!follower) {
        const f = new Follower(redis, keys, followBatch, (entries) => {
          for (const l of listeners) {
            try {
              l(entries);
            } catch {
              // A listener's bug must not stop the others or the follower.
            }
          }
        }, options.onFollowError);
        follower = f;
        // A follower that could not start is dropped, so the next subscribe starts a new one.
        f.ready.catch(() => {
          if (follower === f) {
            f.stop();
            follower = undefined;
          }
        });
      }
      const ready = follower.ready.catch((err: unknown) => {
        throw storeUnavailable(`follow: ${(err as Error).message}`);
      });
      ready.catch(() => {}); // the caller may not await it; never an unhandled rejection
      return Object.assign(
        () => {
          listeners.delete(wrapped);
          if (listeners.size === 0 && follower) {
            follower.stop();
            follower = undefined;
          }
        },
        { ready },
      );
    },

    async health(): Promise<StoreHealth> {
      if (closed) return { kind: 'redis', ok: false, detail: 'closed' };
      const status = (redis as Redis).status;
      if (status !== 'ready') return { kind: 'redis', ok: false, detail: `redis ${status}` };
      try {
        await redis.ping();
        return { kind: 'redis', ok: true };
      } catch (err) {
        return { kind: 'redis', ok: false, detail: (err as Error).message };
      }
    },

    async close() {
      closed = true;
      follower?.stop();
      follower = undefined;
      listeners.clear();
    },
  };
}

/**
 * Follows every firehose shard with blocking XREADs on a connection of its own and hands each
 * request's entries to the store's listeners, in stream order (per app: append order).
 * One follower per process, whatever the number of listeners.
 */
class Follower {
  private stopped = false;
  private readonly conns: (Redis | Cluster)[] = [];
  /** Resolves once the follower reads from the current tip of every shard. */
  readonly ready: Promise<void>;

  constructor(
    redis: Redis | Cluster,
    keys: RedisKeys,
    private readonly batch: number,
    private readonly deliver: (entries: Entry[]) => void,
    private readonly onError?: (err: unknown) => void,
  ) {
    this.ready = this.start(redis, keys);
  }

  /**
   * Reads each shard's last id first and follows from there: every entry stored after `ready`
   * is delivered, and nothing stored before it is (a live tail reads those as history).
   */
  private async start(redis: Redis | Cluster, keys: RedisKeys): Promise<void> {
    const shardKeys = Array.from({ length: keys.shards }, (_, k) => keys.firehose(k));
    const tips = await Promise.all(
      shardKeys.map(async (key) => {
        const last = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
        return last[0]?.[0] ?? '0-0';
      }),
    );
    if (this.stopped) return;
    if ((redis as Cluster).isCluster === true) {
      // Cluster: one multi-key XREAD cannot span slots, so each shard is followed on its own.
      shardKeys.forEach((key, k) => void this.run(this.connect(redis), [key], [tips[k]!]));
    } else {
      void this.run(this.connect(redis), shardKeys, tips);
    }
  }

  private connect(redis: Redis | Cluster): Redis | Cluster {
    // A blocking XREAD holds its connection, and must not hit the command timeout. Its first
    // XREAD may be issued before the connection is up: let it wait in the offline queue (one
    // command, bounded) rather than fail and start late.
    const conn = (redis as Redis).duplicate({ commandTimeout: undefined, enableAutoPipelining: false, enableOfflineQueue: true } as never);
    this.conns.push(conn);
    return conn;
  }

  private async run(conn: Redis | Cluster, streams: string[], ids: string[]): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const res = (await conn.xread('COUNT', this.batch, 'BLOCK', 1000, 'STREAMS', ...streams, ...ids)) as
          | [string, [string, string[]][]][]
          | null;
        failures = 0;
        if (!res || this.stopped) continue;
        for (const [stream, items] of res) {
          const i = streams.indexOf(stream);
          for (const [id, fields] of items) {
            ids[i] = id;
            const entries = JSON.parse(fields[1]!) as Entry[];
            if (entries.length) this.deliver(entries);
          }
        }
      } catch (err) {
        if (this.stopped) break;
        this.onError?.(err);
        failures++;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** failures, 5000)));
      }
    }
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.conns) c.disconnect();
  }
}
