import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { GatewayError, storeUnavailable } from '../errors.js';
import {
  checkAppId,
  isAdminDigest,
  isExpired,
  newAppTokens,
  planCreate,
  planRotate,
  planUpsert,
  rotationDigests,
  sortSummaries,
  toApp,
  toSummary,
  tokenDigest,
  tokenDigests,
  type GrantRecord,
  type RegistryChange,
  type RegistryState,
  type StoredApp,
} from './registry-rules.js';
import type { App, AppRegistry, AppSummary, TokenGrant } from './types.js';

/** Options of {@link createRedisAppRegistry}. */
export interface RedisAppRegistryOptions {
  /** A connected client (single node or cluster); the registry never closes it. */
  redis: Redis | Cluster;
  /** Key prefix, e.g. `sluice`; every key is `${prefix}:{meta}:…`. */
  prefix: string;
  /** The admin token (env `ADMIN_TOKEN`); absent or empty: no token resolves to admin. */
  adminToken?: string;
  /**
   * How long a process trusts what it read about a token, in ms. Default 5000; 0 disables the
   * cache (one Redis read per `resolve`). A token revoked or rotated out on another process keeps
   * working here for up to this long.
   */
  cacheTtlMs?: number;
  /** Clock in epoch ms, for rotation grace periods and `createdAt`. Default `Date.now`. */
  now?: () => number;
}

/** Tokens resolved per process at most (the cache's size bound). */
const CACHE_MAX = 10_000;
/** How long an unknown token is remembered as unknown: short, so a new app's token works soon everywhere. */
const MISS_TTL_MS = 1_000;
/** Plans tried against concurrent writers before giving up; each conflict means another writer won. */
const MAX_ATTEMPTS = 16;

/**
 * Compare-and-set of one app and some of its token grants, atomically (a script runs alone).
 * KEYS: apps hash, tokens hash. ARGV: app id, the app JSON the plan read ('' = absent), the new app
 * JSON, n, then n × (digest, the grant JSON the plan read or ''), then writes as (digest, grant
 * JSON, or '' to delete). Returns 0, changing nothing, when anything read has changed since.
 */
const CAS_SCRIPT = `
local app = redis.call('HGET', KEYS[1], ARGV[1])
if (app or '') ~= ARGV[2] then return 0 end
local n = tonumber(ARGV[4])
for i = 0, n - 1 do
  local grant = redis.call('HGET', KEYS[2], ARGV[5 + 2 * i])
  if (grant or '') ~= ARGV[6 + 2 * i] then return 0 end
end
if ARGV[3] ~= ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
for i = 5 + 2 * n, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[2], ARGV[i])
  else redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
return 1
`;

/** Deletes a field only if it still holds what was read (the lazy removal of an expired grant). */
const DELETE_IF_SCRIPT = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`;

interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const CAS = script(CAS_SCRIPT);
const DELETE_IF = script(DELETE_IF_SCRIPT);

/** EVALSHA, falling back to EVAL once when the server does not know the script (restart, failover). */
async function runScript(redis: Redis | Cluster, s: Script, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
      return redis.eval(s.source, keys.length, ...keys, ...args);
    }
    throw error;
  }
}

/** What the cache holds per digest: the grant and the JSON it was read as, or (grant null) a remembered miss. */
interface CacheEntry {
  grant: GrantRecord | null;
  raw: string;
}
const MISS: CacheEntry = Object.freeze({ grant: null, raw: '' });

/**
 * Apps and tokens in Redis, shared by every gateway process that uses the same `prefix`.
 *
 * Keys share ONE hash tag, so they sit in one Redis Cluster slot and a change to an app and its
 * tokens is one atomic script:
 * - `${prefix}:{meta}:apps`: HASH app id → app JSON (its current tokens, in clear, because the
 *   admin API shows them; `createdAt`; the digests of rotated-out tokens still in grace).
 * - `${prefix}:{meta}:tokens`: HASH SHA-256 hex of a token → grant JSON `{kind, appId, expiresAt?}`.
 *   A token never appears in clear as a field name, so `HKEYS` does not list secrets.
 *
 * Writes (`create`, `upsert`, `rotate`) read the app and the grants they depend on, plan the
 * change with the same rules as the memory registry (`registry-rules.ts`), then apply it with a
 * compare-and-set script that refuses it if any of that changed in between, and plan again. So two
 * processes creating the same app get one 201 and one `app_exists`, two apps can never claim the
 * same token, and a rotation replaces all of one kind of tokens at once. Loading the same
 * configuration again (`upsert`) writes nothing. (One script rather than HSETNX on the app then
 * HSET of its tokens: two steps would leave an app without tokens when a process dies between
 * them, and would not stop two new apps from claiming the same token.)
 *
 * `resolve` is on the ingest hot path, so it answers from a per-process cache of digest → grant
 * (`cacheTtlMs`, default 5 s; unknown tokens for 1 s) rather than paying a Redis round trip per
 * request. The price: a token revoked or rotated out on another process keeps working here for up
 * to `cacheTtlMs`, and a token created on another process may be unknown here for up to 1 s
 * after this process last looked it up. Changes made through this process take effect here at
 * once. A grant whose grace period is over counts as unknown (checked on every call, cached or
 * not) and is removed from Redis on the way.
 *
 * `resolveCached` answers from that cache alone, entries past their TTL included (the LRU keeps
 * them until they are read or evicted): the auth-failure throttle lets a token through from an
 * address over its limit only when this process has seen it valid, and `resolve` then checks it.
 * With `cacheTtlMs` 0 it knows nothing but the admin token.
 *
 * The admin token is checked locally (digests compared with `timingSafeEqual`), never stored.
 * Other tokens are looked up by SHA-256 digest, so the lookup's timing tells nothing about how
 * close a guess was.
 *
 * Redis errors become `store_unavailable` (503, `Retry-After: 5`). How fast they surface depends
 * on the client: with ioredis defaults a command waits through up to 20 reconnection attempts,
 * so give the client a small `maxRetriesPerRequest` for a quick 503.
 *
 * @example
 * const registry = createRedisAppRegistry({ redis: new Redis(process.env.REDIS_URL), prefix: 'sluice' });
 * const app = await registry.create('billing-api');
 * await registry.resolve(app.ingestTokens[0]); // { kind: 'ingest', appId: 'billing-api' }
 */
export function createRedisAppRegistry(options: RedisAppRegistryOptions): AppRegistry {
  const { redis, prefix } = options;
  const now = options.now ?? Date.now;
  const cacheTtlMs = options.cacheTtlMs ?? 5_000;
  if (!Number.isFinite(cacheTtlMs) || cacheTtlMs < 0) {
    throw new RangeError(`cacheTtlMs must be a number >= 0, got ${cacheTtlMs}`);
  }
  const adminDigest = options.adminToken ? tokenDigest(options.adminToken) : undefined;
  const appsKey = `${prefix}:{meta}:apps`;
  const tokensKey = `${prefix}:{meta}:tokens`;

  const cache = cacheTtlMs > 0 ? new LRUCache<string, CacheEntry>({ max: CACHE_MAX, ttl: cacheTtlMs }) : undefined;
  const missTtlMs = Math.min(MISS_TTL_MS, cacheTtlMs);
  // Concurrent resolves of one uncached token share one HGET.
  const inFlight = new Map<string, Promise<CacheEntry>>();
  // Bumped by every write of this process: a read that started before a write must not cache
  // what it read, or this process would see its own change late.
  let generation = 0;

  async function lookup(digest: string): Promise<CacheEntry> {
    const cached = cache?.get(digest);
    if (cached) return cached;
    let pending = inFlight.get(digest);
    if (!pending) {
      const started = generation;
      pending = (async (): Promise<CacheEntry> => {
        const raw = await redis.hget(tokensKey, digest);
        const entry: CacheEntry = raw === null ? MISS : { grant: parseGrant(raw), raw };
        if (cache && started === generation) cache.set(digest, entry, entry === MISS ? { ttl: missTtlMs } : {});
        return entry;
      })();
      const settled = pending;
      inFlight.set(digest, settled);
      // Only removes its own entry: a write may have replaced it meanwhile (see invalidate).
      settled.then(
        () => inFlight.get(digest) === settled && inFlight.delete(digest),
        () => inFlight.get(digest) === settled && inFlight.delete(digest),
      );
    }
    return pending;
  }

  /** Forgets what this process knew about tokens it just changed. */
  function invalidate(digests: Iterable<string>): void {
    generation++;
    inFlight.clear();
    for (const digest of digests) cache?.delete(digest);
  }

  async function readApp(id: string): Promise<{ app: StoredApp | null; raw: string | null }> {
    const raw = await redis.hget(appsKey, id);
    return { app: raw === null ? null : parseApp(raw), raw };
  }

  /**
   * Reads what a plan needs, plans, and applies the plan if nothing it read has changed; else
   * plans again. `digestsFor` names the grants the plan reads, given the app as read.
   */
  async function change(
    id: string,
    digestsFor: (app: StoredApp | null) => string[],
    plan: (state: RegistryState) => RegistryChange,
  ): Promise<App> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { app, raw } = await readApp(id);
      const digests = digestsFor(app);
      const rawGrants = digests.length > 0 ? await redis.hmget(tokensKey, ...digests) : [];
      const grants = new Map<string, GrantRecord>();
      digests.forEach((digest, i) => {
        const value = rawGrants[i];
        if (value !== null && value !== undefined) grants.set(digest, parseGrant(value));
      });
      const planned = plan({ app, grants, at: now(), adminDigest });
      const next = JSON.stringify(planned.app);
      if (next === raw && planned.grants.length === 0) return toApp(planned.app);

      const args = [id, raw ?? '', next, String(digests.length)];
      digests.forEach((digest, i) => args.push(digest, rawGrants[i] ?? ''));
      for (const write of planned.grants) {
        args.push(write.digest, write.grant === null ? '' : JSON.stringify(grantJson(write.grant)));
      }
      const applied = await runScript(redis, CAS, [appsKey, tokensKey], args);
      if (applied === 1) {
        invalidate(planned.grants.map((w) => w.digest));
        return toApp(planned.app);
      }
    }
    throw storeUnavailable(`app ${id} is being changed by others; try again`);
  }

  return {
    async resolve(token: string): Promise<TokenGrant | null> {
      if (typeof token !== 'string' || token.length === 0) return null;
      const d = tokenDigest(token);
      if (isAdminDigest(d, adminDigest)) return { kind: 'admin' };
      const digest = d.toString('hex');
      const entry = await guard(() => lookup(digest));
      if (entry.grant === null) return null;
      if (isExpired(entry.grant, now())) {
        cache?.delete(digest);
        // Fire and forget: only deletes the grant if it is still the expired one (another app may
        // have taken the token since); a failure leaves it for the next rotation to clean up.
        runScript(redis, DELETE_IF, [tokensKey], [digest, entry.raw]).catch(() => undefined);
        return null;
      }
      return { kind: entry.grant.kind, appId: entry.grant.appId };
    },

    resolveCached(token: string): TokenGrant | null | undefined {
      if (typeof token !== 'string' || token.length === 0) return null;
      const d = tokenDigest(token);
      if (isAdminDigest(d, adminDigest)) return { kind: 'admin' };
      // Stale entries too: a token in use is looked up again as its entry expires, so an entry
      // past its TTL still says this process saw the token valid (resolve then asks Redis).
      const entry = cache?.peek(d.toString('hex'), { allowStale: true });
      if (!entry) return undefined;
      if (entry.grant === null || isExpired(entry.grant, now())) return null;
      return { kind: entry.grant.kind, appId: entry.grant.appId };
    },

    async get(id: string): Promise<App | null> {
      const { app } = await guard(() => readApp(id));
      return app ? toApp(app) : null;
    },

    async list(): Promise<AppSummary[]> {
      return guard(async () => sortSummaries((await redis.hvals(appsKey)).map((raw) => toSummary(parseApp(raw)))));
    },

    async create(id, tokens): Promise<App> {
      // Validated before any Redis call, so a bad id never becomes a hash field; the tokens are
      // chosen once, so a retry after a conflict offers the same ones.
      checkAppId(id);
      const chosen = newAppTokens(tokens);
      const digests = tokenDigests(chosen);
      return guard(() => change(id, () => digests, (state) => planCreate(id, chosen, state)));
    },

    async upsert(app): Promise<App> {
      checkAppId(app.id);
      const digests = tokenDigests(app);
      return guard(() => change(app.id, () => digests, (state) => planUpsert(app, state)));
    },

    async rotate(id, kind, graceMs = 0): Promise<App> {
      return guard(() => change(id, (app) => rotationDigests(app, kind), (state) => planRotate(id, kind, graceMs, state)));
    },
  };
}

/** Runs a Redis operation; the registry's own errors pass, anything else becomes `store_unavailable`. */
async function guard<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    // The client's message (connection refused, timeout, ...) never carries command arguments.
    const detail = error instanceof Error ? error.message : String(error);
    throw storeUnavailable(`redis: ${detail.slice(0, 200)}`);
  }
}

/** The grant as stored: fixed key order, `expiresAt` only when set. */
function grantJson(grant: GrantRecord): GrantRecord {
  return grant.expiresAt === undefined
    ? { kind: grant.kind, appId: grant.appId }
    : { kind: grant.kind, appId: grant.appId, expiresAt: grant.expiresAt };
}

function parseGrant(raw: string): GrantRecord {
  const value = JSON.parse(raw) as GrantRecord;
  if ((value.kind !== 'ingest' && value.kind !== 'read') || typeof value.appId !== 'string') {
    throw new Error('a token grant in Redis is not valid');
  }
  return grantJson(value);
}

function parseApp(raw: string): StoredApp {
  const value = JSON.parse(raw) as Partial<StoredApp>;
  if (typeof value.id !== 'string' || !Array.isArray(value.ingestTokens) || !Array.isArray(value.readTokens)) {
    throw new Error('an app in Redis is not valid');
  }
  // Same key order as the rules build, so an unchanged app serialises to the same JSON.
  return {
    id: value.id,
    ingestTokens: value.ingestTokens,
    readTokens: value.readTokens,
    createdAt: String(value.createdAt),
    retired: Array.isArray(value.retired) ? value.retired : [],
  };
}
