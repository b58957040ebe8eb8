/**
 * Syslog over TCP (RFC 6587) and TLS (RFC 5425) listeners: frames from the stream framer,
 * decoded by the existing RFC 5424 (full STRUCTURED-DATA) / RFC 3164 decoders, normalised by
 * `syslogToEntry`, stored in batches. The listener's behaviour is specified in
 * protocol/README.md ("Syslog over TCP and TLS").
 *
 * A batch is a run of frames of one app, either all without a token (the bound app) or all with
 * one; its entries get one ULID run and are built when it is stored. To a store that keeps bytes
 * (Redis), a run without tokens goes as a `SyslogBatch`, as `POST /drain` sends one: its frames
 * octet-counted (raw-batch.ts) and the parsed records. A run with tokens (STRUCTURED-DATA `token`,
 * or a token as APP-NAME) goes as entries, since its bytes hold the secret (as `POST /logs` does).
 * The memory store gets entries in every case: it would only build them from the records (with
 * the same `syslogToEntry` context), and packing bytes it never reads cost 12 % of the listener
 * (bench/README.md, "Syslog over TCP"). Every entry of a batch has the receive time of the
 * batch's first frame (`received_at`: at most {@link LINGER_MS} plus the batch's own reading
 * earlier than its frame's).
 *
 * Back-pressure: a connection is read only while fewer than {@link MAX_APPENDS_IN_FLIGHT}
 * batches of it are being stored (or waiting for the app's rate budget); otherwise its socket is
 * not read, the kernel buffers fill and TCP slows the sender. What a connection holds is thus
 * bounded: the batch being filled, the batches in flight, one partial frame.
 */
import net from 'node:net';
import tls from 'node:tls';
import { nowMicros } from '../../decode/timestamp.js';
import { parseSyslogFrame } from '../../decode/syslog.js';
import type { SyslogRecord } from '../../decode/types.js';
import type { GatewayDeps } from '../../deps.js';
import { resolveThrottled } from '../../http/auth.js';
import type { Entry } from '../../normalize/entry.js';
import { syslogToEntry, type SyslogEntryContext } from '../../normalize/from-syslog.js';
import { receivedAtDate } from '../../normalize/syslog-batch.js';
import { ulidAt, ulidRun } from '../../normalize/ulid.js';
import type { AppendRequest, Store } from '../../store/types.js';
import { packMessages } from './raw-batch.js';
import { FrameAppResolver, type AppOfFrame } from './resolve-app.js';
import { SyslogStreamFramer, type StreamFrame } from './stream-framer.js';

/** Most entries in one store append. */
export const MAX_BATCH_ENTRIES = 1000;
/** Most frame bytes in one store append. */
export const MAX_BATCH_BYTES = 1024 * 1024;
/** How long a batch that is not full waits for more frames before it is stored. */
export const LINGER_MS = 5;
/** Batches of one connection being stored at once; beyond, the socket is not read. */
export const MAX_APPENDS_IN_FLIGHT = 2;

/** Limits shared by both listeners (configuration `SYSLOG_*`). */
export interface SyslogLimits {
  /** Frames without a valid app (or not syslog at all) before the connection is closed. */
  maxBadFrames: number;
  /** A connection that sends nothing this long is closed. */
  idleTimeoutMs: number;
  /** Largest frame; bigger ones are skipped (and counted `too_large`). */
  maxFrameBytes: number;
  /** Open connections per listener; more are closed at once. */
  maxConnections: number;
}

/** Options of {@link startSyslogListener}. */
export interface SyslogListenerOptions {
  deps: Pick<GatewayDeps, 'config' | 'store' | 'apps' | 'rateLimiter' | 'logger' | 'authThrottle' | 'metrics'>;
  /** `tcp` (plain) or `tls`: the label of logs and metrics. */
  kind: 'tcp' | 'tls';
  host: string;
  port: number;
  /** PEM certificate chain and key: a TLS listener. */
  tls?: { cert: Buffer; key: Buffer };
  /** The app of frames that carry no token (`SYSLOG_TCP_APP`, `SYSLOG_TLS_APP`). */
  boundApp?: string;
  limits: SyslogLimits;
  /** The store appends go to (default `deps.store`; the gateway passes the timed one). */
  store?: Store;
}

/** A running listener. */
export interface SyslogListener {
  readonly kind: 'tcp' | 'tls';
  /** Resolves with the port once listening (port 0 picks a free one). */
  readonly listening: Promise<number>;
  /** Open connections. */
  connections(): number;
  /** Stops accepting connections (what shutdown does first). */
  stopAccepting(): void;
  /**
   * Stops accepting, stops reading every connection, stores what was already read (pending
   * batches), then closes the connections. Resolves once all of that is done.
   */
  close(): Promise<void>;
}

/** Frames taken and not yet stored: one app; see the module comment. */
export interface Batch {
  appId: string;
  /** `nowMicros()` when the first frame was read: every entry's `received_at`. */
  receivedAt: string;
  records: SyslogRecord[];
  /** The frames' MSGs (views on the chunks) when no frame had a token; undefined otherwise. */
  frames: StreamFrame[] | undefined;
  /** `source` in place of a token APP-NAME, by record (batches with tokens only). */
  overrides: (string | undefined)[];
  bytes: number;
}

/** Frames dropped for a reason that counts toward `maxBadFrames`. */
const BAD_REASONS = new Set(['no_token', 'bad_token', 'too_many_auth_failures', 'bad_length', 'bad_pri', 'bad_version', 'bad_header', 'bad_sd']);

/** Starts a syslog listener; see the module comment. */
export function startSyslogListener(opts: SyslogListenerOptions): SyslogListener {
  const { deps, kind, limits } = opts;
  const { logger, metrics } = deps;
  const store = opts.store ?? deps.store;
  const open = new Set<Connection>();
  let closing = false;

  const server = opts.tls ? tls.createServer({ cert: opts.tls.cert, key: opts.tls.key }) : net.createServer();
  const event = opts.tls ? 'secureConnection' : 'connection';
  server.on(event, (socket: net.Socket) => {
    if (closing || open.size >= limits.maxConnections) {
      metrics?.syslogClosed(kind, closing ? 'shutdown' : 'max_connections');
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, opts, store);
    open.add(conn);
    conn.done.finally(() => open.delete(conn));
  });
  // A failed TLS handshake (a plain-TCP sender, a bad client): its socket is gone, nothing to do.
  server.on('tlsClientError', () => metrics?.syslogClosed(kind, 'tls_handshake'));
  server.on('error', (err) => logger.error({ listener: kind, err: err.message }, 'syslog listener error'));

  const listening = new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const port = (server.address() as net.AddressInfo).port;
      logger.info({ listener: kind, host: opts.host, port, bound_app: opts.boundApp }, 'syslog listening');
      resolve(port);
    });
  });

  const stopAccepting = () => {
    if (closing) return;
    closing = true;
    server.close();
  };
  return {
    kind,
    listening,
    connections: () => open.size,
    stopAccepting,
    async close() {
      stopAccepting();
      await Promise.all([...open].map((c) => c.shutdown()));
    },
  };
}

/** One sender's connection: reads, frames, resolves, batches, stores, in the order sent. */
class Connection {
  readonly done: Promise<void>;
  private readonly framer: SyslogStreamFramer;
  private readonly resolver: FrameAppResolver;
  private batch: Batch | undefined;
  private bad = 0;
  /** The appends of this connection, one after the other (entries stay in stream order). */
  private chain: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private linger: NodeJS.Timeout | undefined;
  private stopped = false;
  private closeReason: string | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: SyslogListenerOptions,
    private readonly store: Store,
  ) {
    const { deps, limits } = opts;
    this.framer = new SyslogStreamFramer({ maxFrameBytes: limits.maxFrameBytes });
    const address = socket.remoteAddress ?? 'unknown';
    this.resolver = new FrameAppResolver((token) => resolveThrottled(deps, () => address, token), opts.boundApp);
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, () => this.stop('idle'));
    socket.on('error', () => {}); // resets are ordinary: the read loop ends
    this.done = this.run();
  }

  /** Shutdown: no more reading; what was read is stored; then the socket closes. */
  async shutdown(): Promise<void> {
    this.stop('shutdown');
    await this.done;
  }

  private stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closeReason = reason;
    this.opts.deps.metrics?.syslogClosed(this.opts.kind, reason);
    // Ends the read loop at once; what was read and batched is still stored (run()).
    this.socket.destroy();
  }

  private async run(): Promise<void> {
    try {
      for await (const chunk of this.socket as AsyncIterable<Buffer>) {
        if (this.stopped) break;
        const r = this.framer.push(chunk);
        this.countErrors(r.errors);
        await this.take(r.frames);
        if (this.stopped) break;
        if (this.batch !== undefined && this.linger === undefined) {
          this.linger = setTimeout(() => this.flush(), LINGER_MS);
        }
        // Back-pressure: the socket is not read while enough of this connection is being stored.
        while (this.inFlight >= MAX_APPENDS_IN_FLIGHT) await this.chain;
      }
      if (!this.stopped) {
        const r = this.framer.end();
        this.countErrors(r.errors);
        await this.take(r.frames);
      }
    } catch (err) {
      // A socket error (reset) ends the loop; anything else is a bug worth a line in the log.
      if (!(err as { code?: string }).code) this.opts.deps.logger.warn({ listener: this.opts.kind, err: (err as Error).message }, 'syslog connection failed');
    }
    if (this.closeReason !== 'store_unavailable') this.flush();
    await this.chain;
    this.socket.destroy();
  }

  private countErrors(errors: string[]): void {
    for (const e of errors) this.dropped(e, 1);
  }

  private dropped(reason: string, n: number): void {
    this.opts.deps.metrics?.syslogFrames(this.opts.kind, reason, n);
    if (BAD_REASONS.has(reason)) {
      this.bad += n;
      if (this.bad >= this.opts.limits.maxBadFrames) this.stop('bad_frames');
    }
  }

  /** Decodes and resolves frames into the batch, storing it whenever it is full. */
  private async take(frames: StreamFrame[]): Promise<void> {
    if (frames.length === 0) return;
    const receivedMicros = nowMicros();
    // The RFC 3164 year anchor as a store re-reading the bytes derives it (syslogBatchEntries).
    const receivedAt = receivedAtDate(receivedMicros);
    for (const f of frames) {
      if (this.stopped) return;
      const parsed = parseSyslogFrame(f.buf, f.start, f.end, 'input', receivedAt);
      if (!parsed.ok) {
        this.dropped(parsed.reason, 1);
        continue;
      }
      const rec = parsed.record;
      let app: AppOfFrame | Promise<AppOfFrame> = this.resolver.resolve(rec);
      if (app instanceof Promise) app = await app;
      if ('reason' in app) {
        this.dropped(app.reason, 1);
        continue;
      }
      const raw = app.bound === true;
      let b = this.batch;
      if (b !== undefined && (b.appId !== app.appId || (b.frames !== undefined) !== raw)) {
        // Another app, or tokens starting or stopping: the batch so far goes first.
        this.flush();
        while (this.inFlight >= MAX_APPENDS_IN_FLIGHT) await this.chain;
        b = undefined;
      }
      if (b === undefined) {
        b = { appId: app.appId, receivedAt: receivedMicros, records: [], frames: raw ? [] : undefined, overrides: [], bytes: 0 };
        this.batch = b;
      }
      b.records.push(rec);
      if (b.frames !== undefined) b.frames.push(f);
      else b.overrides.push(app.appNameOverride);
      b.bytes += f.end - f.start;
      if (b.records.length >= MAX_BATCH_ENTRIES || b.bytes >= MAX_BATCH_BYTES) {
        this.flush();
        while (this.inFlight >= MAX_APPENDS_IN_FLIGHT) await this.chain;
      }
    }
  }

  /** Hands the batch to the store, after this connection's earlier batches. */
  private flush(): void {
    if (this.linger !== undefined) {
      clearTimeout(this.linger);
      this.linger = undefined;
    }
    const batch = this.batch;
    if (batch === undefined) return;
    this.batch = undefined;
    this.inFlight++;
    this.chain = this.chain
      .then(() => this.append(batch))
      .finally(() => this.inFlight--);
  }

  private async append(batch: Batch): Promise<void> {
    const { deps, kind } = this.opts;
    const n = batch.records.length;
    if (this.closeReason === 'store_unavailable') {
      deps.metrics?.syslogFrames(kind, 'store_unavailable', n);
      return;
    }
    try {
      await this.chargeRate(batch.appId, n);
      await this.store.append(appendRequest(batch, this.store.kind !== 'memory'));
      deps.metrics?.syslogFrames(kind, 'stored', n);
    } catch (err) {
      // No reply channel: the sender learns it through the closed connection (rsyslog and
      // syslog-ng then reconnect and resend from their own queues).
      deps.metrics?.syslogFrames(kind, 'store_unavailable', n);
      deps.logger.warn({ listener: kind, entries: n, err: (err as Error).message }, 'syslog: store append failed; closing the connection');
      this.stop('store_unavailable');
    }
  }

  /**
   * Rate limits per app: over its budget, the batch waits (and with it the connection's reading:
   * TCP slows the sender) rather than being dropped; syslog has no way to ask for a resend.
   */
  private async chargeRate(appId: string, n: number): Promise<void> {
    for (;;) {
      const r = await this.opts.deps.rateLimiter.take(appId, n);
      if (r.ok) break;
      await new Promise((res) => setTimeout(res, Math.min(1000, r.retryAfterSec * 1000)));
    }
  }
}

/**
 * What a batch asks of the store (`keepsBytes`: a store that keeps a `SyslogBatch`'s frames); its
 * ids are drawn now, when it is stored, so they follow the order of the stream (the connection's
 * appends run one after the other).
 */
export function appendRequest(batch: Batch, keepsBytes: boolean): AppendRequest {
  const { appId, receivedAt, records } = batch;
  const count = records.length;
  const firstId = ulidRun(count);
  const frames = keepsBytes && batch.frames !== undefined ? packMessages(batch.frames) : null;
  if (frames !== null) return { syslog: { appId, mode: 'input', receivedAt, firstId, count, frames, records } };
  // A batch with tokens, or whose bytes would not read back as its frames, or for the memory
  // store: its entries, as syslogBatchEntries builds them.
  const ctx: SyslogEntryContext = { appId, receivedAt, id: firstId, appNameOverride: undefined };
  const entries: Entry[] = new Array(count);
  for (let i = 0; i < count; i++) {
    ctx.id = ulidAt(firstId, i);
    ctx.appNameOverride = batch.overrides[i];
    entries[i] = syslogToEntry(records[i]!, ctx);
  }
  return { entries };
}
