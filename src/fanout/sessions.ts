import { randomUUID } from 'node:crypto';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { TokenGrant } from '../apps/types.js';
import type { GatewayDeps } from '../deps.js';
import { contextAddress } from '../http/client-address.js';
import { GatewayError } from '../errors.js';
import type { Entry } from '../normalize/entry.js';
import { readGrant } from '../query/history.js';
import { compileSubscription, type SubscriptionSpec } from './filter.js';
import type { Hub } from './hub.js';
import { l11, nodeResponse, openStream, type StreamFormat } from './stream-sink.js';

const SessionBody = z.object({
  channel_id: z.string().min(1),
  num: z.coerce.number().int().min(0).max(100_000).optional(),
  tail: z.union([z.boolean(), z.enum(['true', 'false'])]).optional(),
  ps: z.string().optional(),
  source: z.string().optional(),
});

interface Session {
  spec: SubscriptionSpec;
  grant: TokenGrant;
  num: number;
  tail: boolean;
}

/** `TIMESTAMP SOURCE[PS]: MSG`, the line format of `heroku logs` and Logplex sessions. */
export function sessionLine(e: Entry): string {
  const ts = `${e.timestamp.slice(0, 26)}+00:00`;
  return `${ts} ${e.source ?? e.app_id}[${e.proc ?? '-'}]: ${e.message}\n`;
}

const SESSION: StreamFormat = {
  contentType: 'text/plain; charset=utf-8',
  entries: (_jsons, entries) => entries.map(sessionLine).join(''),
  live: () => '',
  gap: (gap) => `${new Date().toISOString().replace('Z', '000+00:00').slice(0, 32)} heroku[logplex]: ${l11(gap)}\n`,
  error: (code, message) => `${new Date().toISOString().replace('Z', '000+00:00').slice(0, 32)} sluice[gateway]: error ${code}: ${message}\n`,
  heartbeat: () => '',
};

/**
 * Logplex sessions: `POST /v2/sessions {channel_id, num, tail, ps, source}` → 201
 * `{ "url": "/sessions/<id>" }`; `GET /sessions/<id>` streams the last `num` lines, then live
 * lines when `tail`. A session unused for `SESSION_TTL_MS` (360 s) expires: 404.
 */
export function sessionRoutes(deps: GatewayDeps, hub: Hub): Hono {
  const app = new Hono();
  const sessions = new LRUCache<string, Session>({ max: 10_000, ttl: deps.config.fanout.sessionTtlMs, updateAgeOnGet: true });

  app.post('/v2/sessions', async (c) => {
    const grant = await readGrant(c, deps);
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw new GatewayError('invalid_json', 400, 'body is not valid JSON');
    }
    const body = SessionBody.safeParse(raw);
    if (!body.success) {
      const issue = body.error.issues[0];
      throw new GatewayError('invalid_body', 400, `${issue?.path.join('.') || 'body'}: ${issue?.message}`);
    }
    const spec: SubscriptionSpec = { apps: [body.data.channel_id], proc: body.data.ps, source: body.data.source };
    await compileSubscription(spec, grant, deps.apps, deps.demo); // refuse a forbidden or unknown app now
    const id = randomUUID();
    const tail = body.data.tail === true || body.data.tail === 'true';
    sessions.set(id, { spec, grant, num: body.data.num ?? 100, tail });
    return c.json({ url: `/sessions/${id}` }, 201);
  });

  app.get('/sessions/:id', async (c) => {
    const session = sessions.get(c.req.param('id'));
    if (!session) throw new GatewayError('not_found', 404, 'no such session (sessions expire after 360 s unused)');
    const filter = await compileSubscription(session.spec, session.grant, deps.apps, deps.demo);
    const res = nodeResponse(c);
    // One of the address's MAX_CONNECTIONS_PER_ADDRESS live connections (503 when it has them all).
    const release = deps.streamSlots?.take(contextAddress(c, deps.config.trustProxy));
    if (release) res.once('close', release);
    let detach = () => {};
    const sink = openStream(res, SESSION, deps.config.fanout.sseHeartbeatMs, () => detach());
    if (!session.tail) {
      // Without tail: the history, then the end of the response.
      sink.writeLive = () => sink.close(1000, 'done');
    }
    const sub = await hub.attach(filter, sink, { history: session.num }).catch((err: unknown) => {
      // The response has begun (200 sent): the error is its last line.
      if (!(err instanceof GatewayError)) throw err;
      sink.fail!(err.code, err.message);
      return null;
    });
    if (!sub) return RESPONSE_ALREADY_SENT;
    detach = () => hub.detach(sub);
    if (res.destroyed) hub.detach(sub);
    return RESPONSE_ALREADY_SENT;
  });
  return app;
}
