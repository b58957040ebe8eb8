import { appendFile, copyFile, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../log.js';
import type { Entry } from '../../normalize/entry.js';
import type { AppendRequest } from '../../store/types.js';
import type { FileFormat } from './formats.js';
import { createFileOffsetStore, type OffsetStore } from './offsets.js';
import { FileTailer, type TailerLimits } from './tailer.js';

const LIMITS: TailerLimits = { maxLineBytes: 1024, readChunkBytes: 7, batchMax: 3, multilineQuietMs: 50, retryMs: 20 };

/** A store that keeps what it was given, and can be made to fail. */
function fakeStore() {
  const entries: Entry[] = [];
  const s = {
    entries,
    failing: false,
    calls: 0,
    async append(req: AppendRequest) {
      s.calls++;
      if (s.failing) throw new Error('store down');
      entries.push(...req.entries!);
      return { stored: req.entries!.length, duplicate: false };
    },
  };
  return s;
}

const messages = (s: { entries: Entry[] }) => s.entries.map((e) => e.message);

describe('FileTailer', () => {
  let dir: string;
  let file: string;
  let offsets: OffsetStore;
  let store: ReturnType<typeof fakeStore>;
  const tailers: FileTailer[] = [];
  const logger = createLogger('silent');

  const tailer = async (opts: { format?: FileFormat; startAtEnd?: boolean; limits?: Partial<TailerLimits> } = {}) => {
    const saved = await offsets.load();
    const t = new FileTailer({
      path: file,
      appId: 'legacy-app',
      format: opts.format ?? 'json',
      startAtEnd: opts.startAtEnd ?? false,
      saved: saved.get(file),
      store,
      offsets,
      limits: { ...LIMITS, ...opts.limits },
      logger,
    });
    tailers.push(t);
    return t;
  };
  const line = (message: string) => `${JSON.stringify({ level: 'INFO', app_id: 'legacy-app', message })}\n`;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-tailer-'));
    file = join(dir, 'app.log');
    offsets = createFileOffsetStore(join(dir, 'state', 'offsets.json'));
    store = fakeStore();
  });
  afterEach(async () => {
    await Promise.all(tailers.splice(0).map((t) => t.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('reads json lines in small chunks and batches, each once', async () => {
    await writeFile(file, ['a', 'b', 'c', 'd', 'e'].map(line).join(''));
    const t = await tailer();
    await t.kick();
    await t.kick();
    expect(messages(store)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(store.calls).toBe(2); // batches of 3
    expect(store.entries[0]).toMatchObject({ app_id: 'legacy-app', level: 'INFO' });
  });

  it('keeps a partial last line until its newline comes, and saves the offset at its start', async () => {
    await writeFile(file, `${line('one')}{"message":"tw`);
    const t = await tailer();
    await t.kick();
    expect(messages(store)).toEqual(['one']);
    expect((await offsets.load()).get(file)!.offset).toBe(Buffer.byteLength(line('one')));
    await appendFile(file, 'o"}\n');
    await t.kick();
    expect(messages(store)).toEqual(['one', 'two']);
  });

  it('reads a file renamed away (rotation) to its end before the new file, from its start', async () => {
    await writeFile(file, line('1'));
    const t = await tailer();
    await t.kick();
    await appendFile(file, `${line('2')}{"message":"3"}`); // written after the last read, last line unfinished
    await rename(file, `${file}.1`);
    await writeFile(file, line('4') + line('5'));
    await t.kick();
    expect(messages(store)).toEqual(['1', '2', '3', '4', '5']);
    await appendFile(file, line('6'));
    await t.kick();
    expect(messages(store)).toEqual(['1', '2', '3', '4', '5', '6']);
  });

  it('detects copytruncate (the file shrank) and reads it again from 0', async () => {
    await writeFile(file, line('old-1') + line('old-2'));
    const t = await tailer();
    await t.kick();
    await copyFile(file, `${file}.1`);
    await truncate(file, 0);
    await appendFile(file, line('n1'));
    await t.kick();
    expect(messages(store)).toEqual(['old-1', 'old-2', 'n1']);
    expect((await offsets.load()).get(file)!.offset).toBe(Buffer.byteLength(line('n1')));
  });

  it('resumes after a restart exactly where it stopped, also when the file was rotated meanwhile', async () => {
    await writeFile(file, line('a') + line('b'));
    let t = await tailer({ startAtEnd: true });
    await t.kick();
    expect(messages(store)).toEqual([]); // tail: starts at the end
    await appendFile(file, line('c'));
    await t.kick();
    await t.stop();
    await appendFile(file, line('d')); // while "down"
    t = await tailer({ startAtEnd: true });
    await t.kick();
    expect(messages(store)).toEqual(['c', 'd']);
    await t.stop();
    await appendFile(file, line('e'));
    await rename(file, `${file}.1`); // rotated while down
    await writeFile(file, line('f'));
    t = await tailer({ startAtEnd: true });
    await t.kick();
    expect(messages(store)).toEqual(['c', 'd', 'e', 'f']);
  });

  it('keeps a stack trace in one text entry, and stores a pending one after the quiet time', async () => {
    await writeFile(
      file,
      'ERROR boom\n    at a (x.js:1)\n\tat b (y.js:2)\nINFO next\n  continued\n',
    );
    const t = await tailer({ format: 'text' });
    await t.kick();
    expect(store.entries.map((e) => [e.level, e.message, e.stack_trace])).toEqual([['ERROR', 'ERROR boom', '    at a (x.js:1)\n\tat b (y.js:2)']]);
    // The offset stays at the start of the pending entry until it is stored.
    expect((await offsets.load()).get(file)!.offset).toBe(Buffer.byteLength('ERROR boom\n    at a (x.js:1)\n\tat b (y.js:2)\n'));
    await new Promise((r) => setTimeout(r, 120)); // the tailer woke itself after the quiet time
    expect(store.entries.map((e) => [e.message, e.stack_trace])).toEqual([
      ['ERROR boom', '    at a (x.js:1)\n\tat b (y.js:2)'],
      ['INFO next', '  continued'],
    ]);
  });

  it('cuts a line over the maximum and flags it truncated', async () => {
    await writeFile(file, `${'x'.repeat(100)}\nshort\n`);
    const t = await tailer({ format: 'text', limits: { maxLineBytes: 10, multilineQuietMs: 0 } });
    await t.kick();
    await t.kick();
    expect(store.entries.map((e) => [e.message, e.flags])).toEqual([
      ['xxxxxxxxxx', ['truncated']],
      ['short', undefined],
    ]);
  });

  it('stores lines that are not in the format as text, and reads logfmt and syslog lines', async () => {
    await writeFile(file, 'not json\n');
    const t = await tailer();
    await t.kick();
    expect(store.entries[0]).toMatchObject({ message: 'not json', level: 'INFO' });
    const logfmt = join(dir, 'l.log');
    await writeFile(logfmt, 'level=warn msg="disk low" time=2025-01-15T14:22:00Z disk=sda1\n');
    file = logfmt;
    const l = await tailer({ format: 'logfmt' });
    await l.kick();
    expect(store.entries[1]).toMatchObject({ level: 'WARN', timestamp: '2025-01-15T14:22:00.000000Z', context: { disk: 'sda1' } });
    expect(store.entries[1]).not.toHaveProperty('severity');
    file = join(dir, 's.log');
    await writeFile(file, '<11>1 2025-01-15T14:22:00.5Z host app 42 - [meta k="v"] failed\n<13>Jan 15 14:22:00 host app: bsd line\n');
    const s = await tailer({ format: 'syslog' });
    await s.kick();
    expect(store.entries[2]).toMatchObject({ level: 'ERROR', message: 'failed', host: 'host', context: { meta: { k: 'v' } } });
    expect(store.entries[3]).toMatchObject({ message: 'bsd line', flags: ['rfc3164'] });
  });

  it('retries while the store fails and saves no offset for lines not stored', async () => {
    await writeFile(file, line('a'));
    store.failing = true;
    const t = await tailer();
    const run = t.kick();
    await new Promise((r) => setTimeout(r, 60));
    expect((await offsets.load()).get(file)!.offset).toBe(0);
    store.failing = false;
    await run;
    expect(messages(store)).toEqual(['a']);
    expect((await offsets.load()).get(file)!.offset).toBe(Buffer.byteLength(line('a')));
  });

  it('waits for a file that does not exist yet, then reads it whole', async () => {
    const t = await tailer({ startAtEnd: true });
    await t.kick();
    await writeFile(file, line('late'));
    await t.kick();
    expect(messages(store)).toEqual(['late']);
  });
});
