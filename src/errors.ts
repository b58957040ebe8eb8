/**
 * The one error type of the gateway. Routes and stages throw it; `app.onError` maps it to
 * `{ "error": code, "message": text }` with its status, in one place.
 *
 * @example
 * throw new GatewayError('msg_count_mismatch', 400, 'Logplex-Msg-Count says 3, body holds 2');
 */
export class GatewayError extends Error {
  /** Extra response headers (Retry-After, WWW-Authenticate, ...). */
  readonly headers: Record<string, string>;

  constructor(
    /** Stable machine-readable code, documented in protocol/README.md. */
    readonly code: string,
    /** HTTP status. */
    readonly status: number,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.headers = headers;
  }
}

/** The store could not confirm a write or read: 503, and the client should retry. */
export function storeUnavailable(detail: string, retryAfterSec = 5): GatewayError {
  return new GatewayError('store_unavailable', 503, `store unavailable: ${detail}`, {
    'Retry-After': String(retryAfterSec),
  });
}
