import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { contextAddress } from '../http/client-address.js';
import { readGrant } from '../query/history.js';
import { compileSubscription } from './filter.js';
import type { Hub } from './hub.js';
import { l11, nodeResponse, openStream, type StreamFormat } from './stream-sink.js';

/** Server-sent events: entries are unnamed events whose `id:` is the entry id. */
const SSE: StreamFormat = {
  contentType: 'text/event-stream; charset=utf-8',
  entries(jsons, entries) {
    let out = '';
    for (let i = 0; i < jsons.length; i++) out += `id: ${entries[i]!.id}\ndata: ${jsons[i]}\n\n`;
    return out;
  },
  live: () => 'event: live\ndata: {}\n\n',
  gap: (gap) => `event: gap\ndata: ${JSON.stringify({ ...gap, message: l11(gap) })}\n\n`,
  error: (code, message) => `event: error\ndata: ${JSON.stringify({ error: code, message })}\n\n`,
  heartbeat: () => ': heartbeat\n\n',
};

/**
 * `GET /api/logs/stream`: the live tail as `text/event-stream`, so `curl -N` and `EventSource`
 * follow logs: history first, `event: live`, then live entries; `Last-Event-ID` resumes.
 */
export function sseRoutes(deps: GatewayDeps, hub: Hub): Hono {
  const app = new Hono();
  app.get('/api/logs/stream', async (c) => {
    const grant = await readGrant(c, deps);
    const q = (name: string) => c.req.query(name) || undefined;
    const list = (name: string) => q(name)?.split(',').map((s) => s.trim()).filter(Boolean);
    // Errors (bad token, app, level, regex) are ordinary JSON answers: the stream has not begun.
    const filter = await compileSubscription(
      {
        apps: list('app_id') ?? list('app_key'),
        levels: list('level'),
        source: q('source'),
        proc: q('proc') ?? q('dyno'),
        search: q('search'),
        regex: q('regex'),
      },
      grant,
      deps.apps,
      deps.demo,
    );
    const sinceId = c.req.header('last-event-id') || q('last_event_id') || q('since_id');
    const history = Math.max(0, Math.floor(Number(q('history') ?? 0)) || 0);
    const res = nodeResponse(c);
    // One of the address's MAX_CONNECTIONS_PER_ADDRESS live connections (503 when it has them all).
    const release = deps.streamSlots?.take(contextAddress(c, deps.config.trustProxy));
    if (release) res.once('close', release);
    let detach = () => {};
    const sink = openStream(res, SSE, deps.config.fanout.sseHeartbeatMs, () => detach());
    const sub = await hub.attach(filter, sink, { history, sinceId }).catch((err: unknown) => {
      // The stream has begun (200 sent): an error reading the history (regex_budget_exceeded, …) is its last event.
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
