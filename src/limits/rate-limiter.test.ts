import { describe, expect, it } from 'vitest';
import { describeRateLimiterContract, manualClock } from './rate-limiter.contract.js';
import { createMemoryRateLimiter } from './rate-limiter.js';

describeRateLimiterContract('memory', async (options) => ({ limiter: createMemoryRateLimiter(options) }));

describe('createMemoryRateLimiter', () => {
  it('forgets the least recently used keys beyond maxKeys, which starts them with a full bucket', async () => {
    const c = manualClock();
    const limiter = createMemoryRateLimiter({ ratePerSec: 1, burst: 10, maxKeys: 2, now: c.now });
    await limiter.take('a', 10);
    await limiter.take('b', 10);
    await expect(limiter.take('a', 1)).resolves.toMatchObject({ ok: false });
    await limiter.take('c', 10); // pushes out 'b', the least recently used
    await expect(limiter.take('b', 10)).resolves.toEqual({ ok: true });
    await expect(limiter.take('c', 1)).resolves.toMatchObject({ ok: false });
  });
});
