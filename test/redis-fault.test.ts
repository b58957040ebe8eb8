import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, frame } from './support/gateway.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { redisAvailable, startRedisServer, type OwnedRedis } from './support/redis.js';

/**
 * Fault injection: under a steady load of /drain posts, the Redis server is killed and started
 * again. Every request that got a 2xx must be stored afterwards; every other one got 503 (or a
 * connection error); none hung past the command timeout; the gateway recovers without restart.
 */

const ADMIN = 'fault-admin-token-0123456789abcdef';
const INGEST = 't.fa170000-0000-4000-8000-000000000001';
const READ = 'r.fa170000-0000-4000-8000-000000000002';
const COMMAND_TIMEOUT_MS = 1000;

interface Outcome {
  status: number | 'error';
  ms: number;
  lines: string[];
}

describe.skipIf(!redisAvailable)('Redis killed and restarted under ingest load', () => {
  let redis: OwnedRedis;
  let gw: GatewayProcess;

  beforeAll(async () => {
    // Our own server (never the shared one), persisting every write so a kill loses nothing
    // Redis acknowledged: the test is about the gateway's promise, not Redis's fsync policy.
    redis = await startRedisServer({ appendonly: true, args: ['--appendfsync', 'always'] });
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-fault-'));
    const configPath = join(dir, 'sluice.config.json');
    writeFileSync(configPath, JSON.stringify({ apps: [{ id: 'fault', ingest_tokens: [INGEST], read_tokens: [READ] }] }));
    gw = await startGatewayProcess({
      REDIS_URL: redis.url,
      ADMIN_TOKEN: ADMIN,
      SLUICE_CONFIG: configPath,
      HOST: '127.0.0.1',
      HISTORY_PER_APP: '100000',
      REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
      RATE_LIMIT_LINES_PER_SEC: '0',
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await redis?.stop();
  });

  it('loses no acknowledged line, answers 503 while Redis is away, and recovers by itself', async () => {
    const outcomes: Outcome[] = [];
    let seq = 0;
    let running = true;
    const worker = async (w: number) => {
      while (running) {
        const lines = Array.from({ length: 10 }, () => `w${w} line ${seq++}`);
        const body = lines.map((l, i) => frame(`<190>1 2024-06-01T12:00:00.${String(i).padStart(6, '0')}+00:00 host app web.${w} - ${l}`)).join('');
        const started = Date.now();
        try {
          const res = await request(`${gw.url}/drain`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/logplex-1', Authorization: basic(INGEST), 'Logplex-Frame-Id': `f-${w}-${seq}` },
            body,
            headersTimeout: 10_000,
            bodyTimeout: 10_000,
          });
          await res.body.dump();
          outcomes.push({ status: res.statusCode, ms: Date.now() - started, lines });
        } catch {
          outcomes.push({ status: 'error', ms: Date.now() - started, lines });
        }
      }
    };
    const workers = [1, 2, 3, 4].map(worker);

    await sleep(800);
    await redis.kill('SIGKILL');
    await sleep(1500);
    const healthDown = await request(`${gw.url}/health`);
    expect(healthDown.statusCode).toBe(503);
    await healthDown.body.dump();
    await redis.restart();
    // Recovery without restarting the gateway: health turns ok and posts succeed again.
    await waitFor(async () => {
      const res = await request(`${gw.url}/health`);
      await res.body.dump();
      return res.statusCode === 200;
    }, 15_000);
    const recoveredAt = outcomes.length;
    await waitFor(async () => outcomes.slice(recoveredAt).some((o) => o.status === 200), 10_000);
    await sleep(300);
    running = false;
    await Promise.all(workers);

    const ok = outcomes.filter((o) => o.status === 200);
    const failed = outcomes.filter((o) => o.status !== 200);
    expect(ok.length).toBeGreaterThan(10);
    expect(failed.length).toBeGreaterThan(0); // the outage was seen
    for (const o of failed) expect([503, 'error']).toContain(o.status);
    // None hung: each answer came within the command timeout plus slack, never the request timeout.
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(COMMAND_TIMEOUT_MS + 2000);

    const res = await request(`${gw.url}/api/logs?token=${READ}&limit=1000&offset=0`);
    const stored = new Set<string>();
    const first = (await res.body.json()) as { total: number; entries: { message: string }[] };
    for (const e of first.entries) stored.add(e.message);
    for (let offset = 1000; offset < first.total; offset += 1000) {
      const page = await request(`${gw.url}/api/logs?token=${READ}&limit=1000&offset=${offset}`);
      for (const e of ((await page.body.json()) as { entries: { message: string }[] }).entries) stored.add(e.message);
    }
    const lost = ok.flatMap((o) => o.lines).filter((l) => !stored.has(l));
    expect(lost).toEqual([]);
  }, 60_000);
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`condition not met in ${timeoutMs} ms`);
}
