import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import WebSocket from 'ws';
import type { Entry } from '../../src/normalize/entry.js';
import { basic, frame } from './gateway.js';
import type { GatewayProcess } from './process.js';

/**
 * Clients for the live-tail protocol (protocol/README.md, "Live tail"): a WebSocket client that
 * records every message, an SSE reader, a streaming text reader (Logplex sessions), a raw
 * WebSocket peer that never answers pings, plus helpers to seed apps and post drain lines.
 */

// ---------------------------------------------------------------------------------------------
// Apps and tokens
// ---------------------------------------------------------------------------------------------

/** An app of the config file with known tokens. */
export interface LiveApp {
  id: string;
  ingest: string;
  read: string;
}

/** Known tokens for `id` that match the config file's patterns (`t.`/`r.` + 16–200 URL-safe). */
export function liveApp(id: string): LiveApp {
  const safe = id.replace(/[^A-Za-z0-9-]/g, '-');
  return { id, ingest: `t.live-${safe}-ingest-0123456789`, read: `r.live-${safe}-read-0123456789` };
}

/** Writes `{ apps: [...] }` to a fresh temp dir; the path, for `SLUICE_CONFIG`. */
export function writeAppsConfig(apps: LiveApp[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-live-'));
  const path = join(dir, 'sluice.config.json');
  writeFileSync(
    path,
    JSON.stringify({ apps: apps.map((a) => ({ id: a.id, ingest_tokens: [a.ingest], read_tokens: [a.read] })) }),
  );
  return path;
}

// ---------------------------------------------------------------------------------------------
// Ingest
// ---------------------------------------------------------------------------------------------

/** RFC 5424 timestamp with µs, as Heroku sends it. */
export function syslogNow(): string {
  return new Date().toISOString().replace('Z', '000+00:00');
}

/** One drain frame (no STRUCTURED-DATA, as Heroku drains send). */
export function drainFrame(message: string, opts: { source?: string; proc?: string; pri?: number } = {}): string {
  return frame(`<${opts.pri ?? 190}>1 ${syslogNow()} host ${opts.source ?? 'app'} ${opts.proc ?? 'web.1'} - ${message}`);
}

/** POSTs `messages` as one `/drain` body; resolves with the number accepted (throws on non-200). */
export async function postLines(
  base: string,
  ingestToken: string,
  messages: string[],
  opts: { source?: string; proc?: string; pri?: number } = {},
): Promise<number> {
  const body = messages.map((m) => drainFrame(m, opts)).join('');
  return postBody(base, ingestToken, body);
}

/** POSTs a ready-made drain body. */
export async function postBody(base: string, ingestToken: string, body: string): Promise<number> {
  const res = await request(`${base}/drain`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/logplex-1', Authorization: basic(ingestToken) },
    body,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`POST /drain → ${res.statusCode}: ${text}`);
  return (JSON.parse(text) as { accepted: number }).accepted;
}

/** Runs `tasks` with at most `concurrency` in flight, in order of start. */
export async function pool<T>(concurrency: number, count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Waiting on a growing list
// ---------------------------------------------------------------------------------------------

interface Waiter<T> {
  pred: (item: T, index: number) => boolean;
  at: number;
  resolve: (item: T) => void;
  reject: (err: Error) => void;
}

/**
 * A list that grows as items arrive, with `waitFor(pred)`: the first item at or after `from`
 * that satisfies `pred`. Each waiter scans incrementally, so long streams stay cheap. Once the
 * stream has ended, a wait that no item satisfies rejects at once.
 */
class Recorder<T> {
  readonly items: T[] = [];
  private readonly waiters = new Set<Waiter<T>>();
  private ended: Error | undefined;

  push(item: T): void {
    this.items.push(item);
    this.check();
  }

  end(err: Error): void {
    this.ended ??= err;
    this.check();
  }

  private check(): void {
    for (const w of this.waiters) {
      let found = false;
      while (w.at < this.items.length) {
        const item = this.items[w.at]!;
        if (w.pred(item, w.at)) {
          this.waiters.delete(w);
          w.resolve(item);
          found = true;
          break;
        }
        w.at++;
      }
      if (!found && this.ended) {
        this.waiters.delete(w);
        w.reject(this.ended);
      }
    }
  }

  waitFor(pred: (item: T, index: number) => boolean, timeoutMs = 5000, from = 0, what = 'an item'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const tail = this.items.slice(-5).map((i) => JSON.stringify(i).slice(0, 300));
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${this.items.length} received, last: ${tail.join(' | ')}`));
      }, timeoutMs);
      const waiter: Waiter<T> = {
        pred,
        at: from,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(new Error(`${what} never came (${err.message}); ${this.items.length} received`));
        },
      };
      this.waiters.add(waiter);
      this.check();
    });
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------------------------

/** A server → client message. */
export interface LiveMessage {
  type: string;
  data?: unknown;
  error?: string;
  message?: string;
  count?: number;
  since_id?: string;
  recovered?: boolean;
  connections?: number;
  time?: string;
  [k: string]: unknown;
}

/** The close a WebSocket saw. */
export interface CloseInfo {
  code: number;
  reason: string;
  at: number;
}

/** The upgrade was refused with an HTTP answer. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused: ${status} ${body}`);
  }
}

/**
 * A WebSocket client recording every message (`messages`, with arrival times in `times`).
 * Messages that are not JSON are recorded as `{ type: '!not-json', data: text }`.
 */
export class LiveClient {
  readonly recorder = new Recorder<LiveMessage>();
  readonly times: number[] = [];
  readonly closed: Promise<CloseInfo>;
  closeInfo: CloseInfo | undefined;
  pings = 0;
  readonly pingTimes: number[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.times.push(Date.now());
      const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
      let msg: LiveMessage;
      try {
        msg = JSON.parse(text) as LiveMessage;
      } catch {
        msg = { type: '!not-json', data: text };
      }
      this.recorder.push(msg);
    });
    ws.on('ping', () => {
      this.pings++;
      this.pingTimes.push(Date.now());
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString(), at: Date.now() };
        this.recorder.end(new Error(`closed ${code} ${reason.toString()}`));
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {
      // surfaced through close
    });
  }

  /**
   * Opens `ws://…/ws` (`base` is the gateway's http URL); `token` goes in `?token=` unless
   * `headers` carry it; `protocols` are offered in `Sec-WebSocket-Protocol` (e.g. `sluice.v1` and
   * `sluice.token.<token>`, as browsers present a token). Resolves once open; rejects with
   * {@link UpgradeRefused} on an HTTP answer.
   */
  static connect(
    base: string,
    opts: { token?: string; headers?: Record<string, string>; query?: string; protocols?: string[] } = {},
  ): Promise<LiveClient> {
    const url = new URL('/ws', base.replace(/^http/, 'ws'));
    if (opts.token) url.searchParams.set('token', opts.token);
    const ws = new WebSocket(url.toString() + (opts.query ? `${opts.token ? '&' : '?'}${opts.query}` : ''), opts.protocols ?? [], {
      headers: opts.headers,
    });
    const client = new LiveClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          req.destroy();
          reject(new UpgradeRefused(res.statusCode ?? 0, body));
        });
      });
      ws.once('open', () => resolve(client));
      ws.once('error', (err) => reject(err));
    });
  }

  get messages(): LiveMessage[] {
    return this.recorder.items;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The first message at index ≥ `from` satisfying `pred`. */
  waitFor(pred: (m: LiveMessage, index: number) => boolean, timeoutMs = 5000, from = 0, what = 'a message'): Promise<LiveMessage> {
    return this.recorder.waitFor(pred, timeoutMs, from, what);
  }

  /** The first message of `type` at index ≥ `from`. */
  waitForType(type: string, timeoutMs = 5000, from = 0): Promise<LiveMessage> {
    return this.waitFor((m) => m.type === type, timeoutMs, from, `a "${type}" message`);
  }

  /** Index of `msg` in `messages` (identity). */
  indexOf(msg: LiveMessage): number {
    return this.messages.indexOf(msg);
  }

  /** Waits until `count` entries (log or logs) have arrived; resolves with all entries so far. */
  async waitForEntries(count: number, timeoutMs = 5000): Promise<Entry[]> {
    await this.waitForEntryCount(count, timeoutMs);
    return this.entries();
  }

  /** Waits until `count` entries (log or logs) have arrived. */
  async waitForEntryCount(count: number, timeoutMs = 5000): Promise<void> {
    let seen = 0;
    await this.waitFor(
      (m) => {
        seen += entriesOf(m).length;
        return seen >= count;
      },
      timeoutMs,
      0,
      `${count} entries`,
    );
  }

  /** Every entry received, from `log` and `logs` messages, in order. */
  entries(from = 0, to = this.messages.length): Entry[] {
    return this.messages.slice(from, to).flatMap(entriesOf);
  }

  /** Stops reading from the TCP socket (so the kernel buffers fill and pings go unanswered). */
  pause(): void {
    (this.ws as unknown as { _socket: net.Socket })._socket.pause();
  }

  resume(): void {
    (this.ws as unknown as { _socket: net.Socket })._socket.resume();
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** The entries carried by one message: `log` → [data], `logs` → data, else []. */
export function entriesOf(m: LiveMessage): Entry[] {
  if (m.type === 'log') return [m.data as Entry];
  if (m.type === 'logs') return m.data as Entry[];
  return [];
}

/** Messages that are about the stream (log, logs, live, gap), without heartbeats and the like. */
export function streamMessages(messages: LiveMessage[]): LiveMessage[] {
  return messages.filter((m) => m.type === 'log' || m.type === 'logs' || m.type === 'live' || m.type === 'gap');
}

/**
 * A WebSocket peer done by hand on a raw TCP socket: it does the upgrade handshake, then reads
 * (and counts) whatever the server sends but never answers a ping. `closedAt` is when the server
 * ended the TCP connection.
 */
export class RawPeer {
  bytes = 0;
  /** Opcodes of the frames seen (0x9 = ping, 0x8 = close, 0x1 = text). */
  readonly opcodes: number[] = [];
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  handshake = '';
  private buf = Buffer.alloc(0);
  private upgraded = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      this.buf = Buffer.concat([this.buf, chunk]);
      if (!this.upgraded) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        this.handshake = this.buf.subarray(0, end).toString();
        this.buf = this.buf.subarray(end + 4);
        this.upgraded = true;
      }
      this.parseFrames();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve(Date.now())));
  }

  private parseFrames(): void {
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      if (this.buf.length < at + len) return;
      if (opcode === 0x8 && len >= 2) this.closeCode = this.buf.readUInt16BE(at);
      this.opcodes.push(opcode);
      this.buf = this.buf.subarray(at + len);
    }
  }

  static connect(port: number, path: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        const key = randomBytes(16).toString('base64');
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
        resolve(peer);
      });
      const peer = new RawPeer(socket);
      socket.once('error', reject);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// SSE and streaming text
// ---------------------------------------------------------------------------------------------

/** One server-sent event (`event` absent for unnamed events). */
export interface SseEvent {
  event?: string;
  id?: string;
  data: string;
}

type SseItem = { kind: 'event'; ev: SseEvent } | { kind: 'comment'; text: string };

/**
 * Reads a `text/event-stream` response as `curl -N` would, parsing events per the HTML spec
 * (fields `event`, `id`, `data`; `:` comments kept in `comments`).
 */
export class SseClient {
  readonly recorder = new Recorder<SseItem>();
  raw = '';
  private pending = '';
  private cur: { event?: string; id?: string; data?: string[] } = {};
  readonly ended: Promise<void>;

  private constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
    private readonly body: NodeJS.ReadableStream & { destroy(): void },
  ) {
    body.setEncoding('utf8');
    this.ended = new Promise((resolve) => {
      body.on('data', (chunk: string) => {
        this.raw += chunk;
        this.feed(chunk);
      });
      body.on('end', () => {
        this.recorder.end(new Error('stream ended'));
        resolve();
      });
      body.on('error', () => {
        this.recorder.end(new Error('stream errored'));
        resolve();
      });
      body.on('close', () => resolve());
    });
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const res = await request(url, { headers: { Accept: 'text/event-stream', ...headers }, bodyTimeout: 0 });
    return new SseClient(res.statusCode, res.headers, res.body as unknown as NodeJS.ReadableStream & { destroy(): void });
  }

  private feed(chunk: string): void {
    this.pending += chunk;
    for (;;) {
      const m = /\r\n|\n|\r/.exec(this.pending);
      if (!m) return;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === this.pending.length - 1) return;
      const line = this.pending.slice(0, m.index);
      this.pending = this.pending.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.cur.data !== undefined || this.cur.event !== undefined || this.cur.id !== undefined) {
        this.recorder.push({ kind: 'event', ev: { event: this.cur.event, id: this.cur.id, data: (this.cur.data ?? []).join('\n') } });
      }
      this.cur = {};
      return;
    }
    if (line.startsWith(':')) {
      this.recorder.push({ kind: 'comment', text: line.slice(1).trim() });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') (this.cur.data ??= []).push(value);
    else if (field === 'event') this.cur.event = value;
    else if (field === 'id') this.cur.id = value;
  }

  get events(): SseEvent[] {
    return this.recorder.items.flatMap((i) => (i.kind === 'event' ? [i.ev] : []));
  }

  get comments(): string[] {
    return this.recorder.items.flatMap((i) => (i.kind === 'comment' ? [i.text] : []));
  }

  async waitForEvent(pred: (e: SseEvent) => boolean, timeoutMs = 5000, what = 'an event'): Promise<SseEvent> {
    const item = await this.recorder.waitFor((i) => i.kind === 'event' && pred(i.ev), timeoutMs, 0, what);
    return (item as { kind: 'event'; ev: SseEvent }).ev;
  }

  async waitForComment(pred: (c: string) => boolean, timeoutMs = 5000, from = 0): Promise<string> {
    const item = await this.recorder.waitFor((i) => i.kind === 'comment' && pred(i.text), timeoutMs, from, 'a comment');
    return (item as { kind: 'comment'; text: string }).text;
  }

  /** Entries of the unnamed events so far, parsed. */
  entries(): Entry[] {
    return this.events.filter((e) => e.event === undefined || e.event === 'message').map((e) => JSON.parse(e.data) as Entry);
  }

  async json(): Promise<unknown> {
    await this.ended;
    return JSON.parse(this.raw);
  }

  close(): void {
    this.body.destroy();
  }
}

/** Reads a streaming `text/plain` response line by line (Logplex sessions). */
export class LineStream {
  readonly recorder = new Recorder<string>();
  private pending = '';
  readonly ended: Promise<void>;
  done = false;

  private constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
    private readonly body: NodeJS.ReadableStream & { destroy(): void },
  ) {
    body.setEncoding('utf8');
    this.ended = new Promise((resolve) => {
      body.on('data', (chunk: string) => {
        this.pending += chunk;
        let nl: number;
        while ((nl = this.pending.indexOf('\n')) >= 0) {
          this.recorder.push(this.pending.slice(0, nl).replace(/\r$/, ''));
          this.pending = this.pending.slice(nl + 1);
        }
      });
      const finish = () => {
        if (this.pending) this.recorder.push(this.pending);
        this.pending = '';
        this.done = true;
        this.recorder.end(new Error('stream ended'));
        resolve();
      };
      body.on('end', finish);
      body.on('error', finish);
      body.on('close', finish);
    });
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<LineStream> {
    const res = await request(url, { headers, bodyTimeout: 0 });
    return new LineStream(res.statusCode, res.headers, res.body as unknown as NodeJS.ReadableStream & { destroy(): void });
  }

  get lines(): string[] {
    return this.recorder.items;
  }

  waitForLine(pred: (l: string) => boolean, timeoutMs = 5000): Promise<string> {
    return this.recorder.waitFor((l) => pred(l), timeoutMs, 0, 'a line');
  }

  close(): void {
    this.body.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Process memory
// ---------------------------------------------------------------------------------------------

/** VmRSS and VmHWM (peak RSS) of a process in MiB, from /proc/<pid>/status (Linux). */
export function processMemory(pid: number): { rssMiB: number; peakMiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** The `pid` of a gateway process. */
export function pidOf(gw: GatewayProcess): number {
  return gw.child.pid!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
