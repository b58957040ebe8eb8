import { Hono, type Context } from 'hono';
import { routePath } from 'hono/route';
import { nowMicros } from '../decode/timestamp.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { mediaTypeOf, readBody, type BodyLimits } from '../http/body.js';
import { checkGrant, tokenOf, type RequireGrantOptions } from '../http/auth.js';
import { contextAddress } from '../http/client-address.js';
import { receivedAtDate } from '../normalize/syslog-batch.js';
import { assertIngestEnabled, chargeRate } from './limits.js';
import { checkLogplexBody, decodeLogplexBody, formatRejects, syslogBatchOf } from './logplex-body.js';
import { requestHeader } from '../http/header.js';

/**
 * Media types of a drain body: Logplex's (`application/logplex-1`, and the `x-` form Logplex's
 * input takes), `application/heroku_drain-1` (what Grafana Loki's Heroku target and its senders
 * use), `text/plain` and none (curl users).
 */
const LOGPLEX_TYPES = new Set(['', 'application/logplex-1', 'application/x-logplex-1', 'application/heroku_drain-1', 'text/plain']);

/** Every path the drain answers: Logplex's own tests and some peers post with a trailing slash. */
export const DRAIN_PATHS = ['/drain', '/drain/', '/heroku/api/v1/drain', '/heroku/api/v1/drain/'] as const;

/** What the drain handler reads of a request: the Hono context's or Node's (fast-routes.ts). */
export interface DrainRequest {
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
  /** `?token=`, read only when no Authorization header carried one. */
  queryToken(): string | undefined;
  /** Every query parameter, for tags. */
  queries(): Record<string, string[]>;
  /** The client's address key (client-address.ts), for the auth-failure throttle. */
  address(): string;
  body(limits: BodyLimits): Promise<Buffer>;
}

/** A drain request's 200: its headers (`Sluice-*`) and JSON body. Refusals are thrown (GatewayError). */
export interface DrainAnswer {
  headers: Record<string, string>;
  body: string;
}

const DRAIN_AUTH = {
  basic: true,
  bearer: true,
  query: true,
  allow: ['ingest'],
  challenge: { 'WWW-Authenticate': 'Basic realm="Sluice"' },
} as const satisfies RequireGrantOptions;

/**
 * `POST /drain` (alias `/heroku/api/v1/drain`, both also with a trailing slash): the target of
 * `heroku drains:add https://user:TOKEN@host/drain`.
 *
 * Salvage semantics (logplex-facts §2): any 4xx but 429 makes Heroku drop the whole batch, so a
 * bad frame must not cost the good ones. Good frames are stored and acknowledged with 200; the
 * rejects are reported in headers; 400 only when the body holds no valid frame at all.
 *
 * The gateway's server answers these paths without Hono (fast-routes.ts: they are most of its
 * requests); this Hono route serves `app.request()` and other runtimes, with the same handler.
 */
export function drainRoutes(deps: GatewayDeps): Hono {
  const app = new Hono();
  const handle = async (c: Context) => {
    const answer = await handleDrain(deps, routePath(c), {
      header: (name) => requestHeader(c, name),
      queryToken: () => c.req.query('token'),
      queries: () => c.req.queries(),
      address: () => contextAddress(c, deps.config.trustProxy),
      body: (limits) => readBody(c, limits),
    });
    return c.body(answer.body, 200, { ...answer.headers, 'Content-Type': 'application/json' });
  };
  for (const path of DRAIN_PATHS) app.post(path, handle);
  return app;
}

/** One drain request, from authentication to the answer; `route` is its path template, for metrics. */
export async function handleDrain(deps: GatewayDeps, route: string, req: DrainRequest): Promise<DrainAnswer> {
  const { config, store, metrics } = deps;
  assertIngestEnabled(deps);
  // Basic (the drain URL's userinfo) or ?token=; Bearer for curl users.
  const grant = await checkGrant(tokenOf(req.header('authorization'), req.queryToken, DRAIN_AUTH), req.address, deps, DRAIN_AUTH);
  if (grant.kind !== 'ingest') throw new GatewayError('forbidden', 403, 'an ingest token is required');
  const type = mediaTypeOf(req.header('content-type'));
  if (!LOGPLEX_TYPES.has(type)) {
    throw new GatewayError(
      'unsupported_media_type',
      415,
      `Content-Type ${type} is not application/logplex-1 (nor application/x-logplex-1, application/heroku_drain-1, text/plain)`,
    );
  }
  const body = await req.body(config);
  metrics?.bodyBytes(route, body.length);
  const receivedAt = nowMicros();
  // The RFC 3164 year anchor is derived from the stored receive time, so that a store which
  // keeps the frames and parses them again on read (Redis) gets the very same entries.
  const userAgent = req.header('user-agent') || undefined;
  const mode = drainMode(userAgent);
  const decodeOpts = { mode, maxFrameBytes: config.maxFrameBytes, receivedAt: receivedAtDate(receivedAt) };
  // A store that keeps the frames builds the entries when they are read: here only what decides
  // acceptance (framing, the syslog header's syntax) runs, the same frames accepted either way.
  const decoded = store.keepsFrames ? checkLogplexBody(body, decodeOpts) : decodeLogplexBody(body, decodeOpts);
  const count = decoded.frames.length;
  if (count === 0) {
    if (metrics) for (const [reason, n] of Object.entries(decoded.rejects)) metrics.rejectedLines(route, reason, n);
    throw new GatewayError(
      'no_valid_frames',
      400,
      body.length === 0
        ? 'empty body: expected octet-counted syslog frames (LEN SP MSG)'
        : `body holds no valid octet-counted syslog frame (rejected: ${formatRejects(decoded.rejects)})`,
    );
  }
  await chargeRate(deps, grant.appId, count);

  const frameId = req.header('logplex-frame-id') || undefined;
  // The request as a syslog batch: the store builds the entries (memory) or keeps the frames
  // and builds them when read (Redis); either way with syslogBatchEntries, so alike.
  const syslog = syslogBatchOf(body, decoded, {
    appId: grant.appId,
    mode,
    receivedAt,
    frameId,
    drainToken: req.header('logplex-drain-token') || undefined,
    userAgent,
    tags: queryTags(req.queries()),
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

  const accepted = result.duplicate ? 0 : count;
  const rejected = decoded.rejectedCount;
  const headers: Record<string, string> = { 'Sluice-Accepted': String(accepted), 'Sluice-Rejected': String(rejected) };
  if (rejected > 0) headers['Sluice-Rejects'] = formatRejects(decoded.rejects);
  if (result.duplicate) headers['Sluice-Duplicate'] = 'true';
  const declared = req.header('logplex-msg-count');
  // Reported, never fatal: Vector 400s here and Heroku then drops the whole batch.
  const mismatch = declared !== undefined && Number(declared) !== count;
  if (mismatch) headers['Sluice-Msg-Count-Mismatch'] = `header=${declared} accepted=${count}`;
  // The common answer is written without JSON.stringify: two numbers.
  const body200 =
    rejected === 0 && !result.duplicate && !mismatch
      ? `{"accepted":${accepted},"rejected":0}`
      : JSON.stringify({
          accepted,
          rejected,
          ...(rejected > 0 ? { rejects: decoded.rejects } : {}),
          ...(result.duplicate ? { duplicate: true } : {}),
          ...(mismatch ? { msg_count_mismatch: { header: Number(declared), accepted: count } } : {}),
        });
  return { headers, body: body200 };
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
