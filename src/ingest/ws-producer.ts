import type { RawData, WebSocket } from 'ws';
import type { TokenGrant } from '../apps/types.js';
import { nowMicros } from '../decode/timestamp.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { resolveThrottled } from '../http/auth.js';
import type { Entry } from '../normalize/entry.js';
import { classifyJsonPayload, jsonItemsToEntries } from '../normalize/from-json.js';
import type { ProducerRegistry } from './ws-producers.js';

/** The metrics route label of this input. */
const ROUTE = 'ws:/logs';
/** How long a socket closed by the server gets to answer the close before it is cut. */
const CLOSE_GRACE_MS = 1000;
const TEXT = { binary: false };

/** A client message received and not yet handled, in the order sent. */
type Op =
  | { kind: 'auth'; appId?: string; apiKey?: string; bytes: number }
  | { kind: 'entries'; type: 'log' | 'logs'; seq?: number; data: unknown; bytes: number; batchId?: string };

/** An entries message, validated and normalised, waiting for its append. */
interface Ready {
  op: Extract<Op, { kind: 'entries' }>;
  entries: Entry[];
  errors: { index: number; error: string }[];
  batchId?: string;
}

export interface WsProducerOptions {
  address: string;
  /** A token of the upgrade request (`?token=`, Bearer, `sluice.token.` subprotocol). */
  token: string | null;
  /** Producers without a token are accepted (demo mode). */
  anonymous: boolean;
  userAgent?: string;
  registry: ProducerRegistry;
  onAuthenticated: () => void;
  onClose: () => void;
}

/**
 * One producer connection of `GET /logs` (protocol/README.md, "WebSocket ingest"): messages are
 * handled strictly in the order received, one store append at a time. While an append is in
 * flight, `log`/`logs` messages queue up and go into the next append together (group commit: one
 * `log` message per entry still costs one store round trip per batch, not per entry); once the
 * queued messages reach `WS_INGEST_MAX_QUEUED_BYTES` the socket stops being read (`ws.pause()`),
 * so TCP pushes back on a producer faster than the store. A message with `seq` is answered `ack`
 * only once its entries are stored.
 */
export class WsProducer {
  private grant: TokenGrant | null = null;
  /** Demo mode without a token: entries go to the app they name (created on first use). */
  private anonymousOk = false;
  /** The app named by the `auth` message (default for entries without `app_id`). */
  private authApp: string | undefined;
  private readonly knownApps = new Set<string>();
  private readonly queue: Op[] = [];
  private queuedBytes = 0;
  private running = false;
  private closed = false;
  private stopping = false;
  private paused = false;
  private awaitingPong = false;
  private authTimer: NodeJS.Timeout | undefined;
  private idle: (() => void) | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: GatewayDeps,
    private readonly opts: WsProducerOptions,
  ) {
    this.anonymousOk = !opts.token && opts.anonymous;
  }

  /** Authenticated (or accepted anonymously): out of the unauthenticated pool. */
  get authenticated(): boolean {
    return this.grant !== null || this.anonymousOk;
  }

  start(): void {
    const { ws, opts } = this;
    opts.registry.add(this, opts.userAgent);
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('pong', () => (this.awaitingPong = false));
    // Over WS_INGEST_MAX_MESSAGE_BYTES ws closes with 1009 itself, then reports the error here.
    ws.on('error', () => this.closeSoon());
    ws.on('close', () => {
      this.closed = true;
      clearTimeout(this.authTimer);
      opts.registry.remove(this);
      this.queue.length = 0;
      opts.onClose();
      this.idle?.();
    });
    if (opts.token) {
      this.push({ kind: 'auth', apiKey: opts.token, bytes: 0 });
    } else if (!this.anonymousOk) {
      const ms = this.deps.config.fanout.authTimeoutMs;
      this.authTimer = setTimeout(() => {
        if (!this.authenticated) this.fail('unauthorized', `no auth message within ${ms} ms`, 1008);
      }, ms);
    }
  }

  /** Called every heartbeat: a producer that did not answer the previous ping is cut. */
  heartbeat(): void {
    if (this.closed) return;
    if (this.awaitingPong) return void this.ws.terminate();
    this.awaitingPong = true;
    this.ws.ping();
  }

  /** Stops reading; the append in flight completes and is acked; then close 1012. */
  shutdown(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.stopping = true;
    this.ws.pause();
    // Messages not started are neither stored nor acked: the producer resends them.
    this.queue.length = 0;
    this.queuedBytes = 0;
    return new Promise<void>((resolve) => {
      const done = () => {
        if (!this.closed) {
          this.ws.close(1012, 'service restart');
          this.closeSoon();
        }
        resolve();
      };
      if (!this.running) done();
      else this.idle = done;
    });
  }

  private send(msg: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg), TEXT);
  }

  private sendError(code: string, message: string, seq?: number, extra?: object): void {
    this.send(seq === undefined ? { type: 'error', error: code, message, ...extra } : { type: 'error', seq, error: code, message, ...extra });
  }

  /** Sends the error, closes with `closeCode` and drops whatever is queued (not acked). */
  private fail(code: string, message: string, closeCode: number, seq?: number): void {
    if (this.closed) return;
    this.sendError(code, message, seq);
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.stopping = true;
    this.ws.close(closeCode, code);
    this.closeSoon();
  }

  private closeSoon(): void {
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  private onMessage(data: RawData, _isBinary: boolean): void {
    if (this.stopping || this.closed) return;
    const bytes = (data as Buffer).length;
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse((data as Buffer).toString()) as Record<string, unknown>;
      if (!msg || typeof msg !== 'object' || Array.isArray(msg)) throw new Error('not an object');
    } catch {
      return this.sendError('invalid_message', 'messages are JSON objects with a "type"');
    }
    const seq = msg.seq;
    if (seq !== undefined && !(typeof seq === 'number' && Number.isSafeInteger(seq))) {
      return this.sendError('invalid_message', '"seq" is an integer');
    }
    switch (msg.type) {
      case 'ping':
        return this.send({ type: 'pong' });
      case 'auth': {
        const appId = typeof msg.app_id === 'string' && msg.app_id !== '' ? msg.app_id : undefined;
        const apiKey = typeof msg.api_key === 'string' && msg.api_key !== '' ? msg.api_key : undefined;
        return this.push({ kind: 'auth', appId, apiKey, bytes });
      }
      case 'log':
      case 'logs':
        if (msg.data === undefined) return this.sendError('invalid_message', `a ${msg.type} message has "data"`, seq);
        // A `logs` message may carry the batch's `batch_id` (its array has nowhere to hold one).
        if (msg.batch_id !== undefined && (typeof msg.batch_id !== 'string' || msg.batch_id === '' || msg.batch_id.length > 255)) {
          return this.sendError('invalid_message', '"batch_id" is a string of 1 to 255 characters', seq);
        }
        return this.push({ kind: 'entries', type: msg.type, seq, data: msg.data, bytes, batchId: msg.batch_id as string | undefined });
      default:
        return this.sendError('invalid_message', `unknown message type ${JSON.stringify(msg.type)}`, seq);
    }
  }

  private push(op: Op): void {
    this.queue.push(op);
    this.queuedBytes += op.bytes;
    if (!this.paused && this.queuedBytes >= this.deps.config.wsIngest.maxQueuedBytes) {
      this.paused = true;
      this.ws.pause();
    }
    if (!this.running) void this.pump();
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        if (this.queue[0]!.kind === 'auth') {
          const op = this.queue.shift()!;
          this.release(op.bytes);
          await this.authenticate(op as Extract<Op, { kind: 'auth' }>);
          continue;
        }
        // Every entries message queued up to the next auth (and the entries limit) goes in one go.
        const group: Extract<Op, { kind: 'entries' }>[] = [];
        let bytes = 0;
        while (this.queue.length > 0 && this.queue[0]!.kind === 'entries' && group.length < this.deps.config.maxJsonEntries) {
          const op = this.queue.shift() as Extract<Op, { kind: 'entries' }>;
          group.push(op);
          bytes += op.bytes;
        }
        await this.store(group);
        this.release(bytes);
      }
    } catch (err) {
      this.deps.logger.error({ err }, 'websocket ingest failed');
      this.fail('internal', 'the gateway failed on this connection', 1011);
    } finally {
      this.running = false;
      this.idle?.();
    }
  }

  private release(bytes: number): void {
    this.queuedBytes -= bytes;
    if (this.paused && !this.stopping && this.queuedBytes < this.deps.config.wsIngest.maxQueuedBytes / 2) {
      this.paused = false;
      this.ws.resume();
    }
  }

  private accepted(app: string | undefined): void {
    clearTimeout(this.authTimer);
    if (app) this.opts.registry.assign(this, app);
    this.opts.onAuthenticated();
    this.send({ type: 'authenticated', ...(app ? { app_id: app } : {}) });
  }

  private async authenticate(op: Extract<Op, { kind: 'auth' }>): Promise<void> {
    if (!op.apiKey) {
      if (this.grant) {
        // The token came with the upgrade: the auth message only names the app.
        if (op.appId && this.grant.kind === 'ingest' && op.appId !== this.grant.appId) {
          return this.fail('forbidden', `this token may not write app ${op.appId}`, 1008);
        }
        if (op.appId) this.authApp = op.appId;
        return this.accepted(this.grant.kind === 'ingest' ? this.grant.appId : op.appId);
      }
      if (!this.opts.anonymous) {
        return this.fail('unauthorized', 'an api_key (the app\'s ingest token) is required on this gateway', 1008);
      }
      this.anonymousOk = true;
      this.authApp = op.appId;
      return this.accepted(op.appId);
    }
    let grant: TokenGrant | null;
    try {
      grant = await resolveThrottled(this.deps, () => this.opts.address, op.apiKey);
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'too_many_auth_failures') return this.fail(err.code, err.message, 1013);
      throw err;
    }
    if (!grant) return this.fail('unauthorized', 'unknown api_key', 1008);
    if (grant.kind === 'read') return this.fail('forbidden', 'a read token may not write logs; use an ingest token', 1008);
    if (grant.kind === 'ingest' && op.appId && op.appId !== grant.appId) {
      return this.fail('forbidden', `this token may not write app ${op.appId}`, 1008);
    }
    this.grant = grant;
    this.anonymousOk = false;
    this.authApp = op.appId;
    this.accepted(grant.kind === 'ingest' ? grant.appId : op.appId);
  }

  /** Validates, rate-charges and stores a group of entries messages; acks each with a `seq`. */
  private async store(group: Extract<Op, { kind: 'entries' }>[]): Promise<void> {
    if (!this.authenticated) {
      return this.fail('unauthorized', 'send {"type":"auth","app_id":…,"api_key":…} first (api_key: the app\'s ingest token)', 1008, group[0]!.seq);
    }
    if (this.deps.config.ingestDisabled) return this.fail('ingest_disabled', 'ingest is disabled on this gateway', 1013, group[0]!.seq);
    const receivedAt = nowMicros();
    const ready: Ready[] = [];
    for (const op of group) {
      const r = await this.prepare(op, receivedAt);
      if (this.closed) return;
      if (r) ready.push(r);
    }
    await this.charge(ready);
    // One append for every message without batch_id; a batch_id is deduplicated like on POST /api/logs.
    let i = 0;
    while (i < ready.length && !this.closed) {
      let j = i;
      if (ready[i]!.batchId === undefined) while (j < ready.length && ready[j]!.batchId === undefined) j++;
      else j = i + 1;
      const segment = ready.slice(i, j).filter((r) => r.entries.length > 0);
      i = j;
      if (segment.length === 0) continue;
      const entries = segment.length === 1 ? segment[0]!.entries : segment.flatMap((r) => r.entries);
      const batchId = segment[0]!.batchId;
      let duplicate = false;
      try {
        const res = await this.deps.store.append({
          entries,
          dedupeKey: batchId ? `batch:${entries[0]!.app_id}:${batchId}` : undefined,
          dedupeTtlMs: this.deps.config.dedupeTtlMs,
        });
        duplicate = res.duplicate;
      } catch (err) {
        if (!(err instanceof GatewayError) || err.status !== 503) throw err;
        // Nothing of this segment was stored: every message with a seq hears so; the rest is resent.
        for (const r of segment) if (r.op.seq !== undefined) this.sendError('unavailable', err.message, r.op.seq);
        this.deps.metrics?.rejectedRequest(ROUTE, 'store_unavailable');
        return this.fail('unavailable', err.message, 1013);
      }
      if (duplicate) this.deps.metrics?.duplicate(ROUTE);
      else this.deps.metrics?.lines(ROUTE, 201, entries.length);
      // The acks of a group go out in one write (a `log` per entry makes one ack per entry).
      const raw = (this.ws as unknown as { _socket?: import('node:net').Socket })._socket;
      raw?.cork();
      process.nextTick(() => raw?.uncork());
      for (const r of segment) {
        if (r.op.seq === undefined) continue;
        const saved = duplicate ? 0 : r.entries.length;
        this.send({ type: 'ack', seq: r.op.seq, saved, ...(duplicate ? { duplicate: true } : {}), ...(r.errors.length ? { errors: r.errors } : {}) });
      }
    }
  }

  /** One message → entries, under the rules of POST /api/logs; null (and an `error`) when refused. */
  private async prepare(op: Extract<Op, { kind: 'entries' }>, receivedAt: string): Promise<Ready | null> {
    const { config } = this.deps;
    if (op.type === 'log' ? Array.isArray(op.data) : !Array.isArray(op.data)) {
      this.sendError('invalid_message', op.type === 'log' ? '"data" of a log message is one entry (an object)' : '"data" of a logs message is an array', op.seq);
      return null;
    }
    const classified = classifyJsonPayload(op.data);
    if ('error' in classified) {
      this.sendError('invalid_entry', classified.error, op.seq);
      return null;
    }
    const { items, targetAppIds, defaults } = classified;
    if (items.length > config.maxJsonEntries) {
      this.sendError('too_many_entries', `${items.length} entries is over the limit of ${config.maxJsonEntries} (MAX_JSON_ENTRIES)`, op.seq);
      return null;
    }
    const grant = this.grant;
    const appIds: string[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const target = targetAppIds[i];
      if (grant?.kind === 'ingest') {
        if (target !== undefined && target !== grant.appId) {
          this.sendError('forbidden', `this token may not write app ${target}`, op.seq);
          return null;
        }
        appIds[i] = grant.appId;
        continue;
      }
      const app = target ?? this.authApp;
      if (app === undefined) {
        this.sendError('invalid_entry', `app_id: required (entry ${i}), or name the app in the auth message`, op.seq);
        return null;
      }
      if (!this.knownApps.has(app)) {
        try {
          if (!(await this.deps.apps.get(app))) {
            if (!this.anonymousOk) {
              this.sendError('app_not_found', `no app ${app}`, op.seq);
              return null;
            }
            // Demo mode: the app is created on first use, so it shows in the dashboard's picker.
            await this.deps.apps.create(app).catch((err: unknown) => {
              if (!(err instanceof GatewayError) || err.code !== 'app_exists') throw err;
            });
            this.deps.logger.info({ app }, 'websocket ingest: created app for an anonymous producer');
          }
        } catch (err) {
          if (!(err instanceof GatewayError)) throw err;
          if (err.status === 503) {
            this.fail('unavailable', err.message, 1013, op.seq);
            return null;
          }
          this.sendError(err.code, err.message, op.seq);
          return null;
        }
        this.knownApps.add(app);
      }
      appIds[i] = app;
    }
    const entries: Entry[] = [];
    const errors: Ready['errors'] = [];
    const base = {
      receivedAt,
      userAgent: this.opts.userAgent || undefined,
      batchId: defaults.batchId,
      environment: defaults.environment,
      appKeyForm: defaults.appKeyForm,
    };
    jsonItemsToEntries(items, appIds, base, entries, errors);
    if (errors.length) this.deps.metrics?.rejectedLines(ROUTE, 'invalid_entry', errors.length);
    if (entries.length === 0) {
      const first = errors[0];
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
      this.sendError('invalid_entry', first ? `entry ${first.index}: ${first.error}${more}` : 'no entries', op.seq, errors.length ? { errors } : undefined);
      return null;
    }
    if (entries[0]) this.opts.registry.assign(this, entries[0].app_id);
    return { op, entries, errors, batchId: op.batchId ?? defaults.batchId };
  }

  /**
   * Rate limits as on HTTP: the group is charged per app in one take; when that is refused, each
   * message is charged on its own and the refused ones are answered `rate_limited` (not stored).
   */
  private async charge(ready: Ready[]): Promise<void> {
    if (ready.length === 0) return;
    const perApp = new Map<string, number>();
    for (const r of ready) for (const e of r.entries) perApp.set(e.app_id, (perApp.get(e.app_id) ?? 0) + 1);
    const refused = new Set<string>();
    for (const [app, n] of perApp) if (!(await this.deps.rateLimiter.take(app, n)).ok) refused.add(app);
    if (refused.size === 0) return;
    // The refused apps' messages are charged one by one (the other apps' were charged above).
    for (const r of ready) {
      const mine = new Map<string, number>();
      for (const e of r.entries) if (refused.has(e.app_id)) mine.set(e.app_id, (mine.get(e.app_id) ?? 0) + 1);
      let res: { ok: boolean; retryAfterSec?: number } = { ok: true };
      for (const [app, n] of mine) {
        const t = await this.deps.rateLimiter.take(app, n);
        if (!t.ok) res = t;
      }
      if (res.ok) continue;
      const app = r.entries[0]!.app_id;
      const retryAfter = Math.max(1, Math.ceil(res.retryAfterSec ?? 1));
      this.sendError('rate_limited', `app ${app} is over its ingest rate; retry in ${retryAfter} s`, r.op.seq, { retry_after: retryAfter });
      this.deps.metrics?.rejectedRequest(ROUTE, 'rate_limited');
      r.entries = [];
    }
  }
}
