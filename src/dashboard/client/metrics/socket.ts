/**
 * The Metrics view's live socket: `GET /ws` with `subscribe_metrics` (protocol/README.md, "Live
 * metrics"), reconnecting by itself and subscribing again. A socket of its own, apart from the
 * Logs view's (which is replaced on every filter change and closed for a time window); the
 * gateway keeps the two subscriptions independent either way.
 */
import { BACKOFF_MS, upgradeProtocols, wsUrl } from '../shared/ws.js';
import type { MetricsFrame } from './types.js';

/** What to subscribe to: ≤ 50 series of one app, at one step. */
export interface MetricsSubscription {
  app_id: string;
  series: { name: string; source?: string }[];
  step: number;
}

export interface MetricsSocketEvents {
  frame(frame: MetricsFrame): void;
  /** `connecting`, `live`, `reconnecting`, or `error` with the gateway's message. */
  status(state: 'connecting' | 'live' | 'reconnecting' | 'error', text: string): void;
  /** The gateway refused the token: reconnecting cannot help. */
  refused(message: string): void;
}

export class MetricsSocket {
  private ws: WebSocket | undefined;
  private sub: MetricsSubscription | undefined;
  private attempt = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly token: () => string,
    private readonly on: MetricsSocketEvents,
  ) {}

  /** Subscribes to `sub` (replacing the previous one), or closes the socket for `undefined`. */
  set(sub: MetricsSubscription | undefined): void {
    this.sub = sub;
    if (!sub) return this.close();
    if (this.ws?.readyState === WebSocket.OPEN) this.send();
    else if (!this.ws && this.retry === undefined) this.connect();
  }

  private send(): void {
    if (!this.sub || !this.ws) return;
    // The token again in the message: it authenticates when it cannot be a subprotocol.
    this.ws.send(JSON.stringify({ type: 'subscribe_metrics', token: this.token(), ...this.sub }));
  }

  private connect(): void {
    this.on.status('connecting', 'connecting…');
    let ws: WebSocket;
    try {
      ws = new WebSocket(wsUrl(), upgradeProtocols(this.token()));
    } catch {
      return this.scheduleRetry();
    }
    this.ws = ws;
    ws.onopen = () => this.send();
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      let msg: { type?: string; error?: string; message?: string };
      try {
        msg = JSON.parse(ev.data) as typeof msg;
      } catch {
        return;
      }
      if (msg.type === 'metrics') {
        this.attempt = 0;
        this.on.status('live', 'live');
        this.on.frame(msg as MetricsFrame);
      } else if (msg.type === 'error' && msg.error !== 'unauthorized') {
        this.on.status('error', `${msg.error}: ${msg.message ?? ''}`);
      }
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (ev.code === 4001 || ev.code === 1008) return this.on.refused(ev.reason === 'unauthorized' ? 'The gateway refused this token.' : `Disconnected (${ev.code} ${ev.reason}).`);
      if (this.sub) this.scheduleRetry();
    };
    ws.onerror = () => {
      // followed by close
    };
  }

  private scheduleRetry(): void {
    const wait = BACKOFF_MS[Math.min(this.attempt++, BACKOFF_MS.length - 1)]!;
    this.on.status('reconnecting', `reconnecting in ${wait < 1000 ? `${wait} ms` : `${wait / 1000} s`}…`);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.sub) this.connect();
    }, wait);
  }

  /** Closes the socket; nothing reconnects until the next {@link set}. */
  close(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'done');
    }
  }

  /** Reconnects now if waiting (the browser came back online). */
  reconnectNow(): void {
    if (this.retry === undefined || !this.sub) return;
    clearTimeout(this.retry);
    this.retry = undefined;
    this.connect();
  }
}
