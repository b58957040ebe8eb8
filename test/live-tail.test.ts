import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../src/normalize/entry.js';
import {
  drainFrame,
  entriesOf,
  LineStream,
  LiveClient,
  liveApp,
  pidOf,
  pool,
  postBody,
  postLines,
  processMemory,
  RawPeer,
  sleep,
  SseClient,
  streamMessages,
  UpgradeRefused,
  writeAppsConfig,
  type LiveApp,
  type LiveMessage,
} from './support/live.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix, type TestRedis } from './support/redis.js';

/**
 * The live tail (protocol/README.md, "Live tail") against real gateway processes, checked the way
 * /work/shared/docs/live-tail.md's acceptance checks 1–6 describe: history then `live` then live
 * lines with no seam loss, resume by `since_id` / `Last-Event-ID`, slow consumers told exactly what
 * they lost, heartbeats and dead peers, read-token auth, and two processes on one Redis.
 */

const ADMIN = 'live-admin-token-0123456789abcdef';

/** Timings kept short so the whole file runs in well under a minute. */
const HEARTBEAT_MS = 300;
const PONG_TIMEOUT_MS = 300;
const AUTH_TIMEOUT_MS = 500;
const SSE_HEARTBEAT_MS = 200;
const SESSION_TTL_MS = 1000;
const TRIM_HISTORY = 50;

const FAST_ENV = {
  ADMIN_TOKEN: ADMIN,
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  RATE_LIMIT_LINES_PER_SEC: '0',
  FANOUT_HEARTBEAT_MS: String(HEARTBEAT_MS),
  FANOUT_PONG_TIMEOUT_MS: String(PONG_TIMEOUT_MS),
  FANOUT_AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS),
  FANOUT_SSE_HEARTBEAT_MS: String(SSE_HEARTBEAT_MS),
  SESSION_TTL_MS: String(SESSION_TTL_MS),
};

type Backend = 'memory' | 'redis';

let sharedRedis: Promise<TestRedis> | undefined;
const prefixes: string[] = [];

/** Starts a gateway with a config file of `apps`; on Redis with a fresh `REDIS_PREFIX`. */
async function startGateway(backend: Backend, apps: LiveApp[], env: Record<string, string> = {}): Promise<GatewayProcess> {
  const full: Record<string, string> = { ...FAST_ENV, SLUICE_CONFIG: writeAppsConfig(apps), ...env };
  if (backend === 'redis') {
    const redis = await (sharedRedis ??= getTestRedis().then((r) => r!));
    const prefix = testKeyPrefix('live');
    prefixes.push(prefix);
    Object.assign(full, { REDIS_URL: redis.url, REDIS_PREFIX: prefix, APP_CACHE_TTL_MS: '200' });
  }
  return startGatewayProcess(full);
}

afterAll(async () => {
  if (!sharedRedis) return;
  const redis = await sharedRedis;
  await Promise.all(prefixes.map((p) => deleteKeysWithPrefix(redis.url, p)));
  await redis.stop();
});

const messagesOf = (entries: Entry[]) => entries.map((e) => e.message);
const range = (from: number, to: number, label: string) => Array.from({ length: to - from + 1 }, (_, i) => `${label} ${from + i}`);
const isGap = (m: LiveMessage) => m.type === 'gap';

/** Connects with `token` and subscribes; resolves once the `live` marker is in. */
async function subscribe(base: string, token: string, sub: Record<string, unknown>, timeoutMs = 5000): Promise<LiveClient> {
  const client = await LiveClient.connect(base, { token });
  client.send({ type: 'subscribe', ...sub });
  await client.waitForType('live', timeoutMs);
  return client;
}

/** Entries before the first `live`, the `live` index in the stream, and entries after it. */
function splitAtLive(client: LiveClient): { before: Entry[]; after: Entry[]; stream: LiveMessage[] } {
  const stream = streamMessages(client.messages);
  const at = stream.findIndex((m) => m.type === 'live');
  expect(at, 'a live marker').toBeGreaterThanOrEqual(0);
  return { before: stream.slice(0, at).flatMap(entriesOf), after: stream.slice(at + 1).flatMap(entriesOf), stream };
}

// ---------------------------------------------------------------------------------------------
// Checks 1, 2, 4, 5, SSE and sessions on both stores
// ---------------------------------------------------------------------------------------------

const BACKENDS: Backend[] = ['memory', 'redis'];

describe.each(BACKENDS)('live tail on the %s store', (backend) => {
  describe.skipIf(backend === 'redis' && !redisAvailable)(`(${backend})`, () => {
    const seam = liveApp('seam');
    const seamBatch = liveApp('seam-batch');
    const race = liveApp('race');
    const resume = liveApp('resume');
    const trim = liveApp('trim');
    const hb = liveApp('hb');
    const authA = liveApp('auth-a');
    const authB = liveApp('auth-b');
    const filt = liveApp('filt');
    const sse = liveApp('sse');
    const sseResume = liveApp('sse-resume');
    const sess = liveApp('sess');
    const burstApp = liveApp('burst');
    const apps = [seam, seamBatch, race, resume, hb, authA, authB, filt, sse, sseResume, sess, burstApp];

    let gw: GatewayProcess;
    let trimGw: GatewayProcess;
    const clients: LiveClient[] = [];
    const track = <T extends LiveClient>(c: T): T => (clients.push(c), c);

    beforeAll(async () => {
      [gw, trimGw] = await Promise.all([
        startGateway(backend, apps),
        startGateway(backend, [trim], { HISTORY_PER_APP: String(TRIM_HISTORY) }),
      ]);
    });
    afterAll(async () => {
      for (const c of clients) c.terminate();
      await Promise.all([gw?.stop(), trimGw?.stop()]);
    });

    // -- check 1 ---------------------------------------------------------------------------

    it('sends exactly lines 51–150 of 150 in order for history 100, then live, then new lines, with no duplicate ids', async () => {
      for (let b = 0; b < 3; b++) await postLines(gw.url, seam.ingest, range(b * 50 + 1, b * 50 + 50, 'line'));
      const client = track(await subscribe(gw.url, seam.read, { apps: ['seam'], history: 100 }));
      await postLines(gw.url, seam.ingest, range(151, 155, 'line'));
      await client.waitForEntries(105);
      await sleep(100); // anything extra (a duplicate) would arrive now
      const { before, after, stream } = splitAtLive(client);
      expect(messagesOf(before)).toEqual(range(51, 150, 'line'));
      expect(messagesOf(after)).toEqual(range(151, 155, 'line'));
      expect(stream.filter(isGap)).toEqual([]);
      const ids = [...before, ...after].map((e) => e.id);
      expect(new Set(ids).size).toBe(105);
      expect(client.messages[0]).toMatchObject({ type: 'connected', connections: expect.any(Number) });
      expect(before.every((e) => e.app_id === 'seam')).toBe(true);
    });

    it('sends the same in logs frames when the subscription asks for batch', async () => {
      await postLines(gw.url, seamBatch.ingest, range(1, 150, 'line'));
      const client = track(await subscribe(gw.url, seamBatch.read, { apps: ['seam-batch'], history: 100, batch: true }));
      await postLines(gw.url, seamBatch.ingest, range(151, 160, 'line'));
      await client.waitForEntries(110);
      await sleep(100);
      const { before, after, stream } = splitAtLive(client);
      expect(stream.filter((m) => m.type === 'log')).toEqual([]);
      expect(stream.filter((m) => m.type === 'logs').length).toBeGreaterThan(0);
      for (const m of stream.filter((m) => m.type === 'logs')) expect(Array.isArray(m.data)).toBe(true);
      expect(messagesOf(before)).toEqual(range(51, 150, 'line'));
      expect(messagesOf(after)).toEqual(range(151, 160, 'line'));
      expect(new Set([...before, ...after].map((e) => e.id)).size).toBe(110);
    });

    it('keeps the seam whole (no hole, no duplicate) while lines keep arriving during the subscription', async () => {
      await postLines(gw.url, race.ingest, range(1, 150, 'line'));
      let writing = true;
      const writer = (async () => {
        for (let n = 151; n <= 400; n++) await postLines(gw.url, race.ingest, [`line ${n}`]);
        writing = false;
      })();
      await sleep(30);
      const client = track(await subscribe(gw.url, race.read, { apps: ['race'], history: 100 }));
      const subscribedWhileWriting = writing;
      await writer;
      await client.waitFor((m) => entriesOf(m).some((e) => e.message === 'line 400'), 10_000);
      await sleep(100);
      const { before, after } = splitAtLive(client);
      expect(before).toHaveLength(100);
      const nums = [...before, ...after].map((e) => Number(e.message.split(' ')[1]));
      const first = nums[0]!;
      expect(nums).toEqual(Array.from({ length: 400 - first + 1 }, (_, i) => first + i));
      expect(new Set([...before, ...after].map((e) => e.id)).size).toBe(nums.length);
      expect(subscribedWhileWriting, 'the subscription raced the writer').toBe(true);
    });

    it('loses nothing for a reading client when one request brings more than FANOUT_QUEUE_MAX_BYTES (12k lines, ~5 MB)', async () => {
      // Default limits: 4 MiB queue + 1 MiB socket high water. A client that reads at once has
      // room in its socket for this; only a client that does not read should lose entries.
      const client = track(await subscribe(gw.url, burstApp.read, { apps: ['burst'], batch: true }));
      const body = Array.from({ length: 12_000 }, (_, i) => drainFrame(`n=${i} ${'y'.repeat(120)}`)).join('');
      expect(await postBody(gw.url, burstApp.ingest, body)).toBe(12_000);
      await postLines(gw.url, burstApp.ingest, ['burst end']);
      await client.waitFor((m) => entriesOf(m).some((e) => e.message === 'burst end'), 10_000);
      const gaps = client.messages.filter(isGap);
      expect(gaps, `gaps: ${JSON.stringify(gaps)}`).toEqual([]);
      const got = client.entries().filter((e) => e.message.startsWith('n='));
      expect(got.map((e) => Number(e.message.split(' ')[0]!.slice(2)))).toEqual(Array.from({ length: 12_000 }, (_, i) => i));
    });

    // -- check 2 ---------------------------------------------------------------------------

    it('resumes after since_id X with exactly the 50 lines posted while away, then live', async () => {
      const first = track(await subscribe(gw.url, resume.read, { apps: ['resume'] }));
      await postLines(gw.url, resume.ingest, range(1, 10, 'line'));
      const seen = await first.waitForEntries(10);
      const x = seen[9]!;
      expect(x.message).toBe('line 10');
      first.close();
      await first.closed;

      await postLines(gw.url, resume.ingest, range(11, 35, 'line'));
      await postLines(gw.url, resume.ingest, range(36, 60, 'line'));
      const again = track(await subscribe(gw.url, resume.read, { apps: ['resume'], since_id: x.id }));
      await postLines(gw.url, resume.ingest, ['line 61']);
      await again.waitFor((m) => entriesOf(m).some((e) => e.message === 'line 61'));
      await sleep(100);
      const { before, after, stream } = splitAtLive(again);
      expect(stream[0]!.type, 'no gap: X is still in history').not.toBe('gap');
      expect(messagesOf(before)).toEqual(range(11, 60, 'line'));
      expect(messagesOf(after)).toEqual(['line 61']);
    });

    it('starts with a gap (recovered false) when since_id X was trimmed from history', async () => {
      const first = track(await subscribe(trimGw.url, trim.read, { apps: ['trim'] }));
      await postLines(trimGw.url, trim.ingest, range(1, 10, 'line'));
      const x = (await first.waitForEntries(10))[9]!;
      first.close();
      await first.closed;

      const missed = 400; // far past HISTORY_PER_APP (50), also past Redis' approximate trimming
      for (let b = 0; b < missed / 100; b++) await postLines(trimGw.url, trim.ingest, range(11 + b * 100, 110 + b * 100, 'line'));
      const again = track(await subscribe(trimGw.url, trim.read, { apps: ['trim'], since_id: x.id }));
      await sleep(100);
      const stream = streamMessages(again.messages);
      const gap = stream[0]!;
      expect(gap).toMatchObject({ type: 'gap', recovered: false });
      const { before } = splitAtLive(again);
      // What follows the gap is a run of the newest lines, ending with the last one posted.
      const nums = before.map((e) => Number(e.message.split(' ')[1]));
      if (nums.length > 0) {
        expect(nums[nums.length - 1]).toBe(10 + missed);
        expect(nums).toEqual(Array.from({ length: nums.length }, (_, i) => 10 + missed - nums.length + 1 + i));
      }
      if (gap.count !== undefined) expect(gap.count + nums.length).toBe(missed);
    });

    // -- check 4 ---------------------------------------------------------------------------

    it('sends an idle connection heartbeat messages and WebSocket pings every FANOUT_HEARTBEAT_MS', async () => {
      const client = track(await subscribe(gw.url, hb.read, { apps: ['hb'] }));
      const from = client.messages.length;
      await sleep(HEARTBEAT_MS * 4);
      const beats = client.messages.slice(from).filter((m) => m.type === 'heartbeat');
      expect(beats.length).toBeGreaterThanOrEqual(2);
      for (const b of beats) expect(Number.isNaN(Date.parse(b.time!))).toBe(false);
      expect(client.pings).toBeGreaterThanOrEqual(1);
      const times = client.times.slice(from).filter((_, i) => client.messages[from + i]!.type === 'heartbeat');
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeLessThan(HEARTBEAT_MS * 2 + 200);
      expect(client.closeInfo, 'a client answering pings stays open').toBeUndefined();
    });

    it('closes a raw WebSocket peer that never answers pings within heartbeat + pong timeout', async () => {
      const peer = await RawPeer.connect(gw.port, `/ws?token=${hb.read}`);
      const start = Date.now();
      const closedAt = await Promise.race([peer.closed, sleep(5000).then(() => -1)]);
      peer.destroy();
      expect(peer.handshake).toMatch(/^HTTP\/1\.1 101/);
      expect(closedAt, 'the server closed the dead peer').toBeGreaterThan(0);
      expect(peer.opcodes).toContain(0x9); // it was pinged
      const took = closedAt - start;
      console.log(`[live-tail ${backend}] dead raw peer closed after ${took} ms (heartbeat ${HEARTBEAT_MS} + pong ${PONG_TIMEOUT_MS})`);
      // One heartbeat tick of scheduling slack on top of heartbeat + pong timeout.
      expect(took).toBeLessThan(HEARTBEAT_MS * 2 + PONG_TIMEOUT_MS + 300);
    });

    it('closes a WebSocket client whose socket stopped reading (pings unanswered)', async () => {
      const client = await LiveClient.connect(gw.url, { token: hb.read });
      await client.waitForType('connected');
      const health = async () => ((await (await request(`${gw.url}/health`)).body.json()) as { ws_connections: number }).ws_connections;
      const withIt = await health();
      client.pause();
      await sleep(HEARTBEAT_MS * 2 + PONG_TIMEOUT_MS + 400);
      expect(await health()).toBe(withIt - 1);
      client.resume();
      const closed = await Promise.race([client.closed, sleep(2000).then(() => undefined)]);
      expect(closed, 'the server had closed it').toBeDefined();
    });

    // -- check 5 ---------------------------------------------------------------------------

    it('closes with 4001 a connection that presents no token within FANOUT_AUTH_TIMEOUT_MS', async () => {
      const start = Date.now();
      const client = track(await LiveClient.connect(gw.url));
      client.send({ type: 'ping' });
      await client.waitForType('pong');
      await postLines(gw.url, authA.ingest, ['secret line']);
      const closed = await client.closed;
      console.log(`[live-tail ${backend}] unauthenticated connection closed ${closed.code} after ${closed.at - start} ms (auth timeout ${AUTH_TIMEOUT_MS})`);
      expect(closed.code).toBe(4001);
      expect(closed.at - start).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 50);
      expect(closed.at - start).toBeLessThan(AUTH_TIMEOUT_MS + 1500);
      expect(client.entries()).toEqual([]);
    });

    it('refuses a subscription without a token: error unauthorized and close 4001, never an entry', async () => {
      const client = track(await LiveClient.connect(gw.url));
      client.send({ type: 'subscribe', apps: ['auth-a'] });
      expect(await client.waitForType('error')).toMatchObject({ error: 'unauthorized' });
      await postLines(gw.url, authA.ingest, ['secret line 2']);
      expect((await client.closed).code).toBe(4001);
      expect(client.entries()).toEqual([]);
      expect(client.messages.some((m) => m.type === 'live')).toBe(false);
    });

    it('does not take an ingest token as a read token (in the URL or in an auth message)', async () => {
      // In the URL: refused at the upgrade, or never authenticated (4001) — either way no entries.
      let inUrl: LiveClient | undefined;
      try {
        inUrl = track(await LiveClient.connect(gw.url, { token: authA.ingest }));
      } catch (err) {
        expect(err).toBeInstanceOf(UpgradeRefused);
        expect([401, 403]).toContain((err as UpgradeRefused).status);
      }
      if (inUrl) inUrl.send({ type: 'subscribe', apps: ['auth-a'] });

      const byMessage = track(await LiveClient.connect(gw.url));
      byMessage.send({ type: 'auth', token: authA.ingest });
      const err = await byMessage.waitForType('error');
      expect(['unauthorized', 'forbidden']).toContain(err.error);
      byMessage.send({ type: 'subscribe', apps: ['auth-a'] });
      await postLines(gw.url, authA.ingest, ['not for ingest tokens']);
      expect((await byMessage.closed).code).toBe(4001);
      if (inUrl) expect((await inUrl.closed).code).toBe(4001);
      expect(byMessage.entries()).toEqual([]);
      expect(inUrl?.entries() ?? []).toEqual([]);
    });

    it('authenticates with a first auth message or a Bearer header', async () => {
      const byMessage = track(await LiveClient.connect(gw.url));
      byMessage.send({ type: 'auth', token: authA.read });
      byMessage.send({ type: 'subscribe', apps: ['auth-a'] });
      await byMessage.waitForType('live');
      const byHeader = track(await LiveClient.connect(gw.url, { headers: { Authorization: `Bearer ${authA.read}` } }));
      byHeader.send({ type: 'subscribe', apps: ['auth-a'] });
      await byHeader.waitForType('live');
      const inSubscribe = track(await LiveClient.connect(gw.url));
      inSubscribe.send({ type: 'subscribe', apps: ['auth-a'], token: authA.read });
      await inSubscribe.waitForType('live');
      await postLines(gw.url, authA.ingest, ['auth ok']);
      for (const c of [byMessage, byHeader, inSubscribe]) {
        await c.waitFor((m) => entriesOf(m).some((e) => e.message === 'auth ok'));
      }
      await sleep(AUTH_TIMEOUT_MS + 200);
      for (const c of [byMessage, byHeader, inSubscribe]) expect(c.closeInfo).toBeUndefined();
    });

    it('answers forbidden when a token of app A subscribes to app B, and the connection stays usable', async () => {
      const client = track(await LiveClient.connect(gw.url, { token: authA.read }));
      client.send({ type: 'subscribe', apps: ['auth-b'] });
      expect(await client.waitForType('error')).toMatchObject({ error: 'forbidden' });
      client.send({ type: 'subscribe', apps: ['auth-a', 'auth-b'] });
      expect(await client.waitFor((m) => m.type === 'error', 5000, client.messages.length)).toMatchObject({ error: 'forbidden' });
      // No apps given: the token's own app.
      client.send({ type: 'subscribe' });
      await client.waitForType('live');
      await postLines(gw.url, authB.ingest, ['b only']);
      await postLines(gw.url, authA.ingest, ['a only']);
      await client.waitFor((m) => entriesOf(m).some((e) => e.message === 'a only'));
      await sleep(100);
      expect(client.entries().map((e) => e.app_id)).toEqual(['auth-a']);
      expect(client.closeInfo).toBeUndefined();
    });

    it('lets the admin token follow every app, or the ones it names, and answers unknown_app', async () => {
      const all = track(await subscribe(gw.url, ADMIN, {}));
      const onlyB = track(await subscribe(gw.url, ADMIN, { apps: ['auth-b'] }));
      const unknown = track(await LiveClient.connect(gw.url, { token: ADMIN }));
      unknown.send({ type: 'subscribe', apps: ['no-such-app'] });
      expect(await unknown.waitForType('error')).toMatchObject({ error: 'unknown_app' });
      await postLines(gw.url, authA.ingest, ['admin sees a']);
      await postLines(gw.url, authB.ingest, ['admin sees b']);
      await all.waitFor((m) => entriesOf(m).some((e) => e.message === 'admin sees b'));
      await onlyB.waitFor((m) => entriesOf(m).some((e) => e.message === 'admin sees b'));
      await sleep(100);
      expect(all.entries().map((e) => [e.app_id, e.message])).toEqual([
        ['auth-a', 'admin sees a'],
        ['auth-b', 'admin sees b'],
      ]);
      expect(onlyB.entries().map((e) => e.message)).toEqual(['admin sees b']);
    });

    it('answers invalid_regex, invalid_level and invalid_message, and the connection stays usable', async () => {
      const client = track(await LiveClient.connect(gw.url, { token: filt.read }));
      client.send({ type: 'subscribe', regex: '(' });
      expect(await client.waitForType('error')).toMatchObject({ error: 'invalid_regex' });
      let from = client.messages.length;
      client.send({ type: 'subscribe', levels: ['loud'] });
      expect(await client.waitFor((m) => m.type === 'error', 5000, from)).toMatchObject({ error: 'invalid_level' });
      from = client.messages.length;
      client.send('this is not json');
      expect(await client.waitFor((m) => m.type === 'error', 5000, from)).toMatchObject({ error: 'invalid_message' });
      from = client.messages.length;
      client.send({ type: 'ping' });
      await client.waitFor((m) => m.type === 'pong', 5000, from);
      client.send({ type: 'subscribe', regex: '^usable \\d+$' });
      await client.waitForType('live');
      await postLines(gw.url, filt.ingest, ['usable x', 'usable 1']);
      await client.waitFor((m) => entriesOf(m).some((e) => e.message === 'usable 1'));
      expect(client.entries().map((e) => e.message)).toEqual(['usable 1']);
      expect(client.closeInfo).toBeUndefined();
    });

    it('filters live entries by levels, proc, search and regex', async () => {
      const sub = (f: Record<string, unknown>) => subscribe(gw.url, filt.read, { apps: ['filt'], ...f });
      const [warnUp, exact, proc, search, regex] = await Promise.all([
        sub({ levels: ['warning'] }),
        sub({ levels: ['debug', 'error'] }),
        sub({ proc: 'web' }),
        sub({ search: 'NeEdLe' }),
        sub({ regex: 'needle \\d+' }),
      ]);
      [warnUp, exact, proc, search, regex].forEach(track);
      // PRI 190/188/187/191 = local7.info/warning/err/debug.
      const body = [
        drainFrame('alpha needle', { pri: 190, proc: 'web.1' }),
        drainFrame('beta', { pri: 188, proc: 'worker.1' }),
        drainFrame('gamma NEEDLE', { pri: 187, proc: 'web.2' }),
        drainFrame('delta needle 42', { pri: 191, proc: 'api' }),
        drainFrame('sentinel needle 99', { pri: 187, proc: 'web.1' }),
      ].join('');
      await postBody(gw.url, filt.ingest, body);
      const got = async (c: LiveClient) => {
        await c.waitFor((m) => entriesOf(m).some((e) => e.message === 'sentinel needle 99'));
        await sleep(50);
        return c.entries().map((e) => e.message);
      };
      expect(await got(warnUp)).toEqual(['beta', 'gamma NEEDLE', 'sentinel needle 99']);
      expect(await got(exact)).toEqual(['gamma NEEDLE', 'delta needle 42', 'sentinel needle 99']);
      expect(await got(proc)).toEqual(['alpha needle', 'gamma NEEDLE', 'sentinel needle 99']);
      expect(await got(search)).toEqual(['alpha needle', 'gamma NEEDLE', 'delta needle 42', 'sentinel needle 99']);
      expect(await got(regex)).toEqual(['delta needle 42', 'sentinel needle 99']);
    });

    it('answers ping with pong and stats with stats, and stops on unsubscribe', async () => {
      const client = track(await subscribe(gw.url, filt.read, { apps: ['filt'] }));
      client.send({ type: 'ping' });
      await client.waitForType('pong');
      client.send({ type: 'stats' });
      const stats = await client.waitForType('stats');
      expect(stats.data).toMatchObject({
        connections: expect.any(Number),
        subscribed: expect.anything(),
        queued: expect.any(Number),
        sent: expect.any(Number),
        dropped: expect.any(Number),
      });
      client.send({ type: 'unsubscribe' });
      await sleep(100);
      await postLines(gw.url, filt.ingest, ['after unsubscribe']);
      await sleep(200);
      expect(client.entries().map((e) => e.message)).not.toContain('after unsubscribe');
    });

    // -- SSE -------------------------------------------------------------------------------

    it('streams SSE history, then event live, then live events whose id is the entry id, with X-Accel-Buffering: no', async () => {
      await postLines(gw.url, sse.ingest, range(1, 8, 'sse'));
      const stream = await SseClient.open(`${gw.url}/api/logs/stream?app_id=sse&history=5&token=${sse.read}`);
      try {
        expect(stream.status).toBe(200);
        expect(String(stream.headers['content-type'])).toMatch(/^text\/event-stream/);
        expect(stream.headers['x-accel-buffering']).toBe('no');
        await stream.waitForEvent((e) => e.event === 'live');
        await postLines(gw.url, sse.ingest, ['sse 9', 'sse 10']);
        await stream.waitForEvent((e) => e.data.includes('"sse 10"'));
        await sleep(100);
        const events = stream.events;
        const live = events.findIndex((e) => e.event === 'live');
        expect(events.slice(0, live).every((e) => e.event === undefined)).toBe(true);
        const entries = stream.entries();
        expect(entries.map((e) => e.message)).toEqual(range(4, 10, 'sse'));
        expect(messagesOf(events.slice(0, live).map((e) => JSON.parse(e.data) as Entry))).toEqual(range(4, 8, 'sse'));
        for (const e of events.filter((e) => e.event === undefined)) expect(e.id).toBe((JSON.parse(e.data) as Entry).id);
        expect(new Set(entries.map((e) => e.id)).size).toBe(7);
      } finally {
        stream.close();
      }
    });

    it('resumes SSE after Last-Event-ID (header, or ?last_event_id=)', async () => {
      await postLines(gw.url, sseResume.ingest, range(1, 5, 'r'));
      const first = await SseClient.open(`${gw.url}/api/logs/stream?app_id=sse-resume&history=5`, { Authorization: `Bearer ${sseResume.read}` });
      await first.waitForEvent((e) => e.event === 'live');
      first.close();
      const last = first.events.find((e) => e.data.includes('"r 5"'))!;
      expect(last.id).toMatch(/^[0-9A-Z]{26}$/);
      await postLines(gw.url, sseResume.ingest, range(6, 8, 'r'));
      for (const how of ['header', 'query'] as const) {
        const url = `${gw.url}/api/logs/stream?app_id=sse-resume&token=${sseResume.read}${how === 'query' ? `&last_event_id=${last.id}` : ''}`;
        const again = await SseClient.open(url, how === 'header' ? { 'Last-Event-ID': last.id! } : {});
        try {
          await again.waitForEvent((e) => e.event === 'live');
          await sleep(50);
          expect([how, again.events.filter((e) => e.event === 'gap')]).toEqual([how, []]);
          expect([how, again.entries().map((e) => e.message)]).toEqual([how, range(6, 8, 'r')]);
        } finally {
          again.close();
        }
      }
    });

    it('sends SSE ": heartbeat" comments every FANOUT_SSE_HEARTBEAT_MS', async () => {
      const stream = await SseClient.open(`${gw.url}/api/logs/stream?app_id=hb&token=${hb.read}`);
      try {
        await sleep(SSE_HEARTBEAT_MS * 4 + 100);
        expect(stream.comments.filter((c) => c === 'heartbeat').length).toBeGreaterThanOrEqual(2);
        expect(stream.raw).toMatch(/(^|\n): ?heartbeat\n/);
      } finally {
        stream.close();
      }
    });

    it('answers SSE errors before the stream as JSON: 401, 403, 400 invalid_regex', async () => {
      const get = async (q: string) => {
        const res = await request(`${gw.url}/api/logs/stream?${q}`);
        const text = await res.body.text();
        return { status: res.statusCode, body: JSON.parse(text) as { error: string } };
      };
      expect(await get('app_id=sse')).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
      expect(await get(`app_id=sse&token=r.no-such-token-000000000`)).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
      expect(await get(`app_id=sse&token=${sse.ingest}`)).toMatchObject({ status: 403, body: { error: 'forbidden' } });
      expect(await get(`app_id=sse&token=${authA.read}`)).toMatchObject({ status: 403, body: { error: 'forbidden' } });
      expect(await get(`app_id=sse&regex=(&token=${sse.read}`)).toMatchObject({ status: 400, body: { error: 'invalid_regex' } });
    });

    // -- Logplex sessions --------------------------------------------------------------------

    async function createSession(body: Record<string, unknown>, token = sess.read) {
      const res = await request(`${gw.url}/v2/sessions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.body.text();
      return { status: res.statusCode, json: JSON.parse(text) as { url: string; error?: string } };
    }
    const LINE = /^(\S+) (\S+)\[(\S+)\]: (.*)$/;

    it('creates a Logplex session (201 url) that streams the last num lines as TIMESTAMP SOURCE[PS]: MSG, then live with tail', async () => {
      await postLines(gw.url, sess.ingest, range(1, 5, 'sess'));
      const created = await createSession({ channel_id: 'sess', num: 3, tail: true });
      expect(created.status).toBe(201);
      expect(created.json.url).toMatch(/\/sessions\/[^/]+$/);
      const stream = await LineStream.open(new URL(created.json.url, gw.url).toString());
      try {
        expect(stream.status).toBe(200);
        expect(String(stream.headers['content-type'])).toMatch(/^text\/plain/);
        await stream.waitForLine((l) => l.endsWith('sess 5'));
        await postLines(gw.url, sess.ingest, ['sess 6']);
        await stream.waitForLine((l) => l.endsWith('sess 6'));
        await sleep(50);
        const lines = stream.lines.filter(Boolean);
        expect(lines.map((l) => LINE.exec(l)?.[4])).toEqual(range(3, 6, 'sess'));
        for (const l of lines) {
          const [, ts, source, ps] = LINE.exec(l)!;
          expect(Number.isNaN(Date.parse(ts!))).toBe(false);
          expect([source, ps]).toEqual(['app', 'web.1']);
        }
      } finally {
        stream.close();
      }
    });

    it('ends a Logplex session without tail after its history, honouring ps and source', async () => {
      await postLines(gw.url, sess.ingest, ['worker line 1', 'worker line 2'], { proc: 'worker.1' });
      await postLines(gw.url, sess.ingest, ['router line'], { proc: 'router', source: 'heroku' });
      const byPs = await createSession({ channel_id: 'sess', num: 10, tail: false, ps: 'worker.1' });
      expect(byPs.status).toBe(201);
      const stream = await LineStream.open(new URL(byPs.json.url, gw.url).toString());
      await Promise.race([stream.ended, sleep(3000)]);
      expect(stream.done, 'the stream ended by itself').toBe(true);
      expect(stream.lines.filter(Boolean).map((l) => LINE.exec(l)?.[4])).toEqual(['worker line 1', 'worker line 2']);

      const bySource = await createSession({ channel_id: 'sess', num: 10, source: 'heroku' });
      const heroku = await LineStream.open(new URL(bySource.json.url, gw.url).toString());
      await Promise.race([heroku.ended, sleep(3000)]);
      expect(heroku.lines.filter(Boolean)).toEqual([expect.stringMatching(/ heroku\[router\]: router line$/)]);
    });

    it('refuses a Logplex session without a read token of the app, and answers 404 once it expired', async () => {
      const res = await request(`${gw.url}/v2/sessions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ channel_id: 'sess' }),
      });
      await res.body.text();
      expect(res.statusCode).toBe(401);
      expect((await createSession({ channel_id: 'sess' }, authA.read)).status).toBe(403);
      expect((await request(`${gw.url}/sessions/no-such-session`)).statusCode).toBe(404);

      const created = await createSession({ channel_id: 'sess', num: 1 });
      expect(created.status).toBe(201);
      await sleep(SESSION_TTL_MS + 1200);
      const late = await request(new URL(created.json.url, gw.url).toString());
      await late.body.text();
      expect(late.statusCode).toBe(404);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Check 3: a slow consumer while 100k lines flow, against real processes (memory measured)
// ---------------------------------------------------------------------------------------------

const PER_BODY = 1000;
const PAD = 'x'.repeat(120);

/** `total` lines in bodies of 1000, each line `n=<k> b=<body> i=<index> xxx…` (~400 bytes as JSON). */
function flowBodies(total: number): string[] {
  return Array.from({ length: total / PER_BODY }, (_, b) =>
    Array.from({ length: PER_BODY }, (_, i) => drainFrame(`n=${b * PER_BODY + i} b=${b} i=${i} ${PAD}`)).join(''),
  );
}

/**
 * Posts the bodies with `concurrency` requests in flight; resolves with the time it took. With
 * `reader`, body b is only posted once the reader has received the bodies before b - 1: the
 * flow never outruns the reading client (whatever the machine), so a gap there is the server's.
 */
async function postFlow(gw: GatewayProcess, app: LiveApp, bodies: string[], concurrency: number, reader?: LiveClient): Promise<number> {
  const t = Date.now();
  const accepted = await pool(concurrency, bodies.length, async (b) => {
    if (reader && b >= 2) await reader.waitForEntryCount((b - 1) * PER_BODY, 20_000);
    return postBody(gw.url, app.ingest, bodies[b]!);
  });
  expect(accepted.reduce((x, y) => x + y, 0)).toBe(bodies.length * PER_BODY);
  return Date.now() - t;
}

/** A reading client's entries: all `total`, no gap, each body's lines together and in order. */
function expectWholeFlow(client: LiveClient, total: number): Entry[] {
  const gaps = client.messages.filter(isGap);
  expect(gaps, `gaps (missed ${gaps.reduce((a, g) => a + (g.count ?? 0), 0)})`).toEqual([]);
  const entries = client.entries().filter((e) => e.message.startsWith('n='));
  expect(entries).toHaveLength(total);
  const ns = entries.map((e) => Number(/^n=(\d+)/.exec(e.message)![1]));
  expect(new Set(ns).size).toBe(total);
  for (let k = 0; k < total; k += PER_BODY) {
    const b = Math.floor(ns[k]! / PER_BODY);
    expect(ns[k]! % PER_BODY, 'a body starts at its first line').toBe(0);
    for (let i = 1; i < PER_BODY; i++) if (ns[k + i] !== b * PER_BODY + i) expect([k + i, ns[k + i]]).toEqual([k + i, b * PER_BODY + i]);
  }
  return entries;
}

/**
 * Walks what a slow client got against the reading client's order (`reference`): every entry it
 * received must be the next one of the reference, every `gap` must skip exactly `count` of them
 * and name the last entry delivered before it. Call `walk` for each stream in turn (a resumed
 * connection continues where the closed one stopped).
 */
function slowWalker(reference: Entry[]) {
  const order = new Map(reference.map((e, i) => [e.id, i]));
  const state = { pos: 0, received: 0, missed: 0, gaps: 0, lastId: undefined as string | undefined };
  const walk = (messages: LiveMessage[]) => {
    for (const m of streamMessages(messages)) {
      if (m.type === 'gap') {
        expect(m).toMatchObject({ recovered: false, count: expect.any(Number) });
        if (state.lastId !== undefined) expect(m.since_id).toBe(state.lastId);
        state.gaps++;
        state.pos += m.count!;
        state.missed += m.count!;
        continue;
      }
      for (const e of entriesOf(m)) {
        if (!e.message.startsWith('n=')) continue;
        if (order.get(e.id) !== state.pos) expect([e.message, 'at', order.get(e.id)]).toEqual([e.message, 'at', state.pos]);
        state.pos++;
        state.received++;
        state.lastId = e.id;
      }
    }
  };
  return { state, walk };
}

const hasMarker = (text: string) => (m: LiveMessage) => entriesOf(m).some((e) => e.message === text);

describe('a slow consumer while 100k lines flow', () => {
  const fire = liveApp('firehose');
  const closing = liveApp('closing');
  const SLOW_ENV = {
    HISTORY_PER_APP: '200000',
    // 30,000 padded lines are over the default 8 MiB: the resume must find every one of them.
    HISTORY_BYTES_PER_APP: String(256 * 1024 * 1024),
    FANOUT_QUEUE_MAX_BYTES: String(1024 * 1024),
    FANOUT_SOCKET_HIGH_WATER_BYTES: String(256 * 1024),
    FANOUT_HEARTBEAT_MS: '60000',
    FANOUT_PONG_TIMEOUT_MS: '60000',
  };
  let gw: GatewayProcess;
  let closingGw: GatewayProcess;

  beforeAll(async () => {
    [gw, closingGw] = await Promise.all([
      startGateway('memory', [fire], { ...SLOW_ENV, FANOUT_SLOW_CLOSE_MS: '120000' }),
      startGateway('memory', [closing], { ...SLOW_ENV, FANOUT_SLOW_CLOSE_MS: '300' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([gw?.stop(), closingGw?.stop()]);
  });

  it('delivers all 100k to a reading client, tells a paused one exactly how many it lost, and keeps the gateway under 400 MB', async () => {
    const TOTAL = 100_000;
    const t0 = Date.now();
    const fast = await subscribe(gw.url, fire.read, { apps: ['firehose'], batch: true });
    const slow = await subscribe(gw.url, fire.read, { apps: ['firehose'] });
    slow.pause();
    const pid = pidOf(gw);
    const before = processMemory(pid)!;
    let peakSampled = before.rssMiB;
    const sampler = setInterval(() => {
      const m = processMemory(pid);
      if (m) peakSampled = Math.max(peakSampled, m.rssMiB);
    }, 50);
    let postMs: number;
    try {
      // One body in flight, and never more than one body ahead of the reading client (which
      // shares this test process): at most ~0.8 MB is ever waiting for it, under the 1 MiB queue.
      postMs = await postFlow(gw, fire, flowBodies(TOTAL), 1, fast);
      await fast.waitForEntries(TOTAL, 20_000);
    } finally {
      clearInterval(sampler);
    }
    const fastMs = Date.now() - t0;
    const after = processMemory(pid)!;
    const reference = expectWholeFlow(fast, TOTAL);

    await postLines(gw.url, fire.ingest, ['marker end']);
    await fast.waitFor(hasMarker('marker end'));
    // What the gateway holds for the paused client: its queue stays within 1 MiB (entries are
    // ~400 bytes of JSON here, so at most ~2600 of them), the rest was dropped and counted.
    fast.send({ type: 'stats' });
    const stats = (await fast.waitForType('stats')).data as { queued: number; dropped: number; sent: number };
    expect(stats.queued).toBeLessThan(3000);
    expect(stats.dropped).toBeGreaterThan(0);
    slow.resume();
    await slow.waitFor(hasMarker('marker end'), 20_000);
    const { state, walk } = slowWalker(reference);
    walk(slow.messages);
    console.log(
      `[live-tail slow consumer] posted ${TOTAL} lines in ${postMs} ms, the reading client had them all after ${fastMs} ms; ` +
        `paused client ${JSON.stringify({ received: state.received, missed: state.missed, gaps: state.gaps })}; gateway RSS ` +
        `before ${before.rssMiB.toFixed(0)} MiB, after ${after.rssMiB.toFixed(0)} MiB, peak sampled ${peakSampled.toFixed(0)} MiB, ` +
        `VmHWM ${after.peakMiB.toFixed(0)} MiB; hub stats ${JSON.stringify(stats)}; ${Date.now() - t0} ms in all`,
    );
    expect(state.received + state.missed).toBe(TOTAL);
    expect(stats.dropped).toBe(state.missed);
    expect(state.missed, 'the paused client could not have taken everything').toBeGreaterThan(0);
    expect(slow.closeInfo, 'FANOUT_SLOW_CLOSE_MS is 120 s: not closed').toBeUndefined();
    expect(after.peakMiB).toBeLessThan(400);
    fast.close();
    slow.terminate();
  }, 45_000);

  it('closes a client over its limits for FANOUT_SLOW_CLOSE_MS with 4008, and it resumes with since_id to get exactly the rest', async () => {
    const TOTAL = 30_000;
    const fast = await subscribe(closingGw.url, closing.read, { apps: ['closing'], batch: true });
    const slow = await subscribe(closingGw.url, closing.read, { apps: ['closing'] });
    slow.pause();
    await postFlow(closingGw, closing, flowBodies(TOTAL), 1, fast);
    await fast.waitForEntries(TOTAL, 20_000);
    const reference = expectWholeFlow(fast, TOTAL);
    await sleep(600); // over its limits for longer than FANOUT_SLOW_CLOSE_MS (300)
    slow.resume();
    const closed = await Promise.race([slow.closed, sleep(10_000).then(() => undefined)]);
    expect(closed?.code).toBe(4008);
    expect(closed?.reason).toBe('slow');
    const { state, walk } = slowWalker(reference);
    walk(slow.messages);
    const again = await subscribe(closingGw.url, closing.read, { apps: ['closing'], since_id: state.lastId }, 20_000);
    await postLines(closingGw.url, closing.ingest, ['marker end']);
    await again.waitFor(hasMarker('marker end'), 20_000);
    walk(again.messages);
    console.log(`[live-tail slow close] ${JSON.stringify({ ...state, lastId: undefined })} before and after the 4008 close`);
    expect(state.received + state.missed).toBe(TOTAL);
    fast.close();
    again.close();
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Check 6: two processes on one Redis
// ---------------------------------------------------------------------------------------------

describe.skipIf(!redisAvailable)('two gateway processes on one Redis', () => {
  const shared = liveApp('shared');
  let one: GatewayProcess;
  let two: GatewayProcess;

  beforeAll(async () => {
    const redis = await (sharedRedis ??= getTestRedis().then((r) => r!));
    const prefix = testKeyPrefix('live-multi');
    prefixes.push(prefix);
    const env = {
      ...FAST_ENV,
      SLUICE_CONFIG: writeAppsConfig([shared]),
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      FANOUT_HEARTBEAT_MS: '25000',
      FANOUT_PONG_TIMEOUT_MS: '10000',
    };
    [one, two] = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
  });
  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
  });

  it('relays a line ingested on one process to a WebSocket client of the other within 500 ms', async () => {
    const client = await subscribe(two.url, shared.read, { apps: ['shared'] });
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const start = Date.now();
      await postLines(one.url, shared.ingest, [`hop ${i}`]);
      const m = await client.waitFor((m) => entriesOf(m).some((e) => e.message === `hop ${i}`), 2000);
      latencies.push(client.times[client.indexOf(m)]! - start);
      await sleep(20);
    }
    console.log(`[live-tail redis] cross-process latency ms: ${latencies.join(', ')} (max ${Math.max(...latencies)})`);
    expect(client.entries().map((e) => e.message)).toEqual(Array.from({ length: 10 }, (_, i) => `hop ${i}`));
    expect(Math.max(...latencies)).toBeLessThan(500);
    client.close();
  });
});
