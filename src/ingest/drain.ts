import { Hono, type Context } from 'hono';
import { routePath } from 'hono/route';
import { nowMicros } from '../decode/timestamp.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { mediaType, readBody } from '../http/body.js';
import { requireGrant } from '../http/auth.js';
import { receivedAtDate } from '../normalize/syslog-batch.js';
import { assertIngestEnabled, chargeRate } from './limits.js';
import { decodeLogplexBody, formatRejects, syslogBatchOf } from './logplex-body.js';
import { requestHeader } from '../http/header.js';

/**
 * Media types of a drain body: Logplex's (`application/logplex-1`, and the `x-` form Logplex's
 * input takes), `application/heroku_drain-1` (what Grafana Loki's Heroku target and its senders
 * use), `text/plain` and none (curl users).
 */
const LOGPLEX_TYPES = new Set(['', 'application/logplex-1', 'application/x-logplex-1', 'application/heroku_drain-1', 'text/plain']);

/** Every path the drain answers: Logplex's own tests and some peers post with a trailing slash. */
export const DRAIN_PATHS = ['/drain', '/drain/', '/heroku/api/v1/drain', '/heroku/api/v1/drain/'] as const;

/**
 * `POST /drain` (alias `/heroku/api/v1/drain`, both also with a trailing slash): the target of
 * `heroku drains:add https://user:TOKEN@host/drain`.
 *
 * Salvage semantics (logplex-facts §2): any 4xx but 429 makes Heroku drop the whole batch, so a
 * bad frame must not cost the good ones. Good frames are stored and acknowledged with 200; the
 * rejects are reported in headers; 400 only when the body holds no valid frame at all.
 */
export function drainRoutes(deps: GatewayDeps): Hono {
  const { config, store, metrics } = deps;
  const app = new Hono();

  const handle = async (c: Context) => {
    const route = routePath(c);
    assertIngestEnabled(deps);
    // Basic (the drain URL's userinfo) or ?token=; Bearer for curl users.
    const grant = await requireGrant(c, deps, {
      basic: true,
      bearer: true,
      query: true,
      allow: ['ingest'],
      challenge: { 'WWW-Authenticate': 'Basic realm="Sluice"' },
    });
    if (grant.kind !== 'ingest') throw new GatewayError('forbidden', 403, 'an ingest token is required');
    const type = mediaType(c);
    if (!LOGPLEX_TYPES.has(type)) {
      throw new GatewayError(
        'unsupported_media_type',
        415,
        `Content-Type ${type} is not application/logplex-1 (nor application/x-logplex-1, application/heroku_drain-1, text/plain)`,
      );
    }
    const body = await readBody(c, config);
    metrics?.bodyBytes(route, body.length);
    const receivedAt = nowMicros();
    // The RFC 3164 year anchor is derived from the stored receive time, so that a store which
    // keeps the frames and parses them again on read (Redis) gets the very same entries.
    const userAgent = requestHeader(c, 'user-agent') || undefined;
    const mode = drainMode(userAgent);
    const decoded = decodeLogplexBody(body, {
      mode,
      maxFrameBytes: config.maxFrameBytes,
      receivedAt: receivedAtDate(receivedAt),
    });
    if (decoded.records.length === 0) {
      if (metrics) for (const [reason, n] of Object.entries(decoded.rejects)) metrics.rejectedLines(route, reason, n);
      throw new GatewayError(
        'no_valid_frames',
        400,
        body.length === 0
          ? 'empty body: expected octet-counted syslog frames (LEN SP MSG)'
          : `body holds no valid octet-counted syslog frame (rejected: ${formatRejects(decoded.rejects)})`,
      );
    }
    await chargeRate(deps, grant.appId, decoded.records.length);

    const frameId = requestHeader(c, 'logplex-frame-id') || undefined;
    const count = decoded.records.length;
    // The request as a syslog batch: the store builds the entries (memory) or keeps the frames
    // and builds them when read (Redis); either way with syslogBatchEntries, so alike.
    const syslog = syslogBatchOf(body, decoded, {
      appId: grant.appId,
      mode,
      receivedAt,
      frameId,
      drainToken: requestHeader(c, 'logplex-drain-token') || undefined,
      userAgent,
      tags: queryTags(c.req.queries()),
    });
    const result = await store.append({
      syslog,
      dedupeKey: frameId ? `frame:${grant.appId}:${frameId}` : undefined,
      dedupeTtlMs: config.dedupeTtlMs,
    });

    if (metrics && result.duplicate) metrics.duplicate(route);
    else if (metrics) {
      // A duplicate's lines and rejects were counted when it was first accepted.
      metrics.lines(route, 200, count);
      for (const [reason, n] of Object.entries(decoded.rejects)) metrics.rejectedLines(route, reason, n);
    }

    c.header('Sluice-Accepted', String(result.duplicate ? 0 : count));
    c.header('Sluice-Rejected', String(decoded.rejectedCount));
    if (decoded.rejectedCount > 0) c.header('Sluice-Rejects', formatRejects(decoded.rejects));
    if (result.duplicate) c.header('Sluice-Duplicate', 'true');
    const declared = requestHeader(c, 'logplex-msg-count');
    // Reported, never fatal: Vector 400s here and Heroku then drops the whole batch.
    const parsed = count;
    const mismatch = declared !== undefined && Number(declared) !== parsed;
    if (mismatch) c.header('Sluice-Msg-Count-Mismatch', `header=${declared} accepted=${parsed}`);
    return c.json({
      accepted: result.duplicate ? 0 : count,
      rejected: decoded.rejectedCount,
      ...(decoded.rejectedCount > 0 ? { rejects: decoded.rejects } : {}),
      ...(result.duplicate ? { duplicate: true } : {}),
      ...(mismatch ? { msg_count_mismatch: { header: Number(declared), accepted: parsed } } : {}),
    });
  };
  for (const path of DRAIN_PATHS) app.post(path, handle);
  return app;
}

/** Query parameters other than the token become tags: `?tag=x&env=prod` → `tag=x`, `env=prod`. */
function queryTags(queries: Record<string, string[]>): string[] | undefined {
  let tags: string[] | undefined;
  for (const [key, values] of Object.entries(queries)) {
    if (key === 'token') continue;
    for (const v of values) (tags ??= []).push(v === '' ? key : `${key}=${v}`);
  }
  return tags;
}

/**
 * How a drain body's frames are read (decode/types.ts `SyslogMode`): Logplex (`User-Agent:
 * Logplex/…`) delivers lines without STRUCTURED-DATA, so a `- ` after MSGID is message text;
 * every other sender of the drain route (log-shuttle from private spaces, whose default MSGID
 * and SD are `- -`, and other shippers) writes RFC 5424, where that `-` is the nil SD.
 */
export function drainMode(userAgent: string | undefined): 'drain' | 'shuttle' {
  return userAgent !== undefined && /^logplex\//i.test(userAgent) ? 'drain' : 'shuttle';
}
