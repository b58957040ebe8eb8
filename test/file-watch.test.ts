/**
 * The file input (issue 11, the log producer kit's "method 3") against the real gateway
 * process: the kit's `dashboard.config.json` as printed (only its path points at a temp file),
 * lines appended as the kit's app writes them, read back through GET /api/logs with exact
 * counts through a partial last line, rename rotation, copytruncate and a gateway restart, on
 * the memory store (offsets in the state file) and on Redis (offsets in Redis).
 */
import { appendFileSync, copyFileSync, existsSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix, type TestRedis } from './support/redis.js';

const ADMIN = 'admin-token-for-file-watch-tests';

/** The kit's config, exactly as the seed prints it, with only `file_path` changed. */
function dashboardConfig(filePath: string): string {
  return `{
  "file_watchers": [
    {
      "app_id": "legacy-app",
      "file_path": ${JSON.stringify(filePath)},
      "format": "json",
      "tail": true
    }
  ]
}
`;
}

/** What the kit's app does: `fs.appendFileSync(file, JSON.stringify({...}) + '\n')`. */
function write(file: string, message: string): void {
  appendFileSync(
    file,
    JSON.stringify({
      timestamp: new Date().toISOString(),
      level: 'INFO',
      app_id: 'legacy-app',
      message,
    }) + '\n',
  );
}

async function messages(gw: GatewayProcess): Promise<string[]> {
  const res = await fetch(`${gw.url}/api/logs?app_id=legacy-app&limit=1000`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { total: number; entries: { message: string; app_id: string }[] };
  expect(body.entries.every((e) => e.app_id === 'legacy-app')).toBe(true);
  // Newest first: sorted by the message's number for comparison.
  return body.entries.map((e) => e.message).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
}

/** Polls until `want` is what the gateway has (a bounded wait), then checks it stays so. */
async function expectMessages(gw: GatewayProcess, want: string[], settleMs = 400): Promise<void> {
  const deadline = Date.now() + 8000;
  let got = await messages(gw);
  while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    got = await messages(gw);
  }
  expect(got).toEqual(want);
  // Nothing twice: no late duplicate shows up after a few more polls.
  await new Promise((r) => setTimeout(r, settleMs));
  expect(await messages(gw)).toEqual(want);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);

async function startWatching(env: Record<string, string>): Promise<GatewayProcess> {
  const gw = await startGatewayProcess(env);
  // The watchers log once every file has been opened: lines written from then on are read.
  const deadline = Date.now() + 10_000;
  while (!gw.stdout().includes('watching files') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  expect(gw.stdout()).toContain('watching files');
  return gw;
}

/**
 * The whole run on one store: tail skips what was there, a partial line waits, rename
 * rotation, copytruncate, then a restart with lines written while the gateway was down.
 * `persistent`: the store keeps history over the restart (Redis), so counts add up.
 */
async function scenario(dir: string, env: Record<string, string>, persistent: boolean): Promise<void> {
  const file = join(dir, 'app.log');
  const config = join(dir, 'dashboard.config.json');
  writeFileSync(config, dashboardConfig(file));
  write(file, 'before-start'); // tail: true skips it
  const fullEnv = { ADMIN_TOKEN: ADMIN, SLUICE_CONFIG: config, FILE_POLL_INTERVAL_MS: '100', FILE_BATCH_MAX: '3', ...env };
  let gw = await startWatching(fullEnv);
  try {
    for (const m of range(1, 5)) write(file, m);
    await expectMessages(gw, range(1, 5));

    // A partial last line waits for its newline.
    appendFileSync(file, '{"level":"INFO","message":"m6"');
    await expectMessages(gw, range(1, 5));
    appendFileSync(file, '}\n');
    await expectMessages(gw, range(1, 6));

    // Rotation by rename: m7 is written just before, m8-m9 go to the new file.
    write(file, 'm7');
    renameSync(file, `${file}.1`);
    write(file, 'm8');
    write(file, 'm9');
    await expectMessages(gw, range(1, 9));

    // copytruncate.
    copyFileSync(file, `${file}.2`);
    truncateSync(file, 0);
    write(file, 'm10');
    await expectMessages(gw, range(1, 10));

    // Restart: lines written while the gateway is down are read once it is back, and none twice.
    expect(await gw.stop()).toBe(0);
    write(file, 'm11');
    write(file, 'm12');
    appendFileSync(file, '{"message":"m13"'); // partial while down
    gw = await startWatching(fullEnv);
    await expectMessages(gw, persistent ? range(1, 12) : range(11, 12));
    appendFileSync(file, '}\n');
    write(file, 'm14');
    await expectMessages(gw, persistent ? range(1, 14) : range(11, 14));

    // Rotated while down: the rest of the old file, then the new one.
    expect(await gw.stop()).toBe(0);
    write(file, 'm15');
    renameSync(file, `${file}.1`);
    write(file, 'm16');
    gw = await startWatching(fullEnv);
    await expectMessages(gw, persistent ? range(1, 16) : range(15, 16));
  } finally {
    await gw.stop();
  }
}

describe('file watching (the seed kit dashboard.config.json), memory store', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-files-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads through a partial line, rename rotation, copytruncate and restarts, each line once; offsets in a state file', async () => {
    await scenario(dir, {}, false);
    const state = join(dir, 'dashboard.config.json.offsets.json');
    expect(existsSync(state)).toBe(true);
    const saved = JSON.parse(readFileSync(state, 'utf8')) as Record<string, { offset: number }>;
    expect(saved[join(dir, 'app.log')]!.offset).toBe(readFileSync(join(dir, 'app.log')).length);
  }, 90_000);
});

describe.skipIf(!redisAvailable)('file watching, Redis store', () => {
  let dir: string;
  let redis: TestRedis;
  const prefix = testKeyPrefix('files');
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-files-redis-'));
    redis = (await getTestRedis())!;
  });
  afterAll(async () => {
    await deleteKeysWithPrefix(redis.url, prefix);
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the offsets in Redis under the prefix and resumes from them, each line once', async () => {
    await scenario(dir, { REDIS_URL: redis.url, REDIS_PREFIX: prefix }, true);
    expect(existsSync(join(dir, 'dashboard.config.json.offsets.json'))).toBe(false);
    const client = new Redis(redis.url);
    try {
      const saved = JSON.parse((await client.hget(`${prefix}:{meta}:fileoffsets`, join(dir, 'app.log')))!) as { offset: number };
      expect(saved.offset).toBe(readFileSync(join(dir, 'app.log')).length);
    } finally {
      client.disconnect();
    }
  }, 90_000);
});
