/**
 * What every WebSocket of the page to `GET /ws` shares: the subprotocols that carry the token at
 * the upgrade, and the reconnect backoff.
 */

/** The subprotocol the gateway answers; `sluice.token.<token>` carries the token and is never answered. */
export const WS_PROTOCOL = 'sluice.v1';
const TOKEN_PROTOCOL_PREFIX = 'sluice.token.';
/** A subprotocol is an RFC 7230 token (RFC 6455 §4.1): read tokens (`r.<uuid>`) always are. */
const SUBPROTOCOL_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The subprotocols to offer for `token`: `sluice.v1` and `sluice.token.<token>`, or `sluice.v1`
 * alone when the token has characters a subprotocol cannot hold (an `ADMIN_TOKEN` may), where
 * `new WebSocket` would throw: the `subscribe` message then authenticates.
 */
export function upgradeProtocols(token: string): string[] {
  return token && SUBPROTOCOL_CHARS.test(token) ? [WS_PROTOCOL, TOKEN_PROTOCOL_PREFIX + token] : [WS_PROTOCOL];
}

/** Waits before the 1st, 2nd, … reconnect (the last one repeats). */
export const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 5000];

/** `ws:` or `wss:` URL of `GET /ws` on this page's gateway. */
export function wsUrl(): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}
