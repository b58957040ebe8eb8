import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { admitUpgrade, refuseUpgrade, type UpgradeRouter } from '../http/upgrade.js';
import { ProducerRegistry, type ProducerSummary } from './ws-producers.js';
import { WsProducer } from './ws-producer.js';

/** The WebSocket ingest endpoint (`GET /logs` with Upgrade). */
export interface WsIngestEndpoint {
  /** Open ingest WebSockets. */
  connections(): number;
  /** Connected producers per app and User-Agent (`onlyApp`: one app's). */
  producers(onlyApp?: string): ProducerSummary;
  /** Whether producers without a token are accepted (WS_INGEST_ANONYMOUS, resolved). */
  readonly anonymous: boolean;
  /**
   * Shutdown: stops accepting and reading; each connection finishes the write in flight, sends
   * its acks and closes with 1012 (service restart). Resolves once all of them did; idempotent.
   */
  close(): Promise<void>;
}

/**
 * Whether WebSocket producers without a token are accepted: `WS_INGEST_ANONYMOUS=true|false`, or
 * (`auto`, the default) only in the local demo mode: no ADMIN_TOKEN, no config file, and a
 * loopback bind address, where everyone who can connect is on this machine.
 */
export function anonymousIngestAllowed(config: Config, hasConfigFile: boolean, host: string): boolean {
  if (config.wsIngest.anonymous !== 'auto') return config.wsIngest.anonymous === 'on';
  return localDemoMode(config, hasConfigFile, host);
}

/** The local demo mode: no ADMIN_TOKEN, no config file, and a loopback bind address. */
export function localDemoMode(config: Config, hasConfigFile: boolean, host: string): boolean {
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  return !config.adminToken && !hasConfigFile && loopback;
}

/**
 * `GET /logs` with Upgrade: the seed's WebSocket producer protocol (protocol/README.md,
 * "WebSocket ingest"). One {@link WsProducer} per connection does the protocol; this module
 * admits connections under the same rules as the live tail (src/fanout/websocket.ts): a pool of
 * at most `FANOUT_MAX_UNAUTHENTICATED` sockets not authenticated yet (beyond it, an upgrade that
 * carries no token is refused with 503), each closed after `FANOUT_AUTH_TIMEOUT_MS` unless it
 * authenticates; a client address's `MAX_CONNECTIONS_PER_ADDRESS` slots; the auth-failure
 * throttle. A flood of sockets that never authenticate can thus neither starve producers that
 * bring their token nor live-tail readers (their pools are apart). Anonymous producers (demo
 * mode) are accepted at once and are not in that pool.
 *
 * Pings go out every `FANOUT_HEARTBEAT_MS`; a producer that has not answered the previous one
 * is cut (proxies keep the connection open since it is never idle).
 */
export function attachWsIngest(upgrades: UpgradeRouter, deps: GatewayDeps, opts: { anonymous: boolean }): WsIngestEndpoint {
  const fanoutCfg = deps.config.fanout;
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: deps.config.wsIngest.maxMessageBytes,
    // A subprotocol is only answered when it is sluice.v1 (the token one never is).
    handleProtocols: (offered: Set<string>) => (offered.has('sluice.v1') ? 'sluice.v1' : false),
  });
  const registry = new ProducerRegistry();
  const conns = new Set<WsProducer>();
  const pending = new Set<WsProducer>();
  let closing = false;
  let closed: Promise<void> | undefined;

  const heartbeat = setInterval(() => {
    for (const c of conns) c.heartbeat();
  }, fanoutCfg.heartbeatMs);
  heartbeat.unref();

  upgrades.route('/logs', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (closing) {
      return refuseUpgrade(socket, new GatewayError('shutting_down', 503, 'the gateway is restarting; retry', { 'Retry-After': '1' }));
    }
    const admitted = admitUpgrade(req, socket, deps, {
      waiting: pending.size,
      tokenlessAllowed: opts.anonymous,
      hint: '?token=, Authorization: Bearer',
    });
    if (!admitted) return;
    const { token, address } = admitted;
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const conn = new WsProducer(ws, deps, {
        address,
        token,
        anonymous: opts.anonymous,
        userAgent: req.headers['user-agent'],
        registry,
        onAuthenticated: () => pending.delete(conn),
        onClose: () => {
          conns.delete(conn);
          pending.delete(conn);
        },
      });
      conns.add(conn);
      if (!conn.authenticated) pending.add(conn);
      conn.start();
    });
  });

  return {
    anonymous: opts.anonymous,
    connections: () => conns.size,
    producers: (onlyApp) => registry.summary(onlyApp),
    close: () =>
      (closed ??= (async () => {
        closing = true;
        clearInterval(heartbeat);
        await Promise.all([...conns].map((c) => c.shutdown()));
        wss.close();
      })()),
  };
}

