import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { GatewayError } from '../errors.js';
import type { Entry } from '../normalize/entry.js';
import type { Gap, Sink } from './subscriber.js';

/** How a text stream (SSE, Logplex session) renders what a subscriber writes. */
export interface StreamFormat {
  contentType: string;
  entries(jsons: string[], entries: Entry[]): string;
  live(): string;
  gap(gap: Gap): string;
  /** The last thing written when the stream ends with an error (`regex_budget_exceeded`, …). */
  error(code: string, message: string): string;
  heartbeat(): string;
}

/** The raw Node response behind a Hono context (streams write to it directly, with backpressure). */
export function nodeResponse(c: Context): ServerResponse {
  const res = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (!res) throw new GatewayError('not_supported', 501, 'streaming needs the Node server');
  return res;
}

/**
 * Opens a long-lived text response and returns a Sink writing to it, plus a heartbeat.
 * `onClose` runs once when the client goes away.
 */
export function openStream(res: ServerResponse, format: StreamFormat, heartbeatMs: number, onClose: () => void): Sink {
  res.writeHead(200, {
    'Content-Type': format.contentType,
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    // nginx and other proxies buffer responses unless told not to: a tail must flow.
    'X-Accel-Buffering': 'no',
    // Written here, past the app's middleware, which sets it on every other answer.
    'X-Content-Type-Options': 'nosniff',
  });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  let lastWrite = Date.now();
  const write = (text: string | Buffer) => {
    if (res.writableEnded || res.destroyed) return;
    lastWrite = Date.now();
    res.write(text);
  };
  const timer = setInterval(() => {
    if (Date.now() - lastWrite >= heartbeatMs * 0.9) write(format.heartbeat());
  }, heartbeatMs);
  let closed = false;
  const done = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    onClose();
  };
  res.on('close', done);
  return {
    buffered: () => res.writableLength,
    // Live batches are rendered once per delivery chunk and shared by every stream of this
    // format that writes the same entries (as WebSocket frames are); history is per subscriber.
    writeEntries: (jsons, entries, chunk) =>
      write(chunk ? chunk.shared(format, entries, () => Buffer.from(format.entries(jsons, entries))) : format.entries(jsons, entries)),
    writeLive: () => write(format.live()),
    writeGap: (gap) => write(format.gap(gap)),
    close: () => {
      done();
      res.end();
    },
    fail: (code, message) => {
      write(format.error(code, message));
      done();
      res.end();
    },
    onDrain: (fn) => {
      if (!res.writableEnded) res.once('drain', fn);
    },
  };
}

/** The Heroku L11 line for a gap: what `heroku logs --tail` users know. */
export function l11(gap: Gap): string {
  const count = gap.count === undefined ? 'an unknown number of' : String(gap.count);
  return `Error L11 (Tail buffer overflow) -> This tail session dropped ${count} messages since ${new Date().toISOString()}.`;
}
