import { hash, timingSafeEqual } from 'node:crypto';
import { formatMicros } from '../decode/timestamp.js';
import { GatewayError } from '../errors.js';
import {
  APP_ID_PATTERN,
  generateIngestToken,
  generateReadToken,
  INGEST_TOKEN_PATTERN,
  READ_TOKEN_PATTERN,
} from './tokens.js';
import type { App, AppSummary } from './types.js';

/**
 * The rules of an app registry, written once and used by every implementation (memory, Redis):
 * which ids and tokens are valid, when a token is in use, what `create`, `upsert` and `rotate`
 * change. Each rule is a pure function from what the registry read (a {@link RegistryState}) to
 * what it must write (a {@link RegistryChange}); the registry only reads and applies. The memory
 * registry applies a change directly; the Redis registry applies it with a compare-and-set script
 * that refuses it when anything the plan read has changed since, then plans again.
 */

/** The two kinds of app token. */
export type TokenKind = 'ingest' | 'read';

/** What the token index holds under a token's SHA-256 digest (never the token itself). */
export interface GrantRecord {
  kind: TokenKind;
  appId: string;
  /** Epoch ms from which a rotated-out token no longer works; absent for a current token. */
  expiresAt?: number;
}

/**
 * A rotated-out token still in its grace period, kept on its app so that a later rotation can
 * remove the expired grant from the index (nothing else lists it: the app's token lists hold only
 * current tokens).
 */
export interface RetiredToken {
  /** SHA-256 hex of the token. */
  digest: string;
  expiresAt: number;
}

/** An app as a registry stores it: the public {@link App} plus its rotated-out tokens. */
export interface StoredApp extends App {
  retired: RetiredToken[];
}

/** A write to the token index: set the grant of a token, or (`grant: null`) delete it. */
export type GrantWrite = { digest: string; token: string; grant: GrantRecord } | { digest: string; grant: null };

/** What a plan reads. */
export interface RegistryState {
  /** The app the change is about, or null when it does not exist. */
  app: StoredApp | null;
  /**
   * Grants by digest (hex). Must hold every digest the plan asks about (see {@link tokenDigests}
   * and {@link rotationDigests}); a digest that is absent has no grant.
   */
  grants: ReadonlyMap<string, GrantRecord>;
  /** Epoch ms: the time of the change. */
  at: number;
  /** SHA-256 of the admin token, when there is one (no app may take it). */
  adminDigest?: Buffer;
}

/** What a plan asks the registry to write: the whole app record, then the index writes in order. */
export interface RegistryChange {
  app: StoredApp;
  grants: GrantWrite[];
}

/** Tokens for a new app, after defaults are filled in. */
export interface NewAppTokens {
  ingestTokens: string[];
  readTokens: string[];
}

/** SHA-256 of a token: the key of the token index. */
export function tokenDigest(token: string): Buffer {
  // One-shot `hash` (no Hash object): ~0.8 µs against ~1.3 µs, on every authenticated request.
  return hash('sha256', token, 'buffer');
}

/**
 * True when `digest` is the admin token's digest. Comparing digests with `timingSafeEqual` hides
 * both the admin token's content and its length from the timing.
 */
export function isAdminDigest(digest: Buffer, adminDigest: Buffer | undefined): boolean {
  return adminDigest !== undefined && timingSafeEqual(digest, adminDigest);
}

/** True when a rotated-out token's grace period is over at `at`. */
export function isExpired(grant: GrantRecord, at: number): boolean {
  return grant.expiresAt !== undefined && at >= grant.expiresAt;
}

/** Throws `invalid_app_id` (400) unless `id` is a valid app id. */
export function checkAppId(id: string): void {
  if (typeof id !== 'string' || !APP_ID_PATTERN.test(id)) {
    throw new GatewayError(
      'invalid_app_id',
      400,
      'an app id is 1-100 characters: lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  }
}

/**
 * The tokens `create` gives a new app: the given ones without duplicates, or one fresh token of
 * each kind not given. Separate from {@link planCreate} so a registry that plans again after a
 * conflict keeps the same tokens.
 */
export function newAppTokens(tokens: { ingestTokens?: string[]; readTokens?: string[] } = {}): NewAppTokens {
  return {
    ingestTokens: tokens.ingestTokens?.length ? [...new Set(tokens.ingestTokens)] : [generateIngestToken()],
    readTokens: tokens.readTokens?.length ? [...new Set(tokens.readTokens)] : [generateReadToken()],
  };
}

/** The digests (hex) a create or upsert of these tokens reads; non-strings are skipped (refused later). */
export function tokenDigests(tokens: NewAppTokens): string[] {
  const all = [...tokens.ingestTokens, ...tokens.readTokens].filter((t): t is string => typeof t === 'string');
  return [...new Set(all.map((t) => tokenDigest(t).toString('hex')))];
}

/** The digests (hex) a rotation of `kind` reads: the app's current tokens of that kind, then its retired ones. */
export function rotationDigests(app: StoredApp | null, kind: TokenKind): string[] {
  if (!app) return [];
  const current = (kind === 'ingest' ? app.ingestTokens : app.readTokens).map((t) => tokenDigest(t).toString('hex'));
  return [...new Set([...current, ...app.retired.map((r) => r.digest)])];
}

/** The public copy of a stored app (what `get` returns; editing it changes nothing). */
export function toApp(app: StoredApp): App {
  return { id: app.id, ingestTokens: [...app.ingestTokens], readTokens: [...app.readTokens], createdAt: app.createdAt };
}

/** The public summary of an app (what `list` returns). */
export function toSummary(app: App): AppSummary {
  return { id: app.id, createdAt: app.createdAt };
}

/** Sorts summaries by id, the order `list` promises. */
export function sortSummaries(list: AppSummary[]): AppSummary[] {
  return list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Plans `create`: refuses an invalid id (`invalid_app_id`), an existing app (`app_exists`),
 * malformed tokens (`invalid_token`) and tokens of another app or the admin (`token_in_use`).
 */
export function planCreate(id: string, tokens: NewAppTokens, state: RegistryState): RegistryChange {
  checkAppId(id);
  if (state.app) throw new GatewayError('app_exists', 409, `app ${id} already exists`);
  checkTokens(id, 'ingest', tokens.ingestTokens, state);
  checkTokens(id, 'read', tokens.readTokens, state);
  const app = newApp(id, state.at);
  const grants: GrantWrite[] = [];
  attach(app, 'ingest', tokens.ingestTokens, state, grants);
  attach(app, 'read', tokens.readTokens, state, grants);
  return { app, grants };
}

/**
 * Plans `upsert`: adds the app, or merges the tokens into it (idempotent: tokens it has already
 * are left alone, so loading the same configuration twice writes nothing). A token in its rotation
 * grace period becomes current again: configuration says it is.
 */
export function planUpsert(
  input: { id: string; ingestTokens: string[]; readTokens: string[] },
  state: RegistryState,
): RegistryChange {
  checkAppId(input.id);
  checkTokens(input.id, 'ingest', input.ingestTokens, state);
  checkTokens(input.id, 'read', input.readTokens, state);
  const app = state.app ? copyStored(state.app) : newApp(input.id, state.at);
  const grants: GrantWrite[] = [];
  attach(app, 'ingest', input.ingestTokens, state, grants);
  attach(app, 'read', input.readTokens, state, grants);
  return { app, grants };
}

/**
 * Plans `rotate`: one fresh token of `kind` replaces the current ones. With `graceMs` > 0 the old
 * tokens keep working until `at + graceMs` (a token already in a grace period keeps the earlier
 * end: rotating again never extends it); with 0 they are deleted at once. Grants of retired
 * tokens whose grace is over are deleted on the way, so the index does not grow with rotations.
 * Throws `app_not_found` (404).
 */
export function planRotate(id: string, kind: TokenKind, graceMs: number, state: RegistryState): RegistryChange {
  if (!state.app) throw new GatewayError('app_not_found', 404, `app ${id} does not exist`);
  const app = copyStored(state.app);
  const grants: GrantWrite[] = [];
  const { at } = state;

  const stillRetired: RetiredToken[] = [];
  for (const retired of app.retired) {
    const grant = state.grants.get(retired.digest);
    // The grant may since belong to another app (which took the token once it expired) or have
    // been made current again by upsert: then it is not this rotation's to delete.
    const ours = grant !== undefined && grant.appId === app.id && grant.expiresAt !== undefined;
    if (ours && isExpired(grant, at)) grants.push({ digest: retired.digest, grant: null });
    else if (ours) stillRetired.push({ digest: retired.digest, expiresAt: grant.expiresAt! });
  }
  app.retired = stillRetired;

  const expiresAt = at + graceMs;
  for (const token of kind === 'ingest' ? app.ingestTokens : app.readTokens) {
    const digest = tokenDigest(token).toString('hex');
    const grant = state.grants.get(digest);
    if (!grant || grant.appId !== app.id) continue;
    if (graceMs > 0) {
      const end = Math.min(grant.expiresAt ?? Infinity, expiresAt);
      grants.push({ digest, token, grant: { kind: grant.kind, appId: grant.appId, expiresAt: end } });
      app.retired = app.retired.filter((r) => r.digest !== digest);
      app.retired.push({ digest, expiresAt: end });
    } else {
      grants.push({ digest, grant: null });
    }
  }

  if (kind === 'ingest') app.ingestTokens = [];
  else app.readTokens = [];
  const fresh = kind === 'ingest' ? generateIngestToken() : generateReadToken();
  attach(app, kind, [fresh], state, grants);
  return { app, grants };
}

function newApp(id: string, at: number): StoredApp {
  return { id, ingestTokens: [], readTokens: [], createdAt: formatMicros(at * 1000), retired: [] };
}

function copyStored(app: StoredApp): StoredApp {
  // Same key order as newApp: the Redis registry compares serialised records to skip no-op writes.
  return {
    id: app.id,
    ingestTokens: [...app.ingestTokens],
    readTokens: [...app.readTokens],
    createdAt: app.createdAt,
    retired: app.retired.map((r) => ({ digest: r.digest, expiresAt: r.expiresAt })),
  };
}

/** Validates tokens to be attached to `appId`, before anything is changed. */
function checkTokens(appId: string, kind: TokenKind, tokens: readonly string[], state: RegistryState): void {
  const pattern = kind === 'ingest' ? INGEST_TOKEN_PATTERN : READ_TOKEN_PATTERN;
  const prefix = kind === 'ingest' ? 't.' : 'r.';
  for (const token of tokens) {
    // The message never echoes the token: it is a secret and error bodies get logged.
    if (typeof token !== 'string' || !pattern.test(token)) {
      throw new GatewayError(
        'invalid_token',
        400,
        `an ${kind} token of app ${appId} is malformed: expected "${prefix}" then 16-200 of A-Z a-z 0-9 . _ ~ -`,
      );
    }
    const digest = tokenDigest(token);
    if (isAdminDigest(digest, state.adminDigest)) {
      throw new GatewayError('token_in_use', 409, `an ${kind} token of app ${appId} is the admin token`);
    }
    const grant = state.grants.get(digest.toString('hex'));
    if (grant && !isExpired(grant, state.at) && grant.appId !== appId) {
      throw new GatewayError('token_in_use', 409, `an ${kind} token of app ${appId} already belongs to another app`);
    }
  }
}

/** Makes `tokens` current tokens of the app (idempotent); call after `checkTokens`. */
function attach(app: StoredApp, kind: TokenKind, tokens: readonly string[], state: RegistryState, out: GrantWrite[]): void {
  const list = kind === 'ingest' ? app.ingestTokens : app.readTokens;
  for (const token of tokens) {
    const digest = tokenDigest(token).toString('hex');
    const grant = state.grants.get(digest);
    const listed = list.includes(token);
    // Already current for this app: nothing to write (keeps a repeated upsert a no-op).
    if (listed && grant && grant.appId === app.id && grant.kind === kind && grant.expiresAt === undefined) continue;
    // Also revives a token in its rotation grace period, or takes one whose grace is over.
    out.push({ digest, token, grant: { kind, appId: app.id } });
    app.retired = app.retired.filter((r) => r.digest !== digest);
    if (!listed) list.push(token);
  }
}
