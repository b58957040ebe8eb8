import { timingSafeEqual } from 'node:crypto';
import {
  isAdminDigest,
  isExpired,
  newAppTokens,
  planCreate,
  planRotate,
  planUpsert,
  sortSummaries,
  toApp,
  toSummary,
  tokenDigest,
  type GrantRecord,
  type RegistryChange,
  type RegistryState,
  type StoredApp,
} from './registry-rules.js';
import type { App, AppRegistry, AppSummary, TokenGrant } from './types.js';

export { generateIngestToken, generateReadToken } from './tokens.js';

/** Options of {@link createMemoryAppRegistry}. */
export interface MemoryAppRegistryOptions {
  /** The admin token (env `ADMIN_TOKEN`); absent or empty: no token resolves to admin. */
  adminToken?: string;
  /** Clock in epoch ms, for rotation grace periods and `createdAt`. Default `Date.now`. */
  now?: () => number;
}

interface TokenRecord extends GrantRecord {
  /** The token itself, compared in constant time after the digest lookup. */
  token: Buffer;
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
 * The rules (validation, upsert merging, rotation with grace) live in `registry-rules.ts`, shared
 * with the Redis registry so both behave the same (`registry.contract.ts` checks it).
 *
 * @example
 * const registry = createMemoryAppRegistry({ adminToken: process.env.ADMIN_TOKEN });
 * const app = await registry.create('billing-api');
 * await registry.resolve(app.ingestTokens[0]); // { kind: 'ingest', appId: 'billing-api' }
 */
export function createMemoryAppRegistry(options: MemoryAppRegistryOptions = {}): AppRegistry {
  const now = options.now ?? Date.now;
  const adminDigest = options.adminToken ? tokenDigest(options.adminToken) : undefined;
  const apps = new Map<string, StoredApp>();
  const byDigest = new Map<string, TokenRecord>();

  function state(id: string): RegistryState {
    // The whole index is at hand, so the plan may read any digest it likes.
    return { app: apps.get(id) ?? null, grants: byDigest, at: now(), adminDigest };
  }

  /** Applies a planned change; nothing can fail half-way, and JS runs it without interleaving. */
  function apply(change: RegistryChange): App {
    for (const write of change.grants) {
      if (write.grant === null) byDigest.delete(write.digest);
      else byDigest.set(write.digest, { ...write.grant, token: Buffer.from(write.token, 'utf8') });
    }
    apps.set(change.app.id, change.app);
    return toApp(change.app);
  }

  /** Everything is in memory: the answer is always known (never undefined). */
  function resolveNow(token: string): TokenGrant | null {
    if (typeof token !== 'string' || token.length === 0) return null;
    const d = tokenDigest(token);
    if (isAdminDigest(d, adminDigest)) return { kind: 'admin' };
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
  }

  return {
    async resolve(token: string): Promise<TokenGrant | null> {
      return resolveNow(token);
    },

    resolveCached: resolveNow,

    async get(id: string): Promise<App | null> {
      const app = apps.get(id);
      return app ? toApp(app) : null;
    },

    async list(): Promise<AppSummary[]> {
      return sortSummaries([...apps.values()].map(toSummary));
    },

    async create(id, tokens): Promise<App> {
      return apply(planCreate(id, newAppTokens(tokens), state(id)));
    },

    async upsert(app): Promise<App> {
      return apply(planUpsert(app, state(app.id)));
    },

    async rotate(id, kind, graceMs = 0): Promise<App> {
      return apply(planRotate(id, kind, graceMs, state(id)));
    },
  };
}
