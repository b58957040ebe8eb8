import { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Entry } from '../src/normalize/entry.js';
import { RedisKeys } from '../src/store/redis-keys.js';
import { basic } from './support/gateway.js';
import {
  drainFrame,
  LiveClient,
  liveApp,
  pidOf,
  processMemory,
  entriesOf,
  sleep,
  SseClient,
  streamMessages,
  writeAppsConfig,
  type LiveApp,
} from './support/live.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix, type TestRedis } from './support/redis.js';

/**
 * Issue 9, findings 1, 2 and 4, against the real process (src/main.ts) on both stores:
 *
 * 1. a valid drain frame whose message is JSON nested thousands of levels deep must not take the
 *    process down when a live subscriber is there (JSON.stringify threw RangeError in the hub);
 * 2. once accepted, such an entry (or an API entry with a context 100,000 levels deep) must not
 *    poison any read: GET /api/logs for the app and for the admin, WebSocket and SSE history, and
 *    with Redis after a restart of the process;
 * 4. history is bounded in bytes, not only lines: 40 JSON bodies of one 7 MB message each must not
 *    grow the process by hundreds of MB, nor Redis beyond HISTORY_BYTES_PER_APP.
 *
 * Every gateway here is started for its test (a crash in one test must not fail the next for
 * the wrong reason), on a fresh REDIS_PREFIX unless the test restarts one on purpose.
 */

const ADMIN = 'hardening-admin-token-0123456789abcdef';
const BASE_ENV = { ADMIN_TOKEN: ADMIN, HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_LINES_PER_SEC: '0' };
const MAX_FRAME_BYTES = 10_240;
const MAX_MESSAGE_BYTES = 64 * 1024;
const MAX_JSON_DEPTH = 32;

type Backend = 'memory' | 'redis';

let sharedRedis: Promise<TestRedis> | undefined;
const prefixes: string[] = [];
const running: GatewayProcess[] = [];
const clients: { close(): void }[] = [];

async function redisUrl(): Promise<string> {
  return (await (sharedRedis ??= getTestRedis().then((r) => r!))).url;
}

/** A fresh REDIS_PREFIX, deleted after the file. */
function newPrefix(): string {
  const p = testKeyPrefix('hardening');
  prefixes.push(p);
  return p;
}

/** Starts a gateway with `apps`; on Redis with `prefix` (a fresh one when not given). */
async function startGateway(backend: Backend, apps: LiveApp[], opts: { prefix?: string; env?: Record<string, string> } = {}): Promise<GatewayProcess> {
  const env: Record<string, string> = { ...BASE_ENV, SLUICE_CONFIG: writeAppsConfig(apps), ...opts.env };
  if (backend === 'redis') Object.assign(env, { REDIS_URL: await redisUrl(), REDIS_PREFIX: opts.prefix ?? newPrefix() });
  const gw = await startGatewayProcess(env);
  running.push(gw);
  return gw;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(running.splice(0).map((gw) => gw.stop()));
});

afterAll(async () => {
  if (!sharedRedis) return;
  const redis = await sharedRedis;
  await Promise.all(prefixes.map((p) => deleteKeysWithPrefix(redis.url, p)));
  await redis.stop();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

const drainPost = (gw: GatewayProcess, app: LiveApp, body: string) =>
  call(`${gw.url}/drain`, { method: 'POST', headers: { 'Content-Type': 'application/logplex-1', Authorization: basic(app.ingest) }, body });

const jsonPost = (gw: GatewayProcess, app: LiveApp, body: string) =>
  call(`${gw.url}/api/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${app.ingest}` }, body });

const readApp = (gw: GatewayProcess, app: LiveApp, query = '') => call(`${gw.url}/api/logs?limit=1000${query}`, { headers: { Authorization: `Bearer ${app.read}` } });
const readAll = (gw: GatewayProcess, query = '') => call(`${gw.url}/api/logs?limit=1000${query}`, { headers: { Authorization: `Bearer ${ADMIN}` } });

/** `{"a":` + `[`×(depth−1) + `]`×(depth−1) + `}`: valid JSON, `depth` levels with the outer object. */
function deepArrayObject(depth: number, leaf = ''): string {
  return `{"a":${'['.repeat(depth - 1)}${leaf}${']'.repeat(depth - 1)}}`;
}

/** Nesting depth of a parsed JSON value (the outer object or array is 1), without recursion. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    max = Math.max(max, d);
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, d + 1]);
  }
  return max;
}

/** Subscribes over the WebSocket and waits for `live`. */
async function wsSubscribe(gw: GatewayProcess, app: LiveApp, history: number): Promise<LiveClient> {
  const client = await LiveClient.connect(gw.url, { token: app.read });
  clients.push(client);
  client.send({ type: 'subscribe', apps: [app.id], history });
  await client.waitForType('live', 10_000);
  return client;
}

/** Entries a WebSocket client got before its `live` marker (its history). */
function historyOf(client: LiveClient): Entry[] {
  const stream = streamMessages(client.messages);
  const at = stream.findIndex((m) => m.type === 'live');
  return stream.slice(0, at < 0 ? stream.length : at).flatMap(entriesOf);
}

async function sseOpen(gw: GatewayProcess, app: LiveApp, history: number): Promise<SseClient> {
  const sse = await SseClient.open(`${gw.url}/api/logs/stream?app_id=${app.id}&history=${history}&token=${app.read}`);
  clients.push(sse);
  return sse;
}

/** An SSE body with no error in it: no `error` event, no `{"error": …}` written into the 200. */
function expectNoSseError(sse: SseClient): void {
  expect.soft(sse.status).toBe(200);
  expect.soft(sse.events.filter((e) => e.event === 'error')).toEqual([]);
  expect.soft(sse.raw).not.toMatch(/"error"\s*:/);
}

/** The process has not exited and answers /health. */
async function expectAlive(gw: GatewayProcess): Promise<void> {
  expect(gw.child.exitCode, `the gateway exited; stderr:\n${gw.stderr().slice(-2000)}`).toBeNull();
  expect(gw.child.signalCode).toBeNull();
  expect((await call(`${gw.url}/health`)).status).toBe(200);
}

const byMessage = (entries: Entry[], message: string) => entries.filter((e) => e.message === message);

// ---------------------------------------------------------------------------------------------

const DEEP_LEVELS = 5000; // JSON.stringify throws RangeError at this depth (2000 or 4000 it survives)
const DEEP = deepArrayObject(DEEP_LEVELS);
const NORMAL = 'a normal line after the deep one';
const CONTEXT_LEVELS = 100_000;

/** A `{logs: [...]}` body of one entry whose context is nested CONTEXT_LEVELS deep, as text. */
function deepContextBody(batchId: string): string {
  const ctx = deepArrayObject(CONTEXT_LEVELS, '"bottom"');
  return `{"batch_id":"${batchId}","logs":[{"level":"warn","message":"deep context","context":${ctx}}]}`;
}

/** The checks on an API entry whose context was nested CONTEXT_LEVELS deep. */
function expectPrunedContext(e: Entry | undefined): void {
  expect(e, 'the deep-context entry').toBeDefined();
  expect(e!.flags).toContain('context_truncated');
  expect(depthOf(e!.context)).toBeLessThanOrEqual(MAX_JSON_DEPTH);
  expect(JSON.stringify(e!.context)).toContain('[truncated: nested too deep]');
}

function expectDeepDrainEntry(e: Entry | undefined): void {
  expect(e, 'the deep drain entry').toBeDefined();
  expect(e!.flags).toContain('json_too_deep');
  expect(e!.context).toBeUndefined();
}

describe.each<Backend>(['memory', 'redis'])('issue 9 on the %s store (real process)', (backend) => {
  describe.skipIf(backend === 'redis' && !redisAvailable)(`(${backend})`, () => {
    it(
      'survives a valid 10 KB drain frame of JSON nested 5000 deep with live subscribers, and serves it as text everywhere',
      async () => {
        const app = liveApp('deep');
        const gw = await startGateway(backend, [app]);
        const ws = await wsSubscribe(gw, app, 10);
        const sse = await sseOpen(gw, app, 10);
        await sse.waitForEvent((e) => e.event === 'live', 10_000, 'the SSE live marker');

        const deepFrame = drainFrame(DEEP);
        expect(Buffer.byteLength(deepFrame) - deepFrame.indexOf(' ') - 1, 'the frame fits MAX_FRAME_BYTES').toBeLessThanOrEqual(MAX_FRAME_BYTES);
        expect(JSON.parse(DEEP)).toBeTypeOf('object'); // valid JSON
        const posted = await drainPost(gw, app, deepFrame + drainFrame(NORMAL));
        expect(posted.status).toBe(200);
        expect(posted.json.accepted).toBeGreaterThanOrEqual(1);

        await sleep(1000);
        await expectAlive(gw);

        // The live subscribers got both lines, the deep one as text with its flag.
        const live = await ws.waitForEntries(2, 10_000);
        expectDeepDrainEntry(byMessage(live, DEEP)[0]);
        expect(byMessage(live, NORMAL)).toHaveLength(1);
        await sse.waitForEvent((e) => e.data.includes(NORMAL), 10_000, 'the normal line over SSE');
        const sseLive = sse.entries();
        expectDeepDrainEntry(byMessage(sseLive, DEEP)[0]);
        expect(byMessage(sseLive, NORMAL)).toHaveLength(1);

        // Reads: the app's, the admin's over all apps.
        for (const read of [await readApp(gw, app), await readAll(gw)]) {
          expect.soft(read.status, read.text.slice(0, 300)).toBe(200);
          const entries = (read.json?.entries ?? []) as Entry[];
          expectDeepDrainEntry(byMessage(entries, DEEP)[0]);
          expect(byMessage(entries, NORMAL)).toHaveLength(1);
        }
        // A new WebSocket subscription with history, and a new SSE with history.
        const again = await wsSubscribe(gw, app, 10);
        const history = historyOf(again);
        expectDeepDrainEntry(byMessage(history, DEEP)[0]);
        expect(byMessage(history, NORMAL)).toHaveLength(1);
        expect(again.messages.filter((m) => m.type === 'error')).toEqual([]);
        const sse2 = await sseOpen(gw, app, 10);
        await sse2.waitForEvent((e) => e.event === 'live', 10_000, 'the second SSE live marker');
        expect(byMessage(sse2.entries(), DEEP)).toHaveLength(1);
        expectNoSseError(sse);
        expectNoSseError(sse2);
        await expectAlive(gw);
      },
      60_000,
    );

    it(
      'stores once, flagged context_truncated, an API entry whose context is nested 100,000 deep, and every read works',
      async () => {
        const app = liveApp('deep-context');
        const gw = await startGateway(backend, [app]);
        const ws = await wsSubscribe(gw, app, 10);
        const batchId = `deep-${Date.now()}`;
        const body = deepContextBody(batchId);

        const first = await jsonPost(gw, app, body);
        expect.soft(first.status, first.text.slice(0, 300)).toBe(201);
        expect.soft(first.json?.saved).toBe(1);
        if (first.status === 201) expectPrunedContext((first.json.entries as Entry[])[0]);

        const retry = await jsonPost(gw, app, body);
        expect.soft(retry.status, retry.text.slice(0, 300)).toBe(200);
        expect.soft(retry.json?.duplicate).toBe(true);

        await sleep(500);
        await expectAlive(gw);
        expectPrunedContext(byMessage(await ws.waitForEntries(1, 10_000), 'deep context')[0]);

        for (const read of [await readApp(gw, app), await readAll(gw, `&batch_id=${batchId}`)]) {
          expect.soft(read.status, read.text.slice(0, 300)).toBe(200);
          const found = byMessage((read.json?.entries ?? []) as Entry[], 'deep context');
          expect.soft(found, 'stored exactly once').toHaveLength(1);
          expectPrunedContext(found[0]);
        }
        const again = await wsSubscribe(gw, app, 10);
        expectPrunedContext(byMessage(historyOf(again), 'deep context')[0]);
        const sse = await sseOpen(gw, app, 10);
        await sse.waitForEvent((e) => e.event === 'live', 10_000, 'the SSE live marker');
        expect(byMessage(sse.entries(), 'deep context')).toHaveLength(1);
        expectNoSseError(sse);
        await expectAlive(gw);
      },
      60_000,
    );

    // Redis only: the memory store's history ends with its process, so a restart has nothing to read.
    it.runIf(backend === 'redis')(
      'still reads the deep entries after a restart of the process on the same REDIS_PREFIX',
      async () => {
        const app = liveApp('restart');
        const prefix = newPrefix();
        const gw1 = await startGateway(backend, [app], { prefix });
        const batchId = `restart-${Date.now()}`;
        const drained = await drainPost(gw1, app, drainFrame(DEEP) + drainFrame(NORMAL));
        expect(drained.status).toBe(200);
        expect(drained.json.accepted).toBe(2);
        const api = await jsonPost(gw1, app, deepContextBody(batchId));
        expect.soft(api.status, api.text.slice(0, 300)).toBe(201);
        expect(await gw1.stop()).toBe(0);

        const gw2 = await startGateway(backend, [app], { prefix });
        for (const read of [await readApp(gw2, app), await readAll(gw2)]) {
          expect.soft(read.status, read.text.slice(0, 300)).toBe(200);
          const entries = (read.json?.entries ?? []) as Entry[];
          expectDeepDrainEntry(byMessage(entries, DEEP)[0]);
          expect(byMessage(entries, NORMAL)).toHaveLength(1);
          const deepContext = byMessage(entries, 'deep context');
          expect(deepContext).toHaveLength(1);
          expectPrunedContext(deepContext[0]);
        }
        const ws = await wsSubscribe(gw2, app, 10);
        const history = historyOf(ws);
        expect(ws.messages.filter((m) => m.type === 'error')).toEqual([]);
        expectDeepDrainEntry(byMessage(history, DEEP)[0]);
        expectPrunedContext(byMessage(history, 'deep context')[0]);
        const sse = await sseOpen(gw2, app, 10);
        await sse.waitForEvent((e) => e.event === 'live', 10_000, 'the SSE live marker');
        expect(sse.entries()).toHaveLength(3);
        expectNoSseError(sse);
        // The dedupe key survived the restart too.
        const retry = await jsonPost(gw2, app, deepContextBody(batchId));
        expect(retry.status).toBe(200);
        expect(retry.json.duplicate).toBe(true);
        await expectAlive(gw2);
      },
      60_000,
    );

    it(
      'keeps history bounded in bytes under 40 JSON bodies of one 7 MB message each',
      async () => {
        // 40 × 7 MiB sent one after the other takes a few seconds on loopback (2 cores).
        const COUNT = 40;
        const MESSAGE_CHARS = 7 * 1024 * 1024; // body ≈ 7 MiB + 20 B, under MAX_BODY_BYTES (8 MiB)
        // With Redis a smaller byte bound than the default 8 MiB, so that the trim itself runs:
        // 40 messages cut to 64 KiB are 2.6 MB, under 8 MiB.
        const HISTORY_BYTES = 1024 * 1024;
        const app = liveApp('big');
        const prefix = backend === 'redis' ? newPrefix() : undefined;
        const gw = await startGateway(backend, [app], backend === 'redis' ? { prefix, env: { HISTORY_BYTES_PER_APP: String(HISTORY_BYTES) } } : {});
        const pid = pidOf(gw);

        // Warm up (first request compiles the routes), then take the baseline.
        expect((await jsonPost(gw, app, JSON.stringify({ message: 'warm-up' }))).status).toBe(201);
        expect((await readApp(gw, app)).status).toBe(200);
        await sleep(300);
        const before = processMemory(pid)!;
        let peak = before.rssMiB;
        const sampler = setInterval(() => {
          const m = processMemory(pid);
          if (m) peak = Math.max(peak, m.rssMiB);
        }, 50);
        const t0 = Date.now();
        let afterIngest: { rssMiB: number };
        let afterRead: { rssMiB: number };
        let entries: Entry[] = [];
        let readStatus = 0;
        try {
          for (let i = 0; i < COUNT; i++) {
            // Each message differs in its first character, so nothing is shared between them.
            const message = String.fromCharCode(65 + (i % 26)) + 'x'.repeat(MESSAGE_CHARS - 1);
            const res = await jsonPost(gw, app, `{"level":"info","message":"${message}"}`);
            expect(res.status, res.text.slice(0, 300)).toBe(201);
          }
          await sleep(500);
          afterIngest = processMemory(pid)!;
          const read = await readApp(gw, app);
          readStatus = read.status;
          entries = ((read.json?.entries ?? []) as Entry[]).filter((e) => e.message !== 'warm-up');
          await sleep(500);
          afterRead = processMemory(pid)!;
        } finally {
          clearInterval(sampler);
        }
        const growth = { ingest: afterIngest.rssMiB - before.rssMiB, read: afterRead.rssMiB - before.rssMiB, peak: peak - before.rssMiB };
        console.log(
          `[${backend}] ${COUNT} × 7 MiB in ${Date.now() - t0} ms; RSS before ${before.rssMiB.toFixed(0)} MiB, ` +
            `+${growth.ingest.toFixed(0)} after ingest, +${growth.read.toFixed(0)} after the read, peak sampled +${growth.peak.toFixed(0)} MiB`,
        );
        expect.soft(growth.ingest, 'RSS growth after ingest, MiB').toBeLessThan(150);
        expect.soft(growth.read, 'RSS growth after the read, MiB').toBeLessThan(150);

        expect.soft(readStatus).toBe(200);
        expect.soft(entries.length).toBeGreaterThan(0);
        if (backend === 'memory') expect.soft(entries, 'all 40 fit 8 MiB once cut to 64 KiB').toHaveLength(COUNT);
        expect.soft(Math.max(0, ...entries.map((e) => e.message.length)), 'longest message read back').toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
        expect.soft(entries.filter((e) => !e.flags?.includes('truncated')).length, 'entries without flag truncated').toBe(0);

        if (backend === 'redis') {
          const keys = new RedisKeys(prefix!, 8); // REDIS_SHARDS' default
          const redis = new Redis(await redisUrl(), { maxRetriesPerRequest: 1 });
          try {
            const history = keys.history(app.id);
            const blocks = (await redis.xrangeBuffer(history, '-', '+')) as [Buffer, Buffer[]][];
            const blockBytes = blocks.reduce((n, [, fields]) => n + fields[1]!.length, 0);
            // The app's state `<last> <bytes> <head>`: the bytes the script counts the blocks at.
            const counter = Number((await redis.get(keys.historyCount(app.id)))?.split(' ')[1] ?? NaN);
            const usage = Number(await redis.call('MEMORY', 'USAGE', history, 'SAMPLES', '0'));
            console.log(`[redis] history: ${blocks.length} blocks, ${blockBytes} B of blocks, state bytes ${counter}, MEMORY USAGE ${usage} B`);
            expect.soft(blockBytes, 'bytes of the blocks held').toBeLessThanOrEqual(HISTORY_BYTES);
            expect.soft(counter, 'the state\'s bytes').toBeLessThanOrEqual(HISTORY_BYTES);
            expect.soft(counter).toBe(blockBytes);
            expect.soft(usage, 'MEMORY USAGE of the history stream').toBeLessThanOrEqual(HISTORY_BYTES * 1.5);
            // What the read returned is what is held (the warm-up line went with the trim).
            expect.soft(entries.length).toBe(blocks.length);
          } finally {
            redis.disconnect();
          }
        }
        await expectAlive(gw);
      },
      180_000,
    );
  });
});

