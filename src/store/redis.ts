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
  /**
   * Lines an app's history may hold beyond `historyPerApp` before the line trim runs (default an
   * eighth of it): the trim then drops many blocks at once instead of one per write. Reads never
   * see them; the byte bound is kept exactly whatever this is.
   */
  trimSlackLines?: number;
  /** Called when the follower fails to read (it retries with backoff); for logging. */
  onFollowError?: (err: unknown) => void;
}

/**
 * One Lua script call per app for one or more requests' blocks (concurrent requests of an app are
 * coalesced: {@link AppendQueue}): per block the dedupe claim and one history XADD, and the
 * firehose XADD only while some process follows the firehose; once per call the app's state and,
 * when due, the trim. Atomic, so a dedupe key is recorded only together with its entries, and a
 * duplicate never reaches the firehose (so never a live tail).
 *
 * KEYS: 1 the firehose of the app's shard, 2 its follow mark (set by followers, with a TTL),
 * 3 the app's history stream, 4 its state, 5 its block sizes, 6 the bytes key of the layout
 * before the state (read once, then deleted), 7… one dedupe key per block (a never-written
 * placeholder for a block without one). All in one slot.
 * ARGV: 1 history lines kept, 2 firehose MAXLEN, 3 history bytes kept, 4 trim slack in lines,
 * then per block: dedupe TTL ms (0 = no dedupe), the block (block.ts), its number of lines.
 * Returns per block the number of lines stored, or -1 for a duplicate.
 *
 * The state is one string `<last> <bytes> <head>`: `last` counts the app's lines (the history
 * entry's id is `<last>-<n>`, redis-keys.ts), `bytes` sums the blocks held, `head` is `last` of
 * the oldest block held. So a write reads and writes one key, and looks at the sizes list only
 * when a trim is due: when bytes passed ARGV[3] (trimmed exactly: reads must not see a block
 * dropped for size) or when the oldest block is ARGV[4] lines below the newest ARGV[1] (trimmed
 * `~`, whole stream nodes: reads never reach below the newest ARGV[1] lines anyway). The newest
 * block always stays. A dedupe key is claimed with SET NX before its XADD: Redis refuses a
 * script's writes for OOM at its first write, so a claim is never left without its entries by
 * OOM, and any other failed XADD releases the claim. When the state is lost (deleted, evicted)
 * the count goes on from the stream's top id and the bytes are summed again from the sizes list.
 */
const APPEND_SCRIPT = `
local following = redis.call('EXISTS', KEYS[2]) == 1
local state = redis.call('GET', KEYS[4])
local last, bytes, head = 0, 0, -1
if state then
  local a, b, h = string.match(state, '^(%d+) (%d+) (%-?%d+)$')
  if a then
    last, bytes, head = tonumber(a), tonumber(b), tonumber(h)
  else
    last = tonumber(state) or 0
    bytes = tonumber(redis.call('GET', KEYS[6]) or '0')
    redis.call('DEL', KEYS[6])
  end
elseif redis.call('EXISTS', KEYS[5]) == 1 then
  for _, item in ipairs(redis.call('LRANGE', KEYS[5], 0, -1)) do
    bytes = bytes + tonumber(string.sub(item, string.find(item, ' ', 1, true) + 1))
  end
end
local results = {}
local blocks = (#ARGV - 4) / 3
for i = 0, blocks - 1 do
  local ttl = tonumber(ARGV[5 + 3 * i])
  local data = ARGV[6 + 3 * i]
  local n = tonumber(ARGV[7 + 3 * i])
  local dd = KEYS[7 + i]
  if ttl > 0 and not redis.call('SET', dd, '1', 'NX', 'PX', ttl) then
    results[i + 1] = -1
  else
    last = last + n
    local added = redis.pcall('XADD', KEYS[3], string.format('%d-%d', last, n), 'b', data)
    if type(added) == 'table' and added.err then
      if not string.find(added.err, 'equal or smaller', 1, true) then
        if ttl > 0 then redis.call('DEL', dd) end
        return added
      end
      local top = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
      last = tonumber(string.match(top[1][1], '^%d+')) + n
      redis.call('XADD', KEYS[3], string.format('%d-%d', last, n), 'b', data)
    end
    local size = string.len(data)
    redis.call('RPUSH', KEYS[5], string.format('%d %d', last, size))
    bytes = bytes + size
    if following then redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'b', data) end
    results[i + 1] = n
  end
end
local from = last - tonumber(ARGV[1]) + 1
local maxBytes = tonumber(ARGV[3])
if head < 0 or head < from - tonumber(ARGV[4]) or bytes > maxBytes then
  local dropped, forBytes, keep = false, false, last
  local done = false
  while not done do
    local items = redis.call('LRANGE', KEYS[5], 0, 127)
    if #items == 0 then break end
    local k = 0
    for _, item in ipairs(items) do
      local sp = string.find(item, ' ', 1, true)
      local hl = tonumber(string.sub(item, 1, sp - 1))
      if hl >= last then
        -- Only the newest block is left: its size is the bytes held (mends a drifted sum).
        bytes = tonumber(string.sub(item, sp + 1))
        keep = hl done = true break
      end
      if hl >= from and bytes <= maxBytes then keep = hl done = true break end
      if hl >= from then forBytes = true end
      bytes = bytes - tonumber(string.sub(item, sp + 1))
      k = k + 1
    end
    if k > 0 then
      redis.call('LTRIM', KEYS[5], k, -1)
      dropped = true
    end
  end
  head = keep
  if forBytes then
    redis.call('XTRIM', KEYS[3], 'MINID', string.format('%d', keep))
  elseif dropped then
    redis.call('XTRIM', KEYS[3], 'MINID', '~', string.format('%d', keep))
  end
end
if last > 0 then redis.call('SET', KEYS[4], string.format('%d %d %d', last, bytes, head)) end
return results
`;

/**
 * The blocks of an app's history that hold its newest ARGV[1] lines, oldest first: one round
 * trip, whatever the block sizes. KEYS: 1 the history stream, 2 its state (`last` first).
 */
const RANGE_SCRIPT = `
local last = tonumber(string.match(redis.call('GET', KEYS[2]) or '0', '^%d+'))
local from = last - tonumber(ARGV[1]) + 1
if from < 1 then return redis.call('XRANGE', KEYS[1], '-', '+') end
return redis.call('XRANGE', KEYS[1], string.format('%d', from), '+')
`;

type StreamReply = [Buffer, Buffer[]][];

type RedisLike = (Redis | Cluster) & {
  sluiceAppend(...args: (string | number | Buffer)[]): Promise<number[]>;
  sluiceRangeBuffer(history: string, counter: string, lines: number): Promise<StreamReply>;
};

/**
 * The Redis Streams store: bounded per-app history in streams, atomic dedupe, a sharded firehose
 * that fan-out processes follow. Passes the same contract suite as the memory store.
 *
 * Cost on ingest: per request and app, one block in a script call (concurrent requests of an
 * app share one call: {@link APPEND_SCRIPT}) holding the dedupe claim and the history XADD, and
 * the firehose XADD only while a process follows; per line, only its bytes in the block. A drain
 * request's block is its frames as received (~210 B per Heroku line), so the gateway serialises
 * nothing per line; entries are built when read. One request = one block per app it touches
 * (one, for a drain request), all written at once: one round trip.
 */
export function createRedisStore(options: RedisStoreOptions): Store {
  const redis = options.redis as RedisLike;
  const keys = new RedisKeys(options.prefix ?? 'sluice', options.shards ?? 8);
  const historyPerApp = options.historyPerApp ?? 1500;
  const historyBytes = options.historyBytesPerApp ?? 8 * 1024 * 1024;
  const firehoseMaxLen = options.firehoseMaxLen ?? 1000;
  const defaultTtl = options.dedupeTtlMs ?? 15 * 60_000;
  const followBatch = options.followBatch ?? 100;
  const trimSlack = options.trimSlackLines ?? Math.max(1, Math.floor(historyPerApp / 8));
  const queues = new Map<string, AppendQueue>();
  if (typeof redis.sluiceAppend !== 'function') {
    // The key count varies (one dedupe key per block): given as the first argument.
    redis.defineCommand('sluiceAppend', { lua: APPEND_SCRIPT });
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

  /**
   * Stores one app's block (with its dedupe key, when it carries one); resolves to its lines
   * stored or -1 (a duplicate). Blocks of one app go in one script call while MAX_CALLS_IN_FLIGHT
   * calls of that app are in flight: concurrent requests share a round trip and the script's
   * fixed cost (a 1-line drain request's call cost Redis four times an LPUSH). Calls of one app
   * run in order on the connection, so the app's lines keep their order. A call that fails
   * fails every request in it, also those whose blocks it had stored before the failure: their
   * dedupe keys are recorded, so their retries are acknowledged as duplicates, not stored twice.
   */
  function appendBlock(block: Block, dedupeKey: string | undefined, ttl: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      let q = queues.get(block.app);
      if (!q) queues.set(block.app, (q = { pending: [], inFlight: 0 }));
      q.pending.push({ block, dedupeKey, ttl, resolve, reject });
      if (q.inFlight < MAX_CALLS_IN_FLIGHT) sendCall(block.app, q);
    });
  }

  function sendCall(app: string, q: AppendQueue): void {
    const take: PendingBlock[] = [];
    let bytes = 0;
    while (q.pending.length > 0 && take.length < MAX_BLOCKS_PER_CALL) {
      const next = q.pending[0]!;
      if (take.length > 0 && bytes + next.block.data.length > MAX_BYTES_PER_CALL) break;
      take.push(q.pending.shift()!);
      bytes += next.block.data.length;
    }
    const shard = shardOf(app, keys.shards);
    const args: (string | number | Buffer)[] = [
      6 + take.length,
      keys.firehose(shard),
      keys.followMark(shard),
      keys.history(app),
      keys.historyCount(app),
      keys.historySizes(app),
      keys.historyBytes(app),
    ];
    for (const p of take) args.push(keys.dedupe(shard, p.dedupeKey ?? '-'));
    args.push(historyPerApp, firehoseMaxLen, historyBytes, trimSlack);
    for (const p of take) args.push(p.dedupeKey ? p.ttl : 0, p.block.data, p.block.count);
    q.inFlight++;
    redis.sluiceAppend(...args).then(
      (results) => {
        for (let i = 0; i < take.length; i++) take[i]!.resolve(Number(results[i]));
        done(app, q);
      },
      (err: unknown) => {
        for (const p of take) p.reject(err);
        done(app, q);
      },
    );
  }

  function done(app: string, q: AppendQueue): void {
    q.inFlight--;
    if (q.pending.length > 0) sendCall(app, q);
    else if (q.inFlight === 0) queues.delete(app);
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
    keepsFrames: true,

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
  private markTimer: NodeJS.Timeout | undefined;
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
    // The marks first, then the tips: every write that runs after the marks are set adds to
    // the firehose, and every write before them is older than the tips (history, not live).
    const marks = Array.from({ length: keys.shards }, (_, k) => keys.followMark(k));
    const mark = () => Promise.all(marks.map((m) => redis.set(m, '1', 'PX', FOLLOW_MARK_TTL_MS)));
    await mark();
    if (this.stopped) return;
    this.markTimer = setInterval(() => {
      mark().catch((err: unknown) => this.onError?.(err));
    }, FOLLOW_MARK_REFRESH_MS);
    this.markTimer.unref();
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
    // The marks are left to expire: other processes may follow too.
    if (this.markTimer) clearInterval(this.markTimer);
    for (const c of this.conns) c.disconnect();
  }
}

/**
 * How long a follow mark lives, and how often a following process renews it. Writers add to the
 * firehose only while a mark lives: a process that died stops costing them within the TTL.
 */
const FOLLOW_MARK_TTL_MS = 60_000;
const FOLLOW_MARK_REFRESH_MS = 15_000;

/**
 * Script calls of one app in flight at once; further blocks wait and share the next call. Two,
 * not one: a drain connection pair (Logplex keeps a few per drain) then pipelines instead of
 * waiting a round trip each, and coalescing starts where it pays, from the third request on.
 */
const MAX_CALLS_IN_FLIGHT = 2;
/** Bounds of one coalesced call (a single block over the bytes still goes alone). */
const MAX_BLOCKS_PER_CALL = 64;
const MAX_BYTES_PER_CALL = 1024 * 1024;

interface PendingBlock {
  block: Block;
  dedupeKey: string | undefined;
  ttl: number;
  resolve(n: number): void;
  reject(err: unknown): void;
}

/** An app's blocks waiting for a script call, and its calls in flight. */
interface AppendQueue {
  pending: PendingBlock[];
  inFlight: number;
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
