/**
 * The syslog inputs of a gateway: the plain TCP listener (`SYSLOG_TCP_PORT`) and the TLS one
 * (`SYSLOG_TLS_PORT` with `SYSLOG_TLS_CERT`/`SYSLOG_TLS_KEY`), each started only when its port
 * is configured. gateway.ts starts them; shutdown stops them (main.ts).
 */
import { readFileSync } from 'node:fs';
import { Gauge } from 'prom-client';
import type { GatewayDeps } from '../../deps.js';
import { timedStore } from '../../ops/metrics.js';
import { startSyslogListener, type SyslogListener } from './listener.js';

export { startSyslogListener, type SyslogListener } from './listener.js';

/** The listeners that run, and their common controls. */
export interface SyslogInputs {
  listeners: SyslogListener[];
  /** Resolves once every listener listens, with the ports by kind (`tcp`, `tls`). */
  listening: Promise<Record<string, number>>;
  /** Stops accepting connections (shutdown, phase 1). */
  stopAccepting(): void;
  /** Stops reading, stores every pending batch, closes the connections (before the store closes). */
  close(): Promise<void>;
}

/**
 * Starts the configured syslog listeners on `host`, or returns undefined when none is
 * configured (or the process has no `ingest` role, or ingest is disabled: senders then see
 * refused connections and keep their queues). Reads the TLS PEM files now: a bad path fails start.
 */
export function startSyslogInputs(deps: GatewayDeps, host: string): SyslogInputs | undefined {
  const { config } = deps;
  const { tcp, tls } = config.syslog;
  if ((!tcp && !tls) || !config.roles.ingest || config.ingestDisabled) return undefined;
  const limits = config.syslog;
  const store = deps.metrics ? timedStore(deps.store, deps.metrics) : deps.store;
  const listeners: SyslogListener[] = [];
  if (tcp) listeners.push(startSyslogListener({ deps, kind: 'tcp', host, port: tcp.port, boundApp: tcp.app, limits, store }));
  if (tls) {
    const pem = { cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) };
    listeners.push(startSyslogListener({ deps, kind: 'tls', host, port: tls.port, boundApp: tls.app, limits, store, tls: pem }));
  }
  if (deps.metrics) {
    new Gauge({
      name: 'sluice_syslog_connections',
      help: 'Open syslog TCP/TLS connections, by listener.',
      labelNames: ['listener'] as const,
      registers: [deps.metrics.registry],
      collect() {
        for (const l of listeners) this.set({ listener: l.kind }, l.connections());
      },
    });
  }
  return {
    listeners,
    listening: Promise.all(listeners.map(async (l) => [l.kind, await l.listening] as const)).then(Object.fromEntries),
    stopAccepting: () => listeners.forEach((l) => l.stopAccepting()),
    close: async () => {
      await Promise.all(listeners.map((l) => l.close()));
    },
  };
}
