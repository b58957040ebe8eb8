import type { Entry } from '../normalize/entry.js';
import type { Chunk } from './subscriber.js';

/** Capacity a queue starts with, and keeps when it empties (see `shrinkIfEmpty`). */
const MIN_CAPACITY = 256;

/** One batch taken from the front of a queue: entries of one delivery chunk, oldest first. */
export interface QueueBatch {
  jsons: string[];
  entries: Entry[];
  chunk: Chunk | undefined;
}

/**
 * A subscriber's outbound queue: a ring of (entry JSON, entry, delivery chunk) triples.
 *
 * Why a ring: a subscriber that lags keeps its queue near its limit and sheds the oldest entries
 * on and on. With arrays that were pushed at the back and sliced at the front, every shed copied
 * thousands of slots into a new array, and the growth and the garbage cost 7× the work of a
 * subscriber keeping up (46 % of the time in GC in a micro-benchmark of 100 stalled
 * subscribers): a lagging reader made the whole process slower, so more readers lagged. The ring
 * allocates only when it grows (doubling), and gives memory back in `trim`, which the hub calls
 * on its periodic check (shrinking each time it emptied made bursts regrow it over and over).
 */
export class EntryQueue {
  private jsons: string[] = new Array(MIN_CAPACITY);
  private entries: (Entry | undefined)[] = new Array(MIN_CAPACITY);
  private chunks: (Chunk | undefined)[] = new Array(MIN_CAPACITY);
  private head = 0;
  private count = 0;
  /** Sum of the queued JSON lengths (UTF-16 units: a cheap, stable measure of bytes). */
  bytes = 0;

  get length(): number {
    return this.count;
  }

  push(json: string, entry: Entry, chunk: Chunk | undefined): void {
    if (this.count === this.jsons.length) this.resize(this.jsons.length * 2);
    const i = (this.head + this.count) & (this.jsons.length - 1);
    this.jsons[i] = json;
    this.entries[i] = entry;
    this.chunks[i] = chunk;
    this.count++;
    this.bytes += json.length;
  }

  /** Drops the oldest entry (the queue must not be empty). */
  dropOldest(): void {
    const i = this.head;
    this.bytes -= this.jsons[i]!.length;
    this.jsons[i] = '';
    this.entries[i] = undefined;
    this.chunks[i] = undefined;
    this.head = (i + 1) & (this.jsons.length - 1);
    this.count--;
  }

  /**
   * Takes up to `max` entries from the front, never spanning two delivery chunks (so subscribers
   * that got the same chunk cut the same batches and share their frames). Empty queue: null.
   */
  take(max: number): QueueBatch | null {
    if (this.count === 0) return null;
    const mask = this.jsons.length - 1;
    const chunk = this.chunks[this.head];
    let n = 1;
    const limit = Math.min(this.count, max);
    while (n < limit && this.chunks[(this.head + n) & mask] === chunk) n++;
    const jsons: string[] = new Array(n);
    const entries: Entry[] = new Array(n);
    for (let k = 0; k < n; k++) {
      const i = (this.head + k) & mask;
      jsons[k] = this.jsons[i]!;
      entries[k] = this.entries[i]!;
      this.bytes -= this.jsons[i]!.length;
      this.jsons[i] = '';
      this.entries[i] = undefined;
      this.chunks[i] = undefined;
    }
    this.head = (this.head + n) & mask;
    this.count -= n;
    return { jsons, entries, chunk };
  }

  /** Keeps only the entries `keep` accepts, in order. */
  retain(keep: (entry: Entry) => boolean): void {
    const mask = this.jsons.length - 1;
    let kept = 0;
    for (let k = 0; k < this.count; k++) {
      const from = (this.head + k) & mask;
      const entry = this.entries[from]!;
      if (!keep(entry)) {
        this.bytes -= this.jsons[from]!.length;
        continue;
      }
      const to = (this.head + kept) & mask;
      this.jsons[to] = this.jsons[from]!;
      this.entries[to] = entry;
      this.chunks[to] = this.chunks[from];
      kept++;
    }
    for (let k = kept; k < this.count; k++) {
      const i = (this.head + k) & mask;
      this.jsons[i] = '';
      this.entries[i] = undefined;
      this.chunks[i] = undefined;
    }
    this.count = kept;
  }

  clear(): void {
    this.jsons = new Array(MIN_CAPACITY);
    this.entries = new Array(MIN_CAPACITY);
    this.chunks = new Array(MIN_CAPACITY);
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
  }

  /** Gives back the memory a burst made the ring grow to, when it is empty now. */
  trim(): void {
    if (this.count === 0 && this.jsons.length > MIN_CAPACITY) this.clear();
  }

  /** Slots allocated (for tests and debugging). */
  get capacity(): number {
    return this.jsons.length;
  }

  private resize(capacity: number): void {
    const mask = this.jsons.length - 1;
    const jsons: string[] = new Array(capacity);
    const entries: (Entry | undefined)[] = new Array(capacity);
    const chunks: (Chunk | undefined)[] = new Array(capacity);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & mask;
      jsons[k] = this.jsons[i]!;
      entries[k] = this.entries[i];
      chunks[k] = this.chunks[i];
    }
    this.jsons = jsons;
    this.entries = entries;
    this.chunks = chunks;
    this.head = 0;
  }
}
