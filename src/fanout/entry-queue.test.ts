import { describe, expect, it } from 'vitest';
import type { Entry } from '../normalize/entry.js';
import { EntryQueue } from './entry-queue.js';
import { Chunk } from './subscriber.js';

const entry = (n: number): Entry => ({ id: `id-${n}`, timestamp: '', received_at: '', level: 'INFO', app_id: 'a', message: `m${n}` });

describe('EntryQueue', () => {
  it('keeps order and byte count across growth, wrap-around and drops', () => {
    const q = new EntryQueue();
    const chunk = new Chunk();
    let next = 0;
    let first = 0;
    // Push and drop in a pattern that wraps the ring many times and grows it twice.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 300 + round * 10; i++, next++) q.push(`j${next}`, entry(next), chunk);
      for (let i = 0; i < 280 + round * 9; i++, first++) q.dropOldest();
    }
    expect(q.length).toBe(next - first);
    let bytes = 0;
    for (let n = first; n < next; n++) bytes += `j${n}`.length;
    expect(q.bytes).toBe(bytes);
    const got: string[] = [];
    for (let b = q.take(97); b; b = q.take(97)) got.push(...b.entries.map((e) => e.id));
    expect(got).toEqual(Array.from({ length: next - first }, (_, k) => `id-${first + k}`));
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it('never takes a batch across two delivery chunks, nor more than asked', () => {
    const q = new EntryQueue();
    const [a, b] = [new Chunk(), new Chunk()];
    for (let n = 0; n < 5; n++) q.push(`j${n}`, entry(n), a);
    for (let n = 5; n < 8; n++) q.push(`j${n}`, entry(n), b);
    const sizes: [number, Chunk | undefined][] = [];
    for (let batch = q.take(3); batch; batch = q.take(3)) sizes.push([batch.jsons.length, batch.chunk]);
    expect(sizes).toEqual([
      [3, a],
      [2, a],
      [3, b],
    ]);
    expect(q.take(3)).toBeNull();
  });

  it('retains only what the predicate keeps, in order, and updates the bytes', () => {
    const q = new EntryQueue();
    for (let n = 0; n < 600; n++) {
      q.push(`j${n}`, entry(n), undefined);
      if (n % 3 === 0) q.dropOldest();
    }
    const before = q.length;
    q.retain((e) => Number(e.id.slice(3)) % 2 === 0);
    const batch = q.take(10_000)!;
    expect(batch.entries.every((e) => Number(e.id.slice(3)) % 2 === 0)).toBe(true);
    expect(batch.entries.length).toBeLessThan(before);
    expect(batch.jsons).toEqual(batch.entries.map((e) => `j${e.id.slice(3)}`));
    expect(q.bytes).toBe(0);
  });

  it('gives back the memory of a burst on trim, once empty, and not before', () => {
    const q = new EntryQueue();
    for (let n = 0; n < 10_000; n++) q.push(`j${n}`, entry(n), undefined);
    const grown = q.capacity;
    expect(grown).toBeGreaterThanOrEqual(10_000);
    q.take(9_999);
    q.trim();
    expect(q.capacity).toBe(grown); // one entry still queued
    q.take(1);
    q.trim();
    expect(q.capacity).toBeLessThan(grown);
    q.push('again', entry(1), undefined);
    expect(q.take(5)!.jsons).toEqual(['again']);
  });
});
