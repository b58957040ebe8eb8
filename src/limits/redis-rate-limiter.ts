import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { RateLimiter, TakeResult } from './rate-limiter.js';

/** Options of {@link createRedisRateLimiter}. */
export interface RedisRateLimiterOptions {
  /** A connected client (single node or cluster); the limiter never closes it. */
  redis: Redis | Cluster;
  /** Key prefix, e.g. `sluice`; a key's shared bucket is `${prefix}:{rate:<key>}`. */
  prefix: string;
  /** Sustained rate, tokens per second, per key, shared by all processes. 0 = unlimited (no Redis traffic at all). */
  ratePerSec: number;
  /** Bucket size: how much a quiet key may spend at once. Must be > 0 when limited. */
  burst: number;
  /** How often the consumed cost is sent to Redis and the local views refreshed, in ms. Default 100. */
  syncIntervalMs?: number;
  /** Keys tracked at most per process (least recently used forgotten first). Default 10 000. */
  maxKeys?: number;
  /** The local clock in ms (monotonic is best), for refills between syncs. Default `performance.now`. */
  now?: () => number;
  /**
   * Told when the limiter starts failing open (Redis unreachable: `healthy` false, with the error)
   * and when it is back. Called on changes only, never per request.
   */
  onHealthChange?: (healthy: boolean, error?: unknown) => void;
}

/** The limiter returned by {@link createRedisRateLimiter}. */
export interface RedisRateLimiter extends RateLimiter {
  /** Sends every key's consumed cost to Redis now and refreshes the local views (what the timer does). */
  sync(): Promise<void>;
  /** Stops the sync timer, then sends what is still unsent (best effort). Takes after it decide locally only. */
  close(): Promise<void>;
}

/** This process's view of one key's shared bucket. */
interface View {
  /** The shared bucket's tokens at `at` as last heard from Redis, less what was taken here since. */
  tokens: number;
  /** Local clock of `tokens`. */
  at: number;
  /** Cost taken here that Redis has not been told about yet. */
  pending: number;
  /** Local clock of the last take: only recently used keys are synced. */
  usedAt: number;
}

const ALLOWED: TakeResult = Object.freeze({ ok: true });

/** The longest a key's first take waits to learn the shared bucket before it is let through. */
const FIRST_SYNC_WAIT_MS = 500;

/**
 * One key's shared token bucket, refilled by Redis TIME (one clock for every process):
 * tokens = min(burst, tokens + elapsed × rate) − consumed. May go negative: debt, paid back by
 * time, which keeps the long-run rate when processes together took more than was there.
 * KEYS[1]: the bucket HASH {t = tokens, ts = µs}. ARGV: consumed, rate per second, burst.
 * Returns the tokens left, as a string (a Lua number reply would be truncated to an integer).
 * The key expires when the bucket would be full again: a missing bucket is a full one.
 */
const BUCKET_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = burst
if state[1] and state[2] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  tokens = math.min(burst, tonumber(state[1]) + elapsed * rate / 1000000)
end
tokens = tokens - tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'ts', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((burst - tokens) / rate * 1000)) + 1000)
return string.format('%.17g', tokens)
`;
const BUCKET_SHA = createHash('sha1').update(BUCKET_SCRIPT).digest('hex');

/**
 * A token-bucket limit per key SHARED by every gateway process on one Redis, without a Redis round
 * trip on the request path.
 *
 * Each process keeps, per key, a local view of the shared bucket (tokens as last heard from Redis,
 * less what it took since) and decides `take` locally, with the rules of the memory limiter
 * (refill by the local clock between syncs; a cost above `burst` passes on a full bucket and
 * leaves debt; a refused take costs nothing). Every `syncIntervalMs` a background sync sends each
 * recently used key's consumed cost to Redis, one Lua script per key (`${prefix}:{rate:<key>}`, its
 * own hash tag, so it works on Redis Cluster), which refills the shared bucket by Redis TIME,
 * subtracts, and answers the tokens left: the new view.
 *
 * Accuracy: between syncs a process does not see what the others take, so N processes can
 * together overshoot the limit by roughly N × ratePerSec × syncIntervalMs (each spends its view's
 * refill); the shared bucket then goes into debt and every view refuses until it is paid back, so
 * the long-run rate holds. The first take of a key in a process (and after the key's view was
 * evicted) waits for ONE round trip to learn the shared bucket (at most 500 ms, then it is let
 * through), so processes restarted one after another do not each hand out a fresh burst
 * (processes meeting a key within the same sync interval still each see it as it was: up to
 * N × burst, once); every later take is local. Redis traffic: one script per recently used key (used within the last
 * max(1 s, 10 × syncIntervalMs)) per sync per process.
 *
 * Fails open: while Redis is unreachable (client not ready, or a sync failed) every take is
 * allowed and what is taken is not charged, until a sync succeeds again. Nothing is logged per
 * request; `onHealthChange` is told of the changes.
 *
 * Memory is bounded by `maxKeys` views; cost taken on a key whose view is evicted before its sync
 * is still sent with the next sync.
 *
 * @example
 * const limiter = createRedisRateLimiter({ redis, prefix: 'sluice', ratePerSec: 500, burst: 2000 });
 * const r = await limiter.take(appId, lineCount);
 * if (!r.ok) throw new GatewayError('rate_limited', 429, 'slow down', { 'Retry-After': String(r.retryAfterSec) });
 * // on shutdown
 * await limiter.close();
 */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RedisRateLimiter {
  const { redis, prefix, ratePerSec, burst } = options;
  if (!Number.isFinite(ratePerSec) || ratePerSec < 0) {
    throw new RangeError(`ratePerSec must be a number >= 0, got ${ratePerSec}`);
  }
  if (ratePerSec === 0) return { take: async () => ALLOWED, sync: async () => {}, close: async () => {} };
  if (!Number.isFinite(burst) || burst <= 0) throw new RangeError(`burst must be a number > 0, got ${burst}`);
  const syncIntervalMs = options.syncIntervalMs ?? 100;
  if (!Number.isFinite(syncIntervalMs) || syncIntervalMs <= 0) {
    throw new RangeError(`syncIntervalMs must be a number > 0, got ${syncIntervalMs}`);
  }
  const maxKeys = options.maxKeys ?? 10_000;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
  const now = options.now ?? (() => performance.now());
  const ratePerMs = ratePerSec / 1000;
  // Keys used this recently keep being synced, so their views also learn what other processes take.
  const activeMs = Math.max(1_000, 10 * syncIntervalMs);
  const rateArg = String(ratePerSec);
  const burstArg = String(burst);

  /** Cost taken on keys whose view was evicted before it was sent; sent with the next sync. */
  const orphans = new Map<string, number>();
  const views = new LRUCache<string, View>({
    max: maxKeys,
    dispose: (view, key, reason) => {
      if (reason === 'evict' && view.pending > 0 && orphans.size < maxKeys) {
        orphans.set(key, (orphans.get(key) ?? 0) + view.pending);
      }
    },
  });
  /** First syncs of keys without a view, shared by the takes waiting on them. */
  const learning = new Map<string, Promise<boolean>>();
  let healthy = true;
  let running: Promise<void> | undefined;

  function setHealthy(next: boolean, error?: unknown): void {
    if (next === healthy) return;
    healthy = next;
    options.onHealthChange?.(next, error);
  }

  function ready(): boolean {
    return redis.status === 'ready';
  }

  /** Sends `consumed` to the key's shared bucket; resolves the tokens left. */
  async function exchange(key: string, consumed: number): Promise<number> {
    const keys = [`${prefix}:{rate:${key}}`];
    const args = [String(consumed), rateArg, burstArg];
    let reply: unknown;
    try {
      reply = await redis.evalsha(BUCKET_SHA, 1, ...keys, ...args);
    } catch (error) {
      // NOSCRIPT after a Redis restart or failover: send the script itself once.
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      reply = await redis.eval(BUCKET_SCRIPT, 1, ...keys, ...args);
    }
    const tokens = Number(reply);
    if (!Number.isFinite(tokens)) throw new Error(`rate bucket script answered ${String(reply)}`);
    return tokens;
  }

  /** Learns the shared bucket of a key this process has no view of. False: let the take through. */
  function learn(key: string): Promise<boolean> {
    let learned = learning.get(key);
    if (!learned) {
      learned = exchange(key, 0).then(
        (tokens) => {
          const t = now();
          if (!views.has(key)) views.set(key, { tokens, at: t, pending: 0, usedAt: t });
          return true;
        },
        (error: unknown) => {
          setHealthy(false, error);
          return false;
        },
      );
      const settled = learned;
      learning.set(key, settled);
      void settled.finally(() => learning.get(key) === settled && learning.delete(key));
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), FIRST_SYNC_WAIT_MS);
    });
    return Promise.race([learned, timeout]).finally(() => clearTimeout(timer));
  }

  /** The memory limiter's rule on this process's view. */
  function decide(view: View, cost: number): TakeResult {
    const t = now();
    const tokens = Math.min(burst, view.tokens + (t - view.at) * ratePerMs);
    view.at = t;
    view.usedAt = t;
    // A cost above the burst passes on a full bucket (see the memory limiter); otherwise the tokens must be there.
    const needed = Math.min(cost, burst);
    if (tokens < needed) {
      view.tokens = tokens;
      return { ok: false, retryAfterSec: Math.max(1, Math.ceil((needed - tokens) / ratePerSec)) };
    }
    view.tokens = tokens - cost;
    view.pending += cost;
    return ALLOWED;
  }

  /** One sync: never throws (it runs from a timer). */
  async function round(): Promise<void> {
    if (!ready()) {
      // Nothing is sent; what was taken meanwhile is forgiven (fail open), not billed later.
      for (const view of views.values()) view.pending = 0;
      orphans.clear();
      setHealthy(false, new Error(`redis client is ${redis.status}`));
      return;
    }
    const t = now();
    const batch: { key: string; view?: View; sent: number }[] = [];
    for (const [key, view] of views.entries()) {
      if (view.pending > 0 || t - view.usedAt <= activeMs) {
        batch.push({ key, view, sent: view.pending });
        view.pending = 0;
      }
    }
    for (const [key, sent] of orphans) batch.push({ key, sent });
    orphans.clear();

    const results = await Promise.allSettled(batch.map(({ key, sent }) => exchange(key, sent)));
    let failure: unknown;
    let failed = false;
    results.forEach((result, i) => {
      const { key, view } = batch[i];
      if (result.status === 'rejected') {
        // The sent cost is dropped, not retried: failing open means not charging it.
        failed = true;
        failure ??= result.reason;
        return;
      }
      // Takes made while the script ran are still pending: they come off the fresh tokens.
      if (view && views.peek(key) === view) {
        view.tokens = result.value - view.pending;
        view.at = now();
      }
    });
    setHealthy(!failed, failure);
  }

  function runRound(): Promise<void> {
    running ??= round()
      .catch((error: unknown) => setHealthy(false, error))
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const timer = setInterval(() => void runRound(), syncIntervalMs);
  // The timer must not keep a process alive that has nothing else to do.
  timer.unref();
  let closed = false;

  return {
    async take(key: string, cost: number): Promise<TakeResult> {
      if (!(cost > 0)) return ALLOWED;
      if (!healthy) return ALLOWED;
      let view = views.get(key);
      if (!view) {
        if (closed || !ready()) return ALLOWED;
        if (!(await learn(key))) return ALLOWED;
        view = views.get(key);
        if (!view) return ALLOWED;
      }
      return decide(view, cost);
    },

    async sync(): Promise<void> {
      // A round already running may have started before the caller's takes: run one more.
      if (running) await running;
      await runRound();
    },

    async close(): Promise<void> {
      closed = true;
      clearInterval(timer);
      if (running) await running;
      await runRound();
    },
  };
}
