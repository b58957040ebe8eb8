/**
 * The metrics read API (protocol/README.md, "Metrics"):
 *
 * - `GET /api/metrics/names?app_id=` — the app's series: name, kind, unit, sources, last seen;
 * - `GET /api/metrics?app_id=&name=&source=&from=&to=&step=` — one series' buckets;
 * - `GET /api/sources?app_id=` — lines per minute and last seen per app and producer family,
 *   and the WebSocket producers connected now.
 *
 * Read tokens read their app (in demo mode every app), the admin token every app.
 */
import { Hono, type Context } from 'hono';
import type { TokenGrant } from '../apps/types.js';
import { parseTimestampString } from '../decode/timestamp.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { canRead, readScope } from '../http/auth.js';
import { readGrant } from '../query/history.js';
import type { Step } from './backend.js';
import type { MetricsService } from './service.js';
import { uaFamily } from './ua-family.js';

const MAX_NAME = 200;

export function metricsApiRoutes(deps: GatewayDeps, service: MetricsService): Hono {
  const app = new Hono();
  const { backend, config } = service;

  app.get('/api/metrics/names', async (c) => {
    const appId = appOf(c, await readGrant(c, deps), deps.demo);
    return c.json({ app_id: appId, series: await backend.names(appId) });
  });

  app.get('/api/metrics', async (c) => {
    const appId = appOf(c, await readGrant(c, deps), deps.demo);
    const name = c.req.query('name');
    if (!name) throw badParam('name is required (a series name, see /api/metrics/names)');
    if (name.length > MAX_NAME) throw badParam(`name is longer than ${MAX_NAME} characters`);
    const source = c.req.query('source');
    const nowSec = Math.floor(Date.now() / 1000);
    const to = timeParam(c.req.query('to'), 'to') ?? nowSec;
    const from = timeParam(c.req.query('from'), 'from') ?? to - 3600;
    if (from > to) throw badParam('from is after to');
    const stepRaw = c.req.query('step');
    let step: Step;
    if (stepRaw === undefined || stepRaw === '') step = to - from <= 3600 ? 10 : 60;
    else if (stepRaw === '10' || stepRaw === '60') step = Number(stepRaw) as Step;
    else throw badParam('step is 10 or 60 (seconds)');
    if ((to - from) / step > config.maxPoints) {
      throw badParam(`the range holds more than METRICS_MAX_POINTS (${config.maxPoints}) buckets of ${step} s: narrow it or use step=60`);
    }
    const fromT = from - (from % step);
    const range = await backend.read(appId, name, source, fromT, to, step);
    const head = JSON.stringify({
      app_id: appId,
      name,
      source: source ?? null,
      kind: range.kind,
      ...(range.unit !== undefined ? { unit: range.unit } : {}),
      step,
      from: fromT,
      to,
    });
    const points = range.pointsJson ? `[${range.pointsJson.join(',')}]` : JSON.stringify(range.points ?? []);
    c.header('Content-Type', 'application/json');
    return c.body(`${head.slice(0, -1)},"points":${points}}`);
  });

  app.get('/api/sources', async (c) => {
    const grant = await readGrant(c, deps);
    const requested = c.req.query('app_id');
    let appIds: string[];
    if (requested) {
      if (!canRead(grant, requested, deps.demo)) throw new GatewayError('forbidden', 403, `this token may not read app ${requested}`);
      appIds = [requested];
    } else {
      const scope = readScope(grant, deps.demo);
      appIds = scope !== null ? [scope] : (await deps.apps.list()).map((a) => a.id);
    }
    const nowMs = Date.now();
    const perApp = await Promise.all(appIds.map(async (id) => ({ id, families: await backend.activity(id, 'producer.lines', nowMs) })));
    const apps = perApp.map(({ id, families }) => ({
      app_id: id,
      lines_per_min: families.reduce((s, f) => s + f.lines_per_min, 0),
      last_seen: families.reduce((s, f) => Math.max(s, f.last_seen), 0) || null,
    }));
    const producers = perApp.flatMap(({ id, families }) =>
      families.map((f) => ({ app_id: id, family: f.source, lines_per_min: f.lines_per_min, last_seen: f.last_seen })),
    );
    const connected: { app_id: string; user_agent: string; family: string; connections: number }[] = [];
    const wanted = new Set(appIds);
    for (const a of deps.wsProducers?.()?.apps ?? []) {
      if (!wanted.has(a.app_id)) continue;
      for (const [ua, n] of Object.entries(a.user_agents)) connected.push({ app_id: a.app_id, user_agent: ua, family: uaFamily(ua === '(none)' ? undefined : ua), connections: n });
    }
    return c.json({ apps, producers, connected });
  });

  return app;
}

/** The app a metrics read is about: `app_id`, else the token's own app. */
function appOf(c: Context, grant: TokenGrant, demo: boolean | undefined): string {
  const requested = c.req.query('app_id');
  if (requested) {
    if (!canRead(grant, requested, demo)) throw new GatewayError('forbidden', 403, `this token may not read app ${requested}`);
    return requested;
  }
  const scope = readScope(grant, demo);
  if (scope === null) throw badParam('app_id is required with this token');
  return scope;
}

function badParam(message: string): GatewayError {
  return new GatewayError('invalid_parameter', 400, message);
}

/** `from` / `to`: epoch seconds (or ms, when > 10^11) or an ISO 8601 timestamp → epoch seconds. */
function timeParam(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^\d{1,16}(\.\d+)?$/.test(v)) {
    const n = Number(v);
    return Math.floor(n > 1e11 ? n / 1000 : n);
  }
  const iso = parseTimestampString(v);
  if (iso === null) throw badParam(`${name} is not a time: give epoch seconds or ISO 8601`);
  return Math.floor(Date.parse(iso) / 1000);
}
