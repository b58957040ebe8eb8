import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { readScope, requireGrant } from '../http/auth.js';
import type { App } from './types.js';

const CreateAppBody = z.object({ id: z.string() }).strict();
const RotateBody = z
  .object({
    kind: z.enum(['ingest', 'read']),
    grace_sec: z.number().int().min(0).max(7 * 24 * 3600).optional(),
  })
  .strict();

/**
 * App administration: `POST /api/apps`, `GET /api/apps`, `GET /api/apps/:id`,
 * `POST /api/apps/:id/rotate`. Creating, reading tokens and rotating take the admin token;
 * listing also answers a read/ingest token, with only its own app (a read token in demo mode:
 * every app, see readScope in src/http/auth.ts).
 */
export function appRoutes(deps: GatewayDeps): Hono {
  const app = new Hono();
  const admin = (c: Context) => requireGrant(c, deps, { bearer: true, allow: ['admin'] });

  app.post('/api/apps', async (c) => {
    await admin(c);
    const body = CreateAppBody.safeParse(await jsonBody(c));
    if (!body.success) throw new GatewayError('invalid_body', 400, `id: ${body.error.issues[0]?.message ?? 'required'}`);
    const created = await deps.apps.create(body.data.id);
    return c.json(credentials(c, deps, created), 201);
  });

  app.get('/api/apps', async (c) => {
    const grant = await requireGrant(c, deps, { bearer: true, query: true, allow: ['admin', 'read', 'ingest'] });
    const all = await deps.apps.list();
    // A read token lists what it may read: its app, or every app in demo mode (readScope).
    const scope = readScope(grant, deps.demo); // an ingest token: its app
    return c.json({ apps: scope === null ? all : all.filter((a) => a.id === scope) });
  });

  app.get('/api/apps/:id', async (c) => {
    await admin(c);
    const found = await deps.apps.get(c.req.param('id'));
    if (!found) throw new GatewayError('app_not_found', 404, `no app ${c.req.param('id')}`);
    return c.json({
      id: found.id,
      created_at: found.createdAt,
      ingest_tokens: found.ingestTokens,
      read_tokens: found.readTokens,
      drain_url: drainUrl(c, deps, found.ingestTokens[0]),
    });
  });

  app.post('/api/apps/:id/rotate', async (c) => {
    await admin(c);
    const body = RotateBody.safeParse(await jsonBody(c));
    if (!body.success) {
      const issue = body.error.issues[0];
      throw new GatewayError('invalid_body', 400, `${issue?.path.join('.') || 'body'}: ${issue?.message}`);
    }
    const rotated = await deps.apps.rotate(c.req.param('id'), body.data.kind, (body.data.grace_sec ?? 0) * 1000);
    return c.json(credentials(c, deps, rotated));
  });
  return app;
}

async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new GatewayError('invalid_json', 400, 'body is not valid JSON');
  }
}

/** What a new or rotated app's owner needs: its newest tokens and a ready drain URL. */
function credentials(c: Context, deps: GatewayDeps, app: App) {
  const ingest = app.ingestTokens[app.ingestTokens.length - 1];
  const read = app.readTokens[app.readTokens.length - 1];
  return { id: app.id, ingest_token: ingest, read_token: read, drain_url: drainUrl(c, deps, ingest) };
}

/** `https://token:t.…@host/drain`, the argument of `heroku drains:add`. */
export function drainUrl(c: Context, deps: GatewayDeps, token: string | undefined): string {
  const base = new URL(deps.config.publicUrl ?? new URL(c.req.url).origin);
  // Behind the Heroku router (or any TLS-terminating proxy) the request itself is plain http.
  const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim();
  if (!deps.config.publicUrl && (proto === 'https' || proto === 'http')) base.protocol = `${proto}:`;
  if (token) {
    base.username = 'token';
    base.password = token;
  }
  base.pathname = '/drain';
  return base.toString();
}
