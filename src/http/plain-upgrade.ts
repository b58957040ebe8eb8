/**
 * Requests that offer an upgrade the gateway does not speak (`Upgrade: h2c` from Java's
 * `HttpClient` on `http://`, `curl --http2`; RFC 9113 §3.1 lets a server ignore the offer) are
 * served as the plain HTTP/1.1 requests they also are. Node hands every request with
 * `Connection: Upgrade` to the `upgrade` event once one listener exists (Node 20 has no
 * per-request opt-out), detaching it from the HTTP parser; so the request head is rebuilt without
 * the offer and fed back to the server as a fresh connection, with the body bytes that followed.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** Hop-by-hop headers of the upgrade offer, dropped from the rebuilt head. */
const OFFER_HEADERS = new Set(['upgrade', 'http2-settings']);

/** True when the request asks for a WebSocket (the only upgrade the gateway accepts). */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const offer = req.headers.upgrade;
  if (!offer) return false;
  // `Upgrade` may list several protocols in order of preference (RFC 9110 §7.8).
  return offer.split(',').some((p) => p.trim().toLowerCase() === 'websocket');
}

/**
 * The request head as HTTP/1.1 bytes without the upgrade offer. Header names and values come
 * from Node's parser (`rawHeaders`), which already refused CR/LF in them, so nothing can be
 * smuggled into the rebuilt head.
 */
export function headWithoutUpgrade(req: IncomingMessage): Buffer {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (OFFER_HEADERS.has(lower)) continue;
    if (lower === 'connection') {
      const tokens = raw[i + 1]!
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '' && !OFFER_HEADERS.has(t.toLowerCase()));
      if (tokens.length) lines.push(`${name}: ${tokens.join(', ')}`);
      continue;
    }
    lines.push(`${name}: ${raw[i + 1]}`);
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** Serves an upgrade request the gateway declines as an ordinary request of `server`. */
export function serveWithoutUpgrade(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.unshift(head.length ? Buffer.concat([headWithoutUpgrade(req), head]) : headWithoutUpgrade(req));
  server.emit('connection', socket);
}
