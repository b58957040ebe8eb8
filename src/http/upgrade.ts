import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { tooManyConnections } from '../limits/address-slots.js';
import { tooManyAuthFailures } from './auth.js';
import { requestAddress } from './client-address.js';
import { isWebSocketUpgrade, serveWithoutUpgrade } from './plain-upgrade.js';

/** Handles one upgrade request whose path a route matched. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** The HTTP server's `upgrade` event, routed by path (without the query string). */
export interface UpgradeRouter {
  /** Routes upgrades of `path` to `handler`; a path has one handler. */
  route(path: string, handler: UpgradeHandler): void;
}

/**
 * The one listener of the server's `upgrade` event: `/ws` (live tail) and `/logs` (WebSocket
 * ingest) each register here, and a WebSocket upgrade of any other path is answered 404. An
 * offer of another protocol (`Upgrade: h2c`) is declined by serving the request as plain
 * HTTP/1.1 (plain-upgrade.ts). Node answers nothing to an upgrade when no listener is attached,
 * so this module is the only place that listens.
 */
export function createUpgradeRouter(server: Server): UpgradeRouter {
  const routes = new Map<string, UpgradeHandler>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!isWebSocketUpgrade(req)) return serveWithoutUpgrade(server, req, socket, head);
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const handler = routes.get(q < 0 ? url : url.slice(0, q));
    if (handler) return handler(req, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  return {
    route(path, handler) {
      if (routes.has(path)) throw new Error(`upgrade route ${path} is taken`);
      routes.set(path, handler);
    },
  };
}

/** Refuses an upgrade with the HTTP answer of `err` (its status, headers and JSON body). */
export function refuseUpgrade(socket: Duplex, err: GatewayError): void {
  const body = JSON.stringify({ error: err.code, message: err.message });
  const headers = Object.entries(err.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\n${headers}Content-Type: application/json\r\n` +
      `Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** The subprotocol this endpoint speaks: the one answered in `Sec-WebSocket-Protocol`. */
export const WS_PROTOCOL = 'sluice.v1';
/** Prefix of the offered subprotocol that carries a token (`sluice.token.<token>`); never answered. */
export const WS_TOKEN_PROTOCOL_PREFIX = 'sluice.token.';

/** The subprotocols offered in `Sec-WebSocket-Protocol` (a comma-separated list; `ws` validates it). */
function offeredProtocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  return header ? header.split(',').map((p) => p.trim()) : [];
}

/**
 * The token of an upgrade request: `?token=`, `Authorization: Bearer`, or the subprotocol
 * `sluice.token.<token>` offered along with `sluice.v1` (browsers can set no header on a
 * WebSocket, and a URL lands in proxy and router access logs; this header does not).
 */
export function upgradeToken(req: IncomingMessage): string | null {
  const query = (req.url ?? '').indexOf('?');
  const fromUrl = query < 0 ? null : new URLSearchParams(req.url!.slice(query + 1)).get('token');
  if (fromUrl) return fromUrl;
  const header = req.headers.authorization;
  const bearer = header?.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : '';
  if (bearer) return bearer;
  const offered = offeredProtocols(req);
  if (!offered.includes(WS_PROTOCOL)) return null;
  const carrier = offered.find((p) => p.startsWith(WS_TOKEN_PROTOCOL_PREFIX));
  return carrier?.slice(WS_TOKEN_PROTOCOL_PREFIX.length) || null;
}

/**
 * `handleProtocols` of the WebSocketServer: answers `sluice.v1` when it is offered, and nothing
 * otherwise (then a client that offered something else fails the handshake by itself); the
 * token subprotocol is never answered, so the token is not sent back.
 */
export function selectProtocol(offered: Set<string>): string | false {
  return offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false;
}

/** What {@link admitUpgrade} needs of the endpoint asking. */
export interface AdmitOptions {
  /** Its sockets upgraded but not authenticated yet. */
  waiting: number;
  /** Tokenless sockets are not waiting for a token (anonymous producers in demo mode). */
  tokenlessAllowed: boolean;
  /** Where this endpoint takes a token at the upgrade, for the refusal's message. */
  hint: string;
}

/**
 * The admission rules every WebSocket endpoint shares, before the handshake: an upgrade without
 * a token is refused while `FANOUT_MAX_UNAUTHENTICATED` sockets wait for one (readers that bring
 * their token always get in); an address over its auth-failure budget is refused unless the
 * token is already known valid; the address must get a stream slot, freed when the socket
 * closes. Answers the refusal itself and returns null, else the token and client address.
 */
export function admitUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  deps: GatewayDeps,
  opts: AdmitOptions,
): { token: string | null; address: string } | null {
  const cfg = deps.config.fanout;
  const token = upgradeToken(req);
  if (!token && !opts.tokenlessAllowed && opts.waiting >= cfg.maxUnauthenticated) {
    // The pool frees as its sockets reach their auth deadline.
    const message = `too many connections are waiting to authenticate; present the token at the upgrade (${opts.hint}), or retry later`;
    const retryAfter = String(Math.max(1, Math.ceil(cfg.authTimeoutMs / 1000)));
    refuseUpgrade(socket, new GatewayError('too_many_unauthenticated', 503, message, { 'Retry-After': retryAfter }));
    return null;
  }
  const address = requestAddress(req, deps.config.trustProxy);
  const wait = token ? (deps.authThrottle?.retryAfter(address) ?? 0) : 0;
  if (wait > 0 && !deps.apps.resolveCached(token!)) {
    refuseUpgrade(socket, tooManyAuthFailures(wait));
    return null;
  }
  const release = deps.streamSlots?.acquire(address);
  if (release === null) {
    refuseUpgrade(socket, tooManyConnections(deps.streamSlots!.max));
    return null;
  }
  // The raw socket closes however the connection ends (handshake aborted included).
  if (release) socket.once('close', release);
  return { token, address };
}
