import { GatewayError } from '../errors.js';

/** Seconds a client refused for too many live connections is told to wait. */
const RETRY_AFTER_SEC = 5;

/**
 * Open live connections (WebSockets, SSE streams, Logplex session streams) per client address
 * (env `MAX_CONNECTIONS_PER_ADDRESS`; 0 = unlimited), so one address cannot take every slot of
 * the process. Addresses come from `src/http/client-address.ts`. Only addresses with open
 * connections are kept, so memory follows the connections.
 */
export class AddressSlots {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Open connections of `address`. */
  count(address: string): number {
    return this.open.get(address) ?? 0;
  }

  /** True when `address` may open one more. */
  available(address: string): boolean {
    return this.max === 0 || this.count(address) < this.max;
  }

  /**
   * Takes a slot for `address`: its release (idempotent; call it when the connection ends), or
   * null when the address has `max` open already.
   */
  acquire(address: string): (() => void) | null {
    if (!this.available(address)) return null;
    this.open.set(address, this.count(address) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = this.count(address) - 1;
      if (n > 0) this.open.set(address, n);
      else this.open.delete(address);
    };
  }

  /** Like {@link acquire}, but throws 503 `too_many_connections` (with Retry-After) instead of null. */
  take(address: string): () => void {
    const release = this.acquire(address);
    if (!release) throw tooManyConnections(this.max);
    return release;
  }
}

/** 503 `too_many_connections` for an address at its limit. */
export function tooManyConnections(max: number): GatewayError {
  return new GatewayError(
    'too_many_connections',
    503,
    `this address has ${max} live connections open (MAX_CONNECTIONS_PER_ADDRESS); close one or retry later`,
    { 'Retry-After': String(RETRY_AFTER_SEC) },
  );
}
