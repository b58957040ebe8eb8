import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { TokenGrant } from '../apps/types.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { resolveThrottled } from '../http/auth.js';
import { admitUpgrade, refuseUpgrade, selectProtocol, type UpgradeRouter } from '../http/upgrade.js';
import type { Entry } from '../normalize/entry.js';
import { parseMetricsSubscription, startLiveMetrics } from '../metrics/live.js';

export { refuseUpgrade, upgradeToken, WS_PROTOCOL, WS_TOKEN_PROTOCOL_PREFIX } from '../http/upgrade.js';
import { compileSubscription, type SubscriptionSpec } from './filter.js';
import type { Hub } from './hub.js';
import type { Chunk, Gap, Sink, Subscriber } from './subscriber.js';

/** The live WebSocket endpoint, attached to the HTTP server's `upgrade` event. */
export interface WebSocketEndpoint {
  /** Open WebSocket connections on this process. */
  connections(): number;
  /** Of those, the ones not authenticated yet (and not being closed). */
  unauthenticated(): number;
  /** Closes every connection with 1001 and stops the heartbeat. */
  close(): void;
}

interface ClientMessage extends SubscriptionSpec {
  type?: string;
  token?: string;
  history?: number;
  since_id?: string;
  batch?: boolean;
}

const LIVE = '{"type":"live"}';
const PONG = '{"type":"pong"}';
const TEXT = { binary: false };

/** Owners of the frame caches of a delivery chunk (see Chunk.cache). */
const BATCH_FRAMES = { kind: 'ws logs frames' };
const ENTRY_FRAMES = { kind: 'ws log frames' };

/**
 * The `logs` frame of a batch, built once per delivery chunk for every subscriber that writes the
 * same entries (identity: the hub hands every subscriber the same Entry objects), as a Buffer:
 * joined and UTF-8 encoded once instead of once per subscriber, and written by `ws` without a
 * copy. History batches (no chunk) are built for their subscriber alone.
 */
function batchFrame(jsons: string[], entries: Entry[], chunk: Chunk | undefined): string | Buffer {
  const text = () => `{"type":"logs","data":[${jsons.join(',')}]}`;
  if (!chunk) return text();
  return chunk.shared(BATCH_FRAMES, entries, () => Buffer.from(text()));
}

/** The `log` frame of one entry, built once per delivery chunk (see batchFrame). */
function entryFrame(json: string, entry: Entry, chunk: Chunk | undefined): string | Buffer {
  if (!chunk) return `{"type":"log","data":${json}}`;
  const cache = chunk.cache<Buffer>(ENTRY_FRAMES);
  let frame = cache.get(entry);
  if (!frame) cache.set(entry, (frame = Buffer.from(`{"type":"log","data":${json}}`)));
  return frame;
}

/** How long a socket closed for want of a valid token gets to answer the close before it is cut. */
const UNAUTHENTICATED_CLOSE_GRACE_MS = 1000;

/**
 * `GET /ws`: the protocol of protocol/README.md ("Live tail"), on `ws` with
 * permessage-deflate off (measured 8× slower here) and frames built as strings from each
 * entry's JSON, which the hub serialised once for every subscriber.
 *
 * Sockets that have not authenticated yet are counted apart from readers: at most
 * `FANOUT_MAX_UNAUTHENTICATED` of them (beyond it, upgrades without a token in the URL,
 * `Authorization` or the `sluice.token.` subprotocol are refused with 503), each closed with
 * 4001 after `FANOUT_AUTH_TIMEOUT_MS` (3 s), while `FANOUT_MAX_CONNECTIONS` counts authenticated
 * ones only, so sockets that never authenticate cannot keep out a reader that brings its token.
 * Every socket also takes one of its client address's `MAX_CONNECTIONS_PER_ADDRESS` slots, and
 * tokens go through the auth-failure throttle (an upgrade with a token from an address over its
 * limit: 429), wherever the upgrade carried them.
 *
 * Browsers (the dashboard) present their token as the subprotocol `sluice.token.<token>` next to
 * `sluice.v1`; the answer names `sluice.v1` only. Nothing here logs request headers.
 */
export function attachWebSocket(upgrades: UpgradeRouter, deps: GatewayDeps, hub: Hub): WebSocketEndpoint {
  const cfg = deps.config.fanout;
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 64 * 1024,
    handleProtocols: selectProtocol,
  });
  const alive = new Set<WebSocket>();
  /** Upgraded, no grant yet, not being closed. */
  const pending = new Set<WebSocket>();
  /** Authenticated. */
  const readers = new Set<WebSocket>();

  upgrades.route('/ws', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (readers.size >= cfg.maxConnections) {
      const message = `this process has ${cfg.maxConnections} live WebSocket connections (FANOUT_MAX_CONNECTIONS); retry later`;
      return refuseUpgrade(socket, new GatewayError('too_many_connections', 503, message, { 'Retry-After': '5' }));
    }
    const admitted = admitUpgrade(req, socket, deps, {
      waiting: pending.size,
      tokenlessAllowed: false,
      hint: '?token=, Authorization: Bearer, or the subprotocols sluice.v1 and sluice.token.<token>',
    });
    if (!admitted) return;
    const { token, address } = admitted;
    wss.handleUpgrade(req, socket, head, (ws) => {
      alive.add(ws);
      pending.add(ws);
      void serve(ws, address, token).catch((err) => {
        deps.logger.error({ err }, 'websocket handler failed');
        ws.terminate();
      });
    });
  });

  async function serve(ws: WebSocket, address: string, token: string | null): Promise<void> {
    let grant: TokenGrant | null = null;
    let sub: Subscriber | null = null;
    let subscribing: Promise<void> = Promise.resolve();
    /** Stops the live metrics subscription (`subscribe_metrics`), independent of `sub`. */
    let stopMetrics: (() => void) | null = null;
    let lastSend = Date.now();
    const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.setNoDelay(true);

    const send = (text: string | Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      lastSend = Date.now();
      // Text frames always (a Buffer would go out as a binary frame by default).
      ws.send(text, TEXT);
    };
    const sendError = (code: string, message: string) => send(JSON.stringify({ type: 'error', error: code, message }));

    // Heartbeat: a ping (browsers answer by themselves) and, when nothing else went out, a
    // `heartbeat` message that dashboards can see. A peer that does not pong in time is closed.
    let pongTimer: NodeJS.Timeout | undefined;
    const heartbeat = setInterval(() => {
      if (ws.readyState !== ws.OPEN) return;
      if (Date.now() - lastSend >= cfg.heartbeatMs * 0.9) send(JSON.stringify({ type: 'heartbeat', time: new Date().toISOString() }));
      if (!pongTimer) {
        pongTimer = setTimeout(() => ws.terminate(), cfg.pongTimeoutMs);
        ws.ping();
      }
    }, cfg.heartbeatMs);
    ws.on('pong', () => {
      clearTimeout(pongTimer);
      pongTimer = undefined;
    });

    /**
     * Closes a socket that has no grant: it leaves the unauthenticated pool at once, and a peer
     * that does not answer the close is cut after a short grace (ws would wait 30 s).
     */
    const closeUnauthenticated = (code: number, reason: string) => {
      pending.delete(ws);
      ws.close(code, reason);
      setTimeout(() => ws.terminate(), UNAUTHENTICATED_CLOSE_GRACE_MS).unref();
    };

    const authTimer = setTimeout(() => {
      if (!grant) closeUnauthenticated(4001, 'unauthorized');
    }, cfg.authTimeoutMs);

    ws.on('close', () => {
      alive.delete(ws);
      pending.delete(ws);
      readers.delete(ws);
      clearInterval(heartbeat);
      clearTimeout(pongTimer);
      clearTimeout(authTimer);
      if (sub) hub.detach(sub);
      sub = null;
      stopMetrics?.();
      stopMetrics = null;
    });
    ws.on('error', () => ws.terminate());

    const authenticate = async (token: string | undefined | null): Promise<boolean> => {
      if (!token) return false;
      let g: TokenGrant | null;
      try {
        g = await resolveThrottled(deps, () => address, token);
      } catch (err) {
        if (!(err instanceof GatewayError) || err.code !== 'too_many_auth_failures') throw err;
        sendError(err.code, err.message);
        closeUnauthenticated(1013, 'too many auth failures');
        return false;
      }
      if (ws.readyState !== ws.OPEN) return false;
      if (!g || g.kind === 'ingest') {
        sendError('unauthorized', g ? 'an ingest token cannot read logs' : 'unknown token');
        closeUnauthenticated(4001, 'unauthorized');
        return false;
      }
      grant = g;
      pending.delete(ws);
      readers.add(ws);
      clearTimeout(authTimer);
      return true;
    };

    const sink: Sink = {
      buffered: () => ws.bufferedAmount,
      writeEntries: () => {},
      writeLive: () => send(LIVE),
      writeGap: (gap: Gap) => send(JSON.stringify({ type: 'gap', ...gap })),
      close: (code, reason) => ws.close(code, reason),
      // A subscription the gateway ended (regex_budget_exceeded): said, and the socket stays open.
      fail: (code, message) => sendError(code, message),
      onDrain: (fn) => {
        if (ws.readyState !== ws.OPEN) return;
        socket.once('drain', fn);
      },
    };

    /**
     * True when the socket is a reader, authenticating with the message's own `token` if it is
     * not yet; otherwise it is told and closed (4001).
     */
    const ensureReader = async (msg: ClientMessage): Promise<boolean> => {
      if (grant || (await authenticate(msg.token))) return true;
      if (ws.readyState === ws.OPEN) {
        sendError('unauthorized', 'a read token is required');
        closeUnauthenticated(4001, 'unauthorized');
      }
      return false;
    };

    const subscribe = async (msg: ClientMessage) => {
      if (!(await ensureReader(msg))) return;
      if (sub) hub.detach(sub);
      sub = null;
      let filter;
      try {
        filter = await compileSubscription(
          {
            apps: Array.isArray(msg.apps) ? msg.apps : typeof msg.apps === 'string' ? [msg.apps] : undefined,
            levels: Array.isArray(msg.levels) ? msg.levels : typeof msg.levels === 'string' ? [msg.levels] : undefined,
            source: str(msg.source),
            proc: str(msg.proc),
            search: str(msg.search),
            regex: str(msg.regex),
          },
          grant!,
          deps.apps,
          deps.demo,
        );
      } catch (err) {
        if (err instanceof GatewayError) return sendError(err.code, err.message);
        throw err;
      }
      const batch = msg.batch === true;
      const entrySink: Sink = {
        ...sink,
        writeEntries: batch ? writeBatch : writeEach,
      };
      const history = Number.isFinite(msg.history) ? Math.max(0, Math.floor(msg.history as number)) : 0;
      try {
        sub = await hub.attach(filter, entrySink, { history, sinceId: str(msg.since_id) });
      } catch (err) {
        if (err instanceof GatewayError) return sendError(err.code, err.message);
        throw err;
      }
      if (ws.readyState !== ws.OPEN) hub.detach(sub);
    };

    const subscribeMetrics = async (msg: ClientMessage) => {
      if (!(await ensureReader(msg))) return;
      const service = deps.logMetrics;
      if (!service) return sendError('metrics_disabled', 'metrics from logs are off (METRICS_ENABLED=false)');
      let spec;
      try {
        spec = parseMetricsSubscription(msg as Record<string, unknown>, grant!, deps.demo, service.config.liveMaxSeries);
      } catch (err) {
        if (err instanceof GatewayError) return sendError(err.code, err.message);
        throw err;
      }
      stopMetrics?.();
      if (ws.readyState !== ws.OPEN) return;
      // Updates wait while the socket is over its high-water mark: a slow reader gets fewer, never a backlog.
      stopMetrics = startLiveMetrics(service, spec, send, () => ws.bufferedAmount > cfg.socketHighWaterBytes);
    };

    // Frames are built from the entries' JSON strings: nothing is serialised per subscriber.
    function writeEach(jsons: string[], entries: Entry[], chunk?: Chunk): void {
      socket.cork();
      for (let i = 0; i < jsons.length; i++) send(entryFrame(jsons[i]!, entries[i]!, chunk));
      process.nextTick(() => socket.uncork());
    }
    function writeBatch(jsons: string[], entries: Entry[], chunk?: Chunk): void {
      send(batchFrame(jsons, entries, chunk));
    }

    ws.on('message', (data, isBinary) => {
      let msg: ClientMessage;
      try {
        msg = JSON.parse(isBinary ? '' : data.toString()) as ClientMessage;
        if (!msg || typeof msg !== 'object') throw new Error('not an object');
      } catch {
        return sendError('invalid_message', 'messages are JSON objects with a "type"');
      }
      switch (msg.type) {
        case 'ping':
          return send(PONG);
        case 'stats':
          return send(JSON.stringify({ type: 'stats', data: { connections: alive.size, ...hub.stats() } }));
        case 'auth':
          subscribing = subscribing.then(async () => {
            if (!grant) await authenticate(msg.token);
          });
          return;
        case 'subscribe':
          // Subscriptions are handled one after the other, in the order they were sent.
          subscribing = subscribing.then(() => subscribe(msg)).catch((err) => {
            deps.logger.error({ err }, 'subscribe failed');
            sendError('internal', 'subscription failed');
          });
          return;
        case 'subscribe_metrics':
          subscribing = subscribing.then(() => subscribeMetrics(msg)).catch((err) => {
            deps.logger.error({ err }, 'subscribe_metrics failed');
            sendError('internal', 'metrics subscription failed');
          });
          return;
        case 'unsubscribe_metrics':
          stopMetrics?.();
          stopMetrics = null;
          return;
        case 'unsubscribe':
          subscribing = subscribing.then(() => {
            if (sub) hub.detach(sub);
            sub = null;
          });
          return;
        default:
          return sendError('invalid_message', `unknown message type ${JSON.stringify(msg.type)}`);
      }
    });

    send(JSON.stringify({ type: 'connected', connections: alive.size }));
    if (token) subscribing = subscribing.then(async () => void (await authenticate(token)));
  }

  return {
    connections: () => alive.size,
    unauthenticated: () => pending.size,
    close: () => {
      for (const ws of alive) ws.close(1001, 'going away');
      wss.close();
    },
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
