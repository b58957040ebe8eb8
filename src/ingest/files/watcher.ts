/**
 * The file watchers of the config file (`file_watchers`): one group per entry, one
 * {@link FileTailer} per file it matches. Changes are noticed by `fs.watch` on each watched
 * directory, and by a poll every `FILE_POLL_INTERVAL_MS` besides (network filesystems send no
 * events; a directory that does not exist yet cannot be watched; `fs.watch` may drop events).
 * The poll also expands globs again, so files that appear later are picked up (from their start).
 * chokidar would add little here: the poll is the fallback it would also need.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { FileWatcherConfig } from '../../apps/config-file.js';
import type { Store } from '../../store/types.js';
import { expandGlob, globBase, isGlob } from './glob.js';
import type { FileOffset, OffsetStore } from './offsets.js';
import { FileTailer, type TailerLimits } from './tailer.js';

/** Limits of the file input (`FILE_*` in config.ts). */
export interface FileWatchLimits extends Omit<TailerLimits, 'retryMs'> {
  /** Interval of the poll fallback, also the retry interval (`FILE_POLL_INTERVAL_MS`). */
  pollIntervalMs: number;
  /** Most files one glob follows (`FILE_MAX_FILES`). */
  maxFiles: number;
}

/** Options of {@link startFileWatchers}. */
export interface FileWatchersOptions {
  watchers: FileWatcherConfig[];
  /** Relative `file_path`s are resolved against this directory (the config file's). */
  baseDir: string;
  store: Pick<Store, 'append'>;
  offsets: OffsetStore;
  limits: FileWatchLimits;
  logger: Logger;
}

/** Running file watchers. */
export interface FileWatchers {
  /** Paths followed now (for tests and the log). */
  files(): string[];
  /** Resolves once the saved offsets are loaded and every group has been scanned once. */
  readonly ready: Promise<void>;
  /** Stops watching; what was read is stored and its offsets saved first. */
  stop(): Promise<void>;
}

class WatchGroup {
  readonly pattern: string;
  readonly glob: boolean;
  readonly tailers = new Map<string, FileTailer>();
  private first = true;
  private fsWatcher: FSWatcher | null = null;
  private scanning: Promise<void> | null = null;
  private rescan = false;
  private warnedMax = false;
  private stopped = false;

  constructor(
    readonly cfg: FileWatcherConfig,
    baseDir: string,
    private readonly opts: FileWatchersOptions,
    private readonly saved: Map<string, FileOffset>,
  ) {
    this.pattern = isAbsolute(cfg.file_path) ? cfg.file_path : resolve(baseDir, cfg.file_path);
    this.glob = isGlob(this.pattern);
  }

  private get dir(): string {
    return this.glob ? globBase(this.pattern) : dirname(this.pattern);
  }

  /** Watches the directory when it can (retried at every poll until it works). */
  ensureWatch(): void {
    if (this.fsWatcher) return;
    try {
      const w = watch(this.dir, { persistent: false }, (_event, name) => this.onEvent(name));
      w.on('error', () => {
        w.close();
        if (this.fsWatcher === w) this.fsWatcher = null;
      });
      this.fsWatcher = w;
    } catch {
      // Missing or unwatchable directory: the poll covers it.
    }
  }

  private onEvent(name: string | Buffer | null): void {
    // A change to a file already followed needs no new glob expansion.
    const t = name ? this.tailers.get(join(this.dir, name.toString())) : undefined;
    if (t) void t.kick();
    else void this.scan();
  }

  /** Finds the files (glob expanded again), follows new ones, reads every followed one. */
  scan(): Promise<void> {
    if (this.scanning) {
      this.rescan = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.rescan = false;
        await this.scanOnce();
      } while (this.rescan);
    })().finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const { limits, logger } = this.opts;
    const paths = this.glob ? await expandGlob(this.pattern, { maxFiles: limits.maxFiles }) : [this.pattern];
    if (this.glob && paths.length >= limits.maxFiles && !this.warnedMax) {
      this.warnedMax = true;
      logger.warn({ glob: this.pattern, maxFiles: limits.maxFiles }, 'a file watcher glob matches FILE_MAX_FILES files or more: the rest are not followed');
    }
    if (this.stopped) return;
    for (const path of paths) {
      if (this.tailers.has(path)) continue;
      if (this.tailers.size >= limits.maxFiles) break;
      if (!this.first) logger.info({ file: path, app: this.cfg.app_id }, 'following a new file');
      this.tailers.set(
        path,
        new FileTailer({
          path,
          appId: this.cfg.app_id,
          format: this.cfg.format,
          // `tail` applies to files there at start; a file that appears later is read whole.
          startAtEnd: this.cfg.tail && this.first,
          saved: this.saved.get(path),
          store: this.opts.store,
          offsets: this.opts.offsets,
          limits: { ...limits, retryMs: limits.pollIntervalMs },
          logger,
        }),
      );
    }
    this.first = false;
    await Promise.all([...this.tailers.values()].map((t) => t.kick()));
    if (!this.glob) return;
    // Glob-matched files that are gone and fully read are forgotten.
    const matched = new Set(paths);
    for (const [path, t] of this.tailers) {
      if (matched.has(path) || !t.gone) continue;
      this.tailers.delete(path);
      await t.stop();
      await this.opts.offsets.remove(path).catch(() => {});
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.fsWatcher?.close();
    this.fsWatcher = null;
    await Promise.all([...this.tailers.values()].map((t) => t.stop()));
    await this.scanning?.catch(() => {});
  }
}

/**
 * Starts following the configured files: loads the saved offsets (retried while the offsets
 * store fails: no file is read before they are known), scans every group once, then watches.
 * Never rejects; problems are logged.
 */
export function startFileWatchers(opts: FileWatchersOptions): FileWatchers {
  const { logger, limits } = opts;
  let stopped = false;
  let groups: WatchGroup[] = [];
  let poll: NodeJS.Timeout | undefined;
  let wakeLoad: (() => void) | undefined;

  const ready = (async () => {
    let saved: Map<string, FileOffset> | undefined;
    let warned = false;
    while (!stopped && !saved) {
      try {
        saved = await opts.offsets.load();
      } catch (err) {
        if (!warned) logger.warn({ err: (err as Error).message, where: opts.offsets.where }, 'cannot load watched file offsets; retrying before reading any file');
        warned = true;
        await new Promise<void>((r) => {
          wakeLoad = r;
          setTimeout(r, limits.pollIntervalMs).unref();
        });
      }
    }
    if (stopped || !saved) return;
    groups = opts.watchers.map((cfg) => new WatchGroup(cfg, opts.baseDir, opts, saved));
    for (const g of groups) g.ensureWatch();
    await Promise.all(groups.map((g) => g.scan()));
    if (stopped) return;
    // Logged once every file has been opened (and read up to now): lines written from here on are read.
    logger.info(
      { watchers: groups.map((g) => ({ app: g.cfg.app_id, file: g.pattern, format: g.cfg.format })), offsets: opts.offsets.where },
      'watching files',
    );
    poll = setInterval(() => {
      for (const g of groups) {
        g.ensureWatch();
        void g.scan();
      }
    }, limits.pollIntervalMs);
    poll.unref();
  })().catch((err: unknown) => {
    logger.error({ err: (err as Error).message }, 'file watchers failed to start');
  });

  return {
    ready,
    files: () => groups.flatMap((g) => [...g.tailers.keys()]),
    async stop() {
      stopped = true;
      wakeLoad?.();
      if (poll) clearInterval(poll);
      await Promise.all(groups.map((g) => g.stop()));
      await ready;
    },
  };
}
