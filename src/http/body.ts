import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { Context } from 'hono';
import { GatewayError } from '../errors.js';
import { requestHeader } from './header.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);

/** Limits applied while reading a request body. */
export interface BodyLimits {
  /** Bytes as sent on the wire (compressed or not). Over it: 413. */
  maxBodyBytes: number;
  /** Bytes after inflating gzip/deflate. Over it: 413 (a gzip bomb stops here). */
  maxInflatedBytes: number;
}

/**
 * Reads the whole request body into one Buffer, enforcing the size limit while reading (not
 * after), then undoes `Content-Encoding: gzip | deflate`.
 *
 * On the Node server it reads the socket stream directly (no Web Stream in between: this is
 * the ingest hot path); under `app.request()` in tests it reads the Web Request body.
 */
export async function readBody(c: Context, limits: BodyLimits): Promise<Buffer> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) return readIncomingBody(incoming, limits);
  const declared = requestHeader(c, 'content-length');
  if (declared !== undefined && Number(declared) > limits.maxBodyBytes) {
    throw tooLarge(`body of ${declared} bytes is over the limit of ${limits.maxBodyBytes}`);
  }
  const raw = await readWebBody(c, limits.maxBodyBytes);
  return decodeContent(raw, requestHeader(c, 'content-encoding'), limits.maxInflatedBytes);
}

/** {@link readBody} of a Node request (the raw ingest routes, src/http/fast-routes.ts). */
export async function readIncomingBody(incoming: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const declared = incoming.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxBodyBytes) {
    throw tooLarge(`body of ${declared} bytes is over the limit of ${limits.maxBodyBytes}`);
  }
  const raw = await readNodeStream(incoming, limits.maxBodyBytes);
  return decodeContent(raw, incoming.headers['content-encoding'], limits.maxInflatedBytes);
}

function tooLarge(message: string): GatewayError {
  return new GatewayError('body_too_large', 413, message);
}

function readNodeStream(stream: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > max) {
        failed = true;
        chunks.length = 0;
        // Keep draining without storing, so the 413 can still be written on this connection.
        reject(tooLarge(`body is over the limit of ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => {
      if (!failed) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    stream.on('error', (err) => {
      if (!failed) reject(new GatewayError('body_read_failed', 400, `could not read the body: ${err.message}`));
    });
  });
}

async function readWebBody(c: Context, max: number): Promise<Buffer> {
  const body = c.req.raw.body;
  if (!body) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`body is over the limit of ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/** Gzip bodies up to this size (compressed) are inflated synchronously. */
const SYNC_INFLATE_MAX_INPUT = 64 * 1024;
/** The most a synchronous inflate may produce (about 1 ms of the event loop). */
const SYNC_INFLATE_MAX_OUTPUT = 1024 * 1024;

/** Undoes a Content-Encoding, capping the inflated size. */
export async function decodeContent(raw: Buffer, encoding: string | undefined, maxInflated: number): Promise<Buffer> {
  const enc = encoding?.trim().toLowerCase();
  if (!enc || enc === 'identity') return raw;
  const opts = { maxOutputLength: maxInflated };
  try {
    if (enc === 'gzip' || enc === 'x-gzip') {
      // A small body inflates on the event loop: the thread-pool round trip of async zlib cost
      // more than the inflating (a client library's 100-entry batch is ~5 kB gzipped). The sync
      // attempt is capped at SYNC_INFLATE_MAX_OUTPUT, so a small bomb cannot hold the loop; one
      // that reaches the cap is inflated again off the loop against the real limit.
      if (raw.length <= SYNC_INFLATE_MAX_INPUT) {
        try {
          return zlib.gunzipSync(raw, { maxOutputLength: Math.min(maxInflated, SYNC_INFLATE_MAX_OUTPUT) });
        } catch (err) {
          if (!isTooLarge(err) || maxInflated <= SYNC_INFLATE_MAX_OUTPUT) throw err;
        }
      }
      return await gunzip(raw, opts);
    }
    if (enc === 'deflate') {
      // HTTP "deflate" is zlib-wrapped (RFC 9110 §8.4.1.2), but some senders send raw deflate.
      try {
        return await inflate(raw, opts);
      } catch (err) {
        if (isTooLarge(err)) throw err;
        return await inflateRaw(raw, opts);
      }
    }
  } catch (err) {
    if (isTooLarge(err)) throw tooLarge(`body inflates past the limit of ${maxInflated} bytes`);
    throw new GatewayError('bad_encoding', 400, `body does not inflate as ${enc}`);
  }
  throw new GatewayError('unsupported_encoding', 415, `Content-Encoding ${enc} is not supported (gzip, deflate)`);
}

function isTooLarge(err: unknown): boolean {
  return (err as { code?: string })?.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError;
}

/** The media type of a request, lower-cased, without parameters; '' when absent. */
export function mediaType(c: Context): string {
  return mediaTypeOf(requestHeader(c, 'content-type'));
}

/** {@link mediaType} of a `Content-Type` value. */
export function mediaTypeOf(ct: string | undefined): string {
  if (!ct) return '';
  const semi = ct.indexOf(';');
  return (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase();
}
