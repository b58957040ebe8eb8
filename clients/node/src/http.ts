/**
 * The HTTP transport: one JSON batch to `POST /api/logs`, gzip above 1 KiB, over one keep-alive
 * connection of `node:http`/`node:https` (cheaper per request than `fetch`; no dependency).
 */
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCb, gzipSync } from 'node:zlib';
import { parseRetryAfter } from './backoff.js';

const gzip = promisify(gzipCb);

export const GZIP_ABOVE_BYTES = 1024;
/**
 * zlib level 1: on batches of log entries it is 2–3× faster than the default level 6 for a body
 * about 5 % larger (8.1× against 8.5× smaller than the JSON, 100 entries; 8.8× against 9.3×,
 * 1000): entries repeat their keys, which the fast level finds too.
 */
export const GZIP_LEVEL = 1;
/**
 * Bodies up to this size are gzipped on the main thread. zlib's async path costs more main-thread
 * time than it saves below it (stream set-up, two native writes, the callback hop: ~115 µs of
 * main-thread CPU and ~170 µs wall for a 30 kB batch of 100, against ~70 µs for `gzipSync`);
 * larger bodies (batches of 1000) go to the thread pool so a log call never waits a millisecond.
 */
export const GZIP_SYNC_MAX_BYTES = 64 * 1024;

/** What one send attempt came to. */
export type SendResult =
  | { ok: true; status: number; duplicate: boolean }
  | { ok: false; retryable: boolean; status?: number; retryAfterMs?: number; error: string };

/**
 * How batches reach the gateway. `send` is called with one batch at a time (the next only after
 * the previous settled), so a transport keeps the logger's order without reordering logic.
 */
export interface Transport {
  send(batchId: string, serializedEntries: string[]): Promise<SendResult>;
  /**
   * Optional: the batch likely to be sent next, given while another is on the wire, so that
   * its encoding overlaps the wait. Only a hint: `send` may come with another batch (then this
   * one is discarded), and must work without it.
   */
  prepare?(batchId: string, serializedEntries: string[]): void;
  /** Releases connections once the logger stopped (the WebSocket transport closes its socket). */
  close?(): Promise<void>;
}

/** `http://host:9000`, `http://host:9000/` and `http://host:9000/api/logs` all give the ingest URL. */
export function ingestUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return /\/api\/logs$/.test(trimmed) ? trimmed : `${trimmed}/api/logs`;
}

/** Statuses worth trying again: timeouts, rate limits and server errors. Other 4xx are permanent. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export interface HttpTransportOptions {
  endpoint: string;
  apiKey?: string;
  timeoutMs: number;
  userAgent: string;
}

/** A batch body ready to go: plain JSON, or gzip when over {@link GZIP_ABOVE_BYTES}. */
interface Encoded {
  batchId: string;
  count: number;
  body: Promise<{ bytes: Buffer; gzip: boolean }>;
}

/** What came back: the status, Retry-After, and the body (possibly cut short). */
interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: Buffer;
}

class RequestTimeout extends Error {
  constructor() {
    super('timeout');
    this.name = 'TimeoutError';
  }
}

export class HttpTransport implements Transport {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly baseHeaders: Record<string, string>;
  /** The batch being sent (kept for its retries: the same bytes again) and the one prepared next. */
  private current: Encoded | null = null;
  private next: Encoded | null = null;

  constructor(private readonly opts: HttpTransportOptions) {
    this.url = new URL(ingestUrl(opts.endpoint));
    const secure = this.url.protocol === 'https:';
    // One batch is in flight at a time: one connection, kept alive between batches. Idle
    // sockets close after 5 s (as Node's global agent), well before servers drop them (Sluice: 65 s).
    const agentOptions = { keepAlive: true, maxSockets: 1, scheduling: 'lifo' as const, timeout: 5_000 };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.request = secure ? https.request : http.request;
    // return=minimal: the gateway then answers the count, not the stored entries (only the status is read).
    this.baseHeaders = { 'Content-Type': 'application/json', 'User-Agent': opts.userAgent, Prefer: 'return=minimal' };
    if (opts.apiKey) this.baseHeaders.Authorization = `Bearer ${opts.apiKey}`;
  }

  prepare(batchId: string, serializedEntries: string[]): void {
    this.next = encode(batchId, serializedEntries);
  }

  async send(batchId: string, serializedEntries: string[]): Promise<SendResult> {
    const n = serializedEntries.length;
    if (this.next && this.next.batchId === batchId && this.next.count === n) {
      this.current = this.next;
      this.next = null;
    } else if (!this.current || this.current.batchId !== batchId || this.current.count !== n) {
      this.current = encode(batchId, serializedEntries);
    }
    const { bytes, gzip: gzipped } = await this.current.body;
    const headers: Record<string, string> = { ...this.baseHeaders, 'Content-Length': String(bytes.length) };
    if (gzipped) headers['Content-Encoding'] = 'gzip';

    let answer: Answer;
    try {
      answer = await this.post(headers, bytes);
    } catch (err) {
      // Connection refused/reset, DNS, timeout: all worth another try.
      const e = err as NodeJS.ErrnoException;
      const why = e.name === 'TimeoutError' ? 'timeout' : (e.code ?? e.message ?? String(err));
      return { ok: false, retryable: true, error: why };
    }
    const { status } = answer;
    if (status >= 200 && status < 300) {
      // 201 is a first store; a repeated batch_id is answered 200 `duplicate: true`. The 201
      // body echoes every stored entry: not worth parsing.
      let duplicate = false;
      if (status !== 201) {
        try {
          duplicate = (JSON.parse(answer.body.toString('utf8')) as { duplicate?: boolean }).duplicate === true;
        } catch {
          // A 2xx without a JSON body is still a delivery.
        }
      }
      return { ok: true, status, duplicate };
    }
    let error = `HTTP ${status}`;
    try {
      const b = JSON.parse(answer.body.toString('utf8')) as { error?: string; message?: string };
      if (b.error) error += ` ${b.error}`;
      if (b.message) error += `: ${b.message}`;
    } catch {
      // no JSON error body
    }
    return {
      ok: false,
      retryable: isRetryableStatus(status),
      status,
      retryAfterMs: parseRetryAfter(answer.retryAfter),
      error,
    };
  }

  async close(): Promise<void> {
    this.current = this.next = null;
    this.agent.destroy();
  }

  /** One POST; rejects on a connection error or after `timeoutMs` (the whole exchange, body included). */
  private post(headers: Record<string, string>, body: Buffer): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const req = this.request(this.url, { method: 'POST', headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        const done = () =>
          finish(() => {
            const ra = res.headers['retry-after'];
            // The body broke off (close before end): the status still tells what happened.
            resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(ra) ? ra[0] : ra, body: Buffer.concat(chunks) });
          });
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      });
      const timer = setTimeout(() => req.destroy(new RequestTimeout()), this.opts.timeoutMs);
      req.on('error', (err) => finish(() => reject(err)));
      req.end(body);
    });
  }
}

/**
 * `{ batch_id, logs }` as bytes, gzip-compressed when over 1 KiB (in the thread pool when over
 * {@link GZIP_SYNC_MAX_BYTES}). Never rejects: a failed compression sends the plain JSON.
 */
function encode(batchId: string, serializedEntries: string[]): Encoded {
  const json = `{"batch_id":${JSON.stringify(batchId)},"logs":[${serializedEntries.join(',')}]}`;
  const plain = Buffer.from(json);
  const count = serializedEntries.length;
  if (plain.length <= GZIP_ABOVE_BYTES) return { batchId, count, body: Promise.resolve({ bytes: plain, gzip: false }) };
  if (plain.length <= GZIP_SYNC_MAX_BYTES) {
    let bytes: Buffer;
    try {
      bytes = gzipSync(plain, { level: GZIP_LEVEL });
    } catch {
      return { batchId, count, body: Promise.resolve({ bytes: plain, gzip: false }) };
    }
    return { batchId, count, body: Promise.resolve({ bytes, gzip: true }) };
  }
  const body = gzip(plain, { level: GZIP_LEVEL }).then(
    (bytes) => ({ bytes, gzip: true }),
    () => ({ bytes: plain, gzip: false }),
  );
  return { batchId, count, body };
}
