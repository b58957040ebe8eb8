/**
 * Requests Node's HTTP parser gives up on (bytes after a body shorter than its Content-Length,
 * a bad request line, headers over the limit, a request that took too long) get the house's JSON
 * error instead of Node's bare `400` without a body, with the status Node would use.
 *
 * When the connection still owes an answer to an earlier request on it (the seed's Logplex curl
 * sends more bytes than its Content-Length: the request is whole, the rest is not HTTP), that
 * answer goes out first and the error after it, so a sender learns what happened to the request
 * it did send. The connection is closed after the error: what follows cannot be framed.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

const ANSWERS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'headers_too_large', 'request headers over the limit'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'the request did not arrive in time'],
};

/** The response bytes for a parser error (`code`: Node's, e.g. HPE_INVALID_METHOD). */
export function clientErrorResponse(code: string | undefined): string {
  const [status, error, text] = ANSWERS[code ?? ''] ?? [400, 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify({ error, message: `${text}${code ? ` (${code})` : ''}` });
  const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** Answers parser errors of `server` as above. */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const send = () => {
      if (socket.writable) socket.end(clientErrorResponse(err.code));
      else socket.destroy();
    };
    // Node's own: the response being written on this socket, if any (not public, long stable).
    const pending = (socket as unknown as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (pending && !pending.writableFinished) {
      pending.once('finish', send);
      pending.once('close', () => socket.destroy());
    } else send();
  });
}
