/** Picks the transport a logger sends through: `http` (default), `websocket`, or one given. */
import { HttpTransport, type Transport } from './http.js';
import { WebSocketTransport } from './ws.js';

/** What every built-in transport is made from (the logger's resolved options). */
export interface TransportSettings {
  endpoint: string;
  apiKey?: string;
  /** The logger's `serviceName` (the WebSocket `auth` message names it). */
  appId?: string;
  timeoutMs: number;
  userAgent: string;
}

/**
 * The transport for a logger's `transport` option (or `SLUICE_TRANSPORT`): `http` or nothing →
 * {@link HttpTransport}, `websocket` or `ws` → {@link WebSocketTransport}, an object → itself.
 * Throws for any other name, so a typo fails at construction instead of losing every entry.
 */
export function createTransport(choice: 'http' | 'websocket' | Transport | string | undefined, settings: TransportSettings): Transport {
  if (choice && typeof choice === 'object') return choice;
  switch (choice) {
    case undefined:
    case '':
    case 'http':
      return new HttpTransport(settings);
    case 'websocket':
    case 'ws':
      return new WebSocketTransport(settings);
    default:
      throw new Error(`unknown transport ${JSON.stringify(choice)} (http or websocket)`);
  }
}
