import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** Handles one upgrade request whose path a route matched. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** The HTTP server's `upgrade` event, routed by path (without the query string). */
export interface UpgradeRouter {
  /** Routes upgrades of `path` to `handler`; a path has one handler. */
  route(path: string, handler: UpgradeHandler): void;
}

/**
 * The one listener of the server's `upgrade` event: `/ws` (live tail) and `/logs` (WebSocket
 * ingest) each register here, and an upgrade of any other path is answered 404. Node answers
 * nothing to an upgrade when no listener is attached, so this module is the only place that
 * listens.
 */
export function createUpgradeRouter(server: Server): UpgradeRouter {
  const routes = new Map<string, UpgradeHandler>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
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
