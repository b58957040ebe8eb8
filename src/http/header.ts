/**
 * Request headers read straight from Node's parsed `IncomingMessage` (`c.env.incoming` under
 * @hono/node-server) instead of `c.req.header()`. The first `c.req.header()` of a request builds
 * a whole WHATWG `Headers` object from the raw header list (undici's validation and copies):
 * ~5 µs of a 1-line drain request's ~100 µs, for values Node had already parsed. Where there is
 * no Node request (`app.request()` in tests, other runtimes) it falls back to `c.req.header()`.
 *
 * Node's rules for repeated headers apply: most are joined with `, ` (as `Headers` does), and a
 * repeated `Authorization`, `Content-Type`, `Content-Length`, `User-Agent` … keeps its first value.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/** The value of header `name` (lower-case), or undefined. */
export function requestHeader(c: Context, name: string): string | undefined {
  const headers = (c.env as { incoming?: Partial<IncomingMessage> } | undefined)?.incoming?.headers;
  if (headers === undefined) return c.req.header(name);
  const v = headers[name];
  // Only `set-cookie` comes as an array; join it as Headers#get would.
  return Array.isArray(v) ? v.join(', ') : v;
}
