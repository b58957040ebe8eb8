/** Retry delays: exponential backoff with full jitter, and `Retry-After`. */

export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_CAP_MS = 30_000;
/** A `Retry-After` longer than this is cut to it (a misconfigured proxy must not park the buffer for hours). */
export const RETRY_AFTER_MAX_MS = 300_000;

/**
 * The wait before retry number `attempt` (0 for the first retry): a random time in
 * [0, min(cap, base·2^attempt)] ("full jitter"), so 1, 2, 4, 8 … s up to 30 s at most.
 * A `Retry-After` from the gateway wins when given.
 */
export function backoffDelay(attempt: number, retryAfterMs?: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    return Math.min(retryAfterMs, RETRY_AFTER_MAX_MS);
  }
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** `Retry-After` as seconds or an HTTP date → milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
