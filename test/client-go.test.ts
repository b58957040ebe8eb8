import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { liveApp, writeAppsConfig } from './support/live.js';
import { readHistory } from './support/history.js';
import { expectToolOk, runTool, type ToolRun } from './support/run-tool.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';

/**
 * The Go client (clients/go): its own unit tests (`go test -race ./...`), then the README's
 * examples (`go run`) and the conformance program against the real gateway process, checking
 * what was stored (levels, context, stack trace, tags) and how it was sent (User-Agent).
 * Without a Go toolchain the file is skipped, except under CI, where that is a failure.
 */

const GO_DIR = fileURLToPath(new URL('../clients/go/', import.meta.url));
const goVersion = spawnSync('go', ['version'], { encoding: 'utf8' });
const haveGo = goVersion.status === 0;
const NO_GO = 'the Go toolchain (`go`, Debian golang-go) is not installed';
// Skipped only outside CI; under CI a missing toolchain runs the tests, which then fail.
const skip = !haveGo && !process.env.CI;
if (skip) console.warn(`test/client-go.test.ts skipped: ${NO_GO}`);

/** The environment of every go command: no network, no test caching, a writable build cache. */
function goEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GOFLAGS: '-count=1', GOPROXY: 'off', GOTOOLCHAIN: 'local', ...extra };
  let homeWritable = false;
  try {
    accessSync(process.env.HOME ?? '/nonexistent', constants.W_OK);
    homeWritable = true;
  } catch {
    // e.g. a CI user without a home: the cache goes in clients/go/.cache (git-ignored)
  }
  if (!homeWritable && !process.env.GOCACHE) {
    env.GOCACHE = join(GO_DIR, '.cache/build');
    env.GOPATH = join(GO_DIR, '.cache/gopath');
  }
  return env;
}

type Run = ToolRun;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  if (!haveGo) throw new Error(`${NO_GO} (required under CI)`);
  return runTool(cmd, args, { cwd: GO_DIR, env, timeoutMs });
}

const expectOk = expectToolOk;

const APP = liveApp('my-application'); // the examples' ServiceName
const CONFIG = writeAppsConfig([APP]);
const started: GatewayProcess[] = [];
async function startGateway(): Promise<GatewayProcess> {
  const gw = await startGatewayProcess({ HOST: '127.0.0.1', RATE_LIMIT_LINES_PER_SEC: '0', SLUICE_CONFIG: CONFIG });
  started.push(gw);
  return gw;
}
afterEach(() => {
  for (const gw of started.splice(0)) if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
});

const tmp = mkdtempSync(join(tmpdir(), 'sluice-go-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Stored {
  level: string;
  message: string;
  app_id?: string;
  source?: string;
  category?: string;
  tags?: string[];
  stack_trace?: string;
  context?: Record<string, any>;
}

/** Every stored entry of the app, newest first. */
async function history(gw: GatewayProcess): Promise<Stored[]> {
  return (await readHistory<Stored>(gw.url, APP.read)).entries;
}

/** A pass-through proxy in front of the gateway that records each request's headers. */
async function recordingProxy(gw: GatewayProcess): Promise<{ url: string; headers: http.IncomingHttpHeaders[]; close: () => void }> {
  const headers: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    headers.push(req.headers);
    const up = http.request(`${gw.url}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode!, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    headers,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const USER_AGENT = /^sluice-go\/0\.1\.0 \(go 1\.\d+(\.\d+)?\)$/;

describe.skipIf(skip)('clients/go', () => {
  it('go test -race ./... passes (batcher, state machine, backoff, overflow, retries, Writer)', async () => {
    // -race needs cgo (gcc); the first run also builds the race runtime into the cache.
    const r = await run('go', ['test', '-race', './...'], goEnv({ CGO_ENABLED: '1' }), 170_000);
    expectOk(r, 'go test -race ./...');
    expect(r.stdout).toMatch(/^ok\s+github\.com\/sluice-gateway\/sluice\/clients\/go\s/m);
  }, 180_000);

  it("the README's examples (go run) deliver what they log to the gateway", async () => {
    const gw = await startGateway();
    const proxy = await recordingProxy(gw);
    try {
      const env = goEnv({ SLUICE_URL: proxy.url, SLUICE_TOKEN: APP.ingest });
      const quick = await run('go', ['run', './examples/quickstart'], env, 60_000);
      expectOk(quick, 'go run ./examples/quickstart');
      expect(quick.stdout).toMatch(/Sent:3 Failed:0 Dropped:0 Buffered:0 .*State:stopped/);
      const std = await run('go', ['run', './examples/stdlog'], env, 60_000);
      expectOk(std, 'go run ./examples/stdlog');
      expect(std.stdout).toMatch(/Sent:2 Failed:0 Dropped:0 Buffered:0 .*State:stopped/);
    } finally {
      proxy.close();
    }

    expect(proxy.headers).toHaveLength(2); // one batch per example
    for (const h of proxy.headers) {
      expect(h['user-agent']).toMatch(USER_AGENT);
      expect(h.authorization).toBe(`Bearer ${APP.ingest}`);
      expect(h['content-type']).toBe('application/json');
      expect(h.prefer).toBe('return=minimal');
    }
    // The quickstart's batch, with its stack trace, is over 1 KiB: gzip.
    expect(proxy.headers[0]!['content-encoding']).toBe('gzip');

    const entries = await history(gw);
    expect(entries).toHaveLength(5);
    const by = new Map(entries.map((e) => [e.message, e]));
    expect(by.get('User logged in successfully')).toMatchObject({
      level: 'INFO',
      app_id: APP.id,
      source: 'user-service',
      context: { user_id: 12345, login_method: 'oauth', ip_address: '192.168.1.100' },
    });
    const err = by.get('Database connection failed')!;
    expect(err).toMatchObject({
      level: 'ERROR',
      source: 'user-service',
      context: { database: 'users-db', error: 'connecting to users-db: CONN_TIMEOUT' },
      tags: ['database', 'critical'],
    });
    expect(err.stack_trace).toContain('*fmt.wrapError: connecting to users-db: CONN_TIMEOUT');
    expect(err.stack_trace).toContain('caused by *errors.errorString: CONN_TIMEOUT');
    expect(err.stack_trace).toMatch(/logged at:\nmain\.main\(\)\n\t.*examples\/quickstart\/main\.go:\d+/);
    expect(by.get('payment_completed')).toMatchObject({
      level: 'INFO',
      category: 'event',
      tags: ['custom'],
      context: { amount: 99.99, currency: 'USD', transaction_id: 'txn_abc123' },
    });
    const listening = entries.find((e) => e.message.endsWith('listening on :8080'));
    expect(listening).toMatchObject({ level: 'INFO', source: 'stdlog' });
    expect(listening!.message).toMatch(/^main\.go:\d+: listening on :8080$/); // log.Lshortfile stays in the message
    expect(by.get('cache: hit rate below 50%')).toMatchObject({ level: 'WARN', source: 'stdlog' });
    const ids = entries.map((e) => e.context?.request_id);
    expect(new Set(ids).size).toBe(5);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }, 90_000);

  it('the conformance program, built as the driver builds it, prints its stats and delivers every entry in order', async () => {
    const bin = join(tmp, 'sluice-conformance');
    expectOk(await run('go', ['build', '-o', bin, './conformance'], goEnv(), 60_000), 'go build ./conformance');
    const gw = await startGateway();
    const settings = {
      loggers: 2,
      entries: 150,
      batch_size: 40,
      flush_interval_ms: 100,
      max_buffer_entries: 10000,
      max_retries: 5,
      stop_timeout_ms: 5000,
      request_timeout_ms: 5000,
      log_gap_ms: 0,
    };
    const r = await run(bin, [], { PATH: process.env.PATH, SLUICE_URL: gw.url, SLUICE_TOKEN: APP.ingest, SLUICE_SERVICE: APP.id, CONFORMANCE: JSON.stringify(settings) }, 30_000);
    expectOk(r, 'sluice-conformance');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]!);
    expect(out).toMatchObject({ language: 'go', library: 'sluice-go/0.1.0' });
    expect(out.loggers).toEqual([0, 1].map(() => ({ sent: 150, failed: 0, dropped: 0, buffered: 0, retries: 0, sampled: 0, state: 'stopped' })));
    expect(out.call_us.p50).toBeGreaterThan(0);
    expect(out.call_us.p99).toBeGreaterThanOrEqual(out.call_us.p50);
    expect(out.call_us.max).toBeGreaterThanOrEqual(out.call_us.p99);
    expect(out.elapsed_ms).toBeGreaterThan(0);

    const entries = (await history(gw)).reverse(); // oldest first
    expect(entries).toHaveLength(300);
    for (const L of [0, 1]) {
      const mine = entries.filter((e) => e.source === `logger-${L}`);
      expect(mine.map((e) => e.context?.seq)).toEqual(Array.from({ length: 150 }, (_, i) => i));
      expect(mine.every((e) => e.level === 'INFO' && e.context?.logger === L && e.message === `conformance ${L} ${e.context?.seq}`)).toBe(true);
    }
  }, 90_000);
});
