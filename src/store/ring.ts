/**
 * A fixed-capacity ring buffer: a preallocated array and a head index. `push` is O(1) and, once
 * full, overwrites the oldest item (Logplex keeps the newest 1500 lines per app the same way,
 * with LPUSH + LTRIM). No `Array.shift`, so appending never moves the other items.
 *
 * @example
 * const ring = new Ring<number>(2);
 * ring.push(1); ring.push(2);
 * ring.push(3); // returns 1, the item it overwrote
 * ring.toArray(); // [2, 3]
 */
export class Ring<T> {
  readonly capacity: number;
  readonly #items: (T | undefined)[];
  /** Index of the oldest item. */
  #head = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  /** Number of items held (at most `capacity`). */
  get size(): number {
    return this.#size;
  }

  /** Appends `item` as the newest; returns the oldest item when it had to be overwritten. */
  push(item: T): T | undefined {
    if (this.#size < this.capacity) {
      this.#items[(this.#head + this.#size) % this.capacity] = item;
      this.#size++;
      return undefined;
    }
    const evicted = this.#items[this.#head];
    this.#items[this.#head] = item;
    this.#head = (this.#head + 1) % this.capacity;
    return evicted;
  }

  /** Removes and returns the oldest item (undefined when empty). */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
    return item;
  }

  /** The item at `index`, counted from the oldest (0) to the newest (`size - 1`); undefined outside. */
  at(index: number): T | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.#size) return undefined;
    return this.#items[(this.#head + index) % this.capacity];
  }

  /** Items from the oldest to the newest. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#size; i++) yield this.#items[(this.#head + i) % this.capacity] as T;
  }

  /** A copy of the items, oldest first. */
  toArray(): T[] {
    const out = new Array<T>(this.#size);
    for (let i = 0; i < this.#size; i++) out[i] = this.#items[(this.#head + i) % this.capacity] as T;
    return out;
  }

  /** Drops every item (and the references to them, so they can be collected). */
  clear(): void {
    this.#items.fill(undefined);
    this.#head = 0;
    this.#size = 0;
  }
}
