import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { TokenGrant } from '../apps/types.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import type { Entry } from '../normalize/entry.js';
import { compileSubscription, type SubscriptionSpec } from './filter.js';
import type { Hub } from './hub.js';
import type { Chunk, Gap, Sink, Subscriber } from './subscriber.js';

/** The live WebSocket endpoint, attached to the HTTP server's `upgrade` event. */
export interface WebSocketEndpoint {
  /** Open WebSocket connections on this process. */
  connections(): number;
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

/**
 * `GET /ws`: the protocol of protocol/README.md ("Live tail"), on `ws` with
 * permessage-deflate off (measured 8× slower here) and frames built as strings from each
 * entry's JSON, which the hub serialised once for every subscriber.
 */
export function attachWebSocket(server: Server, deps: GatewayDeps, hub: Hub): WebSocketEndpoint {
  const cfg = deps.config.fanout;
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });
  const alive = new Set<WebSocket>();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (alive.size >= cfg.maxConnections) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      alive.add(ws);
      void serve(ws, req).catch((err) => {
        deps.logger.error({ err }, 'websocket handler failed');
        ws.terminate();
      });
    });
  });

  async function serve(ws: WebSocket, req: IncomingMessage): Promise<void> {
    let grant: TokenGrant | null = null;
    let sub: Subscriber | null = null;
    let subscribing: Promise<void> = Promise.resolve();
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

    const authTimer = setTimeout(() => {
      if (!grant) ws.close(4001, 'unauthorized');
    }, cfg.authTimeoutMs);

    ws.on('close', () => {
      alive.delete(ws);
      clearInterval(heartbeat);
      clearTimeout(pongTimer);
      clearTimeout(authTimer);
      if (sub) hub.detach(sub);
      sub = null;
    });
    ws.on('error', () => ws.terminate());

    const authenticate = async (token: string | undefined | null): Promise<boolean> => {
      if (!token) return false;
      const g = await deps.apps.resolve(token);
      if (!g || g.kind === 'ingest') {
        sendError('unauthorized', g ? 'an ingest token cannot read logs' : 'unknown token');
        ws.close(4001, 'unauthorized');
        return false;
      }
      grant = g;
      clearTimeout(authTimer);
      return true;
    };

    const sink: Sink = {
      buffered: () => ws.bufferedAmount,
      writeEntries: () => {},
      writeLive: () => send(LIVE),
      writeGap: (gap: Gap) => send(JSON.stringify({ type: 'gap', ...gap })),
      close: (code, reason) => ws.close(code, reason),
      onDrain: (fn) => {
        if (ws.readyState !== ws.OPEN) return;
        socket.once('drain', fn);
      },
    };

    const subscribe = async (msg: ClientMessage) => {
      if (!grant && !(await authenticate(msg.token))) {
        if (ws.readyState === ws.OPEN) {
          sendError('unauthorized', 'a read token is required');
          ws.close(4001, 'unauthorized');
        }
        return;
      }
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
    const url = new URL(req.url ?? '/', 'http://x');
    const header = req.headers.authorization;
    const token = url.searchParams.get('token') ?? (header?.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : null);
    if (token) subscribing = subscribing.then(async () => void (await authenticate(token)));
  }

  return {
    connections: () => alive.size,
    close: () => {
      for (const ws of alive) ws.close(1001, 'going away');
      wss.close();
    },
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
