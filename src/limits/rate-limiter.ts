import { LRUCache } from 'lru-cache';

/** The answer of {@link RateLimiter.take}: allowed, or refused with the seconds to wait (≥ 1, for Retry-After). */
export type TakeResult = { ok: true } | { ok: false; retryAfterSec: number };

/**
 * A token-bucket limiter keyed by a string (an app id, a token digest: the caller decides).
 * Async so that a Redis implementation shared by several gateways fits the same seam.
 */
export interface RateLimiter {
  /** Takes `cost` tokens (e.g. the lines of a request) from `key`'s bucket, or refuses. */
  take(key: string, cost: number): Promise<TakeResult>;
}

/** Options of {@link createMemoryRateLimiter}. */
export interface MemoryRateLimiterOptions {
  /** Sustained rate, tokens per second, per key. 0 = unlimited. */
  ratePerSec: number;
  /** Bucket size: how much a quiet key may spend at once. Must be > 0 when limited. */
  burst: number;
  /** Keys tracked at most (least recently used forgotten first). Default 10 000. */
  maxKeys?: number;
  /** Clock in ms (monotonic is best). Default `performance.now`. */
  now?: () => number;
}

interface Bucket {
  /** Tokens available at `at`; negative after a request larger than the burst (debt). */
  tokens: number;
  at: number;
}

const ALLOWED: TakeResult = Object.freeze({ ok: true });

/**
 * Token buckets in this process: each key refills at `ratePerSec` up to `burst`.
 *
 * A request costing more than `burst` could never fit a bucket; rather than refuse it forever, it
 * is let through when the bucket is full and leaves it in debt, so the key's average rate still
 * holds (the next requests wait until the debt is paid back).
 *
 * Memory is bounded by `maxKeys`. A bucket idle long enough to be full again carries no state
 * (a new bucket starts full), so it is dropped after that time; a key pushed out of the LRU early
 * only gets its burst back sooner.
 *
 * @example
 * const limiter = createMemoryRateLimiter({ ratePerSec: 500, burst: 2000 });
 * const r = await limiter.take(appId, lineCount);
 * if (!r.ok) throw new GatewayError('rate_limited', 429, 'slow down', { 'Retry-After': String(r.retryAfterSec) });
 */
export function createMemoryRateLimiter(options: MemoryRateLimiterOptions): RateLimiter {
  const { ratePerSec, burst } = options;
  if (!Number.isFinite(ratePerSec) || ratePerSec < 0) {
    throw new RangeError(`ratePerSec must be a number >= 0, got ${ratePerSec}`);
  }
  if (ratePerSec === 0) return { take: async () => ALLOWED };
  if (!Number.isFinite(burst) || burst <= 0) throw new RangeError(`burst must be a number > 0, got ${burst}`);
  const maxKeys = options.maxKeys ?? 10_000;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
  const now = options.now ?? (() => performance.now());
  const ratePerMs = ratePerSec / 1000;

  const buckets = new LRUCache<string, Bucket>({
    max: maxKeys,
    // Same clock as the buckets, read fresh every time (no ttlResolution caching).
    perf: { now },
    ttlResolution: 0,
  });

  return {
    async take(key: string, cost: number): Promise<TakeResult> {
      if (!(cost > 0)) return ALLOWED;
      const t = now();
      const bucket = buckets.get(key);
      let tokens = bucket ? Math.min(burst, bucket.tokens + (t - bucket.at) * ratePerMs) : burst;
      // A cost above the burst passes on a full bucket (see above); otherwise the tokens must be there.
      const needed = Math.min(cost, burst);
      if (tokens < needed) {
        if (bucket) {
          bucket.tokens = tokens;
          bucket.at = t;
        }
        return { ok: false, retryAfterSec: Math.max(1, Math.ceil((needed - tokens) / ratePerSec)) };
      }
      tokens -= cost;
      // Forget the bucket once it would be full again: then it is the same as no bucket.
      buckets.set(key, { tokens, at: t }, { ttl: Math.max(1, Math.ceil((burst - tokens) / ratePerMs)) });
      return ALLOWED;
    },
  };
}
