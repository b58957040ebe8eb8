/**
 * The Redis part of the HTTP benchmark: a `redis-server` of our own (test/support/redis.ts: free
 * port, temp dir, `--save "" --appendonly no`; never the machine's shared 6379), `redis-benchmark`
 * XADD rates against it, its stats and CPU while the gateway ingests, and the check that what the
 * gateway acknowledged is what Redis holds.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { findOnPath } from '../test/support/redis-server.js';
import { startRedisServer, type OwnedRedis } from '../test/support/redis.js';
import { loadConfig } from '../src/config.js';
import { decodeBlock } from '../src/store/block.js';
import { RedisKeys, shardOf } from '../src/store/redis-keys.js';
import type { Body } from './bodies.js';
import { entryJsons } from './fanout/entries.js';

export { type OwnedRedis };

/** Why the Redis part cannot run here, or undefined when it can. */
export function redisMissing(): string | undefined {
  for (const bin of ['redis-server', 'redis-benchmark']) if (!findOnPath(bin)) return `${bin} is not on PATH`;
  return undefined;
}

/** Our own throwaway server. */
export function startBenchRedis(): Promise<OwnedRedis> {
  return startRedisServer({ appendonly: false });
}

/** A fresh `REDIS_PREFIX` for one run. */
export function benchPrefix(): string {
  return `bench-${randomBytes(4).toString('hex')}`;
}

/**
 * The entry JSON (`JSON.stringify(entry)`, as the memory store's readers and the fan-out see it)
 * of median size over the lines of the bench bodies, and the mean size, in bytes: the payload of
 * the `redis-benchmark` XADD comparison (one stream entry per line, what a naive store would
 * write; Sluice's Redis store writes one block of frames per request instead).
 */
export function representativeEntry(bodies: readonly Body[]): { json: string; medianBytes: number; meanBytes: number } {
  const sized = entryJsons(bodies)
    .map((json) => ({ json, bytes: Buffer.byteLength(json) }))
    .sort((a, b) => a.bytes - b.bytes);
  const mid = sized[sized.length >> 1]!;
  return { json: mid.json, medianBytes: mid.bytes, meanBytes: sized.reduce((s, x) => s + x.bytes, 0) / sized.length };
}

/** One `redis-benchmark` run of XADD (one field `e` = `payload`): requests per second. */
export interface XaddRate {
  label: string;
  clients: number;
  pipeline: number;
  rps: number;
}

/**
 * `redis-benchmark -q -n N -P pipeline -c clients XADD <key> [MAXLEN ~ m] * e <payload>`, then the
 * key is unlinked. The payload is passed as one argv (no shell), so its quotes stay as they are.
 */
export async function redisBenchmarkXadd(
  redis: OwnedRedis,
  payload: string,
  opts: { label: string; clients: number; pipeline: number; requests: number; maxlen?: number },
): Promise<XaddRate> {
  const key = `rb-${randomBytes(3).toString('hex')}`;
  const trim = opts.maxlen ? ['MAXLEN', '~', String(opts.maxlen)] : [];
  const args = ['-h', redis.host, '-p', String(redis.port), '-q', '-n', String(opts.requests), '-P', String(opts.pipeline), '-c', String(opts.clients), 'XADD', key, ...trim, '*', 'e', payload];
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout = (stdout + c.toString()).slice(-4000)));
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`redis-benchmark exited with ${code}: ${stderr}`))));
  });
  // `-q` prints progress lines separated by CR, then `<command>: 387720.94 requests per second, p50=…`.
  const rates = [...out.matchAll(/([\d.]+) requests per second/g)];
  const rps = Number(rates.at(-1)?.[1]);
  if (!Number.isFinite(rps)) throw new Error(`cannot read redis-benchmark output: ${out.slice(-300)}`);
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  await client.unlink(key);
  client.disconnect();
  return { label: opts.label, clients: opts.clients, pipeline: opts.pipeline, rps };
}

/** `INFO commandstats` of one command. */
export interface CommandStat {
  calls: number;
  usecPerCall: number;
}

/** What Redis did during the measured window of the gateway run. */
export interface RedisWindow {
  commands: Record<string, CommandStat>;
}

/** `INFO commandstats` as { evalsha: {calls, usecPerCall}, … }. */
async function commandStats(client: Redis): Promise<Record<string, CommandStat>> {
  const out: Record<string, CommandStat> = {};
  for (const line of (await client.info('commandstats')).split('\r\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=\d+,usec_per_call=([\d.]+)/.exec(line);
    if (m) out[m[1]!] = { calls: Number(m[2]), usecPerCall: Number(m[3]) };
  }
  return out;
}

/** Hooks for runHttp: CONFIG RESETSTAT at the window's start, INFO commandstats at its end. */
export function redisWindowHooks(redis: OwnedRedis): { start(): Promise<void>; end(): Promise<void>; result(): RedisWindow; close(): void } {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  let commands: Record<string, CommandStat> = {};
  return {
    async start() {
      await client.config('RESETSTAT');
    },
    async end() {
      commands = await commandStats(client);
    },
    result: () => ({ commands }),
    close: () => client.disconnect(),
  };
}

/** FLUSHALL on our own server (never a shared one), between runs. */
export async function flushOwn(redis: OwnedRedis): Promise<void> {
  if (!redis.owned) throw new Error('refusing to flush a Redis this bench did not start');
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    await client.flushall();
  } finally {
    client.disconnect();
  }
}

/** `XINFO STREAM` as a map (length, entries-added, …). */
async function xinfo(client: Redis, key: string): Promise<Map<string, unknown>> {
  const flat = (await client.call('XINFO', 'STREAM', key)) as unknown[];
  const m = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  return m;
}

/** What Redis holds after the gateway run, against what the gateway acknowledged. */
export interface StoredCheck {
  /** `entries-added` of the app's history stream: every XADD since it was created (trims do not lower it), one per request. */
  historyAdded: number;
  /** The app's line counter (`…:hn:<app>`): every line ever stored in its history. */
  historyLines: number;
  /** Lines the history holds now: the `<last>-<n>` ids of its blocks; at least HISTORY_PER_APP once full. */
  historyLen: number;
  historyMax: number;
  /** `entries-added` of the app's firehose shard: one stream entry per stored request. */
  firehoseAdded: number;
  firehoseLen: number;
  firehoseMax: number;
  /** Entries in the newest firehose entry (one request's batch) and the app id of the newest history entry. */
  lastBatchSize: number;
  lastAppId: string;
  usedMemory: string;
  /** Bytes of the firehose stream (`MEMORY USAGE … SAMPLES 0`). */
  firehoseBytes: number;
  /** Bytes of the app's history stream (`MEMORY USAGE … SAMPLES 0`). */
  historyBytes: number;
}

export async function checkStored(redis: OwnedRedis, prefix: string, appId: string): Promise<StoredCheck> {
  const config = loadConfig({ REDIS_URL: redis.url, REDIS_PREFIX: prefix });
  const keys = new RedisKeys(prefix, config.redis!.shards);
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    const log = await xinfo(client, keys.history(appId));
    const fhKey = keys.firehose(shardOf(appId, keys.shards));
    const fh = await xinfo(client, fhKey);
    const [lastFh] = (await client.xrevrangeBuffer(fhKey, '+', '-', 'COUNT', 1)) as unknown as [Buffer, Buffer[]][];
    const [lastLog] = (await client.xrevrangeBuffer(keys.history(appId), '+', '-', 'COUNT', 1)) as unknown as [Buffer, Buffer[]][];
    const [firstLog] = (await client.xrangeBuffer(keys.history(appId), '-', '+', 'COUNT', 1)) as unknown as [Buffer, Buffer[]][];
    // Block ids are `<last>-<n>`: the history holds lines (first's last − first's n + 1) … (newest's last).
    const idParts = (b: [Buffer, Buffer[]] | undefined) => (b ? b[0].toString().split('-').map(Number) : [0, 0]);
    const [newestLast] = idParts(lastLog);
    const [firstLast, firstN] = idParts(firstLog);
    const usedMemory = /used_memory_human:(\S+)/.exec(await client.info('memory'))?.[1] ?? '?';
    const firehoseBytes = Number(await client.call('MEMORY', 'USAGE', fhKey, 'SAMPLES', '0'));
    const historyBytes = Number(await client.call('MEMORY', 'USAGE', keys.history(appId), 'SAMPLES', '0'));
    return {
      historyAdded: Number(log.get('entries-added')),
      historyLines: Number(await client.get(keys.historyCount(appId))),
      historyLen: lastLog ? newestLast! - (firstLast! - firstN! + 1) + 1 : 0,
      historyMax: config.historyPerApp,
      firehoseAdded: Number(fh.get('entries-added')),
      firehoseLen: Number(fh.get('length')),
      firehoseMax: config.redis!.firehoseMaxLen,
      lastBatchSize: lastFh ? decodeBlock(lastFh[1][1]!).length : 0,
      lastAppId: lastLog ? (decodeBlock(lastLog[1][1]!).at(-1)?.app_id ?? '') : '',
      usedMemory,
      firehoseBytes,
      historyBytes,
    };
  } finally {
    client.disconnect();
  }
}
