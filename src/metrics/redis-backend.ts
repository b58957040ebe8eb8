/**
 * Aggregated buckets in Redis, shared by every gateway process: each process adds its deltas
 * (HINCRBY / HINCRBYFLOAT, min / max / last compared in Lua, sketch bins by HINCRBY: the sketch
 * merge is a sum), so every process reads the same numbers.
 *
 * ```
 * <p>:{m:<app>}:series               HASH  sid → ["name","source","kind","unit"]
 * <p>:{m:<app>}:seen                 HASH  sid → epoch seconds of the last write
 * <p>:{m:<app>}:i:<step>:<sid>       ZSET  bucket starts with data (score = member = t)
 * <p>:{m:<app>}:b:<step>:<sid>:<t>   HASH  c, s, mn, mx, l, lt and the sketch bins p<i>, n<i>, z
 * <p>:{m:<app>}:s:<step>:<sid>       HASH  t → the point of a closed bucket (JSON), so a 24 h read
 *                                          does not rebuild 1440 buckets; a late write deletes
 *                                          it and counts up the field `g` (the generation)
 * ```
 *
 * Each process also keeps the closed points it read (an LRU of `readCacheBytes`), tagged with the
 * summary's generation: a read fetches the generation, the index and only the points it does not
 * hold (the open buckets, new ones), rather than all of them (a 24 h read moved ~200 kB and
 * allocated several times that, and its collections made the p99).
 *
 * One app's keys share the hash tag `{m:<app>}`: one flush writes an app in one script call, on
 * a single Redis and on Redis Cluster alike. `sid` is a 64-bit hash of name and source. Every
 * key expires after its step's retention without writes.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { ALL_SOURCES, newAcc, toPoint, type BucketAcc, type Point, type SeriesKind } from './bucket.js';
import { t60Of, type Delta, type MetricsBackend, type Retention, type SeriesInfo, type SeriesRange, type SourceActivity, type Step } from './backend.js';
import { addBinField } from './sketch.js';

/**
 * KEYS: series, seen, then (bins, index, summary) per bucket. ARGV: now, ttl of the series
 * keys, the number of metas, (sid, meta JSON)…, then per bucket: t, ttl, horizon, count, sum,
 * min, max, last, lastT, the number of bins, (field, count)….
 */
const WRITE_SCRIPT = `
local now = ARGV[1]
local ttlAll = tonumber(ARGV[2])
local nmeta = tonumber(ARGV[3])
local i = 4
for m = 1, nmeta do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[2], ARGV[i], now)
  i = i + 2
end
redis.call('EXPIRE', KEYS[1], ttlAll)
redis.call('EXPIRE', KEYS[2], ttlAll)
local k = 3
while i <= #ARGV do
  local bk, ik, sk = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  k = k + 3
  local t, ttl, horizon = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local mn, mx, l, lt = ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8]
  local nb = tonumber(ARGV[i + 9])
  redis.call('HINCRBY', bk, 'c', ARGV[i + 3])
  redis.call('HINCRBYFLOAT', bk, 's', ARGV[i + 4])
  local cur = redis.call('HMGET', bk, 'mn', 'mx', 'lt')
  if not cur[1] or tonumber(mn) < tonumber(cur[1]) then redis.call('HSET', bk, 'mn', mn) end
  if not cur[2] or tonumber(mx) > tonumber(cur[2]) then redis.call('HSET', bk, 'mx', mx) end
  if not cur[3] or tonumber(lt) >= tonumber(cur[3]) then redis.call('HSET', bk, 'l', l, 'lt', lt) end
  i = i + 10
  for b = 1, nb do
    redis.call('HINCRBY', bk, ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  redis.call('EXPIRE', bk, ttl)
  redis.call('ZADD', ik, t, t)
  if redis.call('HDEL', sk, t) == 1 then redis.call('HINCRBY', sk, 'g', 1) end
  local old = redis.call('ZRANGEBYSCORE', ik, '-inf', '(' .. horizon, 'LIMIT', 0, 1000)
  if #old > 0 then
    redis.call('ZREM', ik, unpack(old))
    redis.call('HDEL', sk, unpack(old))
  end
  redis.call('EXPIRE', ik, ttl)
  redis.call('EXPIRE', sk, ttl)
end
return 1
`;

/**
 * Keeps computed points of closed buckets in a summary hash, unless a late write changed its
 * generation since the reader fetched it (the points may predate that write). KEYS: summary.
 * ARGV: the generation read ('0': none), then (t, point JSON)….
 */
const KEEP_SCRIPT = `
local g = redis.call('HGET', KEYS[1], 'g') or '0'
if g ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`;

/** A series' closed points held by this process, as of one generation of its summary hash. */
interface ClosedPoints {
  gen: string;
  points: Map<number, string>;
  bytes: number;
}

export interface RedisMetricsOptions {
  redis: Redis | Cluster;
  prefix: string;
  retention: Retention;
  /** A bucket this long past its end is closed: its point is computed once and kept. */
  closeAfterSec?: number;
  /** Bytes of closed points this process keeps for reads (0: none; default 32 MiB). */
  readCacheBytes?: number;
}

type Scripted = (Redis | Cluster) & {
  sluiceMetricsWrite(numKeys: number, ...args: (string | number | (string | number)[])[]): Promise<number>;
  sluiceMetricsKeep(summaryKey: string, gen: string, pairs: (string | number)[]): Promise<number>;
};

/** Closed points per KEEP_SCRIPT call (its arguments stay well within Lua's stack). */
const MAX_KEEP_PER_CALL = 1000;

/** Bucket updates (each a 10 s and a 60 s bucket of one series) per script call. */
const MAX_BUCKETS_PER_CALL = 400;

const sidCache = new Map<string, string>();
/** A series' id in key names: 64 bits of SHA-1 over name and source (stable across processes). */
export function seriesId(name: string, source: string): string {
  const k = `${name}\n${source}`;
  let sid = sidCache.get(k);
  if (sid === undefined) {
    sid = createHash('sha1').update(k).digest('hex').slice(0, 16);
    if (sidCache.size > 100_000) sidCache.clear();
    sidCache.set(k, sid);
  }
  return sid;
}

/** Sketch bins as hash fields and counts, for HINCRBY. */
function binArgs(acc: BucketAcc, out: (string | number)[]): number {
  const b = acc.bins;
  if (!b) return 0;
  let n = 0;
  for (const [i, c] of b.pos) (out.push(`p${i}`, c), n++);
  for (const [i, c] of b.neg) (out.push(`n${i}`, c), n++);
  if (b.zero > 0) (out.push('z', b.zero), n++);
  return n;
}

function hold(c: ClosedPoints, t: number, json: string): void {
  c.points.set(t, json);
  c.bytes += json.length + 16;
}

/** A bucket hash read back (HGETALL) into an accumulator. */
function accOf(kind: SeriesKind, h: Record<string, string>): BucketAcc | null {
  if (!h.c) return null;
  const acc = newAcc(kind);
  acc.count = Number(h.c);
  acc.sum = Number(h.s ?? 0);
  acc.min = Number(h.mn);
  acc.max = Number(h.mx);
  acc.last = Number(h.l);
  acc.lastT = Number(h.lt);
  if (acc.bins) for (const f in h) if (f.length > 0 && f !== 'mn' && f !== 'mx') addBinField(acc.bins, f, Number(h[f]));
  return acc;
}

export function createRedisMetricsBackend(opts: RedisMetricsOptions): MetricsBackend {
  const redis = opts.redis as Scripted;
  redis.defineCommand('sluiceMetricsWrite', { lua: WRITE_SCRIPT });
  redis.defineCommand('sluiceMetricsKeep', { lua: KEEP_SCRIPT, numberOfKeys: 1 });
  const cacheBytes = opts.readCacheBytes ?? 32 * 1024 * 1024;
  const cache =
    cacheBytes > 0
      ? new LRUCache<string, ClosedPoints>({ maxSize: cacheBytes, sizeCalculation: (c) => c.bytes + 100 })
      : null;
  const { retention, prefix } = opts;
  const closeAfter = opts.closeAfterSec ?? 30;
  const tag = (app: string) => `${prefix}:{m:${app}}`;
  const keys = {
    series: (app: string) => `${tag(app)}:series`,
    seen: (app: string) => `${tag(app)}:seen`,
    index: (app: string, step: Step, sid: string) => `${tag(app)}:i:${step}:${sid}`,
    bins: (app: string, step: Step, sid: string, t: number) => `${tag(app)}:b:${step}:${sid}:${t}`,
    summary: (app: string, step: Step, sid: string) => `${tag(app)}:s:${step}:${sid}`,
  };

  /**
   * One app's deltas → script calls of at most {@link MAX_BUCKETS_PER_CALL} bucket updates each
   * (a backfill can bring thousands; one call must stay short for Redis and within the argument
   * limits). Every update commutes with the others, so the calls need not be one transaction.
   */
  const writeApp = async (app: string, deltas: Delta[], nowSec: number) => {
    for (let from = 0; from < deltas.length; from += MAX_BUCKETS_PER_CALL / 2) {
      const ks: string[] = [keys.series(app), keys.seen(app)];
      const metas: (string | number)[] = [];
      const buckets: (string | number)[] = [];
      const seen = new Set<string>();
      for (const { meta, t10, acc } of deltas.slice(from, from + MAX_BUCKETS_PER_CALL / 2)) {
        const sid = seriesId(meta.name, meta.source);
        if (!seen.has(sid)) {
          seen.add(sid);
          metas.push(sid, JSON.stringify([meta.name, meta.source, meta.kind, meta.unit ?? null]));
        }
        for (const step of [10, 60] as const) {
          const t = step === 10 ? t10 : t60Of(t10);
          const horizon = nowSec - retention[step];
          if (t < horizon) continue;
          ks.push(keys.bins(app, step, sid, t), keys.index(app, step, sid), keys.summary(app, step, sid));
          buckets.push(t, retention[step] + step, horizon, acc.count, acc.sum, acc.min, acc.max, acc.last, acc.lastT);
          const at = buckets.length;
          buckets.push(0);
          buckets[at] = binArgs(acc, buckets);
        }
      }
      // Arrays, not spread arguments: ioredis flattens them, and a spread of 10^5 values would
      // overflow the call stack.
      await redis.sluiceMetricsWrite(ks.length, ks, nowSec, retention[60] + 60, seen.size, metas, buckets);
    }
  };

  const read = async (app: string, name: string, source: string | undefined, fromSec: number, toSec: number, step: Step): Promise<SeriesRange> => {
    const sid = seriesId(name, source ?? ALL_SOURCES);
    const summaryKey = keys.summary(app, step, sid);
    const [metaRaw, ts, genRaw] = await Promise.all([
      redis.hget(keys.series(app), sid),
      redis.zrangebyscore(keys.index(app, step, sid), fromSec, toSec),
      redis.hget(summaryKey, 'g'),
    ]);
    if (!metaRaw) return { kind: null, points: [] };
    const [, , kind, unit] = JSON.parse(metaRaw) as [string, string, SeriesKind, string | null];
    const gen = genRaw ?? '0';
    const cacheKey = `${app}\n${step}\n${sid}`;
    let held = cache?.get(cacheKey);
    // A late write since these points were read: they may predate it.
    if (held === undefined || held.gen !== gen) held = { gen, points: new Map(), bytes: 0 };
    const closed = held;
    const unknown: number[] = [];
    for (const s of ts) if (!closed.points.has(Number(s))) unknown.push(Number(s));
    const fresh = new Map<number, string>();
    if (unknown.length > 0) {
      // Points another process (or an earlier read) kept; the rest are built from their buckets.
      const kept = await redis.hmget(summaryKey, ...unknown.map(String));
      const missing: number[] = [];
      unknown.forEach((t, k) => {
        const json = kept[k];
        if (json == null) missing.push(t);
        else hold(closed, t, json);
      });
      const built = await Promise.all(missing.map((t) => redis.hgetall(keys.bins(app, step, sid, t))));
      const nowSec = Math.floor(Date.now() / 1000);
      const close: (string | number)[] = [];
      missing.forEach((t, k) => {
        const acc = accOf(kind, built[k]!);
        if (!acc) return;
        const json = JSON.stringify(toPoint(kind, t, acc));
        if (t + step + closeAfter < nowSec) {
          close.push(t, json);
          hold(closed, t, json);
        } else fresh.set(t, json);
      });
      // Closed buckets keep their point (unless a late write came meanwhile: KEEP_SCRIPT); a
      // later write to one deletes it again (WRITE_SCRIPT).
      for (let i = 0; i < close.length; i += 2 * MAX_KEEP_PER_CALL) {
        void redis.sluiceMetricsKeep(summaryKey, gen, close.slice(i, i + 2 * MAX_KEEP_PER_CALL)).catch(() => {});
      }
    }
    if (cache !== null && closed.points.size > 0) {
      // Points past the retention go: they were held in ascending order, mostly (one read out of
      // order is only dropped later, or by the LRU).
      const horizon = Math.floor(Date.now() / 1000) - retention[step] - step;
      for (const [t, json] of closed.points) {
        if (t >= horizon) break;
        closed.points.delete(t);
        closed.bytes -= json.length + 16;
      }
      // A new holder each time: the LRU sizes an entry when it is set.
      cache.set(cacheKey, { gen, points: closed.points, bytes: closed.bytes });
    }
    // Kept points go out as stored, unparsed: a 24 h read is 1440 of them.
    const pointsJson: string[] = [];
    for (const s of ts) {
      const t = Number(s);
      const p = closed.points.get(t) ?? fresh.get(t);
      if (p !== undefined) pointsJson.push(p);
    }
    return { kind, ...(unit !== null ? { unit } : {}), pointsJson };
  };

  return {
    async write(deltas: Delta[], nowMs: number): Promise<void> {
      const nowSec = Math.floor(nowMs / 1000);
      const byApp = new Map<string, Delta[]>();
      for (const d of deltas) {
        let list = byApp.get(d.meta.app);
        if (!list) byApp.set(d.meta.app, (list = []));
        list.push(d);
      }
      await Promise.all([...byApp].map(([app, list]) => writeApp(app, list, nowSec)));
    },

    async names(app: string): Promise<SeriesInfo[]> {
      const [series, seen] = await Promise.all([redis.hgetall(keys.series(app)), redis.hgetall(keys.seen(app))]);
      const byName = new Map<string, SeriesInfo>();
      for (const [sid, raw] of Object.entries(series)) {
        const [name, source, kind, unit] = JSON.parse(raw) as [string, string, SeriesKind, string | null];
        let info = byName.get(name);
        if (!info) byName.set(name, (info = { name, kind, ...(unit !== null ? { unit } : {}), sources: [], last_seen: 0 }));
        if (source !== ALL_SOURCES) info.sources.push(source);
        const at = Number(seen[sid] ?? 0);
        if (at > info.last_seen) info.last_seen = at;
      }
      for (const info of byName.values()) info.sources.sort();
      return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    read,

    async activity(app: string, name: string, nowMs: number): Promise<SourceActivity[]> {
      const info = (await this.names(app)).find((s) => s.name === name);
      if (!info) return [];
      const nowSec = Math.floor(nowMs / 1000);
      const seen = await redis.hgetall(keys.seen(app));
      const out = await Promise.all(
        info.sources.map(async (source) => {
          const r = await read(app, name, source, nowSec - 70, nowSec, 10);
          const points = (r.pointsJson ?? []).map((j) => JSON.parse(j) as Point);
          const sum = points.reduce((s, p) => (p.t + 10 > nowSec - 60 ? s + (p.sum ?? 0) : s), 0);
          return { source, lines_per_min: sum, last_seen: Number(seen[seriesId(name, source)] ?? 0) };
        }),
      );
      return out.sort((a, b) => b.lines_per_min - a.lines_per_min || (a.source < b.source ? -1 : 1));
    },

    async close(): Promise<void> {},
  };
}
