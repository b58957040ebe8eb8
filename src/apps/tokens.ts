import { randomUUID } from 'node:crypto';

/**
 * App ids: 1–100 characters, lower-case letters, digits, `.`, `_`, `-`, starting with a letter or
 * digit. Lower case only (like Heroku app names) so `Billing` and `billing` can never be two apps
 * whose entries a case-insensitive eye would mix up; an upper-case id is refused, not folded, so
 * the id a sender configured is the id it reads back.
 */
export const APP_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,99}$/;

/**
 * Tokens given in configuration or to `create`: the kind prefix (`t.` ingest, `r.` read) then
 * 16–200 URL-safe characters, so a token fits a drain URL's userinfo and is not trivially guessable.
 * Generated tokens are `t.<uuid>` / `r.<uuid>` (122 random bits).
 */
export const INGEST_TOKEN_PATTERN = /^t\.[A-Za-z0-9._~-]{16,200}$/;
export const READ_TOKEN_PATTERN = /^r\.[A-Za-z0-9._~-]{16,200}$/;

/** True when `id` is a valid app id (see {@link APP_ID_PATTERN}). */
export function isValidAppId(id: string): boolean {
  return APP_ID_PATTERN.test(id);
}

/** A fresh ingest token, `t.<uuid>`. */
export function generateIngestToken(): string {
  return `t.${randomUUID()}`;
}

/** A fresh read token, `r.<uuid>`. */
export function generateReadToken(): string {
  return `r.${randomUUID()}`;
}
