/**
 * The WebSocket to `GET /ws` (protocol/README.md, "Live tail"), reconnecting by itself.
 *
 * Frames are not parsed here: their text is handed over as it arrives and the page parses it on
 * its own schedule (a time budget per animation frame), so a burst never blocks typing. A new
 * subscription is a new socket (a new generation): nothing of the old one can leak into it. After
 * a drop, the same generation reconnects and resumes with `since_id` = the last entry received.
 *
 * The token goes with the upgrade, as the subprotocol `sluice.token.<token>` next to `sluice.v1`
 * (a browser can set no `Authorization` header on a WebSocket, and a `?token=` URL would land in
 * proxy and router access logs), so the gateway counts the socket as a reader from the start and
 * lets it in even while sockets that never authenticate fill their pool. The `subscribe` message
 * still carries it too: the gateway ignores it on a socket authenticated at the upgrade, and it
 * is what authenticates when the token cannot be a subprotocol (see shared/ws.ts).
 */

import { BACKOFF_MS, upgradeProtocols } from '../shared/ws.js';

export interface StreamEvents {
  /** A text frame of generation `gen`. */
  text(gen: number, text: string): void;
  /** Socket `gen` is open and subscribed; `resumed` when it asked for `since_id`. */
  open(gen: number, resumed: boolean): void;
  /** Socket `gen` dropped; it reconnects in `retryMs` (undefined: it will not). */
  down(gen: number, code: number, reason: string, retryMs: number | undefined): void;
  /** Before a reconnect picks its `since_id`: the page processes what it has queued. */
  beforeResume(gen: number): void;
  /** The id to resume after, or undefined to ask for history again. */
  resumeId(gen: number): string | undefined;
}

/** Without any frame for this long (the gateway sends a heartbeat every 25 s), reconnect. */
const SILENCE_MS = 70_000;

export class LiveStream {
  private ws: WebSocket | undefined;
  private gen = 0;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private silenceTimer: ReturnType<typeof setTimeout> | undefined;
  private sub: Record<string, unknown> = {};
  private history = 0;

  constructor(
    private readonly url: string,
    private readonly token: () => string,
    private readonly on: StreamEvents,
  ) {}

  get generation(): number {
    return this.gen;
  }

  /** Starts a new subscription (closing the current one): history first, then live. */
  start(sub: Record<string, unknown>, history: number): number {
    this.stop();
    this.sub = sub;
    this.history = history;
    this.gen++;
    this.attempt = 0;
    this.connect(this.gen);
    return this.gen;
  }

  /** Closes the socket; nothing reconnects. */
  stop(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.silenceTimer);
    this.retryTimer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'done');
    }
    this.gen++;
  }

  /** Reconnects now (skipping the backoff wait), e.g. when the browser comes back online. */
  reconnectNow(): void {
    if (this.retryTimer === undefined) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.connect(this.gen);
  }

  private connect(gen: number): void {
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url, upgradeProtocols(this.token()));
    } catch {
      this.scheduleRetry(gen, 0, 'cannot open');
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (gen !== this.gen) return;
      this.on.beforeResume(gen);
      const since = this.on.resumeId(gen);
      const msg = { type: 'subscribe', token: this.token(), ...this.sub, batch: true, ...(since ? { since_id: since, history: 0 } : { history: this.history }) };
      ws.send(JSON.stringify(msg));
      this.on.open(gen, since !== undefined);
      this.watchSilence(gen);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (gen !== this.gen) return;
      this.attempt = 0;
      this.watchSilence(gen);
      if (typeof ev.data === 'string') this.on.text(gen, ev.data);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (gen !== this.gen || this.ws !== ws) return;
      this.ws = undefined;
      clearTimeout(this.silenceTimer);
      // 4001: the token is not (or no longer) valid; 1008: policy. Reconnecting cannot help.
      if (ev.code === 4001 || ev.code === 1008) {
        this.on.down(gen, ev.code, ev.reason, undefined);
        return;
      }
      this.scheduleRetry(gen, ev.code, ev.reason);
    };
    ws.onerror = () => {
      // followed by close
    };
  }

  private scheduleRetry(gen: number, code: number, reason: string): void {
    const wait = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)]!;
    this.attempt++;
    this.on.down(gen, code, reason, wait);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (gen === this.gen) this.connect(gen);
    }, wait);
  }

  private watchSilence(gen: number): void {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => {
      if (gen === this.gen) this.ws?.close(4000, 'silent');
    }, SILENCE_MS);
  }
}
