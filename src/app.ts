import { Hono, type Context } from 'hono';
import { routePath } from 'hono/route';
import { appRoutes } from './apps/routes.js';
import { dashboardRoutes } from './dashboard/route.js';
import type { GatewayDeps } from './deps.js';
import { GatewayError } from './errors.js';
import { presentedToken, readScope, resolveThrottled } from './http/auth.js';
import { contextAddress } from './http/client-address.js';
import { DRAIN_PATHS, drainRoutes } from './ingest/drain.js';
import { jsonLogRoutes } from './ingest/json-logs.js';
import { LOGPLEX_INPUT_PATHS, logplexInputRoutes } from './ingest/logplex-input.js';
import { timedStore, type GatewayMetrics } from './ops/metrics.js';
import { metricsRoutes } from './ops/route.js';
import { historyRoutes } from './query/history.js';
import { metricsApiRoutes } from './metrics/routes.js';
import type { Hub } from './fanout/hub.js';
import { sessionRoutes } from './fanout/sessions.js';
import { sseRoutes } from './fanout/sse.js';

const routeDeps = new WeakMap<GatewayDeps, GatewayDeps>();

/**
 * The dependencies as the routes use them (the Hono app's and the fast drain routes'): store
 * writes timed, in one place, whichever route writes. The same object for the same `deps`.
 */
export function appDeps(deps: GatewayDeps): GatewayDeps {
  if (!deps.metrics) return deps;
  let d = routeDeps.get(deps);
  if (!d) routeDeps.set(deps, (d = { ...deps, store: timedStore(deps.store, deps.metrics) }));
  return d;
}

/**
 * Builds the HTTP app from its dependencies. Errors of every route are mapped to
 * `{ "error": code, "message": text }` here, in one place. Ingest routes exist in processes with
 * the `ingest` role; live routes (SSE, sessions) where a fan-out `hub` is given.
 */
export function createApp(deps: GatewayDeps, hub?: Hub): Hono {
  const app = new Hono();
  const { metrics } = deps;
  deps = appDeps(deps);

  app.onError((err, c) => {
    if (err instanceof GatewayError) {
      if (metrics) countError(c, err.status, err.code);
      for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      return c.json({ error: err.code, message: err.message }, err.status as 400);
    }
    if (metrics) countError(c, 500, 'internal');
    // Unknown faults: log the error (never the request's headers: they carry tokens).
    deps.logger.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error');
    return c.json({ error: 'internal', message: 'internal error' }, 500);
  });
  app.notFound((c) => c.json({ error: 'not_found', message: `no route ${c.req.method} ${c.req.path}` }, 404));
  // Every answer (JSON, errors, the dashboard) says its Content-Type is the truth: browsers must
  // not sniff a JSON or text body into HTML. Set after the route, so error answers get it too.
  app.use('*', async (c, next) => {
    await next();
    c.res.headers.set('X-Content-Type-Options', 'nosniff');
  });

  /** Auth failures on any route; ingest requests refused as a whole (labels: codes, templates). */
  const countError = (c: Context, status: number, code: string) => countRefusal(metrics!, c.req.method, routePath(c), status, code);
  if (metrics) {
    // Every request by method, route template (never the raw path: bounded labels) and status.
    app.use(async (c, next) => {
      const own = c.req.routeIndex;
      await next();
      metrics.requests(c.req.method, c.req.routeIndex === own ? 'unmatched' : routePath(c), c.res.status);
    });
    app.route('/', metricsRoutes(deps.config, metrics));
  }

  app.get('/healthcheck', (c) => c.text('OK'));
  app.get('/health', async (c) => {
    const store = await deps.store.health();
    const body = {
      status: store.ok ? 'ok' : 'degraded',
      time: new Date().toISOString(),
      store: store.kind,
      ...(store.detail ? { store_detail: store.detail } : {}),
      ws_connections: deps.liveConnections?.() ?? 0,
      ws_unauthenticated: deps.liveUnauthenticated?.() ?? 0,
      ...(deps.wsProducers ? { ws_producers: await healthProducers(c, deps) } : {}),
    };
    return c.json(body, store.ok ? 200 : 503);
  });

  if (deps.config.roles.ingest) {
    app.route('/', drainRoutes(deps));
    app.route('/', logplexInputRoutes(deps));
    app.route('/', jsonLogRoutes(deps));
  }
  if (hub) {
    // Before the history routes: `/api/logs/stream` is not an entry id.
    app.route('/', sseRoutes(deps, hub));
    app.route('/', sessionRoutes(deps, hub));
  }
  app.route('/', historyRoutes(deps));
  if (deps.logMetrics) app.route('/', metricsApiRoutes(deps, deps.logMetrics));
  else {
    const off = () => {
      throw new GatewayError('metrics_disabled', 404, 'metrics from logs are off (METRICS_ENABLED=false)');
    };
    app.get('/api/metrics', off);
    app.get('/api/metrics/names', off);
    app.get('/api/sources', off);
  }
  app.route('/', appRoutes(deps));
  // The dashboard: GET / and its hashed assets under /assets/.
  app.route('/', dashboardRoutes(deps));
  return app;
}

/**
 * `/health`'s `ws_producers`: WebSocket ingest producers; their count for anyone, and per app
 * with User-Agents for a token holder (the admin token: every app; an app's token: its own).
 */
async function healthProducers(c: Context, deps: GatewayDeps): Promise<unknown> {
  const token = presentedToken(c, { bearer: true, query: true });
  const grant = token ? await resolveThrottled(deps, () => contextAddress(c, deps.config.trustProxy), token).catch(() => null) : null;
  const summary = deps.wsProducers!(grant ? (readScope(grant, deps.demo) ?? undefined) : undefined);
  if (!summary) return { connections: 0 };
  return grant ? summary : { connections: summary.connections };
}

/**
 * Counts a refused request: auth failures on any route; on an ingest route (POST) every other
 * refusal as a whole (labels: codes, route templates). The Hono app and the fast drain routes
 * (src/http/fast-routes.ts) count the same way.
 */
export function countRefusal(metrics: GatewayMetrics, method: string, route: string, status: number, code: string): void {
  if (status === 401 || status === 403) metrics.authFailures(route, code);
  else if (method === 'POST' && INGEST_ROUTES.has(route)) metrics.rejectedRequest(route, code);
}

/** The ingest routes' templates (POST), for `sluice_ingest_rejected_requests_total`. */
const INGEST_ROUTES = new Set<string>([...DRAIN_PATHS, ...LOGPLEX_INPUT_PATHS, '/api/logs']);
