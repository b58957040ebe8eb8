import type { Cluster, Redis } from 'ioredis';
import { storeUnavailable, GatewayError } from '../errors.js';
import type { Entry } from '../normalize/entry.js';
import { decodeBlock, encodeEntriesBlock, encodeSyslogBlock } from './block.js';
import { servableEntries } from '../normalize/serialize.js';
import { compileFilter, compareNewestFirst, selectPage } from './query.js';
import { RedisKeys, shardOf } from './redis-keys.js';
import { countOf, type AppendRequest, type AppendResult, type QueryFilter, type QueryResult, type Store, type StoreHealth } from './types.js';

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** The command connection (single node or Cluster), with auto-pipelining on. */
  redis: Redis | Cluster;
  /** Key prefix (`REDIS_PREFIX`, default `sluice`); tests use their own. */
  prefix?: string;
  /** Lines kept per app (`HISTORY_PER_APP`, default 1500). */
  historyPerApp?: number;
  /** Bytes of stored blocks kept per app (`HISTORY_BYTES_PER_APP`, default 8 MiB); the newest block always stays. */
  historyBytesPerApp?: number;
  /** Firehose shards (`REDIS_SHARDS`, default 8): part of the key layout, see redis-keys.ts. */
  shards?: number;
  /** Firehose stream entries (one per request and app) kept per shard (default 1000). */
  firehoseMaxLen?: number;
  /** Default dedupe TTL when a request gives none (default 15 min). */
  dedupeTtlMs?: number;
  /** Firehose entries (one per request and app) read per XREAD while following (`REDIS_FOLLOW_BATCH`, default 100). */
  followBatch?: number;
  /** Called when the follower fails to read (it retries with backoff); for logging. */
  onFollowError?: (err: unknown) => void;
}

/**
 * One Lua script per request and app: dedupe check, one history XADD of the request's block, the
 * trim, and one firehose XADD of the same block. Atomic, so a dedupe key is recorded only together
 * with its entries, and a duplicate never reaches the firehose (so never a live tail). The key is
 * recorded last: a write that fails (e.g. OOM) leaves no key behind to turn the retry into a dupe.
 *
 * KEYS: 1 firehose of the app's shard, 2 dedupe key, 3 the app's history stream, 4 its line
 * counter, 5 its block sizes, 6 their sum (one slot). ARGV: 1 history lines kept, 2 firehose
 * MAXLEN, 3 dedupe TTL ms (0 = no dedupe), 4 the block (block.ts), 5 its number of lines,
 * 6 history bytes kept.
 * Returns the number of lines stored, or -1 for a duplicate.
 *
 * The history entry's id is `<last>-<n>` (redis-keys.ts): `last` counts the app's lines. The
 * sizes list (`<last> <bytes>` per block, oldest first) decides the trim: the oldest blocks go
 * while they hold none of the newest ARGV[1] lines or the app holds more than ARGV[6] bytes,
 * never the block just added; then one XTRIM MINID to the oldest block kept. Exact when bytes
 * forced the trim (reads must not see a block dropped for size), `~` (whole stream nodes,
 * cheaper) when only lines did: reads never reach below the newest ARGV[1] lines anyway.
 * History written before the sizes list existed is not in it, and goes with the first trim.
 * When the counter is behind the stream (deleted, or evicted, apart from it), the count goes on
 * from the stream's top id.
 *
 * The key count is fixed (6) on purpose: ioredis routes a command on a Cluster by its first key.
 * The script is not auto-pipelined (`UNPIPELINED_COMMANDS` in redis-client.ts): many calls stay
 * in flight on the connection instead of one auto-pipeline at a time.
 */
const APPEND_SCRIPT = `
local ttl = tonumber(ARGV[3])
if ttl > 0 and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local n = tonumber(ARGV[5])
local last = tonumber(redis.call('GET', KEYS[4]) or '0') + n
local added = redis.pcall('XADD', KEYS[3], string.format('%d-%d', last, n), 'b', ARGV[4])
if type(added) == 'table' and added.err then
  if not string.find(added.err, 'equal or smaller', 1, true) then return added end
  local top = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
  last = tonumber(string.match(top[1][1], '^%d+')) + n
  redis.call('XADD', KEYS[3], string.format('%d-%d', last, n), 'b', ARGV[4])
end
redis.call('SET', KEYS[4], string.format('%d', last))
local size = string.len(ARGV[4])
redis.call('RPUSH', KEYS[5], string.format('%d %d', last, size))
local bytes = redis.call('INCRBY', KEYS[6], size)
local from = last - tonumber(ARGV[1]) + 1
local maxBytes = tonumber(ARGV[6])
local dropped, forBytes, keep = false, false, last
while true do
  local head = redis.call('LINDEX', KEYS[5], 0)
  if not head then break end
  local sp = string.find(head, ' ', 1, true)
  local hl = tonumber(string.sub(head, 1, sp - 1))
  if hl >= last or (hl >= from and bytes <= maxBytes) then keep = hl break end
  if hl >= from then forBytes = true end
  redis.call('LPOP', KEYS[5])
  bytes = redis.call('DECRBY', KEYS[6], tonumber(string.sub(head, sp + 1)))
  dropped = true
end
if forBytes then
  redis.call('XTRIM', KEYS[3], 'MINID', string.format('%d', keep))
elseif dropped then
  redis.call('XTRIM', KEYS[3], 'MINID', '~', string.format('%d', keep))
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'b', ARGV[4])
if ttl > 0 then redis.call('SET', KEYS[2], '1', 'PX', ttl) end
return n
`;

/**
 * The blocks of an app's history that hold its newest ARGV[1] lines, oldest first: one round
 * trip, whatever the block sizes. KEYS: 1 the history stream, 2 its line counter.
 */
const RANGE_SCRIPT = `
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local from = last - tonumber(ARGV[1]) + 1
if from < 1 then return redis.call('XRANGE', KEYS[1], '-', '+') end
return redis.call('XRANGE', KEYS[1], string.format('%d', from), '+')
`;

type StreamReply = [Buffer, Buffer[]][];

type RedisLike = (Redis | Cluster) & {
  sluiceAppend(...args: (string | number | Buffer)[]): Promise<number>;
  sluiceRangeBuffer(history: string, counter: string, lines: number): Promise<StreamReply>;
};

/**
 * The Redis Streams store: bounded per-app history in streams, atomic dedupe, a sharded firehose
 * that fan-out processes follow. Passes the same contract suite as the memory store.
 *
 * Cost on ingest: per request and app, one script call holding two XADDs of the same block (the
 * history and the firehose), one XTRIM and the dedupe key; per line, only its bytes in the block
 * (twice: history and firehose). A drain request's block is its frames as received (~210 B per
 * Heroku line), so the gateway serialises nothing per line; entries are built when read.
 * One request = one script call per app it touches (one, for a drain request), all written at
 * once: one round trip.
 */
export function createRedisStore(options: RedisStoreOptions): Store {
  const redis = options.redis as RedisLike;
  const keys = new RedisKeys(options.prefix ?? 'sluice', options.shards ?? 8);
  const historyPerApp = options.historyPerApp ?? 1500;
  const historyBytes = options.historyBytesPerApp ?? 8 * 1024 * 1024;
  const firehoseMaxLen = options.firehoseMaxLen ?? 1000;
  const defaultTtl = options.dedupeTtlMs ?? 15 * 60_000;
  const followBatch = options.followBatch ?? 100;
  if (typeof redis.sluiceAppend !== 'function') {
    redis.defineCommand('sluiceAppend', { lua: APPEND_SCRIPT, numberOfKeys: 6 });
  }
  if (typeof redis.sluiceRangeBuffer !== 'function') {
    redis.defineCommand('sluiceRange', { lua: RANGE_SCRIPT, numberOfKeys: 2 });
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

  /** One app's script call: its block, and the dedupe key when this call carries it. */
  function appendBlock(block: Block, dedupeKey: string | undefined, ttl: number): Promise<number> {
    const shard = shardOf(block.app, keys.shards);
    return redis.sluiceAppend(
      keys.firehose(shard),
      keys.dedupe(shard, dedupeKey ?? '-'),
      keys.history(block.app),
      keys.historyCount(block.app),
      keys.historySizes(block.app),
      keys.historyBytes(block.app),
      historyPerApp,
      firehoseMaxLen,
      dedupeKey ? ttl : 0,
      block.data,
      block.count,
      historyBytes,
    );
  }

  async function appendImpl(req: AppendRequest): Promise<AppendResult> {
    const count = countOf(req);
    if (count === 0) return { stored: 0, duplicate: false };
    const ttl = req.dedupeTtlMs ?? defaultTtl;
    const blocks = blocksOf(req);
    const newApps = blocks.filter((b) => !knownApps.has(b.app)).map((b) => b.app);
    const indexApps = newApps.length ? redis.sadd(keys.logApps(), ...newApps) : undefined;

    if (blocks.length === 1 || !req.dedupeKey) {
      // The common case (a drain request is one app): every call is written at once, one round
      // trip.
      const results = await Promise.all(blocks.map((b, i) => appendBlock(b, i === 0 ? req.dedupeKey : undefined, ttl)));
      await indexApps;
      for (const a of newApps) knownApps.add(a);
      if (results[0] === -1) return { stored: 0, duplicate: true };
      return { stored: count, duplicate: false };
    }
    // A deduped request spanning several apps (an admin JSON batch): the first app's script
    // claims the key; if another app's write then fails, the claim is released so the retry is
    // stored (at worst the first app's lines twice, never none).
    const [first, ...rest] = blocks;
    if ((await appendBlock(first!, req.dedupeKey, ttl)) === -1) {
      await indexApps;
      return { stored: 0, duplicate: true };
    }
    try {
      await Promise.all(rest.map((b) => appendBlock(b, undefined, ttl)));
    } catch (err) {
      await redis.del(keys.dedupe(shardOf(first!.app, keys.shards), req.dedupeKey)).catch(() => {});
      throw err;
    }
    await indexApps;
    for (const a of newApps) knownApps.add(a);
    return { stored: count, duplicate: false };
  }

  /**
   * The newest `lines` entries of one app, oldest first: the blocks that hold them (one script
   * call), decoded, and the older lines of the oldest block cut off.
   */
  async function readApp(appId: string, lines: number): Promise<Entry[]> {
    const reply = await redis.sluiceRangeBuffer(keys.history(appId), keys.historyCount(appId), lines);
    if (reply.length === 0) return [];
    const last = blockLast(reply[reply.length - 1]![0]);
    const from = last - lines + 1;
    const out: Entry[] = [];
    for (const [id, fields] of reply) {
      let entries: Entry[];
      try {
        entries = decodeBlock(fields[1]!);
      } catch (err) {
        // One block this version cannot read must not fail every read of the app.
        options.onFollowError?.(err);
        continue;
      }
      // This block holds lines blockLast-len+1 … blockLast; keep those ≥ from.
      const skip = from - (blockLast(id) - entries.length + 1);
      for (let k = skip > 0 ? skip : 0; k < entries.length; k++) out.push(entries[k]!);
    }
    return out;
  }

  /** The retained history (≤ `historyPerApp` entries) of each app, apps after one another. */
  async function readHistory(appIds: string[]): Promise<Entry[]> {
    const perApp = await Promise.all(appIds.map((app) => readApp(app, historyPerApp)));
    return perApp.flat();
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
        return readApp(appId, n);
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
        const res = (await conn.xreadBuffer('COUNT', this.batch, 'BLOCK', 1000, 'STREAMS', ...streams, ...ids)) as
          | [Buffer, StreamReply][]
          | null;
        failures = 0;
        if (!res || this.stopped) continue;
        for (const [stream, items] of res) {
          const i = streams.indexOf(stream.toString());
          for (const [id, fields] of items) {
            ids[i] = id.toString();
            let entries: Entry[];
            try {
              entries = decodeBlock(fields[1]!);
            } catch (err) {
              // A block this version cannot read must not stop the tail of every other one.
              this.onError?.(err);
              continue;
            }
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

/** One app's part of an append request, as stored. */
interface Block {
  app: string;
  data: Buffer | string;
  count: number;
}

/** The request as blocks: a drain batch as its frames, other entries grouped by app as JSON. */
function blocksOf(req: AppendRequest): Block[] {
  if (req.syslog !== undefined) {
    return [{ app: req.syslog.appId, data: encodeSyslogBlock(req.syslog), count: req.syslog.count }];
  }
  const byApp = new Map<string, Entry[]>();
  for (const e of req.entries) {
    let list = byApp.get(e.app_id);
    if (!list) byApp.set(e.app_id, (list = []));
    list.push(e);
  }
  const blocks: Block[] = [];
  for (const [app, list] of byApp) {
    let data: string;
    let kept = list;
    try {
      data = encodeEntriesBlock(list);
    } catch {
      // Not expected (normalisation bounds every entry): leave out what cannot be serialised.
      kept = servableEntries(list).entries;
      if (kept.length === 0) continue;
      data = encodeEntriesBlock(kept);
    }
    blocks.push({ app, data, count: kept.length });
  }
  return blocks;
}

/** `last` of a history block id `<last>-<n>`: the app's line number of its newest line. */
function blockLast(id: Buffer): number {
  let last = 0;
  for (let i = 0; i < id.length && id[i] !== 0x2d; i++) last = last * 10 + (id[i]! - 0x30);
  return last;
}
