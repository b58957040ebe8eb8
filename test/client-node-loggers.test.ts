import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import winston from 'winston';
import { afterEach, describe, expect, it } from 'vitest';
import { SluiceTransport } from '../clients/node/src/winston.js';
import { liveApp, sleep, writeAppsConfig } from './support/live.js';
import { readHistory } from './support/history.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';

/**
 * The Winston and pino transports of @sluice/client (issue 12) against the real gateway
 * process: levels, context and stack traces arrive as logged, and closing the logger delivers
 * what was logged right before (Winston's `logger.end()` → `finish`, `logger.close()`; pino's
 * `transport.end()` on its worker thread, and an app that just exits). pino loads its target
 * `@sluice/client/pino` by name in a worker thread, from the built package (vitest's global
 * setup builds it); the apps that exit use `@sluice/client/winston` and `/pino` by name too.
 */

const APP = liveApp('client-node-loggers');
const CONFIG = writeAppsConfig([APP]);
const BASE_ENV = { HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_LINES_PER_SEC: '0', SLUICE_CONFIG: CONFIG };
const ROOT = fileURLToPath(new URL('../', import.meta.url));

const started: GatewayProcess[] = [];
async function start(env: Record<string, string> = {}): Promise<GatewayProcess> {
  const gw = await startGatewayProcess({ ...BASE_ENV, ...env });
  started.push(gw);
  return gw;
}
afterEach(() => {
  for (const gw of started.splice(0)) if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
});

interface Stored {
  timestamp: string;
  level: string;
  message: string;
  source?: string;
  host?: string;
  proc?: string;
  tags?: string[];
  stack_trace?: string;
  context?: Record<string, any>;
}

/** Every stored entry of the app, paging through the history API (newest first). */
async function history(gw: GatewayProcess): Promise<{ total: number; entries: Stored[] }> {
  return readHistory<Stored>(gw.url, APP.read);
}

function byMessage(entries: Stored[]): Map<string, Stored> {
  return new Map(entries.map((e) => [e.message, e]));
}

/** Runs an ES module app with node (plain JavaScript: the package as apps get it); its exit. */
async function runApp(script: string, env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(killer);
  return { code, signal };
}

describe('SluiceTransport (Winston) against the gateway process', () => {
  it('delivers levels, meta as context, tags, stack traces, timestamps; logger.end() → finish means stored', async () => {
    const gw = await start();
    const sluice = new SluiceTransport({ endpoint: gw.url, serviceName: APP.id, componentName: 'user-service', apiKey: APP.ingest, handleExit: false });
    const logger = winston.createLogger({
      level: 'debug',
      defaultMeta: { region: 'eu-west-1' },
      format: winston.format.combine(winston.format.errors({ stack: true }), winston.format.timestamp(), winston.format.json()),
      transports: [sluice],
    });
    logger.debug('cache warm', { keys: 12 });
    logger.info('User logged in successfully', { user_id: 12345, login_method: 'oauth', tags: ['auth'] });
    logger.http('GET /health 200');
    logger.warn('slow query', { ms: 812 });
    logger.error('Database connection failed', new Error('CONN_TIMEOUT'));
    logger.error(new Error('unhandled in handler'));
    logger.info('right before end');
    const finished = once(logger, 'finish');
    logger.end();
    await finished;
    expect(sluice.logger.stats()).toMatchObject({ sent: 7, failed: 0, buffered: 0, state: 'stopped' });

    const { total, entries } = await history(gw);
    expect(total).toBe(7);
    const by = byMessage(entries);
    expect(by.get('cache warm')).toMatchObject({ level: 'DEBUG', source: 'user-service', context: { keys: 12, region: 'eu-west-1' } });
    expect(by.get('User logged in successfully')).toMatchObject({ level: 'INFO', context: { user_id: 12345, login_method: 'oauth' }, tags: ['auth'] });
    expect(by.get('GET /health 200')).toMatchObject({ level: 'INFO' });
    expect(by.get('slow query')).toMatchObject({ level: 'WARN', context: { ms: 812 } });
    const db = by.get('Database connection failed CONN_TIMEOUT')!;
    expect(db.level).toBe('ERROR');
    expect(db.stack_trace).toMatch(/^Error: CONN_TIMEOUT\n\s+at /);
    const unhandled = by.get('unhandled in handler')!;
    expect(unhandled.stack_trace).toMatch(/^Error: unhandled in handler\n/);
    expect(by.get('right before end')).toMatchObject({ level: 'INFO' });
    for (const e of entries) {
      expect(Math.abs(Date.parse(e.timestamp) - Date.now())).toBeLessThan(60_000);
      expect(Object.keys(e.context ?? {})).not.toContain('level');
      expect(Object.keys(e.context ?? {})).not.toContain('stack');
    }
  });

  it('logger.close() delivers what was logged right before it', async () => {
    const gw = await start();
    const sluice = new SluiceTransport({ endpoint: gw.url, serviceName: APP.id, apiKey: APP.ingest, handleExit: false });
    const logger = winston.createLogger({ transports: [sluice] });
    for (let i = 0; i < 5; i++) logger.info(`closing ${i}`, { i });
    logger.close();
    while (sluice.logger.state !== 'stopped') await sleep(20);
    expect(sluice.logger.stats()).toMatchObject({ sent: 5, failed: 0, buffered: 0 });
    const { entries } = await history(gw);
    expect(entries.map((e) => e.message).reverse()).toEqual(['closing 0', 'closing 1', 'closing 2', 'closing 3', 'closing 4']);
  });

  it('an app that imports @sluice/client/winston and just ends has its entries stored (beforeExit)', async () => {
    const gw = await start();
    const script = `
      import winston from 'winston';
      import { SluiceTransport } from '@sluice/client/winston';
      const logger = winston.createLogger({
        transports: [new SluiceTransport({ endpoint: ${JSON.stringify(gw.url)}, serviceName: ${JSON.stringify(APP.id)}, apiKey: ${JSON.stringify(APP.ingest)} })],
      });
      logger.warn('from an app', { pid: process.pid });
      logger.error('and its last words');`;
    expect(await runApp(script, {})).toEqual({ code: 0, signal: null });
    const { entries } = await history(gw);
    expect(entries.map((e) => [e.level, e.message]).reverse()).toEqual([
      ['WARN', 'from an app'],
      ['ERROR', 'and its last words'],
    ]);
  });
});

describe("the pino transport (pino.transport, pino's worker thread) against the gateway process", () => {
  it('delivers levels, bindings and fields as context, err as stack_trace; transport.end() delivers what was logged right before', async () => {
    const gw = await start();
    const transport = pino.transport({
      target: '@sluice/client/pino',
      options: { endpoint: gw.url, serviceName: APP.id, componentName: 'checkout', apiKey: APP.ingest },
    });
    const logger = pino({ level: 'trace', customLevels: { audit: 35 } }, transport);
    logger.trace('trace line');
    logger.debug({ keys: 12 }, 'cache warm');
    logger.info({ user_id: 12345, tags: ['auth'] }, 'User logged in successfully');
    (logger as pino.Logger<'audit'>).audit({ actor: 'ada' }, 'role changed');
    logger.child({ module: 'db' }).warn({ ms: 812 }, 'slow query');
    logger.error(Object.assign(new Error('CONN_TIMEOUT'), { code: 'ETIMEDOUT' }), 'Database connection failed');
    logger.fatal('right before end');
    const closed = once(transport, 'close');
    // The main thread waits (synchronously) in end() until the worker's logger stopped.
    transport.end();
    await closed;

    const { total, entries } = await history(gw);
    expect(total).toBe(7);
    const by = byMessage(entries);
    expect(by.get('trace line')).toMatchObject({ level: 'DEBUG', source: 'checkout', proc: String(process.pid) });
    expect(by.get('trace line')!.host).toBeTruthy();
    expect(by.get('cache warm')).toMatchObject({ level: 'DEBUG', context: { keys: 12 } });
    expect(by.get('User logged in successfully')).toMatchObject({ level: 'INFO', context: { user_id: 12345 }, tags: ['auth'] });
    expect(by.get('role changed')).toMatchObject({ level: 'WARN', context: { actor: 'ada' } });
    expect(by.get('slow query')).toMatchObject({ level: 'WARN', context: { module: 'db', ms: 812 } });
    const db = by.get('Database connection failed')!;
    expect(db).toMatchObject({ level: 'ERROR', context: { err: { type: 'Error', message: 'CONN_TIMEOUT', code: 'ETIMEDOUT' } } });
    expect(db.stack_trace).toMatch(/^Error: CONN_TIMEOUT\n\s+at /);
    expect(by.get('right before end')).toMatchObject({ level: 'FATAL' });
    for (const e of entries) {
      expect(Object.keys(e.context ?? {})).toEqual(expect.not.arrayContaining(['level', 'time', 'msg', 'pid', 'hostname']));
      expect(Math.abs(Date.parse(e.timestamp) - Date.now())).toBeLessThan(60_000);
    }
  });

  it('an app that just exits has its entries stored; the worker reads the endpoint, app and token from the environment', async () => {
    const gw = await start();
    const script = `
      import pino from 'pino';
      const logger = pino(pino.transport({ target: '@sluice/client/pino', options: { componentName: 'worker' } }));
      for (let i = 0; i < 3; i++) logger.info({ i }, 'exit ' + i);
      logger.error(new Error('last words'), 'crashing');`;
    const exited = await runApp(script, { SLUICE_URL: gw.url, SLUICE_SERVICE: APP.id, SLUICE_TOKEN: APP.ingest });
    expect(exited).toEqual({ code: 0, signal: null });
    const { entries } = await history(gw);
    expect(entries.map((e) => [e.level, e.message]).reverse()).toEqual([
      ['INFO', 'exit 0'],
      ['INFO', 'exit 1'],
      ['INFO', 'exit 2'],
      ['ERROR', 'crashing'],
    ]);
    expect(entries[0]!.stack_trace).toMatch(/^Error: last words\n/);
    for (const e of entries) expect(e.source).toBe('worker');
  });
});
