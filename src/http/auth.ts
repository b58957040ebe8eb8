import type { Context } from 'hono';
import type { AppRegistry, TokenGrant } from '../apps/types.js';
import { GatewayError } from '../errors.js';

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
  const header = c.req.header('authorization');
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
    const q = c.req.query('token');
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

/**
 * Resolves the request's token and checks its kind: 401 when missing or unknown, 403 when known
 * but not allowed here (a read token on an ingest route, say). Tokens are never echoed.
 */
export async function requireGrant(c: Context, registry: AppRegistry, opts: RequireGrantOptions): Promise<TokenGrant> {
  const token = presentedToken(c, opts);
  if (!token) throw new GatewayError('unauthorized', 401, 'a token is required', opts.challenge);
  const grant = await registry.resolve(token);
  if (!grant) throw new GatewayError('unauthorized', 401, 'unknown token', opts.challenge);
  if (!opts.allow.includes(grant.kind)) {
    throw new GatewayError('forbidden', 403, `a ${grant.kind} token may not do this`);
  }
  return grant;
}

/** Whether a grant may read the app's history and tail. */
export function canRead(grant: TokenGrant, appId: string): boolean {
  return grant.kind === 'admin' || grant.appId === appId;
}
