/**
 * The Redis key layout of the Streams store. Every key that one ingest request touches shares the
 * hash tag of its shard, so one Lua script can check the dedupe key, append to the apps' history
 * streams and to the shard's firehose atomically, on a single Redis and on Redis Cluster alike.
 *
 * ```
 * <p>:{s<k>}:log:<app>     STREAM  history of one app, one entry per line, field `e` = entry JSON,
 *                                  trimmed with MAXLEN ~ HISTORY_PER_APP
 * <p>:{s<k>}:fh            STREAM  the shard's firehose, one stream entry per ingest request and
 *                                  app, field `b` = JSON array of that request's entries of the
 *                                  app; what fan-out processes follow (XREAD), trimmed MAXLEN ~
 * <p>:{s<k>}:dd:<key>      STRING  dedupe key (Logplex-Frame-Id, batch_id), PX = DEDUPE_TTL
 * <p>:{meta}:logapps       SET     ids of the apps that have history, for queries over all apps
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
  log(appId: string): string {
    return `${this.tag(shardOf(appId, this.shards))}:log:${appId}`;
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
}
