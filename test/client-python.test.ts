import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveApp, writeAppsConfig, type LiveApp } from './support/live.js';
import { expectToolOk, runTool, type ToolRun } from './support/run-tool.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';

/**
 * The Python client (clients/python): its unittest suite (batcher, states, backoff, buffer,
 * HTTP retries against an in-process fake, the logging handler), then its README examples and
 * its conformance program run as an app would run them, against the real gateway process, and
 * what the gateway stored checked entry by entry.
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PYTHON = process.env.PYTHON ?? 'python3';

/** Why Python cannot be used here, or null when python3 ≥ 3.9 is on PATH. */
function pythonMissing(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `${PYTHON} not found (${r.error?.message ?? r.stderr.trim()})`;
  const [major, minor] = r.stdout.trim().split('.').map(Number);
  if (major! < 3 || (major === 3 && minor! < 9)) return `${PYTHON} is ${r.stdout.trim()}, the client needs ≥ 3.9`;
  return null;
}
const missing = pythonMissing();
// In CI a missing toolchain fails the tests (the check below); elsewhere they are skipped.
const skip = missing !== null && !process.env.CI;
const named = (title: string) => (skip ? `${title} (skipped: ${missing})` : title);

function requirePython(): void {
  if (missing) throw new Error(`the Python client's tests need python3 ≥ 3.9 in CI: ${missing}`);
}

type Run = ToolRun;

/** Runs python3 from the repo root with the client on PYTHONPATH. */
function python(args: string[], env: Record<string, string> = {}, timeoutMs = 40_000): Promise<Run> {
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PYTHONPATH: 'clients/python/src', PYTHONDONTWRITEBYTECODE: '1' };
  return runTool(PYTHON, args, { cwd: ROOT, env: { ...base, ...env }, timeoutMs });
}

const expectSuccess = expectToolOk;

interface Stored {
  level: string;
  message: string;
  app_id: string;
  source?: string;
  category?: string;
  tags?: string[];
  stack_trace?: string;
  user_agent?: string;
  timestamp: string;
  context?: Record<string, any>;
}

const QUICKSTART = liveApp('client-python-quickstart');
const HANDLER = liveApp('client-python-handler');
const CONFORMANCE = liveApp('client-python-conformance');
let gw: GatewayProcess | undefined;

async function history(app: LiveApp): Promise<Stored[]> {
  const res = await fetch(`${gw!.url}/api/logs?limit=1000`, { headers: { Authorization: `Bearer ${app.read}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { entries: Stored[] }).entries;
}

function appEnv(app: LiveApp): Record<string, string> {
  return { SLUICE_URL: gw!.url, SLUICE_TOKEN: app.ingest, SLUICE_SERVICE: app.id };
}

const UA = /^sluice-python\/0\.1\.0 \(Python \d+\.\d+\.\d+\)$/;
const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe('clients/python', () => {
  beforeAll(async () => {
    if (missing) return;
    const config = writeAppsConfig([QUICKSTART, HANDLER, CONFORMANCE]);
    gw = await startGatewayProcess({ HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_LINES_PER_SEC: '0', SLUICE_CONFIG: config });
  });
  afterAll(async () => {
    if (gw && gw.child.exitCode === null) await gw.stop();
  });

  it.skipIf(skip)(named('python -m unittest: batcher, states, backoff, buffer overflow, HTTP retries, logging handler'), async () => {
    requirePython();
    const run = await python(['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-t', 'clients/python']);
    expectSuccess(run, 'python -m unittest');
    expect(run.stderr).toMatch(/Ran \d+ tests/);
    expect(run.stderr).toMatch(/\nOK\s*$/);
  }, 45_000);

  it.skipIf(skip)(named('examples/quickstart.py: levels, context, stack traces, the custom event and the User-Agent as stored'), async () => {
    requirePython();
    const run = await python(['clients/python/examples/quickstart.py'], appEnv(QUICKSTART));
    expectSuccess(run, 'quickstart.py');
    expect(run.stdout).toContain("'sent': 6");
    const entries = await history(QUICKSTART);
    expect(entries).toHaveLength(6);
    const by = new Map(entries.map((e) => [e.message, e]));
    expect(by.get('User logged in successfully')).toMatchObject({
      level: 'INFO',
      app_id: QUICKSTART.id,
      source: 'user-service',
      context: { user_id: 12345, login_method: 'oauth', ip_address: '192.168.1.100' },
    });
    expect(by.get('Cache warmed')).toMatchObject({ level: 'DEBUG', context: { keys: 12 } });
    expect(by.get('Slow query')).toMatchObject({ level: 'WARN', context: { ms: 812 }, tags: ['database'] });
    const db = by.get('Database connection failed')!;
    expect(db).toMatchObject({ level: 'ERROR', context: { database: 'users-db', error_code: 'CONN_TIMEOUT', error: 'connection to users-db timed out after 5 s' } });
    expect(db.stack_trace).toMatch(/^Traceback \(most recent call last\):\n[\s\S]*quickstart\.py[\s\S]*TimeoutError: connection to users-db timed out after 5 s$/);
    const fatal = by.get('Configuration unreadable')!;
    expect(fatal).toMatchObject({ level: 'FATAL', context: { file: 'settings.json' } });
    expect(fatal.stack_trace).toContain("KeyError: 'missing'");
    expect(by.get('payment_completed')).toMatchObject({
      level: 'INFO',
      category: 'event',
      tags: ['custom'],
      context: { amount: 99.99, currency: 'USD', transaction_id: 'txn_abc123' },
    });
    for (const e of entries) {
      expect(e.user_agent).toMatch(UA);
      expect(e.timestamp).toMatch(TS);
      expect(e.context?.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(new Set(entries.map((e) => e.context?.request_id)).size).toBe(6);
  }, 45_000);

  it.skipIf(skip)(named('examples/logging_handler.py: records with their level, extra fields, logger name and traceback'), async () => {
    requirePython();
    const run = await python(['clients/python/examples/logging_handler.py'], appEnv(HANDLER));
    expectSuccess(run, 'logging_handler.py');
    const entries = await history(HANDLER);
    // Newest first; the DEBUG record is below the root logger's level and never sent.
    expect(entries.map((e) => [e.level, e.message]).reverse()).toEqual([
      ['INFO', 'Payment accepted'],
      ['WARN', 'Slow response from card-gateway'],
      ['ERROR', 'Payment failed'],
      ['FATAL', 'Card gateway credentials rejected'],
    ]);
    const by = new Map(entries.map((e) => [e.message, e]));
    expect(by.get('Payment accepted')).toMatchObject({
      source: 'billing',
      tags: ['payment'],
      context: { order_id: 'ORD-789', amount: 49.99, logger: 'billing.payments' },
    });
    expect(by.get('Slow response from card-gateway')!.context).toMatchObject({ ms: 812, logger: 'billing.payments' });
    const failed = by.get('Payment failed')!;
    expect(failed.context).toMatchObject({ order_id: 'ORD-790' });
    expect(failed.stack_trace).toMatch(/^Traceback \(most recent call last\):[\s\S]*ZeroDivisionError: division by zero$/);
    for (const e of entries) expect(e.user_agent).toMatch(UA);
  }, 45_000);

  it.skipIf(skip)(named('conformance/program.py: one JSON line of stats, every entry stored once and in order'), async () => {
    requirePython();
    const settings = {
      loggers: 2,
      entries: 300,
      batch_size: 100,
      flush_interval_ms: 200,
      max_buffer_entries: 10000,
      max_retries: 5,
      stop_timeout_ms: 15000,
      request_timeout_ms: 5000,
      log_gap_ms: 0,
    };
    const run = await python(['clients/python/conformance/program.py'], { ...appEnv(CONFORMANCE), CONFORMANCE: JSON.stringify(settings) });
    expectSuccess(run, 'conformance/program.py');
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]!) as { language: string; library: string; loggers: Record<string, unknown>[]; call_us: Record<string, number>; elapsed_ms: number };
    expect(out).toMatchObject({ language: 'python', library: 'sluice-python/0.1.0' });
    expect(out.loggers).toEqual([0, 1].map(() => expect.objectContaining({ sent: 300, failed: 0, dropped: 0, buffered: 0, retries: 0, state: 'stopped' })));
    expect(out.call_us.p50).toBeGreaterThan(0);
    expect(out.call_us.p99).toBeGreaterThanOrEqual(out.call_us.p50!);
    expect(out.call_us.max).toBeGreaterThanOrEqual(out.call_us.p99!);
    expect(out.elapsed_ms).toBeGreaterThan(0);

    const entries = (await history(CONFORMANCE)).reverse();
    expect(entries).toHaveLength(600);
    for (const l of [0, 1]) {
      const mine = entries.filter((e) => e.source === `logger-${l}`);
      expect(mine.map((e) => e.context?.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i));
      expect(mine.every((e) => e.level === 'INFO' && e.message === `conformance ${l} ${e.context?.seq}` && e.context?.logger === l)).toBe(true);
    }
  }, 45_000);
});
