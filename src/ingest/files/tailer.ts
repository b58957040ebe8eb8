/**
 * Follows one watched path: reads what was appended, turns lines into entries, stores them in
 * batches and saves the read offset once they are stored. Nothing lost, nothing twice:
 *
 * - a partial last line waits for its newline (the saved offset stays at its start);
 * - rotation by rename (`app.log` → `app.log.1`, a new `app.log`): the path names another inode,
 *   so the file still open (by its descriptor) is read to its end, its partial last line taken
 *   as a line, and only then is the new file read, from its start;
 * - `copytruncate`: the open file got smaller than the read position, so reading restarts at 0;
 * - restart: the saved device + inode + offset say where to resume; when the path names another
 *   file by then (rotated while the gateway was down), the old one is looked for in the same
 *   directory (`app.log.1`) and read to its end first, then the new one from its start;
 * - a file that is missing or unreadable, and a store that fails, are reported in the gateway's
 *   log when the state changes (never per line) and retried; nothing throws out of a tailer.
 *
 * What is stored is at-least-once only in one window: a crash after `append` resolved and before
 * the offset was saved sends that one batch again at restart.
 */
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { nowMicros } from '../../decode/timestamp.js';
import type { Entry } from '../../normalize/entry.js';
import { lineToEntry, TextJoiner, type FileEntryContext, type FileFormat } from './formats.js';
import { LineSplitter, type FileLine } from './lines.js';
import type { FileOffset, OffsetStore } from './offsets.js';

/** Bounds of one tailer (`FILE_*` in config.ts). */
export interface TailerLimits {
  /** Longest line kept (`FILE_MAX_LINE_BYTES`); also the most one multi-line text entry keeps. */
  maxLineBytes: number;
  /** Bytes read per `read` call (`FILE_READ_CHUNK_BYTES`). */
  readChunkBytes: number;
  /** Most entries per `Store.append` (`FILE_BATCH_MAX`). */
  batchMax: number;
  /** A pending multi-line `text` entry is stored after this long without a new line (`FILE_MULTILINE_QUIET_MS`). */
  multilineQuietMs: number;
  /** Wait before retrying a failed append, offset save or open (`FILE_POLL_INTERVAL_MS`). */
  retryMs: number;
}

/**
 * Reads one complete line into what the tailer hands its store, or null to skip the line.
 * Given as {@link TailerOptions.decode}, it replaces the format's reading (and the multi-line
 * joining of `text`): `sluice send -f` follows a file with this tailer and makes its own items.
 */
export type LineDecoder<T> = (bytes: Buffer, truncated: boolean, ctx: FileEntryContext) => T | null;

/** Where a tailer puts what it read: the gateway's `Store`, or any sink of the same shape. */
export interface TailerStore<T> {
  /** Resolves once the items are kept; the tailer waits for it (so a slow sink slows reading). */
  append(req: { entries: T[] }): Promise<unknown>;
}

/**
 * Options of {@link FileTailer}. `T` is what one line becomes: a gateway `Entry` made by
 * `format` unless `decode` is given (which it must be for any other `T`).
 */
export interface TailerOptions<T = Entry> {
  /** The watched path (the key of its saved offset). */
  path: string;
  appId: string;
  format: FileFormat;
  /** Start at the file's end when nothing is saved for it (`tail: true`, file seen at start). */
  startAtEnd: boolean;
  /** What was saved for this path before the start, if anything. */
  saved?: FileOffset;
  store: TailerStore<T>;
  /** Reads each line instead of `format` (see {@link LineDecoder}). */
  decode?: LineDecoder<T>;
  offsets: OffsetStore;
  limits: TailerLimits;
  logger: Logger;
}

/** Thrown inside a tailer when it is stopped while its store fails: the batch is left unsaved. */
const STOPPED = Symbol('stopped');

/** How many files in a directory are looked at for a file rotated away while the gateway was down. */
const MAX_ROTATED_CANDIDATES = 200;

/** One followed path. Call {@link kick} whenever it may have changed; runs are serialised. */
export class FileTailer<T = Entry> {
  readonly path: string;
  private readonly o: TailerOptions<T>;
  private fh: FileHandle | null = null;
  private dev = '';
  private ino = '';
  private pos = 0;
  private readonly splitter: LineSplitter;
  private readonly joiner: TextJoiner;
  private batch: T[] = [];
  private committed: FileOffset | null = null;
  private unsaved: FileOffset | null = null;
  private saved: FileOffset | undefined;
  private startAtEnd: boolean;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private wakeSleep: (() => void) | null = null;
  private readonly problems = new Map<string, string>();
  private fallbacks = 0;
  private fallbacksLoggedAt = 0;
  /** True once the file is gone and everything read from it is stored. */
  gone = false;

  constructor(opts: TailerOptions<T>) {
    this.o = opts;
    this.path = opts.path;
    this.saved = opts.saved;
    this.startAtEnd = opts.startAtEnd;
    this.splitter = new LineSplitter(opts.limits.maxLineBytes);
    this.joiner = new TextJoiner(opts.limits.maxLineBytes);
  }

  /** Reads what is new (now, or right after the run under way). Never rejects. */
  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.poll();
        } catch (err) {
          if (err === STOPPED) break;
          this.report('read', 'cannot read a watched file; retrying', err);
          this.wake(this.o.limits.retryMs);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /**
   * Stops: the run under way finishes (entries read are stored and their offset saved; a store
   * that fails is not waited for), then the file is closed. A pending multi-line entry is not
   * stored: the saved offset is at its start, so the next start reads it again, whole.
   *
   * With `takePartial`, a partial last line (and a pending multi-line entry) is stored first, as
   * when the file ends: for a reader that keeps no offset (`sluice send -f`) it would be lost.
   */
  async stop(opts: { takePartial?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wakeSleep?.();
    await this.running;
    if (opts.takePartial && this.fh) {
      this.takeHeld();
      await this.flush(this.pos).catch(() => {}); // a failing store is not waited for (STOPPED)
    }
    if (this.unsaved) await this.persist(this.unsaved);
    await this.fh?.close().catch(() => {});
    this.fh = null;
  }

  private async poll(): Promise<void> {
    if (this.unsaved) await this.persist(this.unsaved);
    if (!this.fh && !(await this.open())) return;
    for (let hops = 0; hops < 8 && !this.stopped; hops++) {
      await this.drain();
      if (this.stopped) return;
      const now = await statOrNull(this.path);
      if (now && String(now.dev) === this.dev && String(now.ino) === this.ino) break;
      // The path names another file now (rotated by rename) or none: finish the one still open.
      await this.drain();
      await this.finish();
      if (!now) {
        this.gone = true;
        return;
      }
      this.o.logger.info({ file: this.path, app: this.o.appId }, 'watched file rotated: the old one was read to its end; reading the new one');
      if (!(await this.open())) return;
    }
    if (this.joins() && this.joiner.pendingStart !== undefined) {
      const entry = this.joiner.takeIfQuiet(Date.now(), this.o.limits.multilineQuietMs, this.context());
      if (entry) {
        this.batch.push(entry as T);
        await this.flush(this.splitter.lineStart);
      } else {
        this.wake(this.o.limits.multilineQuietMs);
      }
    }
  }

  /** Opens the path; false (reported, retried at the next poll) when it cannot. */
  private async open(): Promise<boolean> {
    let fh: FileHandle;
    let st: BigIntStats;
    try {
      fh = await open(this.path, 'r');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      // A file that appears after the start is new: all of it is read.
      if (missing) this.startAtEnd = false;
      this.report('open', missing ? 'watched file does not exist (yet); waiting for it' : 'cannot open a watched file; retrying', err);
      return false;
    }
    try {
      st = await fh.stat({ bigint: true });
    } catch (err) {
      await fh.close().catch(() => {});
      this.report('open', 'cannot stat a watched file; retrying', err);
      return false;
    }
    if (!st.isFile()) {
      await fh.close().catch(() => {});
      this.report('open', 'watched path is not a regular file; retrying', new Error('not a regular file'));
      return false;
    }
    this.clear('open', 'watched file is readable');
    const dev = String(st.dev);
    const ino = String(st.ino);
    const size = Number(st.size);
    const saved = this.saved;
    this.saved = undefined;
    let pos: number;
    if (saved && saved.dev === dev && saved.ino === ino) {
      pos = saved.offset <= size ? saved.offset : 0; // smaller: truncated while the gateway was down
    } else {
      if (saved) await this.readRotatedAway(saved);
      pos = saved || !this.startAtEnd ? 0 : size;
    }
    this.startAtEnd = false;
    this.fh = fh;
    this.dev = dev;
    this.ino = ino;
    this.pos = pos;
    this.splitter.reset(pos);
    this.joiner.reset();
    this.gone = false;
    // Saved at once: a restart then knows this file even before its first line.
    await this.persist({ dev, ino, offset: pos });
    return true;
  }

  /** The file read before a restart was rotated away meanwhile: finds it beside the path and reads its rest. */
  private async readRotatedAway(saved: FileOffset): Promise<void> {
    const dir = dirname(this.path);
    let names: string[];
    try {
      names = (await readdir(dir)).slice(0, MAX_ROTATED_CANDIDATES);
    } catch {
      return;
    }
    for (const name of names) {
      const candidate = join(dir, name);
      const st = await statOrNull(candidate);
      if (!st || String(st.dev) !== saved.dev || String(st.ino) !== saved.ino) continue;
      let fh: FileHandle;
      try {
        fh = await open(candidate, 'r');
      } catch {
        return;
      }
      this.o.logger.info({ file: this.path, rotated: candidate, offset: saved.offset }, 'reading the rest of a watched file rotated while the gateway was down');
      this.fh = fh;
      this.dev = saved.dev;
      this.ino = saved.ino;
      this.pos = Number(st.size) >= saved.offset ? saved.offset : 0;
      this.splitter.reset(this.pos);
      this.joiner.reset();
      await this.drain();
      await this.finish();
      return;
    }
  }

  /** Reads the open file to its current end, storing entries batch by batch. */
  private async drain(): Promise<void> {
    const fh = this.fh!;
    const { readChunkBytes, batchMax } = this.o.limits;
    while (!this.stopped) {
      const size = Number((await fh.stat({ bigint: true })).size);
      if (size < this.pos) await this.truncated();
      if (size <= this.pos) break;
      const n = Math.min(readChunkBytes, size - this.pos);
      const buf = Buffer.allocUnsafe(n);
      const { bytesRead } = await fh.read(buf, 0, n, this.pos);
      if (bytesRead === 0) break;
      const lines: FileLine[] = [];
      this.splitter.push(buf.subarray(0, bytesRead), this.pos, lines);
      this.pos += bytesRead;
      const ctx = this.context();
      for (const line of lines) {
        this.add(line, ctx);
        if (this.batch.length >= batchMax) await this.flush(this.joiner.pendingStart ?? line.end);
      }
    }
    await this.flush(this.joiner.pendingStart ?? this.splitter.lineStart);
  }

  /** `copytruncate`: what was held of the old content is stored, and reading restarts at 0. */
  private async truncated(): Promise<void> {
    this.o.logger.info({ file: this.path, app: this.o.appId, offset: this.pos }, 'watched file was truncated (copytruncate): reading it again from the start');
    this.takeHeld();
    this.pos = 0;
    this.splitter.reset(0);
    await this.flush(0);
  }

  /** The file is finished (rotated away or gone): its partial last line and pending entry are stored, it is closed. */
  private async finish(): Promise<void> {
    this.takeHeld();
    await this.flush(this.pos);
    await this.fh?.close().catch(() => {});
    this.fh = null;
  }

  /** Moves a partial last line and a pending multi-line entry into the batch. */
  private takeHeld(): void {
    const ctx = this.context();
    const partial = this.splitter.takePartial(this.pos);
    if (partial) this.add(partial, ctx);
    const pending = this.joiner.take(ctx);
    if (pending) this.batch.push(pending as T);
  }

  /** Whether lines are joined into multi-line `text` entries (never with a `decode` of its own). */
  private joins(): boolean {
    return this.o.decode === undefined && this.o.format === 'text';
  }

  // The `as T` below: without `decode`, T is Entry (see TailerOptions).
  private add(line: FileLine, ctx: FileEntryContext): void {
    if (this.o.decode) {
      const item = this.o.decode(line.bytes, line.truncated, ctx);
      if (item !== null) this.batch.push(item);
      return;
    }
    if (this.o.format === 'text') {
      const done = this.joiner.add(line.bytes, line.start, line.truncated, Date.now(), ctx);
      if (done) this.batch.push(done as T);
      return;
    }
    const r = lineToEntry(this.o.format, line.bytes, line.truncated, ctx);
    if (!r) return;
    this.batch.push(r.entry as T);
    if (r.fallback) this.fallbacks++;
  }

  private context(): FileEntryContext {
    return { appId: this.o.appId, receivedAt: nowMicros() };
  }

  /** Stores the batch (retrying while the store fails), then saves `offset` of the open file. */
  private async flush(offset: number): Promise<void> {
    if (this.batch.length > 0) {
      const entries = this.batch;
      this.batch = [];
      for (;;) {
        try {
          await this.o.store.append({ entries });
          this.clear('store', 'storing lines of a watched file again');
          break;
        } catch (err) {
          this.report('store', 'cannot store lines of a watched file; retrying', err);
          if (this.stopped) throw STOPPED;
          await this.sleep(this.o.limits.retryMs);
          if (this.stopped) throw STOPPED;
        }
      }
      this.logFallbacks();
    }
    await this.persist({ dev: this.dev, ino: this.ino, offset });
  }

  private async persist(o: FileOffset): Promise<void> {
    const c = this.committed;
    if (c && c.dev === o.dev && c.ino === o.ino && c.offset === o.offset) {
      this.unsaved = null;
      return;
    }
    try {
      await this.o.offsets.save(this.path, o);
      this.committed = o;
      this.unsaved = null;
      this.clear('offsets', 'saving watched file offsets again');
    } catch (err) {
      this.unsaved = o;
      this.report('offsets', `cannot save the offset of a watched file (${this.o.offsets.where}); retrying`, err);
      this.wake(this.o.limits.retryMs);
    }
  }

  private logFallbacks(): void {
    if (this.fallbacks === 0 || Date.now() - this.fallbacksLoggedAt < 60_000) return;
    this.o.logger.warn(
      { file: this.path, app: this.o.appId, format: this.o.format, lines: this.fallbacks },
      `lines of a watched file were not ${this.o.format}: stored as text`,
    );
    this.fallbacks = 0;
    this.fallbacksLoggedAt = Date.now();
  }

  /** Another run in `ms` (or sooner if one is already due sooner). */
  private wake(ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.kick();
    }, ms + 1);
    this.timer.unref();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeSleep = done;
    });
  }

  /** Logs a problem when it is new or changed (never once per line or per retry). */
  private report(kind: string, msg: string, err: unknown): void {
    const detail = (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? String(err);
    if (this.problems.get(kind) === detail) return;
    this.problems.set(kind, detail);
    this.o.logger.warn({ file: this.path, app: this.o.appId, err: (err as Error)?.message ?? String(err) }, msg);
  }

  private clear(kind: string, msg: string): void {
    if (!this.problems.delete(kind)) return;
    this.o.logger.info({ file: this.path, app: this.o.appId }, msg);
  }
}

async function statOrNull(path: string): Promise<BigIntStats | null> {
  try {
    return await stat(path, { bigint: true });
  } catch {
    return null;
  }
}
