/**
 * The WebSocket transport: one connection to the gateway's `GET /logs` (protocol/README.md,
 * "WebSocket `GET /logs` (Upgrade): producers"), each batch one message answered by an `ack` or
 * an `error` carrying its `seq`. Compared with HTTP it saves a request per batch (headers, TLS
 * and gzip work) on a busy logger; the delivery guarantee is the same, because every batch
 * carries its `batch_id` and the gateway stores a repeated one once.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { SendResult, Transport } from './http.js';

/** How long {@link WebSocketTransport.close} waits for the gateway to answer the close before cutting. */
const CLOSE_GRACE_MS = 1_000;

export interface WebSocketTransportOptions {
  /** The gateway's base URL (http, https, ws or wss), or its `/api/logs` URL: see {@link wsUrl}. */
  endpoint: string;
  /** An ingest token (or the admin token), sent as `Authorization: Bearer` on the upgrade. */
  apiKey?: string;
  /** The logger's `serviceName`: named in an `auth` message when there is no token (demo mode). */
  appId?: string;
  /** Deadline of one send, connecting included. */
  timeoutMs: number;
  userAgent: string;
}

/**
 * The producer URL for an endpoint: `http(s)://host[:port][/prefix]` and its `/api/logs` form
 * give `ws(s)://host[:port][/prefix]/logs`; a `ws://` or `wss://` URL is used as given.
 *
 * @example
 * wsUrl('https://logs.example.com/sluice/api/logs') // 'wss://logs.example.com/sluice/logs'
 */
export function wsUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.protocol === 'ws:' || url.protocol === 'wss:') return endpoint;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`endpoint ${url.protocol} is not http, https, ws or wss`);
  }
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const base = url.pathname.replace(/\/+$/, '').replace(/\/api\/logs$/, '');
  url.pathname = `${base}/logs`;
  return url.toString();
}

/** An `error` code of the gateway → what it means for the batch (HTTP's status for the same refusal). */
const ERROR_CODES: Record<string, { status: number; retryable: boolean }> = {
  rate_limited: { status: 429, retryable: true },
  too_many_auth_failures: { status: 429, retryable: true },
  unavailable: { status: 503, retryable: true },
  store_unavailable: { status: 503, retryable: true },
  ingest_disabled: { status: 503, retryable: true },
  shutting_down: { status: 503, retryable: true },
  internal: { status: 500, retryable: true },
  invalid_message: { status: 400, retryable: false },
  invalid_entry: { status: 400, retryable: false },
  too_many_entries: { status: 413, retryable: false },
  unauthorized: { status: 401, retryable: false },
  forbidden: { status: 403, retryable: false },
  app_not_found: { status: 404, retryable: false },
};

type Failure = Extract<SendResult, { ok: false }>;

/** An `error` message of the gateway → the result of the batch it answers. */
function fromError(msg: { error?: unknown; message?: unknown; retry_after?: unknown }): Failure {
  const code = typeof msg.error === 'string' ? msg.error : 'error';
  const known = ERROR_CODES[code];
  const error = typeof msg.message === 'string' && msg.message ? `${code}: ${msg.message}` : code;
  // A code this client does not know is taken as a refusal: retrying it could loop forever.
  const result: Failure = { ok: false, retryable: known?.retryable ?? false, error };
  if (known) result.status = known.status;
  if (typeof msg.retry_after === 'number' && Number.isFinite(msg.retry_after) && msg.retry_after >= 0) {
    result.retryAfterMs = Math.round(msg.retry_after * 1000);
  }
  return result;
}

interface Waiter {
  resolve: (r: SendResult) => void;
}

/**
 * One socket's life: connect, the `seq` counter, the sends waiting for their answers, and what
 * the socket's end means for them. A new one is made for the first send after a drop.
 */
class Connection {
  readonly ws: WebSocket;
  readonly ready: Promise<SendResult | null>;
  closed = false;
  private seq = 0;
  private readonly waiters = new Map<number, Waiter>();
  private socket: Socket | undefined;
  private opened = false;
  /** An `error` without `seq` (a refused `auth`), which the close that follows is about. */
  private lastError: { error?: unknown; message?: unknown } | undefined;
  /** The upgrade was answered with HTTP instead (429/503 of the admission rules, a proxy's 404 …). */
  private refusal: SendResult | undefined;
  /** The network error the connection ended on (ECONNREFUSED, ECONNRESET, …). */
  private netError: string | undefined;
  /** What the end of the connection meant, for a send that comes after it. */
  private ended: SendResult | undefined;
  private settleReady!: (r: SendResult | null) => void;
  private readonly onClosed: Array<() => void> = [];

  constructor(url: string, opts: WebSocketTransportOptions, onGone: (c: Connection) => void) {
    this.ready = new Promise((r) => (this.settleReady = r));
    const headers: Record<string, string> = { 'User-Agent': opts.userAgent };
    if (opts.apiKey) headers.Authorization = `Bearer ${opts.apiKey}`;
    // closeTimeout is in ws 8.23 (the dependency) but not in @types/ws 8.18, hence the wider type.
    const options: WebSocket.ClientOptions & { closeTimeout: number } = {
      headers,
      // The gateway does not compress producer messages; not offering saves the negotiation.
      perMessageDeflate: false,
      // ws's own timer after a close is not unref'd: keep it short so it cannot hold the process.
      closeTimeout: CLOSE_GRACE_MS,
    };
    this.ws = new WebSocket(url, options);
    const ws = this.ws;
    ws.on('upgrade', (res) => {
      this.socket = res.socket as Socket;
    });
    ws.on('unexpected-response', (_req, res) => {
      // Its status and Retry-After say what to do, as on the HTTP transport.
      const status = res.statusCode ?? 0;
      const retryAfter = Number(res.headers['retry-after']);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      const done = () => {
        let error = `HTTP ${status}`;
        try {
          const b = JSON.parse(body) as { error?: string; message?: string };
          if (b.error) error += ` ${b.error}`;
          if (b.message) error += `: ${b.message}`;
        } catch {
          // no JSON body
        }
        this.refusal = {
          ok: false,
          retryable: status === 408 || status === 429 || status >= 500,
          status,
          error,
          ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
        };
        ws.terminate();
      };
      res.on('end', done);
      res.on('error', done);
    });
    ws.on('open', () => {
      this.opened = true;
      this.idle();
      // Demo mode (no token): the auth message names the app the entries default to. With a
      // token nothing is needed: the token names the app, and each entry's app_id is checked.
      if (!opts.apiKey && opts.appId) ws.send(JSON.stringify({ type: 'auth', app_id: opts.appId }));
      this.settleReady(null);
    });
    ws.on('message', (data) => this.onMessage(data));
    // Always followed by 'close', which settles what waits.
    ws.on('error', (err: Error & { code?: string }) => {
      this.netError ??= err.code ?? err.message;
    });
    ws.on('close', (code, reason) => {
      this.closed = true;
      onGone(this);
      const result = this.closeResult(code, reason.toString());
      this.ended = result;
      this.settleReady(result);
      const waiters = [...this.waiters.values()];
      this.waiters.clear();
      for (const w of waiters) w.resolve(result);
      for (const f of this.onClosed.splice(0)) f();
    });
  }

  /** Sends one batch; resolves with its answer (or with what ended the connection first). */
  send(batchId: string, body: string): Promise<SendResult> {
    // Closed between `open` and this send: its close already settled every waiter.
    if (this.ended) return Promise.resolve(this.ended);
    const seq = ++this.seq;
    // String concatenation of the already serialised entries: no parse, no re-stringify.
    const msg = `{"type":"logs","seq":${seq},"batch_id":${JSON.stringify(batchId)},"data":[${body}]}`;
    return new Promise<SendResult>((resolve) => {
      this.waiters.set(seq, { resolve });
      // While an answer is awaited the socket keeps the process alive, as a pending request does.
      this.socket?.ref();
      this.ws.send(msg, (err) => {
        // A failed write ends the connection too; its close settles the waiter.
        if (err) this.netError ??= (err as Error & { code?: string }).code ?? err.message;
      });
    }).finally(() => this.idle());
  }

  /** An idle connection does not keep the process alive: the app may end, and beforeExit stop the logger. */
  private idle(): void {
    if (this.waiters.size === 0) this.socket?.unref();
  }

  private onMessage(data: WebSocket.RawData): void {
    let msg: { type?: unknown; seq?: unknown; duplicate?: unknown; error?: unknown; message?: unknown; retry_after?: unknown };
    try {
      msg = JSON.parse(data.toString()) as typeof msg;
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.type !== 'ack' && msg.type !== 'error') return; // authenticated, pong
    if (typeof msg.seq !== 'number') {
      if (msg.type === 'error') this.lastError = msg;
      return;
    }
    const waiter = this.waiters.get(msg.seq);
    if (!waiter) return;
    this.waiters.delete(msg.seq);
    if (msg.type === 'error') return waiter.resolve(fromError(msg));
    // 201 as POST /api/logs answers a stored batch, 200 a batch_id already stored.
    const duplicate = msg.duplicate === true;
    waiter.resolve({ ok: true, status: duplicate ? 200 : 201, duplicate });
  }

  /** What the end of the connection means for a batch not answered yet. */
  private closeResult(code: number, reason: string): SendResult {
    if (this.refusal) return this.refusal;
    if (!this.opened) return { ok: false, retryable: true, error: this.netError ?? `connection closed (${code})` };
    const why = this.lastError ? fromError(this.lastError).error : reason || this.netError;
    const error = `connection closed (${code}${why ? `: ${why}` : ''})`;
    switch (code) {
      case 1008:
        // Policy: unauthorized or forbidden. The same batch on a new connection would be refused again.
        return { ok: false, retryable: false, status: this.lastError?.error === 'forbidden' ? 403 : 401, error };
      case 1009:
        // The message is over WS_INGEST_MAX_MESSAGE_BYTES: resending it cannot succeed.
        return { ok: false, retryable: false, status: 413, error };
      default:
        // 1012 restart, 1013 try again later, 1006 dropped, …: not acked, so resent (same
        // batch_id: stored once even if the gateway stored it before the connection died).
        return { ok: false, retryable: true, error };
    }
  }

  /** Closes with 1000 and resolves once closed (cut after a short grace). */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.onClosed.push(resolve);
      const cut = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
      cut.unref();
      this.onClosed.push(() => clearTimeout(cut));
      if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
      else this.ws.close(1000, 'client closing');
    });
  }
}

/**
 * Sends batches over one WebSocket to `GET /logs`, connecting on the first send and again on
 * the first send after the connection dropped (the logger's backoff paces reconnects).
 *
 * - A batch is `{"type":"logs","seq":n,"batch_id":…,"data":[…]}`; `seq` counts the
 *   messages of the connection. An `ack` is a delivery (`status` 201, or 200 with
 *   `duplicate: true` for a `batch_id` already stored).
 * - An `error` for the batch is retryable for `rate_limited` (after `retry_after`),
 *   `unavailable`, `ingest_disabled`; `invalid_entry`, `invalid_message`, `too_many_entries`,
 *   `forbidden`, `app_not_found` (and codes this client does not know) are permanent.
 * - The connection ending before the answer: close 1008 (bad token) and 1009 (message too
 *   large) are permanent; any other close, a network error and the per-send deadline
 *   (`timeoutMs`, which also cuts the socket) are retryable. The logger then resends the same
 *   `batch_id`, which the gateway stores once: nothing is lost and nothing is stored twice.
 * - The token goes as `Authorization: Bearer` on the upgrade, never in the URL. Without a token,
 *   an `auth` message names `appId` (anonymous producers of the local demo mode).
 * - An idle connection is unref'd: it never keeps the process alive by itself.
 */
export class WebSocketTransport implements Transport {
  /** The `GET /logs` URL this transport connects to. */
  readonly url: string;
  private conn: Connection | null = null;

  constructor(private readonly opts: WebSocketTransportOptions) {
    this.url = wsUrl(opts.endpoint);
  }

  async send(batchId: string, serializedEntries: string[]): Promise<SendResult> {
    const body = serializedEntries.join(',');
    let timer: NodeJS.Timeout | undefined;
    let conn: Connection | undefined;
    const deadline = new Promise<SendResult>((resolve) => {
      timer = setTimeout(() => {
        // The ack may still come, but this socket is dropped: the resend carries the same
        // batch_id, so the gateway stores the batch once either way.
        conn?.ws.terminate();
        resolve({ ok: false, retryable: true, error: 'timeout' });
      }, this.opts.timeoutMs);
      timer.unref();
    });
    const attempt = async (): Promise<SendResult> => {
      try {
        conn = this.connection();
      } catch (err) {
        return { ok: false, retryable: true, error: (err as Error).message };
      }
      const failed = await conn.ready;
      if (failed) return failed;
      return conn.send(batchId, body);
    };
    try {
      return await Promise.race([attempt(), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection cleanly (1000); a send still waiting resolves as retryable. */
  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    await conn?.close();
  }

  private connection(): Connection {
    // A connection closing (the gateway sent its close after an `unavailable`) takes no new batch.
    if (this.conn && !this.conn.closed && this.conn.ws.readyState <= WebSocket.OPEN) return this.conn;
    const conn = new Connection(this.url, this.opts, (c) => {
      if (this.conn === c) this.conn = null;
    });
    this.conn = conn;
    return conn;
  }
}
