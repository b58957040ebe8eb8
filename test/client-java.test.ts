import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveApp, writeAppsConfig, type LiveApp } from './support/live.js';
import { expectToolOk, runTool, type ToolRun } from './support/run-tool.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';

/**
 * The Java client (clients/java): its JUnit 5 suite through clients/java/build.sh (batcher, states,
 * backoff, buffer overflow, HTTP retries against a com.sun.net.httpserver fake, the JUL handler and
 * the Logback appender), then its README examples and its conformance program run as an app would
 * run them, against the real gateway process, and what the gateway stored checked entry by entry.
 * The examples use Java's default HttpClient, which offers `Upgrade: h2c` on http:// (issue 13).
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const JAVA_DIR = join(ROOT, 'clients/java');
const LIBS = process.env.JAVA_LIBS ?? '/usr/share/java';
const LOGBACK_CP = ['logback-classic.jar', 'logback-core.jar', 'slf4j-api.jar'].map((j) => join(LIBS, j));

/** Why the Java toolchain cannot be used here, or null when java, javac ≥ 17 and the Debian jars are there. */
function javaMissing(): string | null {
  for (const tool of ['java', 'jar']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) return `${tool} not found (${r.error?.message ?? r.stderr.trim()})`;
  }
  const javac = spawnSync('javac', ['-version'], { encoding: 'utf8' });
  if (javac.error || javac.status !== 0) return `javac not found (${javac.error?.message ?? javac.stderr.trim()})`;
  const major = Number(/javac (\d+)/.exec(`${javac.stdout}${javac.stderr}`)?.[1] ?? 0);
  if (major < 17) return `javac is ${major || 'unknown'}, the client needs Java 17`;
  for (const jar of ['junit-platform-console-standalone.jar', 'logback-classic.jar', 'logback-core.jar', 'slf4j-api.jar']) {
    if (!existsSync(join(LIBS, jar))) return `${join(LIBS, jar)} missing (Debian: apt-get install junit5 liblogback-java)`;
  }
  return null;
}
const missing = javaMissing();
// In CI a missing toolchain fails the tests (requireJava below); elsewhere they are skipped.
const skip = missing !== null && !process.env.CI;
const named = (title: string) => (skip ? `${title} (skipped: ${missing})` : title);

function requireJava(): void {
  if (missing) throw new Error(`the Java client's tests need Java 17 and the Debian jars in CI: ${missing}`);
}

type Run = ToolRun;

/** Runs a command in clients/java with only PATH (and JAVA_HOME) from the test's environment. */
function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 40_000): Promise<Run> {
  const base = { PATH: process.env.PATH ?? '', ...(process.env.JAVA_HOME ? { JAVA_HOME: process.env.JAVA_HOME } : {}) };
  return runTool(cmd, args, { cwd: JAVA_DIR, env: { ...base, ...env }, timeoutMs });
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

const USER_AGENT = /^sluice-java\/0\.1\.0 \(Java \d+(\.\d+)*\)$/;
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

const QUICKSTART = liveApp('client-java-quickstart');
const JUL = liveApp('client-java-jul');
const LOGBACK = liveApp('client-java-logback');
const CONFORMANCE = liveApp('client-java-conformance');

let gw: GatewayProcess | undefined;

/** Every stored entry of `app`, oldest first (the history API answers newest first). */
async function history(app: LiveApp): Promise<Stored[]> {
  const res = await fetch(`${gw!.url}/api/logs?limit=1000`, { headers: { Authorization: `Bearer ${app.read}` } });
  expect(res.status).toBe(200);
  const page = (await res.json()) as { entries: Stored[] };
  return page.entries.reverse();
}

/** The fields every entry of the library carries, whichever logger wrote it. */
function expectCommon(entries: Stored[], app: LiveApp, source: string): void {
  for (const e of entries) {
    expect(e.app_id).toBe(app.id);
    expect(e.source).toBe(source);
    expect(e.user_agent).toMatch(USER_AGENT);
    expect(e.timestamp).toMatch(MICROS);
    expect(e.context?.request_id).toMatch(UUID4);
  }
  expect(new Set(entries.map((e) => e.context?.request_id)).size).toBe(entries.length);
}

const appEnv = (app: LiveApp) => ({ SLUICE_URL: gw!.url, SLUICE_TOKEN: app.ingest, SLUICE_SERVICE: app.id });

describe('the Java client', () => {
  beforeAll(async () => {
    if (skip) return;
    requireJava();
    // The jars first (incremental), and the gateway meanwhile.
    const [build, started] = await Promise.all([
      run('bash', ['build.sh'], {}, 90_000),
      startGatewayProcess({
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        RATE_LIMIT_LINES_PER_SEC: '0',
        SLUICE_CONFIG: writeAppsConfig([QUICKSTART, JUL, LOGBACK, CONFORMANCE]),
      }),
    ]);
    gw = started;
    expectSuccess(build, 'clients/java/build.sh');
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
  });

  it.skipIf(skip)(named('passes its JUnit 5 suite (./build.sh test)'), async () => {
    const r = await run('bash', ['build.sh', 'test'], {}, 90_000);
    expectSuccess(r, 'clients/java/build.sh test');
    expect(r.stdout).toMatch(/\[\s+0 tests failed\s+\]/);
    expect(r.stdout).toMatch(/\[\s+[1-9]\d* tests successful\s+\]/);
  }, 100_000);

  it.skipIf(skip)(named('README example: the library (examples/Quickstart.java)'), async () => {
    const r = await run('java', ['-cp', 'build/sluice-client.jar', 'examples/Quickstart.java'], appEnv(QUICKSTART));
    expectSuccess(r, 'Quickstart.java');
    const entries = await history(QUICKSTART);
    expect(entries.map((e) => [e.level, e.message])).toEqual([
      ['INFO', 'User logged in successfully'],
      ['ERROR', 'Database connection failed'],
      ['INFO', 'payment_completed'],
    ]);
    expectCommon(entries, QUICKSTART, 'user-service');
    const [login, failed, payment] = entries as [Stored, Stored, Stored];
    expect(login.context).toMatchObject({ user_id: 12345, login_method: 'oauth', ip_address: '192.168.1.100' });
    expect(failed.context).toMatchObject({ database: 'users-db', error_code: 'CONN_TIMEOUT', error: 'connection to users-db timed out' });
    expect(failed.tags).toEqual(['database', 'critical']);
    expect(failed.stack_trace).toMatch(/^java\.sql\.SQLException: connection to users-db timed out\n\tat Quickstart\.connect\(Quickstart\.java:\d+\)/);
    expect(payment).toMatchObject({ category: 'event', tags: ['custom'], context: { amount: 99.99, currency: 'USD', transaction_id: 'txn_abc123' } });
  }, 40_000);

  it.skipIf(skip)(named('README example: java.util.logging (examples/JulExample.java)'), async () => {
    const r = await run('java', ['-cp', 'build/sluice-client.jar', 'examples/JulExample.java'], appEnv(JUL));
    expectSuccess(r, 'JulExample.java');
    const entries = await history(JUL);
    expect(entries.map((e) => [e.level, e.message])).toEqual([
      ['INFO', 'Order placed'],
      ['WARN', 'Stock low for SKU-1: 3 left'],
      ['ERROR', 'Payment failed'],
    ]);
    expectCommon(entries, JUL, 'orders');
    for (const e of entries) expect(e.context).toMatchObject({ logger: 'com.example.orders', class: 'JulExample', method: 'main' });
    const failed = entries[2]!;
    expect(failed.context?.error).toBe('card declined');
    expect(failed.stack_trace).toMatch(/^java\.lang\.IllegalStateException: card declined\n\tat JulExample\.main\(JulExample\.java:\d+\)/);
  }, 40_000);

  it.skipIf(skip)(named('README example: Logback (examples/logback.xml + LogbackExample.java), delivered at JVM exit'), async () => {
    const cp = ['build/sluice-client.jar', 'build/sluice-client-logback.jar', ...LOGBACK_CP].join(':');
    const r = await run('java', ['-Dlogback.configurationFile=examples/logback.xml', '-cp', cp, 'examples/LogbackExample.java'], appEnv(LOGBACK));
    expectSuccess(r, 'LogbackExample.java');
    expect(r.stdout).toContain('INFO  LogbackExample - User logged in'); // the console appender beside it
    const entries = await history(LOGBACK);
    expect(entries.map((e) => [e.level, e.message])).toEqual([
      ['INFO', 'User logged in'],
      ['WARN', 'Cart total 1200.5 exceeds the limit 1000'],
      ['ERROR', 'Payment failed'],
    ]);
    expectCommon(entries, LOGBACK, 'checkout');
    for (const e of entries) expect(e.context).toMatchObject({ user_id: '12345', ip: '192.168.1.1', logger: 'LogbackExample', thread: 'main' });
    const failed = entries[2]!;
    expect(failed.context?.error).toBe('card declined');
    expect(failed.stack_trace).toMatch(/^java\.lang\.IllegalStateException: card declined\n\tat LogbackExample\.main\(LogbackExample\.java:\d+\)/);
  }, 40_000);

  it.skipIf(skip)(named('conformance program: one JSON line, every entry stored once and in order per logger'), async () => {
    const settings = {
      loggers: 2,
      entries: 150,
      batch_size: 40,
      flush_interval_ms: 100,
      max_buffer_entries: 10000,
      max_retries: 5,
      stop_timeout_ms: 10000,
      request_timeout_ms: 5000,
      log_gap_ms: 0,
    };
    const r = await run('java', ['-cp', 'build/sluice-client.jar:build/conformance', 'dev.sluice.conformance.Program'], {
      ...appEnv(CONFORMANCE),
      CONFORMANCE: JSON.stringify(settings),
    });
    expectSuccess(r, 'dev.sluice.conformance.Program');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]!) as { language: string; library: string; loggers: Record<string, unknown>[]; call_us: Record<string, number>; elapsed_ms: number };
    expect(out.language).toBe('java');
    expect(out.library).toBe('sluice-java/0.1.0');
    expect(out.loggers).toEqual([0, 1].map(() => ({ sent: 150, failed: 0, dropped: 0, buffered: 0, retries: 0, sampled: 0, state: 'stopped' })));
    expect(out.call_us.p50).toBeGreaterThan(0);
    expect(out.call_us.p99).toBeGreaterThanOrEqual(out.call_us.p50!);
    expect(out.call_us.max).toBeGreaterThanOrEqual(out.call_us.p99!);
    expect(out.elapsed_ms).toBeGreaterThan(0);

    const entries = await history(CONFORMANCE);
    expect(entries).toHaveLength(300);
    for (const l of [0, 1]) {
      const mine = entries.filter((e) => e.source === `logger-${l}`);
      expect(mine.map((e) => e.context?.seq)).toEqual(Array.from({ length: 150 }, (_, i) => i));
      expect(mine.every((e) => e.level === 'INFO' && e.context?.logger === l && e.message === `conformance ${l} ${e.context?.seq}`)).toBe(true);
    }
  }, 40_000);
});
