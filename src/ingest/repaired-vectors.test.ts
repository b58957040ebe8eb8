import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix } from '../../test/support/redis.js';
import { basic, LOGPLEX, makeGateway } from '../../test/support/gateway.js';
import { decodeLogplexBody } from './logplex-body.js';
import type { SyslogMode } from '../decode/types.js';
import { createRedisClient, waitReady } from '../store/redis-client.js';
import { createRedisStore } from '../store/redis.js';
import type { Store } from '../store/types.js';

/**
 * protocol/vectors/repaired-bodies.txt, table-driven: every framing and parsing repair class
 * through the decoder, and through the real HTTP routes on the memory and the Redis store (which
 * keeps drain frames and parses them again when read: the repaired entry must come back the same).
 */

interface RepairCase {
  title: string;
  mode: SyslogMode;
  body: Buffer;
  messages: string[];
  flags: string[][];
}

function readCases(): RepairCase[] {
  const text = readFileSync(new URL('../../protocol/vectors/repaired-bodies.txt', import.meta.url), 'utf8');
  const cases: RepairCase[] = [];
  let title = '';
  let current: Partial<RepairCase> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('# ')) title = line.slice(2);
    const m = /^(drain|shuttle|input): (.*)$/.exec(line);
    if (m) current = { title, mode: m[1] as SyslogMode, body: Buffer.from(m[2]!.replaceAll('\\n', '\n')) };
    if (line.startsWith('=> ')) current.messages = line.slice(3).split(' || ').map((s) => s.replaceAll('\\n', '\n'));
    if (line.startsWith('flags: ')) {
      current.flags = line.slice(7).split(' ').map((f) => (f === '-' ? [] : f.split(',')));
      cases.push(current as RepairCase);
    }
  }
  return cases;
}

const CASES = readCases();
const USER_AGENT: Record<SyslogMode, string> = { drain: 'Logplex/v72', shuttle: 'excon/0.71.0', input: 'MyAddon/1.0' };
const REPAIR_FLAGS = new Set(['length_mismatch', 'missing_sd']);

describe('repaired-bodies.txt vectors', () => {
  it('holds a case for every repair class', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(12);
    for (const c of CASES) expect(c.flags).toHaveLength(c.messages.length);
  });

  it.each(CASES.map((c) => [c.title, c] as const))('decodes: %s', (_t, c) => {
    const decoded = decodeLogplexBody(c.body, { mode: c.mode, maxFrameBytes: 10240, receivedAt: new Date() });
    expect(decoded.rejects).toEqual({});
    expect(decoded.records.map((r) => r.message)).toEqual(c.messages);
    const flags = decoded.records.map((r) => [...(r.lengthMismatch ? ['length_mismatch'] : []), ...(r.missingSd ? ['missing_sd'] : [])]);
    expect(flags).toEqual(c.flags);
  });
});

const redis = redisAvailable ? await getTestRedis() : null;
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deleteKeysWithPrefix(redis!.url, p);
});

const stores: [string, () => Promise<{ store?: Store; close: () => void }>][] = [['memory', async () => ({ close: () => {} })]];
if (redis) {
  stores.push([
    'redis',
    async () => {
      const client = createRedisClient({ url: redis.url });
      await waitReady(client, 5000);
      const prefix = testKeyPrefix('repaired');
      prefixes.push(prefix);
      return { store: createRedisStore({ redis: client, prefix, shards: 2 }), close: () => client.disconnect() };
    },
  ]);
}

describe.each(stores)('repaired-bodies.txt through the routes, %s store', (_name, open) => {
  it.each(CASES.map((c) => [c.title, c] as const))('%s', async (_t, c) => {
    const { store, close } = await open();
    try {
      const gw = await makeGateway({}, store);
      const path = c.mode === 'input' ? '/logs' : '/drain';
      const res = await gw.app.request(path, {
        method: 'POST',
        headers: { ...LOGPLEX, Authorization: basic(gw.a.ingest), 'User-Agent': USER_AGENT[c.mode] },
        body: c.body,
      });
      expect(res.status).toBe(c.mode === 'input' ? 204 : 200);
      const entries = await gw.store.recent(gw.a.id, 100);
      expect(entries.map((e) => e.message)).toEqual(c.messages);
      expect(entries.map((e) => (e.flags ?? []).filter((f) => REPAIR_FLAGS.has(f)))).toEqual(c.flags);
    } finally {
      close();
    }
  });
});
