import { describe, expect, it } from 'vitest';
import { Ring } from './ring.js';

describe('Ring', () => {
  it('keeps items in the order they were pushed while it has room', () => {
    const ring = new Ring<string>(3);
    expect(ring.push('a')).toBeUndefined();
    expect(ring.push('b')).toBeUndefined();
    expect(ring.toArray()).toEqual(['a', 'b']);
    expect(ring.size).toBe(2);
  });

  it('overwrites the oldest item once full and returns what it overwrote', () => {
    const ring = new Ring<number>(3);
    for (const n of [1, 2, 3]) ring.push(n);
    expect(ring.push(4)).toBe(1);
    expect(ring.push(5)).toBe(2);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.size).toBe(3);
  });

  it('stays correct after wrapping around many times', () => {
    const ring = new Ring<number>(4);
    for (let n = 0; n < 1003; n++) ring.push(n);
    expect(ring.toArray()).toEqual([999, 1000, 1001, 1002]);
    expect([...ring]).toEqual([999, 1000, 1001, 1002]);
  });

  it('indexes from the oldest item and answers undefined outside the held items', () => {
    const ring = new Ring<number>(2);
    ring.push(10);
    ring.push(20);
    ring.push(30);
    expect(ring.at(0)).toBe(20);
    expect(ring.at(1)).toBe(30);
    expect(ring.at(2)).toBeUndefined();
    expect(ring.at(-1)).toBeUndefined();
  });

  it('is empty again after clear and refills from the start', () => {
    const ring = new Ring<number>(2);
    ring.push(1);
    ring.push(2);
    ring.push(3);
    ring.clear();
    expect(ring.size).toBe(0);
    expect(ring.toArray()).toEqual([]);
    ring.push(4);
    expect(ring.toArray()).toEqual([4]);
  });

  it('holds a single item when its capacity is one', () => {
    const ring = new Ring<number>(1);
    ring.push(1);
    expect(ring.push(2)).toBe(1);
    expect(ring.toArray()).toEqual([2]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new Ring(0)).toThrow(RangeError);
    expect(() => new Ring(1.5)).toThrow(RangeError);
  });
});
