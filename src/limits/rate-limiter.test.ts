import { describe, expect, it } from 'vitest';
import { createMemoryRateLimiter } from './rate-limiter.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('createMemoryRateLimiter', () => {
  it('lets a quiet key spend its whole burst at once, then refuses', async () => {
    const c = clock();
    const limiter = createMemoryRateLimiter({ ratePerSec: 10, burst: 100, now: c.now });
    await expect(limiter.take('app', 60)).resolves.toEqual({ ok: true });
    await expect(limiter.take('app', 40)).resolves.toEqual({ ok: true });
    await expect(limiter.take('app', 1)).resolves.toEqual({ ok: false, retryAfterSec: 1 });
  });

  it('refills at the configured rate', async () => {
    const c = clock();
    const limiter = createMemoryRateLimiter({ ratePerSec: 10, burst: 100, now: c.now });
    await limiter.take('app', 100);
    c.advance(500); // 5 tokens back
    await expect(limiter.take('app', 6)).resolves.toMatchObject({ ok: false });
    await expect(limiter.take('app', 5)).resolves.toEqual({ ok: true });
    await expect(limiter.take('app', 1)).resolves.toMatchObject({ ok: false });
  });

  it('never refills beyond the burst', async () => {
    const c = clock();
    const limiter = createMemoryRateLimiter({ ratePerSec: 10, burst: 100, now: c.now });
    await limiter.take('app', 1);
    c.advance(3_600_000);
    await expect(limiter.take('app', 100)).resolves.toEqual({ ok: true });
    await expect(limiter.take('app', 1)).resolves.toMatchObject({ ok: false });
  });

  it('says how many whole seconds to wait until the request would fit', async () => {
    const c = clock();
    const limiter = createMemoryRateLimiter({ ratePerSec: 10, burst: 100, now: c.now });
    await limiter.take('app', 100);
    await expect(limiter.take('app', 25)).resolves.toEqual({ ok: false, retryAfterSec: 3 });
    c.advance(2_500);
    await expect(limiter.take('app', 25)).resolves.toEqual({ ok: true });
  });

  it('does not charge a refused request', async () => {
    const c = clock();
    const limiter = createMemoryRateLimiter({ ratePerSec: 10, burst: 100, now: c.now });
    await limiter.take('app', 95);
    await expect(limiter.take('app', 50)).resolves.toMatchObject({ ok: false });
    await expect(limiter.take('app', 5)).resolves.toEqual({ ok: true });
  });

  it('keeps a separate bucket per key', async () => {
    const c = clock();
    const limiter = createMemoryRateLimiter({ ratePerSec: 1, burst: 5, now: c.now });
    await limiter.take('noisy', 5);
    await expect(limiter.take('noisy', 1)).resolves.toMatchObject({ ok: false });
    await expect(limiter.take('quiet', 5)).resolves.toEqual({ ok: true });
  });

  it('lets a request larger than the burst through on a full bucket and makes the next ones wait', async () => {
    const c = clock();
    const limiter = createMemoryRateLimiter({ ratePerSec: 100, burst: 100, now: c.now });
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

  it('never limits when the rate is 0', async () => {
    const limiter = createMemoryRateLimiter({ ratePerSec: 0, burst: 0 });
    for (let i = 0; i < 1000; i++) await expect(limiter.take('app', 1_000_000)).resolves.toEqual({ ok: true });
  });

  it('allows a request that costs nothing even from an empty bucket', async () => {
    const c = clock();
    const limiter = createMemoryRateLimiter({ ratePerSec: 1, burst: 1, now: c.now });
    await limiter.take('app', 1);
    await expect(limiter.take('app', 0)).resolves.toEqual({ ok: true });
  });

  it('forgets the least recently used keys beyond maxKeys, which starts them with a full bucket', async () => {
    const c = clock();
    const limiter = createMemoryRateLimiter({ ratePerSec: 1, burst: 10, maxKeys: 2, now: c.now });
    await limiter.take('a', 10);
    await limiter.take('b', 10);
    await expect(limiter.take('a', 1)).resolves.toMatchObject({ ok: false });
    await limiter.take('c', 10); // pushes out 'b', the least recently used
    await expect(limiter.take('b', 10)).resolves.toEqual({ ok: true });
    await expect(limiter.take('c', 1)).resolves.toMatchObject({ ok: false });
  });

  it('refuses options that cannot describe a limit', () => {
    expect(() => createMemoryRateLimiter({ ratePerSec: -1, burst: 10 })).toThrow(RangeError);
    expect(() => createMemoryRateLimiter({ ratePerSec: 10, burst: 0 })).toThrow(RangeError);
    expect(() => createMemoryRateLimiter({ ratePerSec: Number.NaN, burst: 10 })).toThrow(RangeError);
  });
});
