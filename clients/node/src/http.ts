/** The HTTP transport: one JSON batch to `POST /api/logs`, gzip above 1 KiB. */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { parseRetryAfter } from './backoff.js';

const gzip = promisify(gzipCb);

export const GZIP_ABOVE_BYTES = 1024;

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

export class HttpTransport implements Transport {
  private readonly url: string;
  constructor(private readonly opts: HttpTransportOptions) {
    this.url = ingestUrl(opts.endpoint);
  }

  async send(batchId: string, serializedEntries: string[]): Promise<SendResult> {
    const json = `{"batch_id":${JSON.stringify(batchId)},"logs":[${serializedEntries.join(',')}]}`;
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': this.opts.userAgent,
    };
    if (this.opts.apiKey) headers.Authorization = `Bearer ${this.opts.apiKey}`;
    let body: string | Uint8Array = json;
    if (Buffer.byteLength(json) > GZIP_ABOVE_BYTES) {
      body = new Uint8Array(await gzip(json));
      headers['Content-Encoding'] = 'gzip';
    }
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (err) {
      // Connection refused/reset, DNS, timeout: all worth another try.
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err));
      return { ok: false, retryable: true, error: why };
    }
    let text = '';
    try {
      text = await res.text();
    } catch {
      // The body broke off: the status still tells what happened.
    }
    if (res.ok) {
      let duplicate = false;
      try {
        duplicate = (JSON.parse(text) as { duplicate?: boolean }).duplicate === true;
      } catch {
        // A 2xx without a JSON body is still a delivery.
      }
      return { ok: true, status: res.status, duplicate };
    }
    let error = `HTTP ${res.status}`;
    try {
      const b = JSON.parse(text) as { error?: string; message?: string };
      if (b.error) error += ` ${b.error}`;
      if (b.message) error += `: ${b.message}`;
    } catch {
      // no JSON error body
    }
    return {
      ok: false,
      retryable: isRetryableStatus(res.status),
      status: res.status,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
      error,
    };
  }
}
