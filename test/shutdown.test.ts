import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { basic } from './support/gateway.js';
import { drainFrame, LineStream, LiveClient, liveApp, sleep, SseClient, writeAppsConfig } from './support/live.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix, type TestRedis } from './support/redis.js';

/**
 * The drain on SIGTERM (src/shutdown.ts, README "Deploying") on the real process: an upload
 * still sending its body is answered and stored, live connections end (WebSocket 1001, SSE and
 * sessions), new connections are refused, the process exits 0 well inside its grace period;
 * with an upload that never finishes it exits 1 at the deadline; a second signal exits at once.
 */

const ADMIN = 'shutdown-admin-token-0123456789';
const APP = liveApp('shutdown');

const BASE_ENV = {
  ADMIN_TOKEN: ADMIN,
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
  RATE_LIMIT_LINES_PER_SEC: '0',
};

/** Resolves with the exit code and time; never rejects. */
function exitOf(child: ChildProcess): Promise<{ code: number | null; at: number }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve({ code: child.exitCode, at: Date.now() });
    child.once('exit', (code) => resolve({ code, at: Date.now() }));
  });
}

/** `p`, or a rejection naming `what` after `ms` (every wait in this file is bounded). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
  ]);
}

/** Waits until the process's stdout (pino JSON lines) has a line matching `re`. */
async function waitForLog(gw: GatewayProcess, re: RegExp, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!re.test(gw.stdout())) {
    if (Date.now() > until) throw new Error(`no log line ${re} within ${ms} ms:\n${gw.stdout()}`);
    await sleep(20);
  }
}

/** The pino lines of the process, parsed. */
function logLines(gw: GatewayProcess): { msg: string; [k: string]: unknown }[] {
  return gw
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string });
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A `POST /drain` whose body is written piece by piece (chunked), on a connection of its own:
 * `write` sends a piece, `end` the last one; `answer` settles with the response.
 */
function slowUpload(port: number, token: string) {
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/drain',
    agent: false,
    headers: { 'Content-Type': 'application/logplex-1', Authorization: basic(token), 'Transfer-Encoding': 'chunked' },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  answer.catch(() => {}); // a cut upload rejects; tests that expect it look at `answer` themselves
  req.flushHeaders();
  return {
    answer,
    /** Resolves once the piece is handed to the kernel. */
    write: (piece: string) => new Promise<void>((resolve, reject) => req.write(piece, (err) => (err ? reject(err) : resolve()))),
    end: (piece: string) => req.end(piece),
    destroy: () => req.destroy(),
  };
}

/** Whether a TCP connection to `port` is refused. */
function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

const started: GatewayProcess[] = [];
async function start(env: Record<string, string>): Promise<GatewayProcess> {
  const gw = await startGatewayProcess({ ...BASE_ENV, SLUICE_CONFIG: writeAppsConfig([APP]), ...env });
  started.push(gw);
  return gw;
}

afterEach(() => {
  // A test that failed half-way leaves no process behind.
  for (const gw of started.splice(0)) if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
});

describe('SIGTERM on the real process', () => {
  it('answers and stores an upload still sending its body, ends live connections, refuses new ones, exits 0', async () => {
    const GRACE_MS = 10_000;
    const gw = await start({ SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    // Live readers of all three kinds.
    const ws = await LiveClient.connect(gw.url, { token: APP.read });
    ws.send({ type: 'subscribe', history: 0 });
    await ws.waitForType('live');
    const sse = await SseClient.open(`${gw.url}/api/logs/stream?token=${APP.read}`);
    expect(sse.status).toBe(200);
    await sse.waitForEvent((e) => e.event === 'live');
    const created = await request(`${gw.url}/v2/sessions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${APP.read}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ channel_id: APP.id, tail: true, num: 0 }),
    });
    const { url: sessionUrl } = (await created.body.json()) as { url: string };
    const session = await LineStream.open(`${gw.url}${sessionUrl}`);
    expect(session.status).toBe(200);

    // An upload of three lines over ~1.5 s; SIGTERM arrives after its first piece.
    const upload = slowUpload(gw.port, APP.ingest);
    await upload.write(drainFrame('first piece, before SIGTERM'));
    await sleep(300); // the gateway has the request (headers and first piece) in hand
    const exited = exitOf(gw.child);
    const signalledAt = Date.now();
    gw.child.kill('SIGTERM');
    await waitForLog(gw, /shutdown: stopped accepting connections/);

    // Stop accepting; live connections end at once (not after the upload).
    expect(await connectRefused(gw.port)).toBe(true);
    const closed = await within(ws.closed, 2000, 'the WebSocket close');
    expect([closed.code, closed.reason]).toEqual([1001, 'going away']);
    await within(sse.ended, 2000, 'the end of the SSE stream');
    await within(session.ended, 2000, 'the end of the Logplex session');
    expect(gw.child.exitCode).toBeNull(); // still draining: the upload is in flight

    await sleep(500);
    await upload.write(drainFrame('second piece, during the drain'));
    await sleep(500);
    upload.end(drainFrame('last piece, during the drain'));
    const answer = await within(upload.answer, 3000, 'the answer to the upload');
    expect(answer.status).toBe(200);
    // A 200 acknowledges exactly Sluice-Accepted entries, stored before the answer.
    expect(answer.headers['sluice-accepted']).toBe('3');
    expect(JSON.parse(answer.body)).toMatchObject({ accepted: 3, rejected: 0 });
    expect(answer.headers.connection).toBe('close');

    const { code, at } = await within(exited, 4000, 'the exit after the last answer');
    expect(code).toBe(0);
    expect(at - signalledAt).toBeLessThan(GRACE_MS / 2);

    const msgs = logLines(gw).map((l) => l.msg);
    expect(msgs).toEqual(
      expect.arrayContaining([
        'shutdown: stopped accepting connections',
        'shutdown: closing live connections (WebSocket 1001, streams end)',
        'shutdown: waiting for requests in flight',
        'shutdown: requests answered; flushing the backend',
        'shutdown: done',
      ]),
    );
    const waiting = logLines(gw).find((l) => l.msg === 'shutdown: waiting for requests in flight')!;
    expect(waiting.inFlight).toEqual(expect.arrayContaining([expect.objectContaining({ method: 'POST', path: '/drain', receiving: true })]));
    for (const secret of [ADMIN, APP.ingest, APP.read, sessionUrl]) expect(gw.stdout() + gw.stderr()).not.toContain(secret);
  });

  it('exits with 1 at the deadline when an upload never finishes, logging what was cut', async () => {
    const GRACE_MS = 1000;
    const gw = await start({ SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    const upload = slowUpload(gw.port, APP.ingest);
    await upload.write(drainFrame('a piece of an upload that never ends'));
    await sleep(300);
    const exited = exitOf(gw.child);
    const signalledAt = Date.now();
    gw.child.kill('SIGTERM');
    const { code, at } = await within(exited, GRACE_MS + 3000, 'the exit at the deadline');
    expect(code).toBe(1);
    expect(at - signalledAt).toBeGreaterThanOrEqual(GRACE_MS - 50);
    expect(at - signalledAt).toBeLessThan(GRACE_MS + 1500);
    await expect(upload.answer).rejects.toThrow(); // no answer: nothing acknowledged
    const cut = logLines(gw).find((l) => /^shutdown: grace period of 1000 ms over/.test(l.msg));
    expect(cut?.cut).toEqual([expect.objectContaining({ method: 'POST', path: '/drain', receiving: true })]);
  });

  it('exits with 1 at once on a second signal, but not on the same one delivered twice', async () => {
    const gw = await start({ SHUTDOWN_GRACE_MS: '20000' });
    const upload = slowUpload(gw.port, APP.ingest);
    await upload.write(drainFrame('a piece of an upload that never ends'));
    await sleep(300);
    const exited = exitOf(gw.child);
    gw.child.kill('SIGTERM');
    await waitForLog(gw, /shutdown: waiting for requests in flight/);
    // At once, it is the same signal twice (Ctrl-C under npm start): the drain goes on.
    gw.child.kill('SIGINT');
    await waitForLog(gw, /shutdown: already draining/);
    await sleep(1100);
    expect(gw.child.exitCode).toBeNull();
    const secondAt = Date.now();
    gw.child.kill('SIGINT');
    const { code, at } = await within(exited, 3000, 'the exit on the second signal');
    expect(code).toBe(1);
    expect(at - secondAt).toBeLessThan(1500);
    expect(logLines(gw).some((l) => l.msg === 'shutdown: second SIGINT; exiting with requests cut')).toBe(true);
    upload.destroy();
  });
});

describe.skipIf(!redisAvailable)('SIGTERM with Redis: the drained upload is in the shared store', () => {
  let redis: TestRedis;
  const prefix = testKeyPrefix('shutdown');
  beforeAll(async () => {
    redis = (await getTestRedis())!;
  });
  afterAll(async () => {
    if (redis) {
      await deleteKeysWithPrefix(redis, prefix);
      await redis.stop();
    }
  });

  it('a second process reads back the lines of the upload answered during the drain', async () => {
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, SHUTDOWN_GRACE_MS: '10000', REDIS_CONNECT_WAIT_MS: '5000' };
    const one = await start(env);
    const upload = slowUpload(one.port, APP.ingest);
    await upload.write(drainFrame('redis: before SIGTERM'));
    await sleep(300);
    const exited = exitOf(one.child);
    one.child.kill('SIGTERM');
    await waitForLog(one, /shutdown: waiting for requests in flight/);
    await upload.write(drainFrame('redis: during the drain'));
    await sleep(300);
    upload.end(drainFrame('redis: last, during the drain'));
    const answer = await within(upload.answer, 3000, 'the answer to the upload');
    expect([answer.status, answer.headers['sluice-accepted']]).toEqual([200, '3']);
    expect((await within(exited, 4000, 'the exit')).code).toBe(0);

    const two = await start(env);
    const res = await request(`${two.url}/api/logs?token=${APP.read}&limit=10`);
    const body = (await res.body.json()) as { entries: { message: string }[] };
    expect(body.entries.map((e) => e.message).sort()).toEqual(
      ['redis: before SIGTERM', 'redis: during the drain', 'redis: last, during the drain'].sort(),
    );
    expect(await two.stop()).toBe(0);
  });
});
