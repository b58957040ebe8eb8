/**
 * The conformance suite's fault-injecting HTTP proxy: it stands between a client library and
 * the real gateway, forwards requests, and applies a scenario's faults (clients/conformance/
 * scenarios.json) — connections refused for a while, a status answered instead of forwarding,
 * a stored batch whose answer never arrives, a slow gateway. Every request is recorded (time,
 * method, path, status answered, User-Agent, batch_id) so the driver can check retries and
 * headers afterwards.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One fault of a scenario, as written in scenarios.json. */
export type Fault =
  /** Every connection (and every request on an open one) is destroyed for the first `for_ms` after {@link Proxy.arm}. */
  | { kind: 'down'; for_ms: number }
  /**
   * Answers `status` (with `Retry-After: retry_after` seconds when given) without forwarding:
   * the first `first` requests, or only the `nth` (1-based). Requests cut by `down` do not count.
   */
  | { kind: 'status'; status: number; retry_after?: number; first?: number; nth?: number }
  /** Forwards the `nth` request, waits for the gateway's 2xx, then destroys the client's socket without answering. */
  | { kind: 'drop_after_store'; nth: number }
  /** Holds each request `ms` before forwarding it (only the first `first` requests when given). */
  | { kind: 'delay'; ms: number; first?: number };

/** One request as the proxy saw it. Times are ms since {@link Proxy.arm}. */
export interface RecordedRequest {
  /** 1-based, in order of arrival; 0 for a connection cut by `down` before any request was read. */
  n: number;
  at: number;
  /** When the answer was written, or the socket destroyed. */
  answeredAt: number;
  method: string;
  path: string;
  /** The status the client got; 0 when its socket was destroyed instead. */
  status: number;
  /** `Retry-After` sent with a fault's status, in seconds. */
  retryAfter?: number;
  userAgent?: string;
  contentEncoding?: string;
  batchId?: string;
  /** Entries in the body's `logs`. */
  entries?: number;
  /** Which fault decided the answer: `down`, `status`, `drop_after_store`, `delay`, or none (forwarded as is). */
  fault?: Fault['kind'];
  /** What went wrong reading or forwarding, if anything. */
  error?: string;
}

/** Reads the batch id and entry count of a body (gzip-aware); an unparsable body gives neither. */
function describeBody(body: Buffer, encoding: string | undefined): { batchId?: string; entries?: number; error?: string } {
  try {
    const raw = encoding === 'gzip' ? gunzipSync(body) : body;
    const parsed = JSON.parse(raw.toString('utf8')) as { batch_id?: unknown; logs?: unknown };
    return {
      batchId: typeof parsed.batch_id === 'string' ? parsed.batch_id : undefined,
      entries: Array.isArray(parsed.logs) ? parsed.logs.length : undefined,
    };
  } catch (err) {
    return { error: `body: ${(err as Error).message}` };
  }
}

const ERROR_CODES: Record<number, string> = { 400: 'invalid_entry', 429: 'rate_limited', 503: 'unavailable' };

/** Headers not to copy from one hop to the next (the proxy sets its own framing). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade', 'te', 'trailer']);

/**
 * The proxy. `start()` listens on 127.0.0.1 (a free port); `arm(faults)` resets the request log
 * and the clock the faults count from, right before the program under test starts.
 */
export class Proxy {
  readonly requests: RecordedRequest[] = [];
  private server: http.Server;
  private faults: Fault[] = [];
  private t0 = performance.now();
  private count = 0;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly sockets = new Set<Socket>();

  constructor(private readonly target: string) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    // Idle kept-alive connections of the client stay open as long as the client wants.
    this.server.keepAliveTimeout = 60_000;
    this.server.headersTimeout = 65_000;
    this.server.requestTimeout = 0;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      if (this.isDown()) {
        const at = this.now();
        this.requests.push({ n: 0, at, answeredAt: at, method: '', path: '', status: 0, fault: 'down' });
        socket.destroy();
      }
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** The base URL to give the program (`SLUICE_URL`). */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  /** New faults, an empty request log, and the clock restarted: call right before the program starts. */
  arm(faults: Fault[]): void {
    this.faults = faults;
    this.requests.length = 0;
    this.count = 0;
    this.t0 = performance.now();
  }

  /** Milliseconds since {@link arm}. */
  now(): number {
    return performance.now() - this.t0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private isDown(): boolean {
    const t = this.now();
    return this.faults.some((f) => f.kind === 'down' && t < f.for_ms);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const at = this.now();
    const rec: RecordedRequest = {
      n: 0,
      at,
      answeredAt: at,
      method: req.method ?? '',
      path: req.url ?? '',
      status: 0,
      userAgent: req.headers['user-agent'],
      contentEncoding: req.headers['content-encoding'],
    };
    this.requests.push(rec);
    const cut = (fault: Fault['kind'] | undefined, error?: string) => {
      rec.answeredAt = this.now();
      rec.status = 0;
      rec.fault = fault;
      if (error) rec.error = error;
      req.socket.destroy();
    };
    if (this.isDown()) return cut('down');
    rec.n = ++this.count;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err) => cut(undefined, `request: ${err.message}`));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      Object.assign(rec, describeBody(body, rec.contentEncoding));
      const n = rec.n;
      const status = this.faults.find(
        (f): f is Extract<Fault, { kind: 'status' }> =>
          f.kind === 'status' && (f.nth !== undefined ? f.nth === n : n <= (f.first ?? Infinity)),
      );
      if (status) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (status.retry_after !== undefined) {
          headers['retry-after'] = String(status.retry_after);
          rec.retryAfter = status.retry_after;
        }
        const code = ERROR_CODES[status.status] ?? 'fault';
        res.writeHead(status.status, headers);
        res.end(JSON.stringify({ error: code, message: `conformance proxy: injected ${status.status}` }));
        rec.status = status.status;
        rec.fault = 'status';
        rec.answeredAt = this.now();
        return;
      }
      const delay = this.faults.find(
        (f): f is Extract<Fault, { kind: 'delay' }> => f.kind === 'delay' && n <= (f.first ?? Infinity),
      );
      const drop = this.faults.some((f) => f.kind === 'drop_after_store' && f.nth === n);
      const forward = () => {
        if (req.socket.destroyed) return cut(delay ? 'delay' : undefined, 'client went away while held');
        this.forward(req, body, (err, upStatus, upHeaders, upBody) => {
          if (err) {
            // The gateway is not the thing under test: a 502 says the proxy could not reach it.
            rec.error = `upstream: ${err.message}`;
            rec.status = 502;
            rec.answeredAt = this.now();
            if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: 'bad_gateway', message: 'conformance proxy: gateway unreachable' }));
            return;
          }
          if (drop && upStatus >= 200 && upStatus < 300) return cut('drop_after_store');
          const headers: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(upHeaders)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
          headers['content-length'] = String(upBody.length);
          res.writeHead(upStatus, headers);
          res.end(upBody);
          rec.status = upStatus;
          rec.fault = delay ? 'delay' : undefined;
          rec.answeredAt = this.now();
        });
      };
      if (delay) setTimeout(forward, delay.ms);
      else forward();
    });
  }

  private forward(
    req: http.IncomingMessage,
    body: Buffer,
    done: (err: Error | null, status: number, headers: http.IncomingHttpHeaders, body: Buffer) => void,
  ): void {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'host') headers[k] = v;
    headers['content-length'] = body.length;
    const up = http.request(`${this.target}${req.url ?? '/'}`, { method: req.method, headers, agent: this.agent }, (upRes) => {
      const parts: Buffer[] = [];
      upRes.on('data', (c: Buffer) => parts.push(c));
      upRes.on('end', () => done(null, upRes.statusCode ?? 0, upRes.headers, Buffer.concat(parts)));
      upRes.on('error', (err) => done(err, 0, {}, Buffer.alloc(0)));
    });
    up.on('error', (err) => done(err, 0, {}, Buffer.alloc(0)));
    up.end(body);
  }
}

/** Starts a proxy in front of `target` (the gateway's base URL). */
export function startProxy(target: string): Promise<Proxy> {
  return new Proxy(target).start();
}
