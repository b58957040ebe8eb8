import type { Entry } from '../normalize/entry.js';
import { EntryQueue } from './entry-queue.js';
import type { CompiledSubscription } from './filter.js';
import { servableEntries } from '../normalize/serialize.js';

/** A gap as the protocol announces it. */
export interface Gap {
  /** Entries not delivered; absent when unknown (a resume point no longer in history). */
  count?: number;
  /** The last entry delivered before the gap (or the resume point asked for). */
  since_id?: string;
  /** True when the missed entries follow in this stream after all. */
  recovered: boolean;
}

/**
 * The entries of one turn of the hub's delivery. A subscriber never puts entries of two chunks in
 * one write, and splits a chunk at the same places whatever its backlog, so the subscribers that
 * get the same entries of a chunk write the same batches, in step or not: a transport can build
 * each frame once per chunk and share it ({@link Chunk.cache}). A chunk lives as long as a queue
 * holds one of its entries.
 */
export class Chunk {
  private caches: Map<object, Map<Entry, unknown>> | undefined;

  /** What `owner` (a transport) builds from this chunk's entries, by entry. */
  cache<T>(owner: object): Map<Entry, T> {
    this.caches ??= new Map();
    let c = this.caches.get(owner);
    if (!c) this.caches.set(owner, (c = new Map()));
    return c as Map<Entry, T>;
  }

  /**
   * The frame `owner` builds for exactly these entries of the chunk: built by the first
   * subscriber that writes them, then shared (identity: the hub hands every subscriber the same
   * Entry objects).
   */
  shared<T>(owner: object, entries: Entry[], build: () => T): T {
    const cache = this.cache<{ entries: Entry[]; frame: T }[]>(owner);
    let built = cache.get(entries[0]!);
    if (built) {
      for (const b of built) if (sameEntries(b.entries, entries)) return b.frame;
    } else {
      cache.set(entries[0]!, (built = []));
    }
    const frame = build();
    built.push({ entries, frame });
    return frame;
  }
}

function sameEntries(a: Entry[], b: Entry[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The transport side of a subscriber (WebSocket, SSE, Logplex session): how to write, and how
 * much is still waiting in its socket.
 */
export interface Sink {
  /** Bytes written but not yet sent by the socket: above the high-water mark we stop writing. */
  buffered(): number;
  /**
   * Writes entries (their JSON, serialised once by the hub) in order; `chunk` (absent for
   * history) is the delivery chunk they all belong to (for {@link Chunk.shared} frames).
   */
  writeEntries(jsons: string[], entries: Entry[], chunk?: Chunk): void;
  writeLive(): void;
  writeGap(gap: Gap): void;
  close(code: number, reason: string): void;
  /**
   * Ends the subscription with an error (`regex_budget_exceeded`): a WebSocket sends an `error`
   * message and stays open, a text stream writes its error event and ends. Absent: `close`.
   */
  fail?(code: string, message: string): void;
  /** Calls `fn` once the socket has drained (so queued entries can flow again). */
  onDrain(fn: () => void): void;
}

/** Limits of one subscriber. */
export interface SubscriberLimits {
  queueMaxMessages: number;
  queueMaxBytes: number;
  socketHighWaterBytes: number;
  slowCloseMs: number;
  batchMax: number;
}

/**
 * One live subscriber: its filter, its bounded outbound queue and its position.
 *
 * Phases: `history` (live entries queue up while history is read), then `live`. The queue holds
 * entry JSON strings; when it is over its limits the oldest are dropped and counted, and the
 * subscriber later receives a `gap` with that exact count at the place of the hole. A subscriber
 * over its limits for `slowCloseMs` is closed with 4008 "slow" (it can resume by its last id).
 * Nothing here waits on the socket: a slow client never delays ingest or other subscribers.
 */
export class Subscriber {
  private phase: 'history' | 'live' = 'history';
  private history: { jsons: string[]; entries: Entry[]; pos: number } | null = null;
  private historyIds: Set<string> | null = null;
  private readonly queue = new EntryQueue();
  private dropped = 0;
  /** When the queue first went over its limits in the current overload (null: not over). */
  private overSince: number | null = null;
  private waitingDrain = false;
  private closed = false;
  /** Id of the last entry written to the sink (resume point after a gap). */
  lastId: string | undefined;
  sent = 0;
  droppedTotal = 0;

  constructor(
    readonly filter: CompiledSubscription,
    private readonly sink: Sink,
    private readonly limits: SubscriberLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Entries waiting in the queue. */
  get queued(): number {
    return this.queue.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Hands the subscriber its history (or resume) entries, oldest first, and an optional gap to
   * announce before them. Live entries already queued that the history holds are skipped, so the
   * seam has neither duplicates nor holes.
   */
  startLive(entries: Entry[], gap?: Gap): void {
    if (this.closed) return;
    if (gap) this.sink.writeGap(gap);
    // Without history nothing live can duplicate it: no id set to test every entry against.
    this.historyIds = entries.length > 0 ? new Set(entries.map((e) => e.id)) : null;
    // An entry that cannot be serialised is left out (and counted), never fatal to the history.
    const servable = servableEntries(entries);
    this.history = { jsons: servable.jsons, entries: servable.entries, pos: 0 };
    if (this.historyIds && this.queued > 0) {
      // Drop queued live entries that the history already holds.
      const ids = this.historyIds;
      this.queue.retain((e) => !ids.has(e.id));
    }
    this.phase = 'live';
    this.flush();
  }

  /**
   * Offers the matching live entries of one delivery chunk (the same arrays for every subscriber
   * of a filter group), then writes what the socket takes. A subscriber that is live, caught up
   * and under its socket's high-water mark writes them straight away in batches of `batchMax`,
   * without queueing each entry: the common case costs per batch, not per entry. Never blocks.
   */
  offerAll(jsons: string[], entries: Entry[], chunk: Chunk): void {
    if (this.closed) return;
    let i = 0;
    if (this.phase === 'live' && this.queue.length === 0 && this.dropped === 0 && this.history === null) {
      const { socketHighWaterBytes, batchMax } = this.limits;
      const ids = this.historyIds;
      while (i < jsons.length && this.sink.buffered() < socketHighWaterBytes) {
        const end = Math.min(i + batchMax, jsons.length);
        // The group's own arrays when they fit one batch, so every member passes the same ones.
        const whole = i === 0 && end === jsons.length;
        let batchJsons = whole ? jsons : jsons.slice(i, end);
        let batchEntries = whole ? entries : entries.slice(i, end);
        if (ids !== null) {
          // Right after the history: skip what it already held.
          const keep = batchEntries.map((e) => !ids.has(e.id));
          if (keep.includes(false)) {
            batchJsons = batchJsons.filter((_, k) => keep[k]);
            batchEntries = batchEntries.filter((_, k) => keep[k]);
          }
        }
        this.write(batchJsons, batchEntries, chunk);
        i = end;
      }
      if (i === jsons.length) return;
    }
    for (; i < jsons.length; i++) this.offer(entries[i]!, jsons[i]!, chunk);
    this.flush();
  }

  /** Offers a matching live entry (its JSON made once by the hub) of `chunk`. Never blocks. */
  offer(entry: Entry, json: string, chunk?: Chunk): void {
    if (this.closed) return;
    if (this.historyIds?.has(entry.id)) return;
    this.queue.push(json, entry, chunk);
    if (this.queue.length > this.limits.queueMaxMessages || this.queue.bytes > this.limits.queueMaxBytes) {
      // A reader keeping up must not lose entries to a burst: write what the socket takes first,
      // and shed only what still does not fit.
      if (this.phase === 'live' && this.sink.buffered() < this.limits.socketHighWaterBytes) this.flush();
      if (this.queue.length > this.limits.queueMaxMessages || this.queue.bytes > this.limits.queueMaxBytes) this.shed();
    }
  }

  /** Drops the oldest queued entries until the queue is within its limits; counts them. */
  private shed(): void {
    // Shed down to 3/4 of the limits, so a full queue does not drop on every single entry.
    const maxMsgs = Math.floor(this.limits.queueMaxMessages * 0.75);
    const maxBytes = Math.floor(this.limits.queueMaxBytes * 0.75);
    let n = 0;
    const q = this.queue;
    while (q.length > 0 && (q.length > maxMsgs || q.bytes > maxBytes)) {
      q.dropOldest();
      n++;
    }
    this.dropped += n;
    this.droppedTotal += n;
    if (this.overSince === null) this.overSince = this.now();
  }

  /** Writes what the socket can take now: history first, then a pending gap, then the queue. */
  flush(): void {
    if (this.closed || this.phase !== 'live') return;
    const { socketHighWaterBytes, batchMax } = this.limits;
    while (this.sink.buffered() < socketHighWaterBytes) {
      if (this.history) {
        const h = this.history;
        const end = Math.min(h.pos + batchMax, h.jsons.length);
        this.write(h.jsons.slice(h.pos, end), h.entries.slice(h.pos, end));
        h.pos = end;
        if (end === h.jsons.length) {
          this.history = null;
          this.sink.writeLive();
        }
        continue;
      }
      if (this.dropped > 0) {
        this.sink.writeGap({ count: this.dropped, since_id: this.lastId, recovered: false });
        this.dropped = 0;
      }
      // A batch never spans two delivery chunks (see Chunk), nor more than batchMax entries.
      const batch = this.queue.take(batchMax);
      if (batch === null) break;
      const { jsons, entries, chunk } = batch;
      this.write(jsons, entries, chunk);
    }
    // Back under half its limits: no longer "over" (a slow close needs a sustained overload).
    if (this.queue.length * 2 <= this.limits.queueMaxMessages && this.queue.bytes * 2 <= this.limits.queueMaxBytes) this.overSince = null;
    if ((this.queued > 0 || this.dropped > 0 || this.history) && !this.waitingDrain) {
      this.waitingDrain = true;
      this.sink.onDrain(() => {
        this.waitingDrain = false;
        this.flush();
      });
    }
  }

  private write(jsons: string[], entries: Entry[], chunk?: Chunk): void {
    if (jsons.length === 0) return;
    this.sink.writeEntries(jsons, entries, chunk);
    this.lastId = entries[entries.length - 1]!.id;
    this.sent += entries.length;
  }

  /**
   * Closes the subscriber with 4008 when it has been over its limits for too long (and otherwise
   * lets an empty queue give back the memory a burst made it take). Called periodically by the hub.
   */
  checkSlow(): boolean {
    if (this.closed) return false;
    if (this.overSince === null) {
      // The hub's periodic check: a queue a past burst made big gives its memory back.
      this.queue.trim();
      return false;
    }
    if (this.now() - this.overSince < this.limits.slowCloseMs) return false;
    this.close(4008, 'slow');
    return true;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.clear();
    this.history = null;
    this.sink.close(code, reason);
  }

  /** Ends the subscription with an error told to the client ({@link Sink.fail}), what is queued dropped. */
  fail(code: string, message: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.clear();
    this.history = null;
    if (this.sink.fail) this.sink.fail(code, message);
    else this.sink.close(1011, code);
  }

  /** Stops without closing the transport (an unsubscribe or a replaced subscription). */
  detach(): void {
    this.closed = true;
    this.queue.clear();
    this.history = null;
  }
}
