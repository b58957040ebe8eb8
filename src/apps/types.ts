/**
 * Apps and their tokens. An app has an id, ingest tokens (`t.<uuid>`, write) and read tokens
 * (`r.<uuid>`, read history and tail). The admin token (env `ADMIN_TOKEN`) may do everything.
 */

/** What a presented token grants. */
export type TokenGrant =
  | { kind: 'admin' }
  | { kind: 'ingest'; appId: string }
  | { kind: 'read'; appId: string };

/** An app as stored. Tokens are secrets: never log this object. */
export interface App {
  id: string;
  ingestTokens: string[];
  readTokens: string[];
  createdAt: string;
}

/** The public view of an app (what `GET /api/apps` lists): no tokens. */
export interface AppSummary {
  id: string;
  createdAt: string;
}

/**
 * Where apps and tokens live: in memory with the embedded store, in Redis with the Redis store.
 * Lookups compare tokens in constant time.
 */
export interface AppRegistry {
  /** What a token grants, or null when unknown. Constant-time in the token's content. */
  resolve(token: string): Promise<TokenGrant | null>;
  /**
   * What this process already knows about a token, without asking the store: its grant when the
   * token was resolved valid here (and is not known to be rotated out), null when it is known
   * unknown, undefined when this process cannot tell without a lookup. A hint for the
   * auth-failure throttle (src/http/auth.ts), not an authorisation: the grant may be stale (a
   * registry that caches may return what it read before its cache TTL), so authorise with
   * `resolve`. Constant-time in the token's content, like `resolve`.
   */
  resolveCached(token: string): TokenGrant | null | undefined;
  get(id: string): Promise<App | null>;
  list(): Promise<AppSummary[]>;
  /** Creates an app with one fresh ingest and read token; throws GatewayError `app_exists` (409). */
  create(id: string, tokens?: { ingestTokens?: string[]; readTokens?: string[] }): Promise<App>;
  /** Adds an app from configuration, or merges tokens into an existing one (idempotent). */
  upsert(app: { id: string; ingestTokens: string[]; readTokens: string[] }): Promise<App>;
  /**
   * Replaces the app's tokens of one kind with a fresh one; the old tokens stop working
   * (after `graceMs` when given, so senders can be updated). Throws `app_not_found` (404).
   */
  rotate(id: string, kind: 'ingest' | 'read', graceMs?: number): Promise<App>;
}
