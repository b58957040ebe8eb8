import type { Entry } from '../normalize/entry.js';
import type { CompiledSubscription } from './filter.js';

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
   * history) is the delivery chunk they all belong to.
   */
  writeEntries(jsons: string[], entries: Entry[], chunk?: Chunk): void;
  writeLive(): void;
  writeGap(gap: Gap): void;
  close(code: number, reason: string): void;
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
  private queueJson: string[] = [];
  private queueEntries: Entry[] = [];
  private queueChunks: (Chunk | undefined)[] = [];
  private head = 0;
  private queuedBytes = 0;
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
    return this.queueJson.length - this.head;
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
    this.historyIds = new Set(entries.map((e) => e.id));
    this.history = { jsons: entries.map((e) => JSON.stringify(e)), entries, pos: 0 };
    if (this.historyIds.size > 0 && this.queued > 0) {
      // Drop queued live entries that the history already holds.
      const keepJson: string[] = [];
      const keepEntries: Entry[] = [];
      const keepChunks: (Chunk | undefined)[] = [];
      for (let i = this.head; i < this.queueJson.length; i++) {
        if (this.historyIds.has(this.queueEntries[i]!.id)) this.queuedBytes -= this.queueJson[i]!.length;
        else {
          keepJson.push(this.queueJson[i]!);
          keepEntries.push(this.queueEntries[i]!);
          keepChunks.push(this.queueChunks[i]);
        }
      }
      this.queueJson = keepJson;
      this.queueEntries = keepEntries;
      this.queueChunks = keepChunks;
      this.head = 0;
    }
    this.phase = 'live';
    this.flush();
  }

  /** Offers a matching live entry (its JSON made once by the hub) of `chunk`. Never blocks. */
  offer(entry: Entry, json: string, chunk?: Chunk): void {
    if (this.closed) return;
    if (this.historyIds?.has(entry.id)) return;
    this.queueJson.push(json);
    this.queueEntries.push(entry);
    this.queueChunks.push(chunk);
    this.queuedBytes += json.length;
    if (this.queued > this.limits.queueMaxMessages || this.queuedBytes > this.limits.queueMaxBytes) {
      // A reader keeping up must not lose entries to a burst: write what the socket takes first,
      // and shed only what still does not fit.
      if (this.phase === 'live' && this.sink.buffered() < this.limits.socketHighWaterBytes) this.flush();
      if (this.queued > this.limits.queueMaxMessages || this.queuedBytes > this.limits.queueMaxBytes) this.shed();
    }
  }

  /** Drops the oldest queued entries until the queue is within its limits; counts them. */
  private shed(): void {
    // Shed down to 3/4 of the limits, so a full queue does not drop on every single entry.
    const maxMsgs = Math.floor(this.limits.queueMaxMessages * 0.75);
    const maxBytes = Math.floor(this.limits.queueMaxBytes * 0.75);
    let n = 0;
    while (this.queued > 0 && (this.queued > maxMsgs || this.queuedBytes > maxBytes)) {
      this.queuedBytes -= this.queueJson[this.head]!.length;
      this.queueJson[this.head] = '';
      this.queueEntries[this.head] = undefined as unknown as Entry;
      this.queueChunks[this.head] = undefined;
      this.head++;
      n++;
    }
    this.dropped += n;
    this.droppedTotal += n;
    if (this.overSince === null) this.overSince = this.now();
    this.compact();
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queueJson.length) {
      this.queueJson = this.queueJson.slice(this.head);
      this.queueEntries = this.queueEntries.slice(this.head);
      this.queueChunks = this.queueChunks.slice(this.head);
      this.head = 0;
    }
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
      if (this.queued === 0) break;
      // A batch never spans two delivery chunks (see Chunk), nor more than batchMax entries.
      const chunk = this.queueChunks[this.head];
      let end = Math.min(this.queueJson.length, this.head + batchMax);
      for (let i = this.head + 1; i < end; i++) {
        if (this.queueChunks[i] !== chunk) {
          end = i;
          break;
        }
      }
      const jsons = this.queueJson.slice(this.head, end);
      const entries = this.queueEntries.slice(this.head, end);
      for (let i = this.head; i < end; i++) this.queuedBytes -= this.queueJson[i]!.length;
      this.head = end;
      if (this.head === this.queueJson.length) {
        this.queueJson = [];
        this.queueEntries = [];
        this.queueChunks = [];
        this.head = 0;
      }
      this.write(jsons, entries, chunk);
    }
    // Back under half its limits: no longer "over" (a slow close needs a sustained overload).
    if (this.queued * 2 <= this.limits.queueMaxMessages && this.queuedBytes * 2 <= this.limits.queueMaxBytes) this.overSince = null;
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

  /** Closes the subscriber with 4008 when it has been over its limits for too long. */
  checkSlow(): boolean {
    if (this.closed || this.overSince === null) return false;
    if (this.now() - this.overSince < this.limits.slowCloseMs) return false;
    this.close(4008, 'slow');
    return true;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queueJson = [];
    this.queueEntries = [];
    this.queueChunks = [];
    this.history = null;
    this.sink.close(code, reason);
  }

  /** Stops without closing the transport (an unsubscribe or a replaced subscription). */
  detach(): void {
    this.closed = true;
    this.queueJson = [];
    this.queueEntries = [];
    this.queueChunks = [];
    this.history = null;
  }
}
