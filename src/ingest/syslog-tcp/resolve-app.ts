/**
 * Which app a syslog frame belongs to, in this order (issue 11):
 * 1. a `token="t.…"` parameter in any STRUCTURED-DATA element (what `logger --sd-param` can
 *    send); the parameter is removed from the record, so the secret is never stored;
 * 2. an ingest token as APP-NAME (Logplex style), replaced by the app's id as `source`;
 * 3. the app the listener is bound to (`SYSLOG_TCP_APP`, `SYSLOG_TLS_APP`).
 * A token that is presented and not a valid ingest token makes the frame bad: it never falls
 * through to the bound app. Tokens are checked by the registry (constant-time) and never logged.
 */
import type { TokenGrant } from '../../apps/types.js';
import type { SyslogRecord } from '../../decode/types.js';

/** Why a frame has no app. */
export type NoAppReason = 'no_token' | 'bad_token' | 'too_many_auth_failures';

/**
 * The app of a frame, and the `source` to store in place of a token APP-NAME. `bound`: the frame
 * carried no token at all (the listener's bound app), so its bytes hold no secret and may be kept.
 */
export type AppOfFrame = { appId: string; appNameOverride?: string; bound?: true } | { reason: NoAppReason };

/** Resolves a token to a grant (the registry, through the auth-failure throttle). */
export type GrantLookup = (token: string) => Promise<TokenGrant | null>;

/** How long a connection trusts a token it resolved (a rotated token stops working within it). */
const GRANT_CACHE_MS = 5000;
/** Tokens remembered per connection. */
const GRANT_CACHE_MAX = 64;

/**
 * Per connection: resolves frames to apps, with a small cache of the tokens the connection
 * used, so a sender's every line does not cost a registry lookup.
 */
export class FrameAppResolver {
  private readonly cache = new Map<string, { grant: TokenGrant | null; at: number }>();
  /** The answer for frames without a token (one object for them all: callers only read it). */
  private readonly bound: AppOfFrame;

  constructor(
    private readonly lookup: GrantLookup,
    boundApp: string | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.bound = boundApp !== undefined ? { appId: boundApp, bound: true } : { reason: 'no_token' };
  }

  /**
   * The app of `rec` (whose SD loses its `token` parameter), or why there is none: a value when
   * the answer is known without a lookup (the common case: a cached token, a bound listener),
   * else a promise.
   */
  resolve(rec: SyslogRecord): AppOfFrame | Promise<AppOfFrame> {
    const sdToken = takeSdToken(rec);
    const name = rec.appName;
    // APP-NAME may hold the token as well (or another one): never store it.
    const nameIsToken = name !== null && name.startsWith('t.');
    const token = sdToken ?? (nameIsToken ? name : undefined);
    if (token === undefined) return this.bound;
    const hit = this.cache.get(token);
    if (hit !== undefined && this.now() - hit.at <= GRANT_CACHE_MS) return answer(hit.grant, nameIsToken);
    return this.lookupAndCache(token).then(
      (grant) => answer(grant, nameIsToken),
      (err: unknown) => {
        if ((err as { code?: string }).code === 'too_many_auth_failures') return { reason: 'too_many_auth_failures' } as const;
        throw err;
      },
    );
  }

  private async lookupAndCache(token: string): Promise<TokenGrant | null> {
    const grant = await this.lookup(token);
    if (this.cache.size >= GRANT_CACHE_MAX) this.cache.clear();
    this.cache.set(token, { grant, at: this.now() });
    return grant;
  }
}

function answer(grant: TokenGrant | null, nameIsToken: boolean): AppOfFrame {
  if (grant?.kind !== 'ingest') return { reason: 'bad_token' };
  return nameIsToken ? { appId: grant.appId, appNameOverride: grant.appId } : { appId: grant.appId };
}

/**
 * Removes every `token` parameter from the record's SD elements (they are secrets; an element
 * left empty is removed too) and returns the first one's value; undefined when there is none.
 */
export function takeSdToken(rec: SyslogRecord): string | undefined {
  const sd = rec.structuredData;
  if (sd === null) return undefined;
  let found: string | undefined;
  for (const id in sd) {
    const params = sd[id]!;
    if (!Object.hasOwn(params, 'token')) continue;
    found ??= params.token;
    delete params.token;
    let empty = true;
    for (const _ in params) {
      empty = false;
      break;
    }
    if (empty) delete sd[id];
  }
  return found;
}
