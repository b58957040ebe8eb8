/**
 * The Redis key layout of the Streams store. Every key that one ingest request touches shares the
 * hash tag of its shard, so one Lua script can check the dedupe key, append to the app's history
 * and to the shard's firehose atomically, on a single Redis and on Redis Cluster alike.
 *
 * ```
 * <p>:{s<k>}:h:<app>       STREAM  history of one app: one stream entry per ingest request (a
 *                                  block, see block.ts: a drain request's frames as received, or
 *                                  the entries' JSON), field `b`. The id is `<last>-<n>`: the
 *                                  block holds the app's lines last-n+1 … last (counted from the
 *                                  app's first line), so trimming to HISTORY_PER_APP lines is
 *                                  `XTRIM MINID ~ last-HISTORY_PER_APP+1` and reads need no count
 * <p>:{s<k>}:hn:<app>      STRING  the app's state `<last> <bytes> <head>`: `last` of its newest
 *                                  block, the bytes of the blocks held, `last` of the oldest
 *                                  (a bare `<last>` before the state, with the bytes in hb)
 * <p>:{s<k>}:hz:<app>      LIST    `<last> <bytes>` of each block held, oldest first: what the
 *                                  append script trims by (lines and HISTORY_BYTES_PER_APP)
 * <p>:{s<k>}:hb:<app>      STRING  the sum of those bytes, before the state held it (read once)
 * <p>:{s<k>}:fh            STREAM  the shard's firehose, one stream entry per ingest request and
 *                                  app, field `b` = the same block; what fan-out processes
 *                                  follow (XREAD), trimmed MAXLEN ~ REDIS_FIREHOSE_MAXLEN;
 *                                  written only while the follow mark exists
 * <p>:{s<k>}:fw            STRING  follow mark: set with PX by each process following the
 *                                  firehose, refreshed while it follows
 * <p>:{s<k>}:dd:<key>      STRING  dedupe key (Logplex-Frame-Id, batch_id), PX = DEDUPE_TTL
 * <p>:{meta}:logapps       SET     ids of the apps that have history, for queries over all apps
 * <p>:{meta}:fileoffsets  HASH    watched file → `{"dev","ino","offset"}` JSON: where the file
 *                                  input resumes (src/ingest/files/offsets.ts)
 * ```
 *
 * `k` is a hash of the app id modulo the shard count, so an app always lives in one shard: its
 * history and its firehose entries are in one slot and in append order. The shard count is part
 * of the layout: changing it later orphans the history written before.
 */

/** FNV-1a of the app id: stable across processes and versions (part of the key layout). */
export function shardOf(appId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < appId.length; i++) {
    h ^= appId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/** Key names for one store (one prefix, one shard count). */
export class RedisKeys {
  constructor(
    readonly prefix: string,
    readonly shards: number,
  ) {}

  tag(shard: number): string {
    return `${this.prefix}:{s${shard}}`;
  }
  history(appId: string): string {
    return `${this.tag(shardOf(appId, this.shards))}:h:${appId}`;
  }
  historyCount(appId: string): string {
    return `${this.tag(shardOf(appId, this.shards))}:hn:${appId}`;
  }
  historySizes(appId: string): string {
    return `${this.tag(shardOf(appId, this.shards))}:hz:${appId}`;
  }
  historyBytes(appId: string): string {
    return `${this.tag(shardOf(appId, this.shards))}:hb:${appId}`;
  }
  /** Set (with a TTL) by every process following the firehose: without it, no firehose XADD. */
  followMark(shard: number): string {
    return `${this.tag(shard)}:fw`;
  }
  firehose(shard: number): string {
    return `${this.tag(shard)}:fh`;
  }
  dedupe(shard: number, key: string): string {
    return `${this.tag(shard)}:dd:${key}`;
  }
  logApps(): string {
    return `${this.prefix}:{meta}:logapps`;
  }
  fileOffsets(): string {
    return `${this.prefix}:{meta}:fileoffsets`;
  }
}
