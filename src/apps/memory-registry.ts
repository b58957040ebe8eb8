import { createHash, timingSafeEqual } from 'node:crypto';
import { formatMicros } from '../decode/timestamp.js';
import { GatewayError } from '../errors.js';
import {
  APP_ID_PATTERN,
  generateIngestToken,
  generateReadToken,
  INGEST_TOKEN_PATTERN,
  READ_TOKEN_PATTERN,
} from './tokens.js';
import type { App, AppRegistry, AppSummary, TokenGrant } from './types.js';

export { generateIngestToken, generateReadToken } from './tokens.js';

/** Options of {@link createMemoryAppRegistry}. */
export interface MemoryAppRegistryOptions {
  /** The admin token (env `ADMIN_TOKEN`); absent or empty: no token resolves to admin. */
  adminToken?: string;
  /** Clock in epoch ms, for rotation grace periods and `createdAt`. Default `Date.now`. */
  now?: () => number;
}

type TokenKind = 'ingest' | 'read';

interface TokenRecord {
  /** The token itself, compared in constant time after the digest lookup. */
  token: Buffer;
  appId: string;
  kind: TokenKind;
  /** Epoch ms after which a rotated-out token stops working; absent for a current token. */
  expiresAt?: number;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Apps and tokens in this process (the embedded default; lost on restart, re-seeded from
 * `sluice.config.json`).
 *
 * Token lookup never compares the presented token byte by byte against stored ones: tokens are
 * indexed by their SHA-256 digest (a Map lookup reveals nothing about how close a guess was), then
 * the match is confirmed with `timingSafeEqual`. The admin token is compared as digests with
 * `timingSafeEqual`, so neither its content nor its length shows in the timing.
 *
 * A token belongs to one app and one kind; reusing it elsewhere is refused (`token_in_use`, 409).
 *
 * @example
 * const registry = createMemoryAppRegistry({ adminToken: process.env.ADMIN_TOKEN });
 * const app = await registry.create('billing-api');
 * await registry.resolve(app.ingestTokens[0]); // { kind: 'ingest', appId: 'billing-api' }
 */
export function createMemoryAppRegistry(options: MemoryAppRegistryOptions = {}): AppRegistry {
  const now = options.now ?? Date.now;
  const adminDigest = options.adminToken ? digest(options.adminToken) : undefined;
  const apps = new Map<string, App>();
  const byDigest = new Map<string, TokenRecord>();

  function copy(app: App): App {
    return { id: app.id, ingestTokens: [...app.ingestTokens], readTokens: [...app.readTokens], createdAt: app.createdAt };
  }

  function isExpired(record: TokenRecord, at: number): boolean {
    return record.expiresAt !== undefined && at >= record.expiresAt;
  }

  function checkAppId(id: string): void {
    if (typeof id !== 'string' || !APP_ID_PATTERN.test(id)) {
      throw new GatewayError(
        'invalid_app_id',
        400,
        'an app id is 1-100 characters: lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
      );
    }
  }

  /** Validates tokens to be attached to `appId`, before anything is changed. */
  function checkTokens(appId: string, kind: TokenKind, tokens: readonly string[]): void {
    const pattern = kind === 'ingest' ? INGEST_TOKEN_PATTERN : READ_TOKEN_PATTERN;
    const prefix = kind === 'ingest' ? 't.' : 'r.';
    const at = now();
    for (const token of tokens) {
      // The message never echoes the token: it is a secret and error bodies get logged.
      if (typeof token !== 'string' || !pattern.test(token)) {
        throw new GatewayError(
          'invalid_token',
          400,
          `an ${kind} token of app ${appId} is malformed: expected "${prefix}" then 16-200 of A-Z a-z 0-9 . _ ~ -`,
        );
      }
      const d = digest(token);
      if (adminDigest && timingSafeEqual(d, adminDigest)) {
        throw new GatewayError('token_in_use', 409, `an ${kind} token of app ${appId} is the admin token`);
      }
      const record = byDigest.get(d.toString('hex'));
      if (record && !isExpired(record, at) && record.appId !== appId) {
        throw new GatewayError('token_in_use', 409, `an ${kind} token of app ${appId} already belongs to another app`);
      }
    }
  }

  /** Makes `tokens` current tokens of the app (idempotent); call after `checkTokens`. */
  function attach(app: App, kind: TokenKind, tokens: readonly string[]): void {
    const list = kind === 'ingest' ? app.ingestTokens : app.readTokens;
    for (const token of tokens) {
      // Also revives a token in its rotation grace period: configuration says it is current.
      byDigest.set(digest(token).toString('hex'), { token: Buffer.from(token, 'utf8'), appId: app.id, kind });
      if (!list.includes(token)) list.push(token);
    }
  }

  function sweepExpired(): void {
    const at = now();
    for (const [key, record] of byDigest) if (isExpired(record, at)) byDigest.delete(key);
  }

  function newApp(id: string): App {
    return { id, ingestTokens: [], readTokens: [], createdAt: formatMicros(now() * 1000) };
  }

  return {
    async resolve(token: string): Promise<TokenGrant | null> {
      if (typeof token !== 'string' || token.length === 0) return null;
      const d = digest(token);
      if (adminDigest && timingSafeEqual(d, adminDigest)) return { kind: 'admin' };
      const key = d.toString('hex');
      const record = byDigest.get(key);
      if (!record) return null;
      const presented = Buffer.from(token, 'utf8');
      // Equal digests mean equal tokens; the constant-time check guards the index, not the odds.
      if (presented.length !== record.token.length || !timingSafeEqual(presented, record.token)) return null;
      if (isExpired(record, now())) {
        byDigest.delete(key);
        return null;
      }
      return { kind: record.kind, appId: record.appId };
    },

    async get(id: string): Promise<App | null> {
      const app = apps.get(id);
      return app ? copy(app) : null;
    },

    async list(): Promise<AppSummary[]> {
      return [...apps.values()]
        .map((app) => ({ id: app.id, createdAt: app.createdAt }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },

    async create(id, tokens = {}): Promise<App> {
      checkAppId(id);
      if (apps.has(id)) throw new GatewayError('app_exists', 409, `app ${id} already exists`);
      const ingest = tokens.ingestTokens?.length ? [...new Set(tokens.ingestTokens)] : [generateIngestToken()];
      const read = tokens.readTokens?.length ? [...new Set(tokens.readTokens)] : [generateReadToken()];
      checkTokens(id, 'ingest', ingest);
      checkTokens(id, 'read', read);
      const app = newApp(id);
      attach(app, 'ingest', ingest);
      attach(app, 'read', read);
      apps.set(id, app);
      return copy(app);
    },

    async upsert({ id, ingestTokens, readTokens }): Promise<App> {
      checkAppId(id);
      checkTokens(id, 'ingest', ingestTokens);
      checkTokens(id, 'read', readTokens);
      const app = apps.get(id) ?? newApp(id);
      attach(app, 'ingest', ingestTokens);
      attach(app, 'read', readTokens);
      apps.set(id, app);
      return copy(app);
    },

    async rotate(id, kind, graceMs = 0): Promise<App> {
      const app = apps.get(id);
      if (!app) throw new GatewayError('app_not_found', 404, `app ${id} does not exist`);
      sweepExpired();
      const expiresAt = now() + graceMs;
      const old = kind === 'ingest' ? app.ingestTokens : app.readTokens;
      for (const token of old) {
        const key = digest(token).toString('hex');
        const record = byDigest.get(key);
        if (!record) continue;
        if (graceMs > 0) record.expiresAt = Math.min(record.expiresAt ?? Infinity, expiresAt);
        else byDigest.delete(key);
      }
      const fresh = kind === 'ingest' ? generateIngestToken() : generateReadToken();
      if (kind === 'ingest') app.ingestTokens = [];
      else app.readTokens = [];
      attach(app, kind, [fresh]);
      return copy(app);
    },
  };
}
