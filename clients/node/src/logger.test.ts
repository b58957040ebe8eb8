import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, parseRetryAfter } from './backoff.js';
import { ingestUrl, isRetryableStatus, type SendResult, type Transport } from './http.js';
import { DistributedLogger, type LoggerOptions, type LoggerState } from './logger.js';

interface Call { batchId: string; entries: Array<Record<string, any>> }

/** A transport that records each attempt and answers with `answer` (default: stored). */
class FakeTransport implements Transport {
  calls: Call[] = [];
  answer: (call: Call, n: number) => SendResult = () => ({ ok: true, status: 201, duplicate: false });
  async send(batchId: string, entries: string[]): Promise<SendResult> {
    const call = { batchId, entries: entries.map((e) => JSON.parse(e)) };
    this.calls.push(call);
    return this.answer(call, this.calls.length);
  }
}

const DOWN: SendResult = { ok: false, retryable: true, error: 'ECONNREFUSED' };

function make(opts: LoggerOptions = {}) {
  const transport = new FakeTransport();
  const logger = new DistributedLogger({
    serviceName: 'shop',
    componentName: 'checkout',
    handleExit: false,
    transport,
    random: () => 0.5,
    ...opts,
  });
  const states: LoggerState[] = [];
  logger.on('state', (e: { to: LoggerState }) => states.push(e.to));
  return { logger, transport, states };
}

/** Lets setImmediate, the fake transport's promise and what follows run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
  vi.spyOn(console, 'error').mockImplementation(() => {});
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('the batcher', () => {
  it('sends a batch as soon as 100 entries wait, without waiting for the timer', async () => {
    const { logger, transport } = make();
    logger.start();
    for (let i = 0; i < 250; i++) logger.info(`m${i}`);
    await settle();
    expect(transport.calls.map((c) => c.entries.length)).toEqual([100, 100]);
    expect(logger.stats()).toMatchObject({ sent: 200, buffered: 50, state: 'batching' });
    // The remaining 50 go when their 5 s are up.
    await vi.advanceTimersByTimeAsync(4_999);
    expect(transport.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.calls.map((c) => c.entries.length)).toEqual([100, 100, 50]);
    expect(transport.calls.flatMap((c) => c.entries.map((e) => e.message))).toEqual(
      Array.from({ length: 250 }, (_, i) => `m${i}`),
    );
  });

  it('sends a partial batch 5 s after its first entry, and honours batchSize / flushIntervalMs', async () => {
    const { logger, transport } = make({ batchSize: 3, flushIntervalMs: 1_000 });
    logger.start();
    logger.info('a');
    await vi.advanceTimersByTimeAsync(500);
    logger.info('b');
    await vi.advanceTimersByTimeAsync(499);
    expect(transport.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.calls.map((c) => c.entries.map((e) => e.message))).toEqual([['a', 'b']]);
    for (const m of ['c', 'd', 'e']) logger.info(m);
    await settle();
    expect(transport.calls.map((c) => c.entries.length)).toEqual([2, 3]);
  });

  it('flush() sends what waits now and resolves once delivered', async () => {
    const { logger, transport } = make();
    logger.start();
    logger.info('one');
    const done = logger.flush();
    await settle();
    await done;
    expect(transport.calls).toHaveLength(1);
    expect(logger.stats().buffered).toBe(0);
  });
});

describe('flush and stop edge cases', () => {
  it('flush() on a logger never started resolves at once and keeps the entries for start()', async () => {
    const { logger, transport } = make();
    logger.info('early');
    await logger.flush();
    expect(transport.calls).toHaveLength(0);
    expect(logger.stats().buffered).toBe(1);
    logger.start();
    await logger.flush();
    expect(transport.calls.map((c) => c.entries.map((e) => e.message))).toEqual([['early']]);
  });

  it('a batch stop() gave up on while it was on the wire is counted once, as failed', async () => {
    const { logger, transport } = make({ stopTimeoutMs: 1_000 });
    let answer!: (r: SendResult) => void;
    transport.send = () => new Promise<SendResult>((r) => (answer = r));
    logger.start();
    logger.info('slow');
    void logger.flush();
    const stopped = logger.stop();
    await vi.advanceTimersByTimeAsync(1_000);
    await stopped;
    answer({ ok: true, status: 201, duplicate: false });
    await settle();
    expect(logger.stats()).toMatchObject({ sent: 0, failed: 1, buffered: 0, state: 'stopped' });
  });
});

describe('entries', () => {
  it('carry µs timestamps, a unique id, app_id, source, the level and the metadata as context', async () => {
    const { logger, transport } = make();
    logger.start();
    logger.debug('d');
    logger.info('User logged in successfully', { user_id: 12345, login_method: 'oauth', tags: ['auth'] });
    logger.warning('w');
    logger.warn('w2');
    logger.error('Database connection failed', { error: new Error('CONN_TIMEOUT') });
    logger.fatal('f');
    logger.custom('payment_completed', { amount: 99.99, currency: 'USD' });
    await logger.flush();
    const e = transport.calls[0]!.entries;
    expect(e.map((x) => x.level)).toEqual(['DEBUG', 'INFO', 'WARN', 'WARN', 'ERROR', 'FATAL', 'INFO']);
    for (const x of e) {
      expect(x.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(x).toMatchObject({ app_id: 'shop', source: 'checkout' });
    }
    expect(new Set(e.map((x) => x.context.request_id)).size).toBe(7);
    expect(e[1]).toMatchObject({ context: { user_id: 12345, login_method: 'oauth' }, tags: ['auth'] });
    expect(e[4]!.stack_trace).toContain('CONN_TIMEOUT');
    expect(e[6]).toMatchObject({ message: 'payment_completed', category: 'event', context: { amount: 99.99 }, tags: ['custom'] });
  });

  it('a log call never throws: circular metadata, a broken transport', async () => {
    const { logger, transport } = make();
    transport.send = () => {
      throw new Error('boom');
    };
    logger.start();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => logger.info('circular', circular)).not.toThrow();
    expect(() => logger.info('bigint', { n: 1n })).not.toThrow();
    expect(logger.stats().buffered).toBe(2);
  });

  it('minLevel and sampleRate (ERROR and FATAL always kept)', async () => {
    const { logger, transport } = make({ minLevel: 'warn', sampleRate: 0.0001, random: () => 0.9 });
    logger.start();
    logger.debug('x');
    logger.info('x');
    logger.warn('sampled away');
    logger.error('kept');
    logger.fatal('kept');
    await logger.flush();
    expect(transport.calls[0]!.entries.map((x) => x.message)).toEqual(['kept', 'kept']);
    expect(logger.stats().sampled).toBe(1);
  });

  it('reads SLUICE_URL, SLUICE_TOKEN and SLUICE_SERVICE; endpoint is the base or the /api/logs URL', () => {
    vi.stubEnv('SLUICE_URL', 'http://gw:9000/');
    vi.stubEnv('SLUICE_SERVICE', 'billing');
    const logger = new DistributedLogger({ handleExit: false });
    expect(logger.endpoint).toBe('http://gw:9000/');
    expect(logger.serviceName).toBe('billing');
    vi.unstubAllEnvs();
    expect(ingestUrl('http://gw:9000/')).toBe('http://gw:9000/api/logs');
    expect(ingestUrl('http://gw:9000/api/logs')).toBe('http://gw:9000/api/logs');
    expect(ingestUrl('https://gw/base/api/logs/')).toBe('https://gw/base/api/logs');
  });
});

describe('the backoff', () => {
  it('is full jitter over 1, 2, 4, 8 … s, capped at 30 s', () => {
    const low = () => 0;
    const high = () => 0.999999;
    for (const [attempt, ceiling] of [[0, 1_000], [1, 2_000], [2, 4_000], [3, 8_000], [4, 16_000], [5, 30_000], [12, 30_000]] as const) {
      expect(backoffDelay(attempt, undefined, low)).toBe(0);
      const top = backoffDelay(attempt, undefined, high);
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThanOrEqual(ceiling - 1);
    }
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(3);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(8_000);
    }
  });

  it('Retry-After wins, as seconds or an HTTP date', () => {
    expect(backoffDelay(0, 7_000)).toBe(7_000);
    expect(parseRetryAfter('3')).toBe(3_000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:12 GMT', now)).toBe(12_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
    expect([408, 429, 500, 502, 503].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 413, 415].some(isRetryableStatus)).toBe(false);
  });

  it('retries the same batch_id after the jittered wait, and waits exactly Retry-After when given', async () => {
    const { logger, transport } = make({ random: () => 0.5 });
    transport.answer = (_c, n) =>
      n === 1 ? DOWN : n === 2 ? { ok: false, retryable: true, status: 503, retryAfterMs: 7_000, error: 'HTTP 503' } : { ok: true, status: 201, duplicate: false };
    logger.start();
    logger.info('x');
    void logger.flush();
    await settle();
    expect(transport.calls).toHaveLength(1);
    // first retry: 0.5 × 1 s
    await vi.advanceTimersByTimeAsync(499);
    expect(transport.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.calls).toHaveLength(2);
    // second retry: Retry-After 7 s, not the 1 s jitter
    await vi.advanceTimersByTimeAsync(6_999);
    expect(transport.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.calls).toHaveLength(3);
    expect(new Set(transport.calls.map((c) => c.batchId)).size).toBe(1);
    expect(logger.stats()).toMatchObject({ sent: 1, retries: 2, state: 'batching' });
  });
});

describe('the state machine', () => {
  it('Stopped → Starting → Batching ⇄ Sending → Error → Retrying → … → Failed, then recovers; stop() → Stopping → Stopped', async () => {
    const { logger, transport, states } = make({ maxRetries: 2, random: () => 0.5 });
    let up = false;
    transport.answer = () => (up ? { ok: true, status: 201, duplicate: false } : DOWN);
    const failedEvents: unknown[] = [];
    logger.on('batch_failed', (e) => failedEvents.push(e));
    expect(logger.stats().state).toBe('stopped');
    logger.start();
    logger.info('a');
    await vi.advanceTimersByTimeAsync(5_000); // the batch's 5 s: first attempt, then 0.5 × 1 s
    await vi.advanceTimersByTimeAsync(500); // second attempt, then 0.5 × 2 s
    await vi.advanceTimersByTimeAsync(1_000); // third attempt: maxRetries reached
    expect(states).toEqual([
      'starting', 'batching',
      'sending', 'error', 'retrying',
      'sending', 'error', 'retrying',
      'sending', 'error', 'failed',
    ]);
    expect(failedEvents).toEqual([expect.objectContaining({ permanent: false, count: 1 })]);
    // Failed still accepts log calls and keeps them.
    logger.info('b');
    expect(logger.stats()).toMatchObject({ state: 'failed', buffered: 2, sent: 0, failed: 0, retries: 2 });
    up = true;
    await vi.advanceTimersByTimeAsync(2_000); // the probe (0.5 × 4 s would be 2 s)
    expect(states.slice(11)).toEqual(['sending', 'batching']);
    expect(logger.stats()).toMatchObject({ sent: 1, buffered: 1, state: 'batching', retries: 3 });
    await logger.stop();
    expect(states.slice(-2)).toEqual(['stopping', 'stopped']);
    expect(logger.stats()).toMatchObject({ sent: 2, buffered: 0, state: 'stopped' });
  });

  it('stop() on a logger already Failed keeps trying until its deadline, and delivers when the gateway returns', async () => {
    const { logger, transport } = make({ maxRetries: 1, stopTimeoutMs: 60_000 });
    let up = false;
    transport.answer = () => (up ? { ok: true, status: 201, duplicate: false } : DOWN);
    logger.start();
    for (let i = 0; i < 10; i++) logger.info(`m${i}`);
    void logger.flush();
    await vi.advanceTimersByTimeAsync(5_000); // the send and its one retry fail: Failed
    expect(logger.state).toBe('failed');
    let done = false;
    const stopped = logger.stop().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(20_000); // several more failed attempts: stop() must not give up yet
    expect(done).toBe(false);
    up = true;
    await vi.advanceTimersByTimeAsync(31_000);
    await stopped;
    expect(logger.stats()).toMatchObject({ sent: 10, failed: 0, buffered: 0, state: 'stopped' });
  });

  it('stop() from Retrying delivers if it can, else gives up at its deadline and counts what it lost', async () => {
    const { logger, transport, states } = make({ stopTimeoutMs: 3_000 });
    transport.answer = () => DOWN;
    const lost: unknown[] = [];
    logger.on('dropped', (e) => lost.push(e));
    logger.start();
    for (let i = 0; i < 150; i++) logger.info(`m${i}`);
    await settle();
    expect(logger.state).toBe('retrying');
    const stopped = logger.stop();
    await vi.advanceTimersByTimeAsync(3_000);
    await stopped;
    expect(states.slice(-2)).toEqual(['stopping', 'stopped']);
    expect(logger.stats()).toMatchObject({ failed: 150, buffered: 0, state: 'stopped' });
    expect(lost).toEqual([{ count: 150, reason: 'stop' }]);
  });

  it('a permanent 4xx is counted and reported, and does not block the next batch', async () => {
    const { logger, transport } = make({ batchSize: 2 });
    transport.answer = (_c, n) => (n === 1 ? { ok: false, retryable: false, status: 400, error: 'HTTP 400 invalid_entry' } : { ok: true, status: 201, duplicate: false });
    const failed: any[] = [];
    logger.on('batch_failed', (e) => failed.push(e));
    logger.start();
    for (const m of ['a', 'b', 'c', 'd']) logger.info(m);
    await settle();
    await settle();
    expect(transport.calls.map((c) => c.entries.map((e) => e.message))).toEqual([['a', 'b'], ['c', 'd']]);
    expect(failed).toEqual([expect.objectContaining({ status: 400, count: 2, permanent: true })]);
    expect(logger.stats()).toMatchObject({ sent: 2, failed: 2, retries: 0 });
  });
});

describe('the bounded buffer', () => {
  it('drops exactly the oldest on overflow and, on recovery, one WARN entry gives the count and since when', async () => {
    const { logger, transport } = make({ maxBufferEntries: 10, batchSize: 100 });
    let up = false;
    transport.answer = () => (up ? { ok: true, status: 201, duplicate: false } : DOWN);
    const dropped: number[] = [];
    logger.on('dropped', (e: { count: number }) => dropped.push(e.count));
    logger.start();
    for (let i = 0; i < 25; i++) logger.info(`m${i}`);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(15);
    expect(logger.stats()).toMatchObject({ dropped: 15, buffered: 10 });
    up = true;
    await logger.flush();
    const messages = transport.calls.flatMap((c) => c.entries.map((e) => e.message));
    expect(messages.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i + 15}`));
    const warns = transport.calls.flatMap((c) => c.entries).filter((e) => e.category === 'sluice.client');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ level: 'WARN', context: { dropped: 15 }, tags: ['sluice-client', 'dropped'] });
    expect(warns[0]!.message).toMatch(/15 entries dropped since \d{4}-/);
    expect(logger.stats()).toMatchObject({ sent: 11, dropped: 15, buffered: 0 });
  });

  it('a loss report still waiting survives the next overflow; the entries after it go instead', async () => {
    // batchSize above the bound: batches go by the flush timer, so after a delivery the report
    // waits in the queue for the next one, and a flood can come meanwhile.
    const { logger, transport } = make({ maxBufferEntries: 10, batchSize: 20, flushIntervalMs: 1_000 });
    let up = false;
    transport.answer = (_call, n) => (up || n === 2 ? { ok: true, status: 201, duplicate: false } : DOWN);
    logger.start();
    for (let i = 0; i < 25; i++) logger.info(`a${i}`); // 15 dropped while down
    await vi.advanceTimersByTimeAsync(1_000); // the timer's batch fails
    await vi.advanceTimersByTimeAsync(1_000); // its retry is stored: the report waits for the timer
    expect(transport.calls).toHaveLength(2);
    for (let i = 0; i < 40; i++) logger.info(`b${i}`); // a second flood while the report waits
    up = true;
    await vi.advanceTimersByTimeAsync(10_000);
    await logger.flush();
    // Each batch once (a retry resends the same batch_id): what was delivered.
    const delivered = [...new Map(transport.calls.map((c) => [c.batchId, c.entries])).values()].flat();
    const reports = delivered.filter((e) => e.category === 'sluice.client').map((e) => e.context.dropped as number);
    expect(reports[0]).toBe(15); // the first report was not dropped by the second flood
    expect(reports.reduce((a, b) => a + b, 0)).toBe(logger.stats().dropped);
  });

  it('bounds bytes too', async () => {
    const { logger } = make({ maxBufferBytes: 2_000 });
    for (let i = 0; i < 50; i++) logger.info('x'.repeat(100));
    const s = logger.stats();
    expect(s.buffered).toBeLessThan(50);
    expect(s.buffered + s.dropped).toBe(50);
  });
});

describe('whole entries and odd metadata', () => {
  it('logEntry ranks a pino-style numeric level: an ERROR line (50) survives sampling and minLevel', async () => {
    const { logger, transport } = make({ sampleRate: 0, minLevel: 'error' });
    logger.start();
    expect(logger.logEntry({ level: 50, msg: 'boom', time: 1_700_000_000_000 })).toBe(true);
    logger.logEntry({ level: 30, msg: 'chatter' });
    expect(logger.logEntry([] as unknown as Record<string, unknown>)).toBe(false);
    await logger.flush();
    const sent = transport.calls.flatMap((c) => c.entries);
    expect(sent.map((e) => e.msg)).toEqual(['boom']);
    expect(sent[0]).toMatchObject({ app_id: 'shop', source: 'checkout', timestamp: 1_700_000_000_000 });
    expect(typeof sent[0]!.context.request_id).toBe('string');
  });

  it('an Error under any key keeps its type and message instead of serialising as {}', async () => {
    const { logger, transport } = make();
    logger.start();
    logger.error('failed', { cause: new TypeError('bad input'), err: new Error('top') });
    await logger.flush();
    const e = transport.calls[0]!.entries[0]!;
    expect(e.context.cause).toEqual({ type: 'TypeError', message: 'bad input' });
    expect(e.context.err).toBe('top');
    expect(e.stack_trace).toMatch(/^Error: top\n\s+at /);
  });
});

describe('the next batch, prepared while one is on the wire', () => {
  /** Sends wait for release(); records what prepare() and send() were given. */
  class PreparingTransport implements Transport {
    prepared: Array<{ batchId: string; messages: string[] }> = [];
    sent: Array<{ batchId: string; messages: string[] }> = [];
    private waiting: Array<() => void> = [];
    prepare(batchId: string, entries: string[]): void {
      this.prepared.push({ batchId, messages: entries.map((e) => JSON.parse(e).message) });
    }
    send(batchId: string, entries: string[]): Promise<SendResult> {
      this.sent.push({ batchId, messages: entries.map((e) => JSON.parse(e).message) });
      return new Promise((r) => this.waiting.push(() => r({ ok: true, status: 201, duplicate: false })));
    }
    release(): void {
      this.waiting.shift()?.();
    }
  }
  // The preparation runs in a setImmediate of its own after the send: fake immediates queued by
  // an immediate need the clock to move.
  const settle = () => vi.advanceTimersByTimeAsync(1);
  const start = (transport: Transport, opts: LoggerOptions = {}) =>
    new DistributedLogger({ serviceName: 'shop', handleExit: false, transport, batchSize: 3, ...opts }).start();

  it('the transport is handed the next full batch, which then goes under that id', async () => {
    const transport = new PreparingTransport();
    const logger = start(transport);
    for (let i = 0; i < 6; i++) logger.info(`m${i}`);
    await settle();
    expect(transport.sent).toEqual([{ batchId: expect.any(String), messages: ['m0', 'm1', 'm2'] }]);
    expect(transport.prepared).toEqual([{ batchId: expect.any(String), messages: ['m3', 'm4', 'm5'] }]);
    transport.release();
    await settle();
    expect(transport.sent[1]).toEqual({ batchId: transport.prepared[0]!.batchId, messages: ['m3', 'm4', 'm5'] });
    transport.release();
    await settle();
    expect(logger.stats()).toMatchObject({ sent: 6, buffered: 0 });
  });

  it('when the buffer dropped entries in between, the batch sent is what the buffer holds, under a new id', async () => {
    const transport = new PreparingTransport();
    const logger = start(transport, { maxBufferEntries: 7 });
    for (let i = 0; i < 6; i++) logger.info(`m${i}`);
    await settle();
    expect(transport.prepared.map((p) => p.messages)).toEqual([['m3', 'm4', 'm5']]);
    logger.info('m6');
    logger.info('m7'); // 8 > 7: m3, the oldest waiting, is dropped
    expect(logger.stats().dropped).toBe(1);
    transport.release();
    await settle();
    const second = transport.sent[1]!;
    expect(second.batchId).not.toBe(transport.prepared[0]!.batchId);
    expect(second.messages).toEqual([expect.stringMatching(/buffer overflow, 1 entries dropped/), 'm4', 'm5']);
  });
});
