import { LRUCache } from 'lru-cache';

/** Options of {@link createAuthThrottle}. */
export interface AuthThrottleOptions {
  /** Failed authentications allowed per address per minute, and the burst (env `AUTH_FAILURES_PER_MIN`); 0 = off. */
  perMinute: number;
  /** Addresses remembered at most (least recently failed ones are forgotten first). Default 100,000. */
  maxAddresses?: number;
  /** Clock in ms. Default `performance.now`. */
  now?: () => number;
}

/** Failed authentications per client address, as a token bucket. */
export interface AuthThrottle {
  /** False when the throttle is off (`perMinute` 0): `retryAfter` is always 0. */
  readonly enabled: boolean;
  /**
   * 0 while `address` may fail again; else the seconds (≥ 1) until it may. Reads only: a
   * request from an address without failures costs one map lookup.
   */
  retryAfter(address: string): number;
  /** Records one failed authentication from `address`. */
  fail(address: string): void;
}

interface Bucket {
  /** Failures still allowed, fractional while refilling. */
  tokens: number;
  /** When `tokens` was computed, in ms of the clock. */
  at: number;
}

const OFF: AuthThrottle = { enabled: false, retryAfter: () => 0, fail: () => {} };

/**
 * The auth-failure throttle: each client address may fail `perMinute` authentications in a
 * burst, then one more every `60 / perMinute` s (a token bucket of that size, refilled at that
 * rate). Callers check {@link AuthThrottle.retryAfter} before looking a token up in the store and
 * call {@link AuthThrottle.fail} when the lookup found nothing; an address over its limit is
 * answered 429 `too_many_auth_failures` without a lookup (see `resolveThrottled` in
 * `src/http/auth.ts`), so guessing tokens costs the store nothing past the burst.
 *
 * Only failures count: requests with valid tokens never touch the buckets. Addresses live in an
 * LRU of `maxAddresses`; one refilled to full is dropped. Per process: N processes allow N times
 * the rate, which is fine for what this guards (the store's lookups are per process too).
 *
 * Concurrent requests that pass the check before the first failure lands are not held back; the
 * overshoot is what arrives during one lookup (with a Redis round trip of 1 ms, ~1 request at
 * 1,000 requests/s), once per refilled failure.
 *
 * @example
 * const throttle = createAuthThrottle({ perMinute: 30 });
 * const wait = throttle.retryAfter(address);
 * if (wait > 0) throw tooManyAuthFailures(wait); // 429 with Retry-After: wait (src/http/auth.ts)
 * if (!(await registry.resolve(token))) throttle.fail(address);
 */
export function createAuthThrottle(options: AuthThrottleOptions): AuthThrottle {
  const { perMinute } = options;
  if (!Number.isFinite(perMinute) || perMinute < 0) throw new RangeError(`perMinute must be >= 0, got ${perMinute}`);
  if (perMinute === 0) return OFF;
  const now = options.now ?? (() => performance.now());
  const perMs = perMinute / 60_000;
  const buckets = new LRUCache<string, Bucket>({ max: options.maxAddresses ?? 100_000 });

  /** The bucket's tokens at `t` (refilled since it was last written). */
  const level = (b: Bucket, t: number) => Math.min(perMinute, b.tokens + (t - b.at) * perMs);

  return {
    enabled: true,
    retryAfter(address) {
      const b = buckets.peek(address);
      if (!b) return 0;
      const t = now();
      const tokens = level(b, t);
      if (tokens >= 1) {
        if (tokens >= perMinute) buckets.delete(address);
        return 0;
      }
      return Math.max(1, Math.ceil((1 - tokens) / perMs / 1000));
    },
    fail(address) {
      const t = now();
      const b = buckets.get(address);
      const tokens = b ? level(b, t) : perMinute;
      buckets.set(address, { tokens: Math.max(0, tokens - 1), at: t });
    },
  };
}
