import type { Context } from 'hono';
import type { AppRegistry, TokenGrant } from '../apps/types.js';
import { GatewayError } from '../errors.js';
import type { AuthThrottle } from '../limits/auth-throttle.js';
import { contextAddress } from './client-address.js';
import { requestHeader } from './header.js';

/** Where a route accepts its token from. */
export interface TokenSources {
  /** `Authorization: Basic` (the password; the user when the password is empty). */
  basic?: boolean;
  /** `Authorization: Bearer <token>`. */
  bearer?: boolean;
  /** `?token=` in the query string (drain URLs, EventSource, curl). */
  query?: boolean;
}

/**
 * Picks the presented token out of a request, or null when none is presented.
 * `heroku drains:add https://user:TOKEN@host/drain` arrives as Basic with TOKEN as password;
 * `https://TOKEN@host/drain` arrives with TOKEN as user and an empty password.
 */
export function presentedToken(c: Context, sources: TokenSources): string | null {
  return tokenOf(requestHeader(c, 'authorization'), () => c.req.query('token'), sources);
}

/**
 * {@link presentedToken} from the raw parts of a request: its `Authorization` header and a reader
 * of its `?token=` (called only when the header gave none).
 */
export function tokenOf(authorization: string | undefined, queryToken: () => string | undefined, sources: TokenSources): string | null {
  const header = authorization;
  if (header) {
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space < 0 ? header.length : space).toLowerCase();
    const value = space < 0 ? '' : header.slice(space + 1).trim();
    if (scheme === 'basic' && sources.basic) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon < 0 ? decoded : decoded.slice(0, colon);
      const pass = colon < 0 ? '' : decoded.slice(colon + 1);
      const token = pass || user;
      if (token) return token;
    } else if (scheme === 'bearer' && sources.bearer && value) {
      return value;
    }
  }
  if (sources.query) {
    const q = queryToken();
    if (q) return q;
  }
  return null;
}

/** Options of {@link requireGrant}. */
export interface RequireGrantOptions extends TokenSources {
  /** Grants allowed on this route. */
  allow: ReadonlyArray<TokenGrant['kind']>;
  /** Extra headers on 401 (e.g. `WWW-Authenticate`). */
  challenge?: Record<string, string>;
}

/** What token checks need (GatewayDeps has it all). */
export interface GrantDeps {
  apps: AppRegistry;
  config: { trustProxy: boolean };
  /** The auth-failure throttle per client address; absent: none. */
  authThrottle?: AuthThrottle;
}

/** 429 `too_many_auth_failures`: the client's address failed too often; retry after `retryAfterSec`. */
export function tooManyAuthFailures(retryAfterSec: number): GatewayError {
  return new GatewayError(
    'too_many_auth_failures',
    429,
    `too many failed authentications from this address; retry in ${retryAfterSec} s`,
    { 'Retry-After': String(retryAfterSec) },
  );
}

/**
 * Resolves a token presented from client `address` (see `client-address.ts`) under the
 * auth-failure throttle: an unknown token counts as a failure of the address; an address over
 * its limit gets 429 `too_many_auth_failures` (thrown) without a store lookup, unless this
 * process already knows the token valid (`resolveCached`: valid tokens are never slowed by
 * others' failures from the same address). `address` is only computed when the throttle is on.
 */
export async function resolveThrottled(deps: GrantDeps, address: () => string, token: string): Promise<TokenGrant | null> {
  const throttle = deps.authThrottle;
  if (!throttle?.enabled) return deps.apps.resolve(token);
  const at = address();
  const wait = throttle.retryAfter(at);
  if (wait > 0) {
    if (!deps.apps.resolveCached(token)) throw tooManyAuthFailures(wait);
    // Known valid here: resolve says whether it still is (a cache hit, or one lookup).
    return deps.apps.resolve(token);
  }
  const grant = await deps.apps.resolve(token);
  if (!grant) throttle.fail(at);
  return grant;
}

/**
 * Resolves the request's token and checks its kind: 401 when missing or unknown, 403 when known
 * but not allowed here (a read token on an ingest route, say), 429 when the client's address is
 * over its auth failures (see {@link resolveThrottled}). Tokens are never echoed.
 */
export async function requireGrant(c: Context, deps: GrantDeps, opts: RequireGrantOptions): Promise<TokenGrant> {
  return checkGrant(presentedToken(c, opts), () => contextAddress(c, deps.config.trustProxy), deps, opts);
}

/** {@link requireGrant} for a token already picked out of the request (null: none presented). */
export async function checkGrant(token: string | null, address: () => string, deps: GrantDeps, opts: RequireGrantOptions): Promise<TokenGrant> {
  if (!token) throw new GatewayError('unauthorized', 401, 'a token is required', opts.challenge);
  const grant = await resolveThrottled(deps, address, token);
  if (!grant) throw new GatewayError('unauthorized', 401, 'unknown token', opts.challenge);
  if (!opts.allow.includes(grant.kind)) {
    throw new GatewayError('forbidden', 403, `a ${grant.kind} token may not do this`);
  }
  return grant;
}

/**
 * The apps a grant may read (history, live tail, SSE, the app list): null for every app, else
 * the one app it belongs to. The admin token reads every app, an app's token its own app; in the
 * local demo mode (`demo`, GatewayDeps.demo: anonymous WebSocket producers write any app they
 * name) a read token reads every app too, so the dashboard signed in with the demo read token
 * shows the apps those producers created. The one rule behind every per-app read check.
 */
export function readScope(grant: TokenGrant, demo: boolean | undefined): string | null {
  if (grant.kind === 'admin' || (demo === true && grant.kind === 'read')) return null;
  return grant.appId;
}

/** Whether a grant may read the app's history and tail (see {@link readScope}). */
export function canRead(grant: TokenGrant, appId: string, demo: boolean | undefined): boolean {
  const scope = readScope(grant, demo);
  return scope === null || scope === appId;
}
