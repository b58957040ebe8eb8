import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import type { Config } from '../config.js';
import { GatewayError } from '../errors.js';
import type { GatewayMetrics } from './metrics.js';

/**
 * `GET /metrics`: the Prometheus text exposition of {@link GatewayMetrics}. With `METRICS_TOKEN`
 * set it requires `Authorization: Bearer <METRICS_TOKEN>` (or the admin token), else 401; without
 * it the endpoint is open, like most exporters (it holds counts, never app ids or tokens).
 */
export function metricsRoutes(config: Pick<Config, 'metricsToken' | 'adminToken'>, metrics: GatewayMetrics): Hono {
  const app = new Hono();
  const accepted = config.metricsToken ? [config.metricsToken, config.adminToken].filter((t) => t !== undefined).map(digest) : [];

  app.get('/metrics', async (c) => {
    if (accepted.length > 0) authorize(c, accepted);
    const body = await metrics.text();
    return c.body(body, 200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
  });
  return app;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Compares the Bearer token's digest with each accepted one in constant time (equal lengths). */
function authorize(c: Context, accepted: Buffer[]): void {
  const header = c.req.header('authorization') ?? '';
  const match = /^bearer\s+(\S+)\s*$/i.exec(header);
  const challenge = { 'WWW-Authenticate': 'Bearer realm="Sluice metrics"' };
  if (!match) throw new GatewayError('unauthorized', 401, 'a token is required', challenge);
  const presented = digest(match[1]!);
  let ok = false;
  for (const d of accepted) ok = timingSafeEqual(presented, d) || ok;
  if (!ok) throw new GatewayError('unauthorized', 401, 'unknown token', challenge);
}
