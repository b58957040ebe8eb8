import { appendFile, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../log.js';
import type { Entry } from '../../normalize/entry.js';
import type { AppendRequest } from '../../store/types.js';
import { createFileOffsetStore } from './offsets.js';
import { startFileWatchers, type FileWatchers } from './watcher.js';

const LIMITS = { maxLineBytes: 4096, readChunkBytes: 4096, batchMax: 100, multilineQuietMs: 50, pollIntervalMs: 40, maxFiles: 10 };

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

describe('startFileWatchers', () => {
  let dir: string;
  let entries: Entry[];
  let logs: { msg: string; file?: string }[];
  let watchers: FileWatchers | undefined;
  const store = { append: async (req: AppendRequest) => (entries.push(...req.entries!), { stored: req.entries!.length, duplicate: false }) };
  const start = (file_path: string, tail: boolean, format: 'json' | 'text' = 'text') =>
    (watchers = startFileWatchers({
      watchers: [{ app_id: 'app', file_path, format, tail }],
      baseDir: dir,
      store,
      offsets: createFileOffsetStore(join(dir, 'offsets.json')),
      limits: LIMITS,
      logger: createLogger('info', { write: (s: string) => void logs.push(JSON.parse(s) as { msg: string }) }),
    }));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-watch-'));
    entries = [];
    logs = [];
  });
  afterEach(async () => {
    await watchers?.stop();
    watchers = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('follows a glob: files there at start from their end (tail), new files from their start', async () => {
    await writeFile(join(dir, 'a.log'), 'old line\n');
    await (start('*.log', true)).ready;
    await appendFile(join(dir, 'a.log'), 'a1\n');
    await writeFile(join(dir, 'b.log'), 'b1\nb2\n');
    await writeFile(join(dir, 'b.txt'), 'not matched\n');
    await until(() => entries.length >= 3);
    await new Promise((r) => setTimeout(r, 150));
    expect(entries.map((e) => e.message).sort()).toEqual(['a1', 'b1', 'b2']);
    expect(watchers!.files()).toEqual([join(dir, 'a.log'), join(dir, 'b.log')]);
    // A matched file that is removed is forgotten once read.
    await unlink(join(dir, 'b.log'));
    await until(() => watchers!.files().length === 1);
    expect(watchers!.files()).toEqual([join(dir, 'a.log')]);
  });

  it('reports a missing file once, keeps polling without throwing, and reads it whole when it appears', async () => {
    await (start('later.log', true, 'json')).ready;
    await new Promise((r) => setTimeout(r, 200)); // several polls
    expect(logs.filter((l) => l.msg.includes('does not exist')).length).toBe(1);
    await writeFile(join(dir, 'later.log'), '{"message":"hello"}\n');
    await until(() => entries.length === 1);
    expect(entries.map((e) => e.message)).toEqual(['hello']);
    expect(logs.some((l) => l.msg === 'watched file is readable')).toBe(true);
  });
});
