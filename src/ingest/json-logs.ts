import { Hono } from 'hono';
import { routePath } from 'hono/route';
import { nowMicros } from '../decode/timestamp.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { requireGrant } from '../http/auth.js';
import { mediaType, readBody } from '../http/body.js';
import type { Entry } from '../normalize/entry.js';
import { classifyJsonPayload, jsonItemsToEntries } from '../normalize/from-json.js';
import { entriesJsonArray } from '../normalize/serialize.js';
import { assertIngestEnabled, chargeRate } from './limits.js';
import { requestHeader } from '../http/header.js';

const JSON_TYPES = new Set(['application/json']);
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines']);

/** One rejected item of a JSON request, by its index in the request. */
interface ItemError {
  index: number;
  error: string;
}

/**
 * `POST /api/logs`: JSON logs from apps and curl. One entry, `{ "logs": [...] }`, an array,
 * the seed-003 batch form and its shorthand, or NDJSON. Valid entries are stored and answered
 * 201 `{ saved, entries, errors }`; invalid ones are listed by index. A `batch_id` seen before
 * is acknowledged (200, `duplicate: true`) without storing twice.
 */
export function jsonLogRoutes(deps: GatewayDeps): Hono {
  const { config, store, metrics } = deps;
  const app = new Hono();

  app.post('/api/logs', async (c) => {
    const route = routePath(c);
    assertIngestEnabled(deps);
    const grant = await requireGrant(c, deps, { bearer: true, query: true, allow: ['ingest', 'admin'] });
    const type = mediaType(c);
    const ndjson = NDJSON_TYPES.has(type);
    if (!ndjson && !JSON_TYPES.has(type)) {
      throw new GatewayError(
        'unsupported_media_type',
        415,
        `Content-Type ${type || '(none)'} is not application/json or application/x-ndjson`,
      );
    }
    const body = await readBody(c, config);
    metrics?.bodyBytes(route, body.length);

    const errors: ItemError[] = [];
    let payload: unknown;
    let lineOf: number[] | undefined; // NDJSON: item index → line index, for error reports
    if (ndjson) {
      const parsed = parseNdjson(body.toString('utf8'), errors);
      payload = parsed.items;
      lineOf = parsed.lines;
    } else {
      try {
        payload = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new GatewayError('invalid_json', 400, `body is not valid JSON: ${(err as Error).message}`);
      }
    }
    const unparsed = errors.length;
    const classified = classifyJsonPayload(payload);
    if ('error' in classified) throw new GatewayError('invalid_entry', 400, classified.error);
    const { items, targetAppIds, defaults } = classified;
    if (items.length > config.maxJsonEntries) {
      throw new GatewayError('body_too_large', 413, `${items.length} entries is over the limit of ${config.maxJsonEntries}`);
    }

    // Which app each item goes to: a token may only write its own app (403 otherwise).
    const appIds: string[] = new Array(items.length);
    const checked = new Set<string>();
    for (let i = 0; i < items.length; i++) {
      const target = targetAppIds[i];
      if (grant.kind === 'ingest') {
        if (target !== undefined && target !== grant.appId) {
          throw new GatewayError('forbidden', 403, `this token may not write app ${target}`);
        }
        appIds[i] = grant.appId;
      } else {
        if (target === undefined) {
          throw new GatewayError('invalid_entry', 400, `app_id: required when writing with the admin token (item ${i})`);
        }
        if (!checked.has(target)) {
          if (!(await deps.apps.get(target))) throw new GatewayError('app_not_found', 404, `no app ${target}`);
          checked.add(target);
        }
        appIds[i] = target;
      }
    }

    const receivedAt = nowMicros();
    const userAgent = requestHeader(c, 'user-agent') || undefined;
    const entries: Entry[] = [];
    // Named fields, not a spread of `defaults` (a spread was microseconds a request).
    const base = { receivedAt, userAgent, batchId: defaults.batchId, environment: defaults.environment, appKeyForm: defaults.appKeyForm };
    jsonItemsToEntries(items, appIds, base, entries, errors, lineOf);
    // NDJSON lines that are not JSON come first in `errors`, then entries that failed validation.
    const countErrors = () => {
      metrics?.rejectedLines(route, 'invalid_json', unparsed);
      metrics?.rejectedLines(route, 'invalid_entry', errors.length - unparsed);
    };
    if (entries.length === 0) {
      countErrors();
      const first = errors[0];
      throw new GatewayError(
        'invalid_entry',
        400,
        first ? `entry ${first.index}: ${first.error}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}` : 'no entries in the body',
      );
    }
    errors.sort((a, b) => a.index - b.index);

    const perApp = new Map<string, number>();
    for (const e of entries) perApp.set(e.app_id, (perApp.get(e.app_id) ?? 0) + 1);
    for (const [id, n] of perApp) await chargeRate(deps, id, n);

    const batchId = defaults.batchId;
    const result = await store.append({
      entries,
      dedupeKey: batchId ? `batch:${entries[0]!.app_id}:${batchId}` : undefined,
      dedupeTtlMs: config.dedupeTtlMs,
    });
    if (result.duplicate) metrics?.duplicate(route);
    else {
      metrics?.lines(route, 201, entries.length);
      countErrors();
    }
    const minimal = prefersMinimal(requestHeader(c, 'prefer'));
    if (minimal) c.header('Preference-Applied', 'return=minimal');
    if (result.duplicate) return c.json(minimal ? { saved: 0, duplicate: true, errors: null } : { saved: 0, duplicate: true, entries: [], errors: null }, 200);
    // Built as text: the entries are stored, so serialising them for the answer must not fail it.
    c.header('Content-Type', 'application/json');
    const errorsJson = errors.length ? JSON.stringify(errors) : 'null';
    // `Prefer: return=minimal` (RFC 7240): a client library that only reads the status is spared
    // the stored entries echoed back, which cost as much as normalising them.
    if (minimal) return c.body(`{"saved":${entries.length},"errors":${errorsJson}}`, 201);
    return c.body(`{"saved":${entries.length},"entries":${entriesJsonArray(entries)},"errors":${errorsJson}}`, 201);
  });
  return app;
}

/** `Prefer: return=minimal` among the request's preferences (RFC 7240 §4.2; tokens are case-insensitive). */
export function prefersMinimal(prefer: string | undefined): boolean {
  if (!prefer) return false;
  for (const part of prefer.split(',')) {
    const pref = part.split(';', 1)[0]!.trim().toLowerCase().replace(/\s*=\s*/, '=');
    if (pref === 'return=minimal' || pref === 'return="minimal"') return true;
  }
  return false;
}

/**
 * NDJSON → items. Blank lines are skipped; a line that is not JSON is reported by its 0-based
 * position among non-blank lines and does not cost the other lines.
 */
function parseNdjson(text: string, errors: ItemError[]): { items: unknown[]; lines: number[] } {
  const items: unknown[] = [];
  const lines: number[] = [];
  let index = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    try {
      items.push(JSON.parse(line));
      lines.push(index);
    } catch (err) {
      errors.push({ index, error: `invalid JSON: ${(err as Error).message}` });
    }
    index++;
  }
  return { items, lines };
}
