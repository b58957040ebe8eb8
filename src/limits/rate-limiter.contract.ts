import { afterEach, describe, expect, it } from 'vitest';
import type { RateLimiter } from './rate-limiter.js';

/** The options every limiter takes, as a contract test asks for them. */
export interface RateLimiterContractOptions {
  /** Sustained rate, tokens per second, per key. 0 = unlimited. */
  ratePerSec: number;
  /** Bucket size. */
  burst: number;
  /** Keys tracked at most. */
  maxKeys?: number;
  /** The clock the limiter refills by, in ms; absent in the tests that never move time. */
  now?: () => number;
}

/**
 * Makes a fresh limiter for one test; `cleanup` (if given) runs after the test. May reject (or
 * throw) with the limiter's own RangeError for options that cannot describe a limit.
 */
export type MakeRateLimiter = (
  options: RateLimiterContractOptions,
) => Promise<{ limiter: RateLimiter; cleanup?: () => Promise<void> }>;

/** A clock that moves only when told to: pass `now` to a limiter, then `advance` it by ms. */
export function manualClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/**
 * The conformance suite of the RateLimiter interface: every implementation runs it (one suite,
 * every backend), so one gateway on Redis limits exactly like one on memory. Call it from a
 * `*.test.ts` file:
 *
 * @example
 * describeRateLimiterContract('memory', async (options) => ({ limiter: createMemoryRateLimiter(options) }));
 *
 * `make` must return a limiter on which every key starts with a full bucket (the Redis suite uses
 * a fresh key prefix) and which refills by the injected `options.now` only: a limiter that syncs
 * shared state in the background must not do so during a test (e.g. a sync interval of an hour),
 * or refills by another clock would move the numbers the tests expect.
 */
export function describeRateLimiterContract(name: string, make: MakeRateLimiter): void {
  describe(`${name} limiter (RateLimiter contract)`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    async function limiterWith(options: RateLimiterContractOptions): Promise<RateLimiter> {
      const { limiter, cleanup } = await make(options);
      if (cleanup) cleanups.push(cleanup);
      return limiter;
    }

    it('lets a quiet key spend its whole burst at once, then refuses', async () => {
      const c = manualClock();
      const limiter = await limiterWith({ ratePerSec: 10, burst: 100, now: c.now });
      await expect(limiter.take('app', 60)).resolves.toEqual({ ok: true });
      await expect(limiter.take('app', 40)).resolves.toEqual({ ok: true });
      await expect(limiter.take('app', 1)).resolves.toEqual({ ok: false, retryAfterSec: 1 });
    });

    it('refills at the configured rate', async () => {
      const c = manualClock();
      const limiter = await limiterWith({ ratePerSec: 10, burst: 100, now: c.now });
      await limiter.take('app', 100);
      c.advance(500); // 5 tokens back
      await expect(limiter.take('app', 6)).resolves.toMatchObject({ ok: false });
      await expect(limiter.take('app', 5)).resolves.toEqual({ ok: true });
      await expect(limiter.take('app', 1)).resolves.toMatchObject({ ok: false });
    });

    it('never refills beyond the burst', async () => {
      const c = manualClock();
      const limiter = await limiterWith({ ratePerSec: 10, burst: 100, now: c.now });
      await limiter.take('app', 1);
      c.advance(3_600_000);
      await expect(limiter.take('app', 100)).resolves.toEqual({ ok: true });
      await expect(limiter.take('app', 1)).resolves.toMatchObject({ ok: false });
    });

    it('says how many whole seconds to wait until the request would fit', async () => {
      const c = manualClock();
      const limiter = await limiterWith({ ratePerSec: 10, burst: 100, now: c.now });
      await limiter.take('app', 100);
      await expect(limiter.take('app', 25)).resolves.toEqual({ ok: false, retryAfterSec: 3 });
      c.advance(2_500);
      await expect(limiter.take('app', 25)).resolves.toEqual({ ok: true });
    });

    it('does not charge a refused request', async () => {
      const c = manualClock();
      const limiter = await limiterWith({ ratePerSec: 10, burst: 100, now: c.now });
      await limiter.take('app', 95);
      await expect(limiter.take('app', 50)).resolves.toMatchObject({ ok: false });
      await expect(limiter.take('app', 5)).resolves.toEqual({ ok: true });
    });

    it('keeps a separate bucket per key', async () => {
      const c = manualClock();
      const limiter = await limiterWith({ ratePerSec: 1, burst: 5, now: c.now });
      await limiter.take('noisy', 5);
      await expect(limiter.take('noisy', 1)).resolves.toMatchObject({ ok: false });
      await expect(limiter.take('quiet', 5)).resolves.toEqual({ ok: true });
    });

    it('lets a request larger than the burst through on a full bucket and makes the next ones wait', async () => {
      const c = manualClock();
      const limiter = await limiterWith({ ratePerSec: 100, burst: 100, now: c.now });
      await expect(limiter.take('app', 300)).resolves.toEqual({ ok: true });
      // 200 in debt: a full bucket (what a request above the burst needs) is 3 s away.
      await expect(limiter.take('app', 300)).resolves.toEqual({ ok: false, retryAfterSec: 3 });
      c.advance(2_000); // debt paid, bucket empty
      await expect(limiter.take('app', 1)).resolves.toMatchObject({ ok: false });
      c.advance(990);
      await expect(limiter.take('app', 300)).resolves.toMatchObject({ ok: false });
      c.advance(10);
      await expect(limiter.take('app', 300)).resolves.toEqual({ ok: true });
    });

    it('allows a request that costs nothing even from an empty bucket', async () => {
      const c = manualClock();
      const limiter = await limiterWith({ ratePerSec: 1, burst: 1, now: c.now });
      await limiter.take('app', 1);
      await expect(limiter.take('app', 0)).resolves.toEqual({ ok: true });
    });

    it('never limits when the rate is 0', async () => {
      const limiter = await limiterWith({ ratePerSec: 0, burst: 0 });
      for (let i = 0; i < 1000; i++) await expect(limiter.take('app', 1_000_000)).resolves.toEqual({ ok: true });
    });

    it('refuses options that cannot describe a limit', async () => {
      await expect(limiterWith({ ratePerSec: -1, burst: 10 })).rejects.toThrow(RangeError);
      await expect(limiterWith({ ratePerSec: Number.NaN, burst: 10 })).rejects.toThrow(RangeError);
      await expect(limiterWith({ ratePerSec: 10, burst: 0 })).rejects.toThrow(RangeError);
      await expect(limiterWith({ ratePerSec: 10, burst: 10, maxKeys: 0 })).rejects.toThrow(RangeError);
    });
  });
}
