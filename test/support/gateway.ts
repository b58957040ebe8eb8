import pino from 'pino';
import type { Hono } from 'hono';
import { createApp } from '../../src/app.js';
import { createMemoryAppRegistry } from '../../src/apps/memory-registry.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { GatewayDeps } from '../../src/deps.js';
import { createMemoryRateLimiter } from '../../src/limits/rate-limiter.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';

export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

/** An app created for a test, with its tokens. */
export interface TestApp {
  id: string;
  ingest: string;
  read: string;
}

/** A gateway built in-process for `app.request()` tests: two apps, an admin token, memory store. */
export interface TestGateway {
  app: Hono;
  deps: GatewayDeps;
  store: Store;
  a: TestApp;
  b: TestApp;
}

/** `extra`: more dependencies, e.g. `{ metrics: createGatewayMetrics() }`. */
export async function makeGateway(overrides: Partial<Config> = {}, store?: Store, extra: Partial<GatewayDeps> = {}): Promise<TestGateway> {
  const config: Config = { ...loadConfig({ ADMIN_TOKEN }), rateLimitLinesPerSec: 0, ...overrides };
  const apps = createMemoryAppRegistry({ adminToken: config.adminToken });
  const made = store ?? createMemoryStore({ historyPerApp: config.historyPerApp, historyBytesPerApp: config.historyBytesPerApp, maxDedupeKeys: config.dedupeMaxKeys });
  const deps: GatewayDeps = {
    config,
    store: made,
    apps,
    rateLimiter: createMemoryRateLimiter({ ratePerSec: config.rateLimitLinesPerSec, burst: config.rateLimitBurst }),
    logger: pino({ level: 'silent' }),
    ...extra,
  };
  const toTestApp = async (id: string): Promise<TestApp> => {
    const app = await apps.create(id);
    return { id, ingest: app.ingestTokens[0]!, read: app.readTokens[0]! };
  };
  return { app: createApp(deps), deps, store: made, a: await toTestApp('app-a'), b: await toTestApp('app-b') };
}

/** Frames one RFC 5424 message as Heroku does: LEN counts the bytes, trailing LF included. */
export function frame(msg: string, withLf = true): string {
  const m = withLf ? `${msg}\n` : msg;
  return `${Buffer.byteLength(m)} ${m}`;
}

/** `Authorization: Basic` for a drain URL `https://token:TOKEN@host/drain`. */
export function basic(token: string, user = 'token'): string {
  return `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
}

export const LOGPLEX = { 'Content-Type': 'application/logplex-1' };

/** Reads the non-comment lines of a vector file. */
export function vectorLines(text: string): string[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#'));
}
