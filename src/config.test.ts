import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from './config.js';

describe('configuration', () => {
  it('runs on defaults with an empty environment: the embedded store, Logplex limits', () => {
    const config = loadConfig({});
    expect(config.redis).toBeUndefined();
    expect(config.historyPerApp).toBe(1500);
    expect(config.maxFrameBytes).toBe(10240);
    expect(config.dedupeTtlMs).toBe(900_000);
  });

  it('bounds entries and each app history in bytes by default', () => {
    const config = loadConfig({});
    expect(config.historyBytesPerApp).toBe(8 * 1024 * 1024);
    expect(config.entryLimits).toEqual({ maxMessageBytes: 65536, maxContextBytes: 65536, maxJsonDepth: 32 });
    expect(() => loadConfig({ MAX_JSON_DEPTH: '0' })).toThrow(/MAX_JSON_DEPTH/);
  });

  it('refuses at start a Redis history too big to read back within the command timeout', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://x', HISTORY_PER_APP: '1000000' })).toThrow(/HISTORY_PER_APP.*REDIS_COMMAND_TIMEOUT_MS 2000/s);
    expect(() => loadConfig({ REDIS_URL: 'redis://x', REDIS_COMMAND_TIMEOUT_MS: '100', HISTORY_BYTES_PER_APP: String(16 * 1024 * 1024) })).toThrow(/REDIS_COMMAND_TIMEOUT_MS 100/);
    expect(loadConfig({ REDIS_URL: 'redis://x', HISTORY_PER_APP: '100000', REDIS_COMMAND_TIMEOUT_MS: '1000' }).historyPerApp).toBe(100_000);
    // The memory store reads in process: no such bound.
    expect(loadConfig({ HISTORY_PER_APP: '1000000' }).historyPerApp).toBe(1_000_000);
  });

  it('turns on the Redis store with REDIS_URL, with its own defaults', () => {
    const { redis } = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(redis).toMatchObject({ prefix: 'sluice', shards: 8, firehoseMaxLen: 1000, followBatch: 100, tlsRejectUnauthorized: true });
    expect(loadConfig({ REDIS_URL: 'redis://x', REDIS_FOLLOW_BATCH: '25' }).redis?.followBatch).toBe(25);
  });

  it('limits clients per address and unauthenticated sockets by default, with a 3 s auth deadline', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ trustProxy: false, authFailuresPerMin: 30, maxConnectionsPerAddress: 100 });
    expect(config.fanout).toMatchObject({ authTimeoutMs: 3000, maxUnauthenticated: 100, maxConnections: 10_000 });
    const set = loadConfig({ TRUST_PROXY: 'true', AUTH_FAILURES_PER_MIN: '0', MAX_CONNECTIONS_PER_ADDRESS: '0', FANOUT_MAX_UNAUTHENTICATED: '5' });
    expect(set).toMatchObject({ trustProxy: true, authFailuresPerMin: 0, maxConnectionsPerAddress: 0, fanout: { maxUnauthenticated: 5 } });
    expect(() => loadConfig({ FANOUT_MAX_UNAUTHENTICATED: '0' })).toThrow(/FANOUT_MAX_UNAUTHENTICATED/);
  });

  it('bounds the file input by default: lines, reads, batches, files per glob, multi-line wait', () => {
    expect(loadConfig({}).files).toEqual({
      pollIntervalMs: 1000,
      maxLineBytes: 256 * 1024,
      readChunkBytes: 64 * 1024,
      batchMax: 500,
      multilineQuietMs: 500,
      maxFiles: 1000,
    });
    expect(loadConfig({ FILE_POLL_INTERVAL_MS: '100', FILE_BATCH_MAX: '3' }).files).toMatchObject({ pollIntervalMs: 100, batchMax: 3 });
    expect(() => loadConfig({ FILE_MAX_LINE_BYTES: '0' })).toThrow(/FILE_MAX_LINE_BYTES/);
  });

  it('bounds user regexes in time: 1 s per history read, 50 ms a second per live subscription, never unbounded', () => {
    const config = loadConfig({});
    expect(config.queryRegexBudgetMs).toBe(1000);
    expect(config.fanout.regexBudgetMsPerSec).toBe(50);
    expect(loadConfig({ QUERY_REGEX_BUDGET_MS: '250', FANOUT_REGEX_BUDGET_MS_PER_SEC: '10' })).toMatchObject({ queryRegexBudgetMs: 250, fanout: { regexBudgetMsPerSec: 10 } });
    expect(() => loadConfig({ QUERY_REGEX_BUDGET_MS: '0' })).toThrow(/QUERY_REGEX_BUDGET_MS/);
    expect(() => loadConfig({ FANOUT_REGEX_BUDGET_MS_PER_SEC: '0' })).toThrow(/FANOUT_REGEX_BUDGET_MS_PER_SEC/);
  });

  it('refuses a value out of range, naming the variable', () => {
    expect(() => loadConfig({ REDIS_FOLLOW_BATCH: '0' })).toThrow(/REDIS_FOLLOW_BATCH/);
    expect(() => loadConfig({ HISTORY_PER_APP: 'many' })).toThrow(/HISTORY_PER_APP/);
    expect(() => loadConfig({ MAX_FRAME_BYTES: '1000000' })).toThrow(/MAX_FRAME_BYTES/);
  });

  it('is documented: the README configuration table lists exactly the variables read', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'));
    const table = section.slice(0, section.indexOf('\n## ', 5));
    const documented = [...table.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect([...documented].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});
