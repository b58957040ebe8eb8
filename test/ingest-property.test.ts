import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import type { CompiledSubscription } from '../src/fanout/filter.js';
import { Hub } from '../src/fanout/hub.js';
import type { Sink } from '../src/fanout/subscriber.js';
import { EntrySchema, type Entry } from '../src/normalize/entry.js';
import { createRedisClient, waitReady } from '../src/store/redis-client.js';
import { createRedisStore } from '../src/store/redis.js';
import type { Store } from '../src/store/types.js';
import { basic, makeGateway, type TestGateway } from './support/gateway.js';
import { entriesOf, LiveClient, liveApp, sleep, type LiveApp } from './support/live.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix, type TestRedis } from './support/redis.js';

/**
 * Property: whatever bytes arrive on an ingest route, the whole path ingest → store → query →
 * fan-out holds (issue 9). Bodies mix JSON messages nested 0–200 levels (now and then 10,000),
 * JSON too wide for MAX_CONTEXT_BYTES, lines up to 100 KB, invalid UTF-8, and odd frames (LEN
 * off by a few bytes, garbage between frames, no trailing LF), sent to POST /drain, POST /logs and
 * POST /api/logs (JSON and NDJSON, contexts nested as deep as the messages, or 100,000 levels).
 *
 * For every body, on the memory store and on the Redis store (in-process: `app.request` and the
 * real Hub, for speed):
 * - no request gets a 500 (nor throws past the app);
 * - every entry a 2xx acknowledged is read back, by GET /api/logs for its app and by
 *   store.recent, and serialises (JSON.stringify) and is a valid entry (EntrySchema);
 * - a live subscriber (Hub attach, recording sink) receives every acknowledged entry, once;
 * - the entries read back from Redis equal those from memory (ids, receive times and the
 *   timestamps that are receive times aside).
 * Then a short run against the real process, with a WebSocket subscriber: it stays up.
 *
 * MAX_FRAME_BYTES is its ceiling here (65536, not the default 10240) so that a drain frame can
 * carry JSON nested 10,000 levels deep to normalisation; lines up to 100 KB still exceed it.
 */

const MAX_FRAME_BYTES = 65_536;

/** `PROP_SEED=… PROP_PATH=…` replays a counterexample that fast-check printed. */
function replay(): { seed?: number; path?: string } {
  const seed = process.env.PROP_SEED;
  return seed ? { seed: Number(seed), ...(process.env.PROP_PATH ? { path: process.env.PROP_PATH } : {}) } : {};
}

// ---------------------------------------------------------------------------------------------
// Arbitraries: everything is built as bytes or text, never JSON.stringify of a deep value.
// ---------------------------------------------------------------------------------------------

/** A small deterministic generator, so a 10,000-level structure costs one integer of input. */
function lcg(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
}

/** JSON text nested `depth` levels (objects and arrays mixed by `seed`) around `leaf`. */
function nestedJson(depth: number, seed: number, leaf: string): string {
  const next = lcg(seed);
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    const r = next();
    if (r & 1) {
      open.push(r & 2 ? '{"k":' : '{"a":1,"k":');
      close.push('}');
    } else {
      open.push(r & 2 ? '[' : '[0,');
      close.push(']');
    }
  }
  return open.join('') + leaf + close.reverse().join('');
}

const depthArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 200 }) },
  { weight: 6, arbitrary: fc.integer({ min: 28, max: 36 }) }, // around MAX_JSON_DEPTH (32)
  { weight: 1, arbitrary: fc.constant(10_000) },
);
const leafArb = fc.constantFrom('1', '"x"', 'null', '{}', '[]', '{"level":"error","msg":"deep leaf"}');

/** A JSON-object message, as a structured logger writes it, with a nested field. */
const deepJsonMessage = fc
  .record({ depth: depthArb, seed: fc.integer(), leaf: leafArb, level: fc.constantFrom('info', 'error', '50', 'warning') })
  .map(({ depth, seed, leaf, level }) => `{"level":"${level}","msg":"nested ${depth}","d":${nestedJson(depth, seed, leaf)}}`);

/** Valid, shallow, but over MAX_CONTEXT_BYTES as measured (json_too_large). */
const wideJsonMessage = fc.integer({ min: 1000, max: 20_000 }).map((n) => `{"msg":"wide","a":[${'1,'.repeat(n)}1]}`);

const plainMessage = fc.oneof(
  fc.string({ maxLength: 120, unit: 'binary' }),
  fc.string({ maxLength: 120, unit: 'grapheme' }),
  fc.constantFrom(
    'at=info method=GET path="/" host=x.herokuapp.com dyno=web.1 connect=1ms service=22ms status=200 bytes=656',
    'at=error code=H12 desc="Request timeout" status=503 measure#db=12ms count#hits=abc',
    'level=error msg="boom" sample#load=0.5 trace_id=abc',
    '[ERROR] payment failed',
    'Error R14 (Memory quota exceeded)',
    '{not json} but braces',
    '{"unterminated": ',
    '{}',
  ),
);

const longMessage = fc
  .record({ n: fc.integer({ min: 1_000, max: 100_000 }), c: fc.constantFrom('x', 'é', '€', '😀') })
  .map(({ n, c }) => c.repeat(Math.max(1, Math.floor(n / Buffer.byteLength(c)))));

const INVALID_UTF8 = [[0xff], [0xfe], [0xc3], [0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xc0, 0xaf]];

/** A message as bytes: text of one of the kinds above, sometimes with invalid UTF-8 spliced in. */
const messageBytes = fc
  .tuple(
    fc.oneof(
      { weight: 4, arbitrary: plainMessage },
      { weight: 5, arbitrary: deepJsonMessage },
      { weight: 1, arbitrary: wideJsonMessage },
      { weight: 1, arbitrary: longMessage },
    ),
    fc.oneof(
      { weight: 3, arbitrary: fc.constant([] as [number, number[]][]) },
      { weight: 1, arbitrary: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...INVALID_UTF8)), { minLength: 1, maxLength: 3 }) },
    ),
  )
  .map(([text, splices]) => {
    let buf = Buffer.from(text, 'utf8');
    for (const [at, bytes] of splices) {
      const i = buf.length === 0 ? 0 : at % (buf.length + 1);
      buf = Buffer.concat([buf.subarray(0, i), Buffer.from(bytes), buf.subarray(i)]);
    }
    return buf;
  });

/** How one frame is sent: header fields, and what is odd about its framing. */
const frameShape = fc.record({
  pri: fc.integer({ min: 0, max: 191 }),
  ts: fc.constantFrom('2024-06-01T12:00:00.123456+00:00', '2024-06-01T12:00:00Z', '2024-02-30T25:00:00+00:00', '-'),
  proc: fc.constantFrom('web.1', 'router', '-'),
  lenDelta: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: -3, max: 3 }) }),
  garbageBefore: fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 6 }) },
    { weight: 1, arbitrary: fc.constantFrom('xyz', '\n', '12', '99999999 ', ' ') },
  ),
  noLf: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  sd: fc.constantFrom('-', '[meta sequenceId="1"]', '[origin ip="10.0.0.1"][meta a="b\\"c"]'),
});

/** A context for a JSON item, as text: nested like the messages, or 100,000 levels deep. */
const contextText = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.record({ depth: depthArb, seed: fc.integer(), leaf: leafArb }).map(({ depth, seed, leaf }) => `{"c":${nestedJson(depth, seed, leaf)}}`) },
  { weight: 1, arbitrary: fc.constant(`{"c":${'['.repeat(100_000)}${']'.repeat(100_000)}}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => `{"wide":[${'"xx",'.repeat(n)}"x"]}`) },
);

const lineArb = fc.record({ msg: messageBytes, shape: frameShape, context: contextText });

const caseArb = fc.record({
  lines: fc.array(lineArb, { minLength: 1, maxLength: 5 }),
  /** Whether /logs gets the odd framing too (it then refuses the batch: 400, never 500). */
  oddLogs: fc.boolean(),
  ndjson: fc.boolean(),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;
type Line = Case['lines'][number];

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

function syslogFrame(line: Line, appName: string, mode: 'drain' | 'input', odd: boolean): Buffer {
  const { shape } = line;
  const sd = mode === 'drain' ? '-' : shape.sd;
  const head = Buffer.from(`<${shape.pri}>1 ${shape.ts} host ${appName} ${shape.proc} - ${sd} `, 'utf8');
  const payload = Buffer.concat([head, line.msg, odd && shape.noLf ? Buffer.alloc(0) : Buffer.from('\n')]);
  const len = Math.max(0, payload.length + (odd ? shape.lenDelta : 0));
  const parts: Buffer[] = [];
  if (odd && shape.garbageBefore !== undefined) parts.push(Buffer.from(shape.garbageBefore as Uint8Array | string));
  parts.push(Buffer.from(`${len} `), payload);
  return Buffer.concat(parts);
}

const drainBody = (c: Case) => Buffer.concat(c.lines.map((l) => syslogFrame(l, 'app', 'drain', true)));
const logsBody = (c: Case) => Buffer.concat(c.lines.map((l) => syslogFrame(l, 'my-addon', 'input', c.oddLogs)));

/** The bytes of a JSON string literal holding `msg`: control characters, `"` and `\` escaped, other bytes raw (invalid UTF-8 stays invalid). */
function jsonStringBytes(msg: Buffer): Buffer {
  const out: number[] = [0x22];
  for (const b of msg) {
    if (b < 0x20 || b === 0x22 || b === 0x5c) for (const c of Buffer.from(`\\u${b.toString(16).padStart(4, '0')}`)) out.push(c);
    else out.push(b);
  }
  out.push(0x22);
  return Buffer.from(out);
}

function jsonItem(line: Line, i: number): Buffer {
  const parts = [Buffer.from(`{"timestamp":"2024-06-01T12:00:0${i}.000001Z","level":"info","message":`), jsonStringBytes(line.msg)];
  if (line.context !== undefined) parts.push(Buffer.from(`,"context":${line.context}`));
  parts.push(Buffer.from('}'));
  return Buffer.concat(parts);
}

function apiBody(c: Case): { body: Buffer; type: string } {
  const items = c.lines.map(jsonItem);
  if (c.ndjson) return { body: Buffer.concat(items.flatMap((b) => [b, Buffer.from('\n')])), type: 'application/x-ndjson' };
  const joined: Buffer[] = [Buffer.from('{"logs":[')];
  items.forEach((b, i) => joined.push(...(i ? [Buffer.from(','), b] : [b])));
  joined.push(Buffer.from(']}'));
  return { body: Buffer.concat(joined), type: 'application/json' };
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/** What one route answered, and how many entries that acknowledged. */
interface Sent {
  route: string;
  status: number;
  acked: number;
  text: string;
}

/** How many entries a 2xx of `route` acknowledged. */
function ackedOf(route: string, status: number, text: string, lines: number): number {
  if (status < 200 || status >= 300) return 0;
  if (route === '/logs') return lines; // 204: the whole batch, as many frames as Logplex-Msg-Count said
  const json = JSON.parse(text) as { accepted?: number; saved?: number };
  return route === '/drain' ? json.accepted! : json.saved!;
}

/** An entry without what differs between two runs of the same body: ids and receive times. */
function comparable(e: Entry): Partial<Entry> {
  const { id: _id, received_at: _r, ...rest } = e;
  const out: Partial<Entry> = rest;
  if (e.flags?.includes('invalid_timestamp') || e.timestamp === e.received_at) delete out.timestamp;
  return out;
}

/** Throws when an entry does not serialise or is not a valid entry. */
function expectServable(entries: Entry[], where: string): void {
  for (const e of entries) {
    let json: string;
    try {
      json = JSON.stringify(e);
    } catch (err) {
      throw new Error(`${where}: entry ${e.id} does not serialise: ${(err as Error).message}`);
    }
    const parsed = EntrySchema.safeParse(JSON.parse(json));
    if (!parsed.success) throw new Error(`${where}: entry ${e.id} is not a valid entry: ${parsed.error.message.slice(0, 500)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// In-process: memory and Redis, the real Hub
// ---------------------------------------------------------------------------------------------

const LIMITS = { queueMaxMessages: 100_000, queueMaxBytes: 1 << 30, socketHighWaterBytes: 1 << 20, slowCloseMs: 60_000, batchMax: 500 };

/** A sink recording every entry the hub writes, by app. */
function recordingSink(): { sink: Sink; byApp: Map<string, Entry[]>; gaps: number } {
  const byApp = new Map<string, Entry[]>();
  const rec = { byApp, gaps: 0, sink: undefined as unknown as Sink };
  rec.sink = {
    buffered: () => 0,
    writeEntries: (_jsons, entries) => {
      for (const e of entries) {
        let list = byApp.get(e.app_id);
        if (!list) byApp.set(e.app_id, (list = []));
        list.push(e);
      }
    },
    writeLive() {},
    writeGap() {
      rec.gaps++;
    },
    close() {},
    onDrain() {},
  };
  return rec;
}

const ALL_APPS: CompiledSubscription = { apps: null, matches: () => true };

/** One gateway under test: the Hono app over a store, its hub and a subscriber to all apps. */
interface Side {
  name: string;
  gw: TestGateway;
  hub: Hub;
  live: ReturnType<typeof recordingSink>;
}

async function makeSide(name: string, store?: Store): Promise<Side> {
  const gw = await makeGateway({ maxFrameBytes: MAX_FRAME_BYTES }, store);
  const hub = new Hub(gw.store, { ...LIMITS, historyPerApp: gw.deps.config.historyPerApp, listApps: async () => [] });
  const live = recordingSink();
  await hub.attach(ALL_APPS, live.sink, {});
  return { name, gw, hub, live };
}

/** The headers of `route`; /logs declares its frames (Logplex-Msg-Count), so a 204 stores exactly them. */
function headersFor(route: string, token: string, type: string, lines: number): Record<string, string> {
  if (route === '/api/logs') return { 'Content-Type': type, Authorization: `Bearer ${token}` };
  const headers: Record<string, string> = { 'Content-Type': type, Authorization: basic(token), 'User-Agent': 'prop/1' };
  if (route === '/logs') headers['Logplex-Msg-Count'] = String(lines);
  return headers;
}

async function post(side: Side, app: LiveApp, route: string, body: Buffer, type: string, lines: number): Promise<Sent> {
  const headers = headersFor(route, app.ingest, type, lines);
  let res: Response;
  try {
    res = await side.gw.app.request(route, { method: 'POST', headers, body });
  } catch (err) {
    throw new Error(`[${side.name}] POST ${route} threw past the app: ${(err as Error).stack}`);
  }
  const text = await res.text();
  return { route, status: res.status, text, acked: 0 };
}

/** Sends the case on every route; checks the statuses; resolves with what was acknowledged. */
async function sendCase(side: Side, app: LiveApp, c: Case): Promise<Sent[]> {
  const api = apiBody(c);
  const sent = [
    await post(side, app, '/drain', drainBody(c), 'application/logplex-1', c.lines.length),
    await post(side, app, '/logs', logsBody(c), 'application/logplex-1', c.lines.length),
    await post(side, app, '/api/logs', api.body, api.type, c.lines.length),
  ];
  for (const s of sent) {
    if (s.status >= 500) throw new Error(`[${side.name}] POST ${s.route} answered ${s.status}: ${s.text.slice(0, 500)}`);
    s.acked = ackedOf(s.route, s.status, s.text, c.lines.length);
  }
  return sent;
}

/** Waits until the side's subscriber has `count` entries of `app` (or the time is up). */
async function liveEntries(side: Side, app: string, count: number, timeoutMs = 5000): Promise<Entry[]> {
  const until = Date.now() + timeoutMs;
  while ((side.live.byApp.get(app)?.length ?? 0) < count && Date.now() < until) await sleep(5);
  if (count > 0) await sleep(5); // anything extra (a duplicate) would come now
  return side.live.byApp.get(app) ?? [];
}

/** Reads back and checks one side; resolves with the app's entries, oldest first. */
async function checkSide(side: Side, app: LiveApp, sent: Sent[]): Promise<Entry[]> {
  const acked = sent.reduce((n, s) => n + s.acked, 0);
  const where = `[${side.name}] ${sent.map((s) => `${s.route} ${s.status} acked ${s.acked}`).join(', ')}`;

  const recent = await side.gw.store.recent(app.id, 10_000);
  expect(recent.length, `${where}: store.recent`).toBe(acked);
  expectServable(recent, `${where} store.recent`);

  const res = await side.gw.app.request(`/api/logs?app_id=${app.id}&limit=1000`, { headers: { Authorization: `Bearer ${app.read}` } });
  const text = await res.text();
  expect(res.status, `${where}: GET /api/logs ${text.slice(0, 300)}`).toBe(200);
  const page = JSON.parse(text) as { total: number; entries: Entry[] };
  expect(page.total, `${where}: GET /api/logs total`).toBe(acked);
  expect(new Set(page.entries.map((e) => e.id)), `${where}: GET /api/logs ids`).toEqual(new Set(recent.map((e) => e.id)));
  expectServable(page.entries, `${where} GET /api/logs`);

  const live = await liveEntries(side, app.id, acked);
  expect(live.map((e) => e.id).sort(), `${where}: live ids`).toEqual(recent.map((e) => e.id).sort());
  expect(side.live.gaps, `${where}: gaps`).toBe(0);
  return recent;
}

describe('ingest → store → query → fan-out, for any body (property)', () => {
  let memory: Side;
  let redisSide: Side | undefined;
  let redisTarget: TestRedis | null = null;
  let redisClient: Redis | Cluster | undefined;
  const prefix = testKeyPrefix('ingest-prop');
  let runs = 0;
  /** What the runs covered (printed, so a run that tested little shows it). */
  const seen = new Map<string, number>();
  const count = (key: string, n = 1) => seen.set(key, (seen.get(key) ?? 0) + n);

  beforeAll(async () => {
    memory = await makeSide('memory');
    if (redisAvailable) {
      redisTarget = await getTestRedis();
      if (redisTarget) {
        redisClient = createRedisClient({ url: redisTarget.url });
        await waitReady(redisClient, 5000);
        redisSide = await makeSide('redis', createRedisStore({ redis: redisClient, prefix, shards: 4 }));
      }
    }
  });

  afterAll(async () => {
    for (const side of [memory, redisSide]) {
      side?.hub.close();
      await side?.gw.store.close();
    }
    redisClient?.disconnect();
    if (redisTarget) {
      await deleteKeysWithPrefix(redisTarget.url, prefix);
      await redisTarget.stop();
    }
  });

  it('never answers 500, reads back, serialises and fans out every acknowledged entry, alike on memory and Redis', async () => {
    const t0 = Date.now();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        // A fresh app per run (the same id and tokens on both sides): its history is this run's.
        const app = liveApp(`prop-${++runs}`);
        const sides = [memory, ...(redisSide ? [redisSide] : [])];
        const read: Entry[][] = [];
        const sentBy: Sent[][] = [];
        for (const side of sides) {
          await side.gw.deps.apps.create(app.id, { ingestTokens: [app.ingest], readTokens: [app.read] });
          const sent = await sendCase(side, app, c);
          sentBy.push(sent);
          read.push(await checkSide(side, app, sent));
        }
        for (const s of sentBy[0]!) count(`${s.route} ${s.status}`);
        for (const e of read[0]!) for (const f of e.flags ?? []) count(f);
        count('entries', read[0]!.length);
        if (read.length === 2) {
          // The same answers, and the same entries, on both stores.
          expect(sentBy[1]!.map((s) => [s.route, s.status, s.acked])).toEqual(sentBy[0]!.map((s) => [s.route, s.status, s.acked]));
          expect(read[1]!.map(comparable)).toEqual(read[0]!.map(comparable));
        }
      }),
      { numRuns: 80, interruptAfterTimeLimit: 60_000, ...replay() },
    );
    console.log(
      `property: ${runs} runs (shrinking included) in ${Date.now() - t0} ms${redisSide ? '' : ' (memory only: no Redis)'}; ` +
        JSON.stringify(Object.fromEntries([...seen].sort())),
    );
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// The real process: a short run, with a live WebSocket subscriber, to show it stays up
// ---------------------------------------------------------------------------------------------

describe('the real process under the same bodies', () => {
  const ADMIN = 'prop-admin-token-0123456789abcdef';
  let gw: GatewayProcess;
  let ws: LiveClient;

  beforeAll(async () => {
    gw = await startGatewayProcess({
      ADMIN_TOKEN: ADMIN,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_LINES_PER_SEC: '0',
      MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
    });
    ws = await LiveClient.connect(gw.url, { token: ADMIN });
    ws.send({ type: 'subscribe', history: 0 }); // the admin, every app
    await ws.waitForType('live', 10_000);
  });

  afterAll(async () => {
    ws?.terminate();
    await gw?.stop();
  });

  it('stays up, never answers 500, and relays every acknowledged entry live', async () => {
    const ackedByApp = new Map<string, number>();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const id = `proc-${++run}`;
        const created = await request(`${gw.url}/api/apps`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ id }),
        });
        const tokens = (await created.body.json()) as { ingest_token: string; read_token: string };
        expect(created.statusCode).toBe(201);
        const api = apiBody(c);
        const bodies: [string, Buffer, string][] = [
          ['/drain', drainBody(c), 'application/logplex-1'],
          ['/logs', logsBody(c), 'application/logplex-1'],
          ['/api/logs', api.body, api.type],
        ];
        let acked = 0;
        for (const [route, body, type] of bodies) {
          const headers = headersFor(route, tokens.ingest_token, type, c.lines.length);
          const res = await request(`${gw.url}${route}`, { method: 'POST', headers, body });
          const text = await res.body.text();
          expect(res.statusCode, `POST ${route}: ${text.slice(0, 300)}`).toBeLessThan(500);
          acked += ackedOf(route, res.statusCode, text, c.lines.length);
        }
        ackedByApp.set(id, acked);
        const read = await request(`${gw.url}/api/logs?limit=1000`, { headers: { Authorization: `Bearer ${tokens.read_token}` } });
        const page = (await read.body.json()) as { total: number };
        expect(read.statusCode).toBe(200);
        expect(page.total).toBe(acked);
      }),
      { numRuns: 15, endOnFailure: true },
    );
    await sleep(1000);
    expect(gw.child.exitCode, gw.stderr().slice(-2000)).toBeNull();
    expect((await request(`${gw.url}/health`)).statusCode).toBe(200);
    const total = [...ackedByApp.values()].reduce((a, b) => a + b, 0);
    await ws.waitForEntryCount(total, 10_000);
    const got = new Map<string, number>();
    for (const e of ws.messages.flatMap(entriesOf)) got.set(e.app_id, (got.get(e.app_id) ?? 0) + 1);
    for (const [id, n] of ackedByApp) expect(got.get(id) ?? 0, `live entries of ${id}`).toBe(n);
    expect(ws.messages.filter((m) => m.type === 'gap' || m.type === 'error')).toEqual([]);
  }, 90_000);
});
