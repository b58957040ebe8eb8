import { describe, expect, it } from 'vitest';
import { AddressSlots } from './address-slots.js';

describe('AddressSlots', () => {
  it('gives each address max slots, back when released (once, however often release is called)', () => {
    const slots = new AddressSlots(2);
    const a1 = slots.acquire('a')!;
    const a2 = slots.acquire('a')!;
    expect(slots.acquire('a')).toBeNull();
    expect(slots.acquire('b')).not.toBeNull();
    a1();
    a1();
    expect(slots.count('a')).toBe(1);
    expect(slots.acquire('a')).not.toBeNull();
    expect(() => slots.take('a')).toThrow(expect.objectContaining({ code: 'too_many_connections', status: 503, headers: { 'Retry-After': '5' } }));
    a2();
  });

  it('is unlimited with max 0', () => {
    const slots = new AddressSlots(0);
    for (let i = 0; i < 1000; i++) expect(slots.acquire('a')).not.toBeNull();
  });
});
