/**
 * Where the read offset of each watched file is kept, so a restarted gateway resumes exactly
 * where it stopped: by watched path, the file's device and inode (which file it was: a path
 * rotated while the gateway was down names another file) and the offset up to which its
 * entries are stored. A tailer saves an offset only after `Store.append` resolved for every
 * entry before it.
 *
 * - With the Redis store: the hash `<REDIS_PREFIX>:{meta}:fileoffsets` (field: path, value: JSON).
 * - With the memory store: a JSON state file next to the config file
 *   (`<SLUICE_CONFIG>.offsets.json`), replaced atomically (write + rename).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Cluster, Redis } from 'ioredis';

/** The saved position in one file. `dev` and `ino` are decimal strings (inodes may exceed 2^53). */
export interface FileOffset {
  dev: string;
  ino: string;
  offset: number;
}

/** Saved offsets of every watched path. */
export interface OffsetStore {
  /** Where the offsets live, for the log. */
  readonly where: string;
  /** Every saved offset, by watched path. */
  load(): Promise<Map<string, FileOffset>>;
  /** Saves one path's offset; resolves once it is durable (file renamed, Redis answered). */
  save(path: string, offset: FileOffset): Promise<void>;
  /** Forgets a path (a glob-matched file that is gone and fully read). */
  remove(path: string): Promise<void>;
}

function parseOffset(v: unknown): FileOffset | null {
  if (v === null || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o.dev !== 'string' || typeof o.ino !== 'string' || typeof o.offset !== 'number' || !(o.offset >= 0)) return null;
  return { dev: o.dev, ino: o.ino, offset: o.offset };
}

/** The state file path beside a config file. */
export function stateFileFor(configPath: string): string {
  return `${configPath}.offsets.json`;
}

/**
 * Offsets in a JSON file (`{ "<path>": { "dev", "ino", "offset" } }`). Saves are serialised and
 * coalesced: while one write is under way, later saves wait for a single next write.
 */
export function createFileOffsetStore(file: string): OffsetStore {
  const offsets = new Map<string, FileOffset>();
  let version = 0;
  let written = 0;
  let chain: Promise<void> = Promise.resolve();
  const write = async (): Promise<void> => {
    if (written === version) return;
    const v = version;
    const json = JSON.stringify(Object.fromEntries(offsets), null, 1);
    const tmp = `${file}.tmp`;
    await mkdir(dirname(file), { recursive: true });
    await writeFile(tmp, json);
    await rename(tmp, file);
    written = v;
  };
  const flush = (): Promise<void> => {
    const next = chain.then(write);
    chain = next.catch(() => {}); // a failed write is retried by the next save
    return next;
  };
  return {
    where: file,
    async load() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map(offsets);
        throw err;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new Error(`${file}: the file offsets are not JSON; remove the file to start over`);
      }
      for (const [path, v] of Object.entries((json ?? {}) as Record<string, unknown>)) {
        const o = parseOffset(v);
        if (o) offsets.set(path, o);
      }
      return new Map(offsets);
    },
    save(path, offset) {
      offsets.set(path, offset);
      version++;
      return flush();
    },
    remove(path) {
      if (!offsets.delete(path)) return Promise.resolve();
      version++;
      return flush();
    },
  };
}

/** Offsets in one Redis hash (`key`, e.g. `RedisKeys.fileOffsets()`). */
export function createRedisOffsetStore(redis: Redis | Cluster, key: string): OffsetStore {
  return {
    where: `redis ${key}`,
    async load() {
      const all = await redis.hgetall(key);
      const out = new Map<string, FileOffset>();
      for (const [path, v] of Object.entries(all)) {
        let o: FileOffset | null = null;
        try {
          o = parseOffset(JSON.parse(v));
        } catch {
          // a damaged field: that file starts over as a file never seen
        }
        if (o) out.set(path, o);
      }
      return out;
    },
    async save(path, offset) {
      await redis.hset(key, path, JSON.stringify(offset));
    },
    async remove(path) {
      await redis.hdel(key, path);
    },
  };
}
