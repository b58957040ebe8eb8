import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';

/** Logplex's "ingress disabled": the maintenance switch answers 503 on every ingest route. */
export function assertIngestEnabled(deps: GatewayDeps): void {
  if (deps.config.ingestDisabled) {
    throw new GatewayError('ingest_disabled', 503, 'ingest is disabled on this gateway', { 'Retry-After': '60' });
  }
}

/**
 * Charges `lines` to the app's rate budget: 429 with Retry-After when over it (Heroku retries
 * 429s with the same Frame-Id, so nothing is lost).
 */
export async function chargeRate(deps: GatewayDeps, appId: string, lines: number): Promise<void> {
  if (lines === 0) return;
  const res = await deps.rateLimiter.take(appId, lines);
  if (!res.ok) {
    throw new GatewayError('rate_limited', 429, `app ${appId} is over its ingest rate`, {
      'Retry-After': String(Math.max(1, Math.ceil(res.retryAfterSec))),
    });
  }
}
