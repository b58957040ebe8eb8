import { once } from 'node:events';
import winston from 'winston';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SendResult, Transport } from './http.js';
import { DistributedLogger } from './logger.js';
import { SluiceTransport, type SluiceTransportOptions } from './winston.js';

/**
 * The Winston transport with real winston: levels, fields, stacks and timestamps as entries, and
 * `logger.end()` → `finish` only once the entries were handed to the (fake) wire.
 */

type Sent = Record<string, any>;

/** Records every entry sent; answers after `delayMs`. */
class FakeTransport implements Transport {
  entries: Sent[] = [];
  batches = 0;
  constructor(private readonly delayMs = 0) {}
  async send(_batchId: string, entries: string[]): Promise<SendResult> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    this.batches++;
    for (const e of entries) this.entries.push(JSON.parse(e));
    return { ok: true, status: 201, duplicate: false };
  }
}

function make(opts: { winston?: winston.LoggerOptions; transport?: SluiceTransportOptions; delayMs?: number } = {}) {
  const wire = new FakeTransport(opts.delayMs);
  const sluice = new SluiceTransport({ serviceName: 'shop', componentName: 'api', handleExit: false, transport: wire, ...opts.transport });
  const logger = winston.createLogger({ level: 'silly', ...opts.winston, transports: [sluice] });
  return { wire, sluice, logger };
}

/** `logger.end()` and the `finish` Winston emits after its transports finished. */
async function end(logger: winston.Logger): Promise<void> {
  const finished = once(logger, 'finish');
  logger.end();
  await finished;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('SluiceTransport levels', () => {
  it('maps the npm levels', async () => {
    const { wire, logger } = make();
    for (const level of ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']) logger.log(level, level);
    await end(logger);
    expect(wire.entries.map((e) => [e.message, e.level])).toEqual([
      ['error', 'ERROR'],
      ['warn', 'WARN'],
      ['info', 'INFO'],
      ['http', 'INFO'],
      ['verbose', 'DEBUG'],
      ['debug', 'DEBUG'],
      ['silly', 'DEBUG'],
    ]);
  });

  it('maps the syslog levels', async () => {
    const { wire, logger } = make({ winston: { levels: winston.config.syslog.levels, level: 'debug' } });
    const names = ['emerg', 'alert', 'crit', 'error', 'warning', 'notice', 'info', 'debug'];
    for (const level of names) logger.log(level, level);
    await end(logger);
    expect(wire.entries.map((e) => e.level)).toEqual(['FATAL', 'FATAL', 'FATAL', 'ERROR', 'WARN', 'INFO', 'INFO', 'DEBUG']);
  });

  it('reads the level before format.colorize() painted it; custom names through levelMap, else INFO', async () => {
    const { wire, logger } = make({
      winston: { levels: { panic: 0, error: 1, audit: 2, info: 3 }, level: 'info', format: winston.format.colorize({ all: true, colors: { panic: 'red', audit: 'cyan' } }) },
      transport: { levelMap: { panic: 'fatal' } },
    });
    logger.log('panic', 'p');
    logger.log('error', 'e');
    logger.log('audit', 'a');
    await end(logger);
    expect(wire.entries.map((e) => e.level)).toEqual(['FATAL', 'ERROR', 'INFO']);
    // colorize({ all: true }) paints the message too: what Winston made is what is sent.
    expect(wire.entries[1].message).toContain('e');
  });

  it("honours the transport's own level (winston-transport filters before log())", async () => {
    const { wire, logger } = make({ transport: { level: 'warn' } });
    logger.info('not sent');
    logger.warn('sent');
    logger.error('sent too');
    await end(logger);
    expect(wire.entries.map((e) => e.message)).toEqual(['sent', 'sent too']);
  });
});

describe('SluiceTransport fields', () => {
  it('meta, defaultMeta and child bindings → context; tags → tags; no symbol key, level or message in context', async () => {
    const { wire, logger } = make({ winston: { defaultMeta: { service: 'user-service' }, format: winston.format.combine(winston.format.splat(), winston.format.json()) } });
    logger.info('User %s logged in', 'ada', { user_id: 12345, login_method: 'oauth', tags: ['auth', 'login'] });
    logger.child({ request: 'r-1' }).warn('slow', { ms: 812 });
    await end(logger);
    const [login, slow] = wire.entries;
    expect(login).toMatchObject({ level: 'INFO', message: 'User ada logged in', app_id: 'shop', source: 'api', tags: ['auth', 'login'] });
    expect(login.context).toEqual({ request_id: expect.any(String), service: 'user-service', user_id: 12345, login_method: 'oauth' });
    expect(slow.context).toEqual({ request_id: expect.any(String), service: 'user-service', request: 'r-1', ms: 812 });
  });

  it("the seed's usage: a `context` object's fields are the context, `tags` the tags", async () => {
    const { wire, logger } = make({ winston: { format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()) } });
    logger.info('User logged in', { context: { user_id: '12345', ip: '192.168.1.1' }, tags: ['auth'] });
    logger.error('Payment failed', { context: { order_id: 'ORD-789', amount: 49.99 }, tags: ['payment', 'critical'] });
    await end(logger);
    expect(wire.entries[0]).toMatchObject({ level: 'INFO', tags: ['auth'] });
    expect(wire.entries[0].context).toEqual({ request_id: expect.any(String), user_id: '12345', ip: '192.168.1.1' });
    expect(wire.entries[1]).toMatchObject({ level: 'ERROR', tags: ['payment', 'critical'], context: { order_id: 'ORD-789', amount: 49.99 } });
  });

  it('reads the info without changing it (the same object may go to other transports)', () => {
    const wire = new FakeTransport();
    const t = new SluiceTransport({ handleExit: false, transport: wire });
    const LEVEL = Symbol.for('level');
    const info = { [LEVEL]: 'info', level: 'info', message: 'm', stack: 'Error: x', timestamp: '2025-01-15T14:22:00.000Z', a: 1 };
    const before = { ...info };
    const next = vi.fn();
    t.log(info, next);
    expect(next).toHaveBeenCalledTimes(1);
    expect(info).toEqual(before);
    expect(info[LEVEL]).toBe('info');
    void t.logger.stop();
  });

  it('stack traces: format.errors({ stack: true }), an Error as meta, an Error under `error`', async () => {
    const { wire, logger } = make({ winston: { format: winston.format.combine(winston.format.errors({ stack: true }), winston.format.json()) } });
    logger.error(new Error('boom'));
    logger.error('Database connection failed', new Error('CONN_TIMEOUT'));
    logger.warn('retrying', { error: new Error('ECONNRESET'), attempt: 2 });
    await end(logger);
    const [boom, db, retry] = wire.entries;
    expect(boom).toMatchObject({ level: 'ERROR', message: 'boom' });
    expect(boom.stack_trace).toMatch(/^Error: boom\n\s+at /);
    expect(boom.context).not.toHaveProperty('stack');
    // Winston appends an Error meta's message to the message.
    expect(db).toMatchObject({ level: 'ERROR', message: 'Database connection failed CONN_TIMEOUT' });
    expect(db.stack_trace).toMatch(/^Error: CONN_TIMEOUT\n/);
    expect(retry).toMatchObject({ level: 'WARN', context: { error: 'ECONNRESET', attempt: 2 } });
    expect(retry.stack_trace).toMatch(/^Error: ECONNRESET\n/);
  });

  it("format.timestamp()'s ISO time is the entry's timestamp; a custom format stays in context", async () => {
    const iso = make({ winston: { format: winston.format.timestamp() } });
    iso.logger.info('at a time');
    await end(iso.logger);
    const custom = make({ winston: { format: winston.format.timestamp({ format: 'YYYY-MM-DD HH:mm:ss' }) } });
    custom.logger.info('local time');
    await end(custom.logger);
    const fixed = make();
    fixed.logger.info({ message: 'given', timestamp: '2025-01-15T14:22:00.123456Z' });
    await end(fixed.logger);

    const a = iso.wire.entries[0];
    expect(a.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(a.timestamp) - Date.now())).toBeLessThan(10_000);
    expect(a.context).not.toHaveProperty('timestamp');
    const b = custom.wire.entries[0];
    expect(b.context.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(b.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(fixed.wire.entries[0].timestamp).toBe('2025-01-15T14:22:00.123456Z');
  });

  it('a message that is not a string is sent as JSON; no message is an empty one', async () => {
    const { wire, logger } = make();
    logger.info({ message: { a: 1 } });
    logger.log({ level: 'info' } as winston.LogEntry);
    await end(logger);
    expect(wire.entries.map((e) => e.message)).toEqual(['{"a":1}', '']);
  });
});

describe('SluiceTransport closing', () => {
  it("logger.end(): 'finish' comes only after the logger delivered what was logged right before", async () => {
    const { wire, sluice, logger } = make({ delayMs: 150 });
    for (let i = 0; i < 250; i++) logger.info(`m${i}`, { i });
    const t0 = Date.now();
    await end(logger);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(wire.entries).toHaveLength(250);
    expect(sluice.logger.stats()).toMatchObject({ sent: 250, buffered: 0, state: 'stopped' });
  });

  it('logger.close() starts the delivery: the owned logger stops once everything is sent', async () => {
    const { wire, sluice, logger } = make({ delayMs: 50 });
    logger.info('right before close');
    logger.close();
    expect(sluice.logger.state).toBe('stopping');
    await vi.waitFor(() => expect(sluice.logger.state).toBe('stopped'));
    expect(wire.entries.map((e) => e.message)).toEqual(['right before close']);
  });

  it('a shared logger is flushed on end, not stopped: its owner stops it', async () => {
    const wire = new FakeTransport();
    const shared = new DistributedLogger({ handleExit: false, transport: wire }).start();
    const logger = winston.createLogger({ transports: [new SluiceTransport({ logger: shared })] });
    logger.info('via winston');
    shared.info('direct');
    await end(logger);
    expect(wire.entries.map((e) => e.message)).toEqual(['via winston', 'direct']);
    expect(shared.state).toBe('batching');
    await shared.stop();
  });

  it("an uncaught exception's entry is sent at once (Winston waits at most 3 s before exiting)", async () => {
    const { wire, sluice } = make({ transport: { handleExceptions: true, flushIntervalMs: 60_000 } });
    const next = vi.fn();
    sluice.log({ [Symbol.for('level')]: 'error', level: 'error', message: 'uncaughtException: x', exception: true, stack: 'Error: x' }, next);
    await vi.waitFor(() => expect(wire.entries).toHaveLength(1));
    expect(wire.entries[0]).toMatchObject({ level: 'ERROR', stack_trace: 'Error: x', context: { exception: true } });
    await sluice.logger.stop();
  });
});
