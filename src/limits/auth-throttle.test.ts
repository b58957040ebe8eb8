import { describe, expect, it } from 'vitest';
import { createAuthThrottle } from './auth-throttle.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('createAuthThrottle', () => {
  it('allows a burst of perMinute failures per address, then says how long to wait', () => {
    const c = clock();
    const throttle = createAuthThrottle({ perMinute: 30, now: c.now });
    for (let i = 0; i < 30; i++) {
      expect(throttle.retryAfter('1.2.3.4')).toBe(0);
      throttle.fail('1.2.3.4');
    }
    // One failure comes back every 60 / 30 = 2 s.
    expect(throttle.retryAfter('1.2.3.4')).toBe(2);
    c.advance(500);
    expect(throttle.retryAfter('1.2.3.4')).toBe(2); // 1.5 s, rounded up
    c.advance(600);
    expect(throttle.retryAfter('1.2.3.4')).toBe(1);
    c.advance(900);
    expect(throttle.retryAfter('1.2.3.4')).toBe(0);
    throttle.fail('1.2.3.4');
    expect(throttle.retryAfter('1.2.3.4')).toBe(2);
  });

  it('keeps addresses apart', () => {
    const throttle = createAuthThrottle({ perMinute: 2, now: clock().now });
    throttle.fail('a');
    throttle.fail('a');
    expect(throttle.retryAfter('a')).toBe(30);
    expect(throttle.retryAfter('b')).toBe(0);
  });

  it('refills to the full burst after a minute without failures, and no further', () => {
    const c = clock();
    const throttle = createAuthThrottle({ perMinute: 3, now: c.now });
    for (let i = 0; i < 3; i++) throttle.fail('a');
    expect(throttle.retryAfter('a')).toBeGreaterThan(0);
    c.advance(10 * 60_000); // long idle: still a burst of 3, not 30
    for (let i = 0; i < 3; i++) {
      expect(throttle.retryAfter('a')).toBe(0);
      throttle.fail('a');
    }
    expect(throttle.retryAfter('a')).toBe(20);
  });

  it('does not deepen the debt with failures recorded while over (concurrent lookups landing late)', () => {
    const c = clock();
    const throttle = createAuthThrottle({ perMinute: 60, now: c.now });
    for (let i = 0; i < 70; i++) throttle.fail('a');
    expect(throttle.retryAfter('a')).toBe(1);
    c.advance(1000);
    expect(throttle.retryAfter('a')).toBe(0);
  });

  it('is off with perMinute 0, and refuses a negative rate', () => {
    const throttle = createAuthThrottle({ perMinute: 0 });
    expect(throttle.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) throttle.fail('a');
    expect(throttle.retryAfter('a')).toBe(0);
    expect(() => createAuthThrottle({ perMinute: -1 })).toThrow(RangeError);
  });

  it('remembers at most maxAddresses, forgetting the least recently failed', () => {
    const throttle = createAuthThrottle({ perMinute: 1, maxAddresses: 2, now: clock().now });
    throttle.fail('a');
    throttle.fail('b');
    throttle.fail('c');
    expect(throttle.retryAfter('a')).toBe(0);
    expect(throttle.retryAfter('b')).toBe(60);
    expect(throttle.retryAfter('c')).toBe(60);
  });
});
