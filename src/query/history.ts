import { Hono, type Context } from 'hono';
import type { TokenGrant } from '../apps/types.js';
import { parseTimestampString } from '../decode/timestamp.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { canRead, readScope, requireGrant } from '../http/auth.js';
import { LEVELS, type Level } from '../normalize/entry.js';
import { parseLevelAlias } from '../normalize/level.js';
import { entriesJsonArray, entryJson } from '../normalize/serialize.js';
import type { QueryFilter } from '../store/types.js';

/**
 * History reads: `GET /api/logs` (filters, newest first, paged) and `GET /api/logs/:id`.
 * A read token reads its own app (in demo mode every app); the admin token reads every app;
 * another app → 403 (src/http/auth.ts, readScope).
 */
export function historyRoutes(deps: GatewayDeps): Hono {
  const app = new Hono();

  app.get('/api/logs', async (c) => {
    const grant = await readGrant(c, deps);
    const filter = parseFilter(c, grant, deps.config.queryMaxLimit, deps.demo);
    if (filter.regex !== undefined) filter.regexBudgetMs = deps.config.queryRegexBudgetMs;
    const { total, entries } = await deps.store.query(filter);
    // Built as text: an entry that cannot be serialised is left out (counted), not a 500.
    c.header('Content-Type', 'application/json');
    return c.body(`{"total":${total},"limit":${filter.limit},"offset":${filter.offset},"entries":${entriesJsonArray(entries)}}`);
  });

  app.get('/api/logs/:id', async (c) => {
    const grant = await readGrant(c, deps);
    const scope = readScope(grant, deps.demo);
    const appIds = scope === null ? undefined : [scope];
    const entry = await deps.store.get(c.req.param('id'), appIds);
    if (!entry) throw new GatewayError('not_found', 404, 'no entry with that id or trace_id');
    const json = entryJson(entry);
    if (json === null) throw new GatewayError('entry_unservable', 500, 'the entry cannot be serialised');
    c.header('Content-Type', 'application/json');
    return c.body(json);
  });
  return app;
}

/** Read routes take a read token (or the admin token) as Bearer or `?token=`. */
export function readGrant(c: Context, deps: GatewayDeps): Promise<TokenGrant> {
  return requireGrant(c, deps, { bearer: true, basic: true, query: true, allow: ['read', 'admin'] });
}

/** Query string → QueryFilter, checking the grant may read the requested apps (`demo`: GatewayDeps.demo). */
export function parseFilter(c: Context, grant: TokenGrant, maxLimit: number, demo?: boolean): QueryFilter {
  const q = (name: string) => {
    const v = c.req.query(name);
    return v === undefined || v === '' ? undefined : v;
  };
  const requested = q('app_id') ?? q('app_key');
  let appIds: string[] | undefined;
  if (requested) {
    appIds = requested.split(',').map((s) => s.trim()).filter(Boolean);
    for (const id of appIds) {
      if (!canRead(grant, id, demo)) throw new GatewayError('forbidden', 403, `this token may not read app ${id}`);
    }
  } else {
    const scope = readScope(grant, demo);
    if (scope !== null) appIds = [scope];
  }

  const filter: QueryFilter = {
    appIds,
    environment: q('environment'),
    source: q('source'),
    proc: q('proc') ?? q('dyno'),
    category: q('category'),
    traceId: q('trace_id'),
    batchId: q('batch_id'),
    userAgent: q('user_agent'),
    search: q('search'),
    regex: q('regex'),
    limit: intParam(q('limit'), 'limit', 100, 1, maxLimit),
    offset: intParam(q('offset'), 'offset', 0, 0, Number.MAX_SAFE_INTEGER),
  };
  const level = q('level');
  if (level) {
    const names = level.split(',').map((s) => s.trim()).filter(Boolean);
    const parsed = names.map((n) => {
      const l = parseLevelAlias(n);
      if (!l) throw new GatewayError('invalid_query', 400, `level: unknown level "${n}" (one of ${LEVELS.join(', ')})`);
      return l;
    });
    if (parsed.length === 1) filter.minLevel = parsed[0];
    else filter.levels = [...new Set<Level>(parsed)];
  }
  const from = q('date_from');
  if (from) filter.dateFrom = dateParam(from, 'date_from', false);
  const to = q('date_to');
  if (to) filter.dateTo = dateParam(to, 'date_to', true);
  for (const key of Object.keys(filter) as (keyof QueryFilter)[]) if (filter[key] === undefined) delete filter[key];
  return filter;
}

function intParam(v: string | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new GatewayError('invalid_query', 400, `${name}: expected an integer ≥ ${min}`);
  return Math.min(n, max);
}

function dateParam(v: string, name: string, endOfDay: boolean): string {
  const ts = parseTimestampString(v, { allowMissingOffset: true }) ?? dateOnly(v, endOfDay);
  if (!ts) throw new GatewayError('invalid_query', 400, `${name}: expected an ISO 8601 time`);
  return ts;
}

/** A bare date (`2025-01-15`) covers the whole UTC day: its start as `date_from`, its end as `date_to`. */
function dateOnly(v: string, endOfDay: boolean): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) return null;
  return parseTimestampString(endOfDay ? `${v}T23:59:59.999999Z` : `${v}T00:00:00Z`);
}
