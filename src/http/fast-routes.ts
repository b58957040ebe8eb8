/**
 * The drain routes answered straight from Node's request, before Hono. They are most of an
 * ingest gateway's requests, and on a small body Hono's layers (a WHATWG Request and Response,
 * routing, three middlewares, header objects) cost as much as decoding and storing it. The
 * handler is the very one of the Hono route (ingest/drain.ts `handleDrain`); what the Hono app
 * adds around it is done here the same way: the `{ error, message }` answers, `nosniff`, and
 * the request, auth-failure and refusal counters. Every other request goes to Hono.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { countRefusal } from '../app.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { DRAIN_PATHS, handleDrain, type DrainRequest } from '../ingest/drain.js';
import { readIncomingBody, type BodyLimits } from './body.js';
import { requestAddress } from './client-address.js';

const DRAIN = new Set<string>(DRAIN_PATHS);

/** Node's request listener: the drain paths here, everything else to `fallback` (Hono's). */
export function fastIngestListener(deps: GatewayDeps, fallback: RequestListener): RequestListener {
  return (req, res) => {
    if (req.method !== 'POST') return fallback(req, res);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!DRAIN.has(path)) return fallback(req, res);
    void serveDrain(deps, req, res, path, q < 0 ? '' : url.slice(q + 1));
  };
}

/** A Node request as the drain handler reads it (a class: no closures made per request). */
class NodeDrainRequest implements DrainRequest {
  private params: URLSearchParams | undefined;
  constructor(
    private readonly req: IncomingMessage,
    private readonly search: string,
    private readonly trustProxy: boolean,
  ) {}
  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }
  private query(): URLSearchParams {
    return (this.params ??= new URLSearchParams(this.search));
  }
  // Arrow fields: the handler passes these two on as functions (the token reader, the throttle's address).
  queryToken = (): string | undefined => (this.search === '' ? undefined : (this.query().get('token') ?? undefined));
  queries(): Record<string, string[]> {
    if (this.search === '') return {};
    const out: Record<string, string[]> = {};
    for (const [k, v] of this.query()) (out[k] ??= []).push(v);
    return out;
  }
  address = (): string => requestAddress(this.req, this.trustProxy);
  body(limits: BodyLimits): Promise<Buffer> {
    return readIncomingBody(this.req, limits);
  }
}

async function serveDrain(deps: GatewayDeps, req: IncomingMessage, res: ServerResponse, route: string, search: string): Promise<void> {
  const input = new NodeDrainRequest(req, search, deps.config.trustProxy);
  let status = 200;
  let headers: Record<string, string>;
  let body: string;
  try {
    const answer = await handleDrain(deps, route, input);
    headers = answer.headers;
    body = answer.body;
  } catch (err) {
    const known = err instanceof GatewayError;
    status = known ? err.status : 500;
    const code = known ? err.code : 'internal';
    headers = known ? { ...err.headers } : {};
    body = JSON.stringify({ error: code, message: known ? err.message : 'internal error' });
    if (deps.metrics) countRefusal(deps.metrics, 'POST', route, status, code);
    // Never the request's headers: they carry tokens.
    if (!known) deps.logger.error({ err, method: 'POST', path: route }, 'unhandled error');
  }
  deps.metrics?.requests('POST', route, status);
  headers['Content-Type'] = 'application/json';
  headers['Content-Length'] = String(Buffer.byteLength(body));
  headers['X-Content-Type-Options'] = 'nosniff';
  if (res.destroyed) return;
  res.writeHead(status, headers);
  res.end(body);
}
