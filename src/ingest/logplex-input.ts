import { Hono } from 'hono';
import { routePath } from 'hono/route';
import type { TokenGrant } from '../apps/types.js';
import { nowMicros } from '../decode/timestamp.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { presentedToken, resolveThrottled } from '../http/auth.js';
import { contextAddress } from '../http/client-address.js';
import { mediaType, readBody } from '../http/body.js';
import type { Entry } from '../normalize/entry.js';
import { syslogToEntry } from '../normalize/from-syslog.js';
import { assertIngestEnabled, chargeRate } from './limits.js';
import { decodeLogplexBody, formatRejects } from './logplex-body.js';
import { requestHeader } from '../http/header.js';

/** Logplex's two (logplex-facts §3), and `application/heroku_drain-1` (Grafana Loki's Heroku target). */
const LOGPLEX_TYPES = new Set(['application/logplex-1', 'application/x-logplex-1', 'application/heroku_drain-1']);
/** `/logs` and `/logs/`: Logplex's own test suite posts with the trailing slash. */
export const LOGPLEX_INPUT_PATHS = ['/logs', '/logs/'] as const;
const CHALLENGE = { 'WWW-Authenticate': 'Basic realm=Logplex' };

/**
 * `POST /logs` (and `/logs/`): Logplex's input endpoint, for add-on providers and log-shuttle,
 * with Logplex's exact status table (logplex-facts §3): 405, 401 + `WWW-Authenticate: Basic realm=Logplex`,
 * 403, 415, 400 for a gzip body that does not inflate, 400 `Malformed log messages` for the whole
 * batch, 400 `Message count mismatch`, 503 when ingress is disabled, 204 on success.
 *
 * Auth is Basic `token:t.<uuid>`, or, without an Authorization header, the token in each frame's
 * APP-NAME. A token in APP-NAME is replaced by the app's id before storing (tokens are secrets).
 */
export function logplexInputRoutes(deps: GatewayDeps): Hono {
  const { config, store, metrics } = deps;
  const app = new Hono();

  app.on('POST', [...LOGPLEX_INPUT_PATHS], async (c) => {
    const route = routePath(c);
    assertIngestEnabled(deps);
    const address = () => contextAddress(c, config.trustProxy);
    let basicGrant: Extract<TokenGrant, { kind: 'ingest' }> | null = null;
    if (requestHeader(c, 'authorization') !== undefined) {
      const token = presentedToken(c, { basic: true });
      const grant = token ? await resolveThrottled(deps, address, token) : null;
      if (!grant) throw new GatewayError('unauthorized', 401, 'Unauthorized', CHALLENGE);
      if (grant.kind !== 'ingest') throw new GatewayError('forbidden', 403, 'credential may not write logs');
      basicGrant = grant;
    }
    if (!LOGPLEX_TYPES.has(mediaType(c))) {
      throw new GatewayError(
        'unsupported_media_type',
        415,
        'Content-Type must be application/logplex-1 (or application/x-logplex-1, application/heroku_drain-1)',
      );
    }
    const body = await readBody(c, config);
    metrics?.bodyBytes(route, body.length);
    const decoded = decodeLogplexBody(body, { mode: 'input', maxFrameBytes: config.maxFrameBytes, receivedAt: new Date() });
    if (decoded.rejectedCount > 0 || decoded.records.length === 0) {
      if (metrics) for (const [reason, n] of Object.entries(decoded.rejects)) metrics.rejectedLines(route, reason, n);
      const why = decoded.rejectedCount > 0 ? ` (${formatRejects(decoded.rejects)})` : ' (no frames)';
      throw new GatewayError('malformed_log_messages', 400, `Malformed log messages${why}`);
    }
    const declared = requestHeader(c, 'logplex-msg-count');
    if (declared !== undefined && Number(declared) !== decoded.records.length) {
      throw new GatewayError(
        'msg_count_mismatch',
        400,
        `Message count mismatch (header ${declared}, body ${decoded.records.length})`,
      );
    }

    // Without Basic auth every frame must carry a valid ingest token as APP-NAME.
    const grants = new Map<string, TokenGrant | null>();
    const appIds: string[] = new Array(decoded.records.length);
    for (let i = 0; i < decoded.records.length; i++) {
      if (basicGrant) {
        appIds[i] = basicGrant.appId;
        continue;
      }
      const name = decoded.records[i]!.appName;
      if (!name) throw new GatewayError('unauthorized', 401, 'Unauthorized', CHALLENGE);
      let grant = grants.get(name);
      if (grant === undefined) {
        grant = await resolveThrottled(deps, address, name);
        grants.set(name, grant);
      }
      if (!grant) throw new GatewayError('unauthorized', 401, 'Unauthorized', CHALLENGE);
      if (grant.kind !== 'ingest') throw new GatewayError('forbidden', 403, 'credential may not write logs');
      appIds[i] = grant.appId;
    }

    const perApp = new Map<string, number>();
    for (const id of appIds) perApp.set(id, (perApp.get(id) ?? 0) + 1);
    for (const [id, n] of perApp) await chargeRate(deps, id, n);

    const receivedAt = nowMicros();
    const userAgent = requestHeader(c, 'user-agent') || undefined;
    const entries: Entry[] = new Array(decoded.records.length);
    for (let i = 0; i < decoded.records.length; i++) {
      const rec = decoded.records[i]!;
      entries[i] = syslogToEntry(rec, {
        appId: appIds[i]!,
        receivedAt,
        userAgent,
        // Never store a token: a `t.` APP-NAME becomes the app's id, as Logplex uses the token's name.
        appNameOverride: rec.appName?.startsWith('t.') ? appIds[i] : undefined,
      });
    }
    await store.append({ entries });
    metrics?.lines(route, 204, entries.length);
    return c.body(null, 204);
  });

  for (const path of LOGPLEX_INPUT_PATHS) {
    app.all(path, () => {
      throw new GatewayError('method_not_allowed', 405, `only POST is allowed on ${path}`, { Allow: 'POST' });
    });
  }
  return app;
}
