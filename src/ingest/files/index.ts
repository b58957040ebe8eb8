/**
 * The file input (the log producer kit's "method 3"): the gateway follows the files named under
 * `file_watchers` in its config file and stores their lines like any other input. Assembled
 * here from the gateway's parts; `main.ts` starts it only when the config has watchers and stops
 * it on shutdown, before the backend closes.
 */
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { FileWatcherConfig } from '../../apps/config-file.js';
import type { Backend } from '../../backend.js';
import type { Config } from '../../config.js';
import { RedisKeys } from '../../store/redis-keys.js';
import { createFileOffsetStore, createRedisOffsetStore, stateFileFor } from './offsets.js';
import { startFileWatchers, type FileWatchers } from './watcher.js';

export type { FileWatchers } from './watcher.js';

/**
 * Starts the file watchers. Offsets live in Redis (`<REDIS_PREFIX>:{meta}:fileoffsets`) with
 * the Redis backend, else in `<SLUICE_CONFIG>.offsets.json`. Relative `file_path`s are relative
 * to the config file's directory.
 */
export function startFileIngest(opts: { config: Config; backend: Backend; watchers: FileWatcherConfig[]; logger: Logger }): FileWatchers {
  const { config, backend } = opts;
  const configPath = resolve(config.configPath);
  const offsets =
    backend.redis && config.redis
      ? createRedisOffsetStore(backend.redis, new RedisKeys(config.redis.prefix, config.redis.shards).fileOffsets())
      : createFileOffsetStore(stateFileFor(configPath));
  return startFileWatchers({
    watchers: opts.watchers,
    baseDir: dirname(configPath),
    store: backend.store,
    offsets,
    limits: config.files,
    logger: opts.logger.child({ input: 'files' }),
  });
}
