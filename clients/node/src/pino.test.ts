import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { SendResult, Transport } from './http.js';
import sluicePinoTransport, { pinoLevel } from './pino.js';

/**
 * The pino transport: the level scale, the field mapping (the default export called directly,
 * fed by real pino in this thread), close → stop, and pino's own worker thread loading
 * `@sluice/client/pino` by name and sending to a small HTTP server here.
 */

type Sent = Record<string, any>;

class FakeTransport implements Transport {
  entries: Sent[] = [];
  constructor(private readonly delayMs = 0) {}
  async send(_batchId: string, entries: string[]): Promise<SendResult> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    for (const e of entries) this.entries.push(JSON.parse(e));
    return { ok: true, status: 201, duplicate: false };
  }
}

async function direct(opts: { delayMs?: number; messageKey?: string } = {}) {
  const wire = new FakeTransport(opts.delayMs);
  const stream = await sluicePinoTransport({ serviceName: 'shop', componentName: 'api', handleExit: false, transport: wire, messageKey: opts.messageKey });
  return { wire, stream };
}

async function endAndClose(stream: NodeJS.WritableStream & NodeJS.EventEmitter): Promise<void> {
  const closed = once(stream, 'close');
  stream.end();
  await closed;
}

describe('pinoLevel', () => {
  it("maps pino's numbers, custom ones to the nearest (ties to the more severe)", () => {
    const cases: Array<[number, string]> = [
      [10, 'debug'], [20, 'debug'], [30, 'info'], [40, 'warning'], [50, 'error'], [60, 'fatal'],
      [5, 'debug'], [25, 'info'], [34, 'info'], [35, 'warning'], [45, 'error'], [55, 'fatal'], [100, 'fatal'],
    ];
    for (const [n, want] of cases) expect([n, pinoLevel(n)]).toEqual([n, want]);
  });

  it("uses the config's label when Sluice knows the name, a label's number otherwise", () => {
    const levels = { labels: { 35: 'notice', 36: 'audit' }, values: { notice: 35, audit: 36, page: 58 } };
    expect(pinoLevel(35, levels)).toBe('info'); // `notice` by name, not 35 by number
    expect(pinoLevel(36, levels)).toBe('warning'); // unknown name: by number
    expect(pinoLevel('warn')).toBe('warning');
    expect(pinoLevel('page', levels)).toBe('fatal');
    expect(pinoLevel('whatever')).toBe('info');
    expect(pinoLevel(undefined)).toBe('info');
  });
});

describe('the transport stream (called directly)', () => {
  it('maps msg, time, err, hostname, pid, tags; every other field → context', async () => {
    const { wire, stream } = await direct();
    const log = pino({ level: 'trace', base: { pid: 4242, hostname: 'web-1' } }, stream);
    log.trace('cache warm');
    log.info({ user_id: 12345, login_method: 'oauth', tags: ['auth'] }, 'User logged in');
    log.child({ module: 'db' }).warn({ ms: 812 }, 'slow query');
    const err = Object.assign(new Error('CONN_TIMEOUT'), { code: 'ETIMEDOUT' });
    log.error(err, 'Database connection failed');
    log.fatal(new Error('out of memory'));
    log.info({ context: { order_id: 'ORD-789' }, amount: 49.99 }, 'seed-shaped');
    await endAndClose(stream);

    expect(wire.entries.map((e) => [e.level, e.message])).toEqual([
      ['DEBUG', 'cache warm'],
      ['INFO', 'User logged in'],
      ['WARN', 'slow query'],
      ['ERROR', 'Database connection failed'],
      ['FATAL', 'out of memory'],
      ['INFO', 'seed-shaped'],
    ]);
    const [warm, login, slow, db, oom, seed] = wire.entries;
    expect(warm).toMatchObject({ app_id: 'shop', source: 'api', host: 'web-1', proc: '4242' });
    expect(warm.context).toEqual({ request_id: expect.any(String) });
    expect(warm.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}000Z$/);
    expect(Math.abs(Date.parse(warm.timestamp) - Date.now())).toBeLessThan(10_000);
    expect(login).toMatchObject({ tags: ['auth'] });
    expect(login.context).toEqual({ request_id: expect.any(String), user_id: 12345, login_method: 'oauth' });
    expect(slow.context).toEqual({ request_id: expect.any(String), module: 'db', ms: 812 });
    expect(db.stack_trace).toMatch(/^Error: CONN_TIMEOUT\n\s+at /);
    expect(db.context.err).toEqual({ type: 'Error', message: 'CONN_TIMEOUT', code: 'ETIMEDOUT' });
    expect(oom.stack_trace).toMatch(/^Error: out of memory\n/);
    expect(seed.context).toEqual({ request_id: expect.any(String), order_id: 'ORD-789', amount: 49.99 });
  });

  it("takes pino's config from the logger it is given to: messageKey, errorKey, custom level names", async () => {
    const { wire, stream } = await direct();
    const log = pino({ messageKey: 'message', errorKey: 'error', customLevels: { notice: 35, audit: 36 }, level: 'info' }, stream);
    (log as any).notice('a notice');
    (log as any).audit('an audit');
    log.error({ error: new Error('x') }, 'with error');
    await endAndClose(stream);
    expect(wire.entries.map((e) => [e.level, e.message])).toEqual([
      ['INFO', 'a notice'],
      ['WARN', 'an audit'],
      ['ERROR', 'with error'],
    ]);
    expect(wire.entries[2].stack_trace).toMatch(/^Error: x\n/);
    expect(wire.entries[2].context).not.toHaveProperty('message');
  });

  it('time as epoch seconds, milliseconds or ISO; a line without msg has an empty message', async () => {
    const { wire, stream } = await direct();
    stream.write(`${JSON.stringify({ level: 30, time: 1736950920, msg: 'seconds' })}\n`);
    stream.write(`${JSON.stringify({ level: 30, time: '2025-01-15T14:22:00.123456Z', msg: 'iso' })}\n`);
    stream.write(`${JSON.stringify({ level: 30, time: 1736950920123, a: 1 })}\n`);
    stream.write(`${JSON.stringify({ level: 30, time: 1e20, msg: 'no such time' })}\n`);
    await endAndClose(stream);
    expect(wire.entries.slice(0, 3).map((e) => [e.timestamp, e.message])).toEqual([
      ['2025-01-15T14:22:00.000000Z', 'seconds'],
      ['2025-01-15T14:22:00.123456Z', 'iso'],
      ['2025-01-15T14:22:00.123000Z', ''],
    ]);
    expect(wire.entries[2].context).toEqual({ request_id: expect.any(String), a: 1 });
    // A time no Date can hold: the entry gets the time it was read, the value stays in context.
    expect(wire.entries[3]).toMatchObject({ message: 'no such time', context: { time: 1e20 } });
    expect(Math.abs(Date.parse(wire.entries[3].timestamp) - Date.now())).toBeLessThan(10_000);
  });

  it('ending the stream stops the logger: close waits until what was buffered is delivered', async () => {
    const { wire, stream } = await direct({ delayMs: 100 });
    const log = pino(stream);
    for (let i = 0; i < 150; i++) log.info({ i }, `m${i}`);
    log.info('right before end');
    await endAndClose(stream);
    expect(wire.entries).toHaveLength(151);
    expect(wire.entries.at(-1)!.message).toBe('right before end');
  });

  it('flush() (what thread-stream calls for pino’s logger.flush) resolves once delivered', async () => {
    const { wire, stream } = await direct({ delayMs: 50 });
    const log = pino(stream);
    log.info('one');
    log.info('two');
    await (stream as unknown as { flush(): Promise<void> }).flush();
    expect(wire.entries.map((e) => e.message)).toEqual(['one', 'two']);
    await endAndClose(stream);
  });
});

// ---------------------------------------------------------------------------------------------
// In pino's worker thread
// ---------------------------------------------------------------------------------------------

/** A stand-in gateway: stores each batch's entries and answers 201. */
async function fakeGateway() {
  const entries: Sent[] = [];
  const auth: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const raw = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
      const batch = JSON.parse(raw.toString()) as { logs: Sent[] };
      entries.push(...batch.logs);
      auth.push(String(req.headers.authorization));
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ saved: batch.logs.length }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { entries, auth, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

const savedEnv = { ...process.env };
afterEach(() => {
  for (const k of ['SLUICE_URL', 'SLUICE_SERVICE', 'SLUICE_TOKEN']) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

describe("in pino's worker thread (pino.transport)", () => {
  // transport.end() blocks this thread until the worker closed, and the worker's last batch
  // would need this thread's HTTP server: these tests deliver with logger.flush(cb), and end
  // only once nothing is buffered. Ending with entries in flight is tested against the real
  // gateway process (test/client-node-loggers.test.ts).
  async function run(options: Record<string, unknown>, gw: Awaited<ReturnType<typeof fakeGateway>>) {
    const transport = pino.transport({ target: '@sluice/client/pino', options });
    const log = pino({ level: 'debug' }, transport);
    log.debug('from the worker');
    log.error(new Error('worker boom'), 'failed in worker');
    await new Promise<void>((resolve, reject) => log.flush((err) => (err ? reject(err) : resolve())));
    expect(gw.entries.map((e) => [e.level, e.message])).toEqual([
      ['DEBUG', 'from the worker'],
      ['ERROR', 'failed in worker'],
    ]);
    expect(gw.entries[1].stack_trace).toMatch(/^Error: worker boom\n/);
    const closed = once(transport, 'close');
    transport.end();
    await closed;
  }

  it('loads @sluice/client/pino by name; logger.flush(cb) means delivered', async () => {
    const gw = await fakeGateway();
    try {
      await run({ endpoint: gw.url, serviceName: 'shop', componentName: 'worker', apiKey: 't.worker-token-0123456789' }, gw);
      expect(gw.entries[0]).toMatchObject({ app_id: 'shop', source: 'worker', proc: String(process.pid) });
      expect(gw.auth[0]).toBe('Bearer t.worker-token-0123456789');
    } finally {
      gw.close();
    }
  });

  it('takes the endpoint, app and token from the environment when the options leave them out', async () => {
    const gw = await fakeGateway();
    process.env.SLUICE_URL = gw.url;
    process.env.SLUICE_SERVICE = 'from-env';
    process.env.SLUICE_TOKEN = 't.env-token-0123456789';
    try {
      await run({ componentName: 'worker' }, gw);
      expect(gw.entries[0]).toMatchObject({ app_id: 'from-env', source: 'worker' });
      expect(gw.auth[0]).toBe('Bearer t.env-token-0123456789');
    } finally {
      gw.close();
    }
  });
});
