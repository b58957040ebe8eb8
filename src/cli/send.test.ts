import { appendFile, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { SendResult, Transport } from '@sluice/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_LINE_BYTES, DEFAULT_SEND_TIMEOUT_MS } from './args.js';
import {
  BACKLOG,
  Backlog,
  jsonLineToItem,
  LineMapper,
  runSend,
  splitBySize,
  StreamLines,
  WatchedTransport,
  type SendOptions,
} from './send.js';
import { EXIT } from './tail.js';

const TOKEN = 't.send-test-SECRET-0123456789';
const OK: SendResult = { ok: true, status: 201, duplicate: false };

/** Lines of `text` as {@link StreamLines} cuts them, fed in chunks of `size` bytes. */
function linesOf(text: string | Buffer, size = 7, maxLineBytes = 1024): Array<{ text: string; truncated: boolean }> {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const s = new StreamLines(maxLineBytes);
  const out: Array<{ text: string; truncated: boolean }> = [];
  for (let o = 0; o < buf.length; o += size) {
    for (const l of s.push(buf.subarray(o, o + size))) out.push({ text: l.bytes.toString(), truncated: l.truncated });
  }
  const last = s.end();
  if (last) out.push({ text: last.bytes.toString(), truncated: last.truncated });
  return out;
}

/** What JSON.stringify makes of an item (as the client sends it: undefined fields left out). */
const wire = (item: unknown) => JSON.parse(JSON.stringify(item)) as Record<string, unknown>;

describe('StreamLines', () => {
  it('splits on \\n and \\r\\n across chunk boundaries, and keeps a last line without newline', () => {
    expect(linesOf('one\r\ntwo\nthree\r\n\nfour', 3).map((l) => l.text)).toEqual(['one', 'two', 'three', '', 'four']);
    expect(linesOf('a\n', 1).map((l) => l.text)).toEqual(['a']);
    expect(linesOf('').map((l) => l.text)).toEqual([]);
  });

  it('keeps multi-byte characters split between chunks whole', () => {
    expect(linesOf('héllo wörld ✓\nnext', 1).map((l) => l.text)).toEqual(['héllo wörld ✓', 'next']);
  });

  it('cuts a line over the limit at a character boundary, skips its rest, and says so', () => {
    const lines = linesOf(`${'é'.repeat(300)}\nshort\n`, 64, 256);
    expect(lines[0]!.truncated).toBe(true);
    expect(lines[0]!.text).toBe('é'.repeat(128));
    expect(lines[1]).toEqual({ text: 'short', truncated: false });
  });
});

describe('jsonLineToItem', () => {
  it('takes a pino line: numeric level, time in ms, msg', () => {
    const item = wire(jsonLineToItem('{"level":50,"time":1700000000123,"pid":7,"msg":"boom"}', 'INFO'));
    expect(item).toEqual({ level: 50, timestamp: 1700000000123, pid: 7, message: 'boom' });
  });

  it('takes bunyan ISO times, zap epoch seconds and Logstash @timestamp', () => {
    expect(wire(jsonLineToItem('{"level":30,"time":"2024-05-01T10:00:00.5Z","msg":"b"}', 'INFO')).timestamp).toBe('2024-05-01T10:00:00.5Z');
    expect(wire(jsonLineToItem('{"level":"info","ts":1700000000.25,"msg":"z"}', 'INFO')).timestamp).toBe(1700000000250);
    expect(wire(jsonLineToItem('{"@timestamp":"2024-05-01T10:00:00Z","message":"l"}', 'INFO'))).toMatchObject({
      timestamp: '2024-05-01T10:00:00Z',
      message: 'l',
      level: 'INFO',
    });
  });

  it('gives a line without a usable time the time it was read, keeping an unreadable timestamp', () => {
    const before = new Date().toISOString().slice(0, 19);
    const item = wire(jsonLineToItem('{"timestamp":"yesterday","message":"m"}', 'INFO'));
    expect(item.original_timestamp).toBe('yesterday');
    expect(String(item.timestamp) >= before).toBe(true);
    expect(String(item.timestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // An unreadable `time` stays where it was (it becomes context), and is not used.
    expect(wire(jsonLineToItem('{"time":"soon","message":"m"}', 'INFO')).time).toBe('soon');
  });

  it('maps levels the gateway does not know but loggers use, and keeps an unknown one aside', () => {
    expect(wire(jsonLineToItem('{"level":"silly","message":"s"}', 'WARN')).level).toBe('debug');
    expect(wire(jsonLineToItem('{"level":"http","message":"h"}', 'WARN')).level).toBe('info');
    expect(wire(jsonLineToItem('{"level":"WARNING","message":"w"}', 'INFO')).level).toBe('WARNING');
    expect(wire(jsonLineToItem('{"level":"L3","message":"u"}', 'ERROR'))).toMatchObject({ level: 'ERROR', original_level: 'L3' });
    // pino custom levels: the nearest one, as @sluice/client ranks them.
    expect(wire(jsonLineToItem('{"level":35,"message":"c"}', 'ERROR')).level).toBe('warning');
    expect(wire(jsonLineToItem('{"level":true,"message":"u"}', 'ERROR'))).toMatchObject({ level: 'ERROR', original_level: true });
    expect(wire(jsonLineToItem('{"message":"no level"}', 'FATAL')).level).toBe('FATAL');
  });

  it('finds the message in message or msg, as JSON text when not a string, else the line itself', () => {
    expect(wire(jsonLineToItem('{"message":42}', 'INFO')).message).toBe('42');
    expect(wire(jsonLineToItem('{"msg":{"a":1}}', 'INFO'))).toMatchObject({ message: '{"a":1}' });
    expect(wire(jsonLineToItem('{"msg":{"a":1}}', 'INFO')).msg).toBeUndefined();
    const line = '{"event":"signup","user":12}';
    expect(wire(jsonLineToItem(line, 'INFO'))).toMatchObject({ message: line, event: 'signup', user: 12 });
  });

  it("does not let a line pick its app: app_id is dropped, or is the environment beside app_key", () => {
    const item = wire(jsonLineToItem('{"app_id":"someone-else","message":"m"}', 'INFO'));
    expect(item.app_id).toBeUndefined();
    expect(wire(jsonLineToItem('{"app_key":"billing","app_id":"production","message":"m"}', 'INFO'))).toMatchObject({
      environment: 'production',
    });
    expect(wire(jsonLineToItem('{"app_key":"billing","message":"m"}', 'INFO')).app_key).toBeUndefined();
  });

  it('refuses what is not an object, or an entry the gateway would refuse', () => {
    for (const text of ['[1,2]', '"text"', '42', 'null', '{"message":"unclosed"', '{bare}']) expect(jsonLineToItem(text, 'INFO')).toBeUndefined();
    for (const text of ['{"message":"m","source":5}', '{"message":"m","tags":"a,b"}', '{"message":"m","context":"str"}']) {
      expect(jsonLineToItem(text, 'INFO')).toBeUndefined();
    }
  });

  it('treats null fields as absent (so --source and the request id still apply)', () => {
    const item = jsonLineToItem('{"message":"m","source":null,"context":null,"level":null,"timestamp":null}', 'WARN')!;
    expect(wire(item)).toMatchObject({ message: 'm', level: 'WARN' });
    expect(item.source).toBeUndefined();
    expect(item.context).toBeUndefined();
  });
});

describe('LineMapper', () => {
  it('skips blank lines, sends others as text at the default level, JSON objects as entries', () => {
    const m = new LineMapper('WARN');
    expect(m.map(Buffer.from(''), false)).toBeNull();
    expect(m.map(Buffer.from(' \t\r'), false)).toBeNull();
    expect(m.map(Buffer.from('GET / 200'), false)).toEqual({ level: 'WARN', message: 'GET / 200' });
    expect(wire(m.map(Buffer.from('  {"level":"error","message":"j"}'), false))).toMatchObject({ level: 'error', message: 'j' });
    expect(m.map(Buffer.from('{not json'), false)).toEqual({ level: 'WARN', message: '{not json' });
    expect(m.map(Buffer.from('{"message":"cut'), true)).toEqual({ level: 'WARN', message: '{"message":"cut', tags: ['truncated'] });
    expect({ lines: m.lines, jsonAsText: m.jsonAsText }).toEqual({ lines: 4, jsonAsText: 1 });
  });
});

describe('splitBySize', () => {
  it('keeps a batch that fits whole, splits one that does not, in order, one entry at least per part', () => {
    const small = ['{"a":1}', '{"b":2}'];
    expect(splitBySize(small, 1024)).toEqual([small]);
    const big = Array.from({ length: 10 }, (_, i) => `"${String(i).repeat(100)}"`);
    const parts = splitBySize(big, 400);
    expect(parts.flat()).toEqual(big);
    for (const p of parts) expect(p.reduce((n, e) => n + Buffer.byteLength(e) + 1, 64)).toBeLessThanOrEqual(400);
    expect(splitBySize(['x'.repeat(1000)], 400)).toEqual([['x'.repeat(1000)]]);
  });
});

/** A transport that records what it is given and answers from a script (then OK). */
class ScriptedTransport implements Transport {
  readonly calls: Array<{ id: string; entries: Array<Record<string, unknown>> }> = [];
  constructor(private readonly answers: Array<SendResult | (() => Promise<SendResult>)> = []) {}
  async send(id: string, entries: string[]): Promise<SendResult> {
    this.calls.push({ id, entries: entries.map((e) => JSON.parse(e) as Record<string, unknown>) });
    const a = this.answers.shift() ?? OK;
    return typeof a === 'function' ? a() : a;
  }
  messages(): string[] {
    return this.calls.flatMap((c) => c.entries.map((e) => e.message as string));
  }
}

describe('WatchedTransport', () => {
  const entries = Array.from({ length: 6 }, (_, i) => JSON.stringify({ message: `${i}`.repeat(100) }));

  it('sends a large batch as parts with ids of their own; a retry skips the parts delivered', async () => {
    const inner = new ScriptedTransport([OK, { ok: false, retryable: true, error: 'ECONNRESET' }]);
    const t = new WatchedTransport(inner, {}, 300);
    const first = await t.send('b1', entries);
    expect(first).toMatchObject({ ok: false, retryable: true });
    expect(await t.send('b1', entries)).toEqual(OK);
    const ids = inner.calls.map((c) => c.id);
    expect(ids[0]).toBe('b1.1');
    expect(ids[1]).toBe('b1.2');
    expect(ids.slice(2)).not.toContain('b1.1');
    expect(new Set(ids.slice(1))).toEqual(new Set(ids.slice(1)));
    // Every entry went exactly once in a part that was answered OK, in order.
    const delivered = inner.calls.filter((_, i) => i !== 1).flatMap((c) => c.entries.map((e) => e.message));
    expect(delivered).toEqual(entries.map((e) => (JSON.parse(e) as { message: string }).message));
    expect(t.lastError).toBe('ECONNRESET');
  });

  it('counts the entries of a refused part and still sends the rest; all refused is a refusal', async () => {
    const refusal: SendResult = { ok: false, retryable: false, status: 413, error: 'HTTP 413 body_too_large' };
    const inner = new ScriptedTransport([refusal]);
    const t = new WatchedTransport(inner, {}, 300);
    expect(await t.send('b2', entries)).toEqual(OK);
    expect(t.refused).toBe(inner.calls[0]!.entries.length);
    const allRefused = new WatchedTransport(new ScriptedTransport(Array(10).fill(refusal)), {}, 300);
    expect(await allRefused.send('b3', entries)).toEqual(refusal);
    expect(allRefused.refused).toBe(0);
  });

  it('tells when sends start failing, when they recover, and when the token is refused', async () => {
    const events: string[] = [];
    const inner = new ScriptedTransport([
      { ok: false, retryable: true, error: 'ECONNREFUSED' },
      { ok: false, retryable: true, error: 'ECONNREFUSED' },
      OK,
      { ok: false, retryable: false, status: 401, error: 'HTTP 401 unauthorized' },
      { ok: false, retryable: false, status: 404, error: 'HTTP 404 app_not_found' },
    ]);
    const t = new WatchedTransport(inner, {
      failing: (e) => events.push(`failing ${e}`),
      recovered: () => events.push('recovered'),
      fatal: (code, e) => events.push(`fatal ${code} ${e}`),
    });
    for (let i = 0; i < 5; i++) await t.send(`b${i}`, ['{}']);
    expect(events).toEqual(['failing ECONNREFUSED', 'recovered', `fatal ${EXIT.auth} HTTP 401 unauthorized`, `fatal ${EXIT.failure} HTTP 404 app_not_found`]);
  });
});

describe('Backlog', () => {
  it('is full at the high marks and roomy again at the low ones, by lines and by bytes', () => {
    const b = new Backlog();
    expect(b.full(BACKLOG.highLines - 1)).toBe(false);
    expect(b.full(BACKLOG.highLines)).toBe(true);
    expect(b.roomy(BACKLOG.lowLines + 1)).toBe(false);
    expect(b.roomy(BACKLOG.lowLines)).toBe(true);
    for (let i = 0; i < 20; i++) b.add(BACKLOG.highBytes / 10);
    expect(b.full(20)).toBe(true);
    // The logger sent the oldest 15: what it still holds is the last 5 handed over.
    expect(b.roomy(6)).toBe(false);
    expect(b.roomy(5)).toBe(true);
  });
});

describe('runSend', () => {
  let err: { text: string; write(s: string): boolean };
  beforeEach(() => {
    err = {
      text: '',
      write(s: string) {
        this.text += s;
        return true;
      },
    };
  });
  afterEach(() => {
    expect(err.text).not.toContain('SECRET');
  });

  const options = (o: Partial<SendOptions>): SendOptions => ({
    url: 'http://127.0.0.1:9',
    token: TOKEN,
    app: 'shop',
    level: 'INFO',
    fromStart: false,
    timeoutMs: DEFAULT_SEND_TIMEOUT_MS,
    maxLineBytes: DEFAULT_MAX_LINE_BYTES,
    transport: 'http',
    ...o,
  });

  it('sends every line of the input in order, as the client builds entries, and exits 0', async () => {
    const t = new ScriptedTransport();
    const input = Readable.from([Buffer.from('plain one\n{"level":40,"msg":"json two","k":1}\r\n\n'), Buffer.from('three without newline')]);
    const code = await runSend(options({ customTransport: t, input, source: 'cron', level: 'ERROR' }), { err });
    expect(code).toBe(EXIT.ok);
    expect(err.text).toBe('');
    expect(t.messages()).toEqual(['plain one', 'json two', 'three without newline']);
    const [a, b, c] = t.calls.flatMap((x) => x.entries);
    expect(a).toMatchObject({ level: 'ERROR', message: 'plain one', app_id: 'shop', source: 'cron' });
    expect(b).toMatchObject({ level: 40, message: 'json two', k: 1, app_id: 'shop', source: 'cron' });
    expect(b).not.toHaveProperty('msg');
    expect((b!.context as { request_id?: string }).request_id).toBeTypeOf('string');
    expect(c).toMatchObject({ level: 'ERROR', message: 'three without newline' });
  });

  it('without --app sends entries with no app_id (an ingest token names its app)', async () => {
    const t = new ScriptedTransport();
    const { app: _omit, ...rest } = options({ customTransport: t, input: Readable.from(['x\n']) });
    expect(await runSend(rest, { err })).toBe(EXIT.ok);
    expect(t.calls[0]!.entries[0]).not.toHaveProperty('app_id');
  });

  it('pauses reading while the gateway does not answer, and loses nothing once it does', async () => {
    let release!: () => void;
    const held = new Promise<SendResult>((r) => (release = () => r(OK)));
    const t = new ScriptedTransport([() => held]);
    const TOTAL = 40_000;
    let produced = 0;
    async function* lines() {
      for (let i = 0; i < TOTAL; i += 100) {
        produced = i + 100;
        yield Buffer.from(Array.from({ length: 100 }, (_, k) => `line ${i + k}\n`).join(''));
      }
    }
    const run = runSend(options({ customTransport: t, input: Readable.from(lines(), { objectMode: false }) }), { err });
    await new Promise((r) => setTimeout(r, 400));
    // Read: the marks, one step of lines, and what the stream buffers; far from everything.
    expect(produced).toBeGreaterThanOrEqual(BACKLOG.highLines);
    expect(produced).toBeLessThan(BACKLOG.highLines + 3_000);
    release();
    expect(await run).toBe(EXIT.ok);
    expect(t.messages()).toEqual(Array.from({ length: TOTAL }, (_, i) => `line ${i}`));
  });

  it('exits 1 with the count when lines could not be delivered before the timeout', async () => {
    const t = new ScriptedTransport(Array(50).fill({ ok: false, retryable: true, error: 'ECONNREFUSED' }));
    const code = await runSend(options({ customTransport: t, input: Readable.from(['a\nb\nc\n']), timeoutMs: 300 }), { err });
    expect(code).toBe(EXIT.failure);
    expect(err.text).toContain('sluice send: 3 of 3 lines could not be delivered (ECONNREFUSED; gave up after 0.3s)\n');
  });

  it('stops reading and exits 3 when the token is refused, never printing it', async () => {
    const refusal: SendResult = { ok: false, retryable: false, status: 401, error: `HTTP 401 unauthorized: unknown token ${TOKEN}` };
    const t = new ScriptedTransport(Array(500).fill(refusal));
    async function* endless() {
      for (let i = 0; ; i++) {
        yield Buffer.from(`line ${i}\n`.repeat(600));
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    const code = await runSend(options({ customTransport: t, input: Readable.from(endless()) }), { err });
    expect(code).toBe(EXIT.auth);
    expect(err.text).toMatch(/sluice send: (\d+) of \1 lines could not be delivered \(HTTP 401 unauthorized: unknown token \[token\]; stopped reading\)/);
  });

  it('stops on the signal and delivers what was read', async () => {
    const t = new ScriptedTransport();
    const ac = new AbortController();
    async function* slow() {
      yield Buffer.from('first\nsecond\npartial');
      await new Promise((r) => setTimeout(r, 60_000));
    }
    const run = runSend(options({ customTransport: t, input: Readable.from(slow()), signal: ac.signal }), { err });
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    expect(await run).toBe(EXIT.ok);
    expect(t.messages()).toEqual(['first', 'second', 'partial']);
  });

  describe('-f', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'sluice-send-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const until = async (cond: () => boolean, ms = 5_000) => {
      const start = Date.now();
      while (!cond()) {
        if (Date.now() - start > ms) throw new Error('timed out waiting');
        await new Promise((r) => setTimeout(r, 10));
      }
    };

    it('starts at the end, follows rotation and truncation, and sends the last partial line on stop', async () => {
      const file = join(dir, 'app.log');
      await writeFile(file, 'already there\n');
      const t = new ScriptedTransport();
      const ac = new AbortController();
      const run = runSend(options({ customTransport: t, file, signal: ac.signal, pollIntervalMs: 30 }), { err });
      // Time to open the file (at its end) before lines are added.
      await new Promise((r) => setTimeout(r, 500));
      await appendFile(file, 'one\ntwo\n');
      await until(() => t.messages().length === 2);
      await appendFile(file, 'three (just before the rotation)\n');
      await rename(file, `${file}.1`);
      await writeFile(file, 'four\n');
      await until(() => t.messages().length === 4);
      await truncate(file, 0);
      await new Promise((r) => setTimeout(r, 150));
      await appendFile(file, 'five\nsix without newline');
      await until(() => t.messages().length === 5);
      ac.abort();
      expect(await run).toBe(EXIT.ok);
      expect(t.messages()).toEqual(['one', 'two', 'three (just before the rotation)', 'four', 'five', 'six without newline']);
      // As tail -F does, it says so on stderr (a rename may also be seen as "gone, then a new file").
      expect(err.text).toContain('watched file was truncated');
    });

    it('--from-start sends what the file holds first; a missing file is waited for', async () => {
      const file = join(dir, 'app.log');
      await writeFile(file, 'old 1\nold 2\n');
      const t = new ScriptedTransport();
      const ac = new AbortController();
      const run = runSend(options({ customTransport: t, file, fromStart: true, signal: ac.signal, pollIntervalMs: 30 }), { err });
      await until(() => t.messages().length === 2);
      ac.abort();
      expect(await run).toBe(EXIT.ok);

      const later = join(dir, 'later.log');
      const t2 = new ScriptedTransport();
      const ac2 = new AbortController();
      const run2 = runSend(options({ customTransport: t2, file: later, signal: ac2.signal, pollIntervalMs: 30 }), { err });
      await new Promise((r) => setTimeout(r, 100));
      await writeFile(later, 'created after the start\n');
      await until(() => t2.messages().length === 1);
      ac2.abort();
      expect(await run2).toBe(EXIT.ok);
      expect(t2.messages()).toEqual(['created after the start']);
      expect(err.text).toContain('does not exist (yet)');
    });

    it('refuses a directory with exit 2', async () => {
      expect(await runSend(options({ customTransport: new ScriptedTransport(), file: dir }), { err })).toBe(EXIT.usage);
      expect(err.text).toContain('is not a regular file');
    });
  });
});
