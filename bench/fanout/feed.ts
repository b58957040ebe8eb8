/**
 * Feeding the gateway's `POST /drain` for the fan-out benchmark, from the bench process: the
 * headers Logplex sends, Basic auth with the ingest token, a unique `Logplex-Frame-Id` per
 * request, and every answer checked (200 + `Sluice-Accepted` = lines). Two ways:
 *
 * - closed loop ({@link feedClosedLoop}): as fast as the gateway delivers, keeping at most
 *   `window` entries ingested but not yet received by the slowest client (the clients report
 *   their counts every 5 ms), so the subscriber queues never shed and throughput is the
 *   delivery rate the gateway sustains;
 * - paced ({@link feedPaced}): a steady rate, one body of stamped lines every `everyMs`,
 *   stamped when handed to the HTTP client.
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import type { Body } from '../bodies.js';
import { epochMicros, stamp, type StampedTemplate } from './entries.js';

export class DrainClient {
  private readonly pool: Pool;
  private readonly headers: Record<string, string>;
  private readonly runId = randomUUID().slice(0, 8);
  private seq = 0;
  /** Lines acknowledged (200 + Sluice-Accepted = lines). */
  acked = 0;
  /** Lines in requests not answered yet. */
  inflightLines = 0;
  failures = 0;
  readonly reasons = new Map<string, number>();

  constructor(port: number, token: string, connections: number) {
    this.pool = new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
    this.headers = {
      'content-type': 'application/logplex-1',
      'user-agent': 'Logplex/v123',
      authorization: `Basic ${Buffer.from(`token:${token}`).toString('base64')}`,
      'logplex-drain-token': 'd.4a5ea1a2-8d3c-4b3b-9d4e-2f1e4a1b2c3d',
    };
  }

  async post(bytes: Buffer, lines: number): Promise<void> {
    this.inflightLines += lines;
    try {
      const res = await this.pool.request({
        path: '/drain',
        method: 'POST',
        headers: { ...this.headers, 'logplex-msg-count': String(lines), 'logplex-frame-id': `${this.runId}-${this.seq++}` },
        body: bytes,
      });
      await res.body.dump();
      const accepted = res.headers['sluice-accepted'];
      if (res.statusCode === 200 && accepted === String(lines)) this.acked += lines;
      else this.fail(`status ${res.statusCode}, Sluice-Accepted ${String(accepted)}`);
    } catch (e) {
      this.fail(`error: ${(e as Error).message}`);
    } finally {
      this.inflightLines -= lines;
    }
  }

  private fail(why: string): void {
    this.failures++;
    if (this.reasons.size < 5 || this.reasons.has(why)) this.reasons.set(why, (this.reasons.get(why) ?? 0) + 1);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** The slowest client's count, updated by the clients process. */
export class Progress {
  min = 0;
  total = 0;
  private waiters: (() => void)[] = [];

  update(min: number, total: number): void {
    this.min = min;
    this.total = total;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves at the next update, or after 50 ms. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 50);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/** Posts `bodies` round-robin with `inflight` requests at most, until `stop()`. */
export function feedClosedLoop(client: DrainClient, bodies: readonly Body[], progress: Progress, opts: { window: number; inflight: number }): { stop(): Promise<void> } {
  let stopped = false;
  let k = 0;
  const loop = async () => {
    while (!stopped) {
      const b = bodies[k++ % bodies.length]!;
      while (!stopped && client.acked + client.inflightLines + b.lines - progress.min > opts.window) await progress.next();
      if (stopped) break;
      await client.post(b.bytes, b.lines);
    }
  };
  const loops = Array.from({ length: opts.inflight }, loop);
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Posts one stamped body every `everyMs` on average (paced by elapsed time), until `stop()`. */
export function feedPaced(
  client: DrainClient,
  templates: readonly StampedTemplate[],
  opts: { everyMs: number },
): { stop(): Promise<void>; late: () => number; resetLate: () => void } {
  const t0 = performance.now();
  let sent = 0;
  let maxBurst = 0;
  const pending = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const due = Math.floor((performance.now() - t0) / opts.everyMs) + 1 - sent;
    if (due > maxBurst) maxBurst = due;
    for (let d = 0; d < due; d++) {
      const t = templates[sent++ % templates.length]!;
      const p = client.post(stamp(t, epochMicros()), t.lines);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
  }, 1);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
    },
    /** The most bodies that were due at once since the last reset (1 = never late by a whole period). */
    late: () => maxBurst,
    resetLate: () => {
      maxBurst = 0;
    },
  };
}
