import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { SGR } from './format.js';
import {
  backoffDelay,
  displayUrl,
  EXIT,
  gapLine,
  RecentIds,
  runTail,
  subscribeMessage,
  type Sink,
  type TailOptions,
} from './tail.js';

/**
 * A tiny gateway speaking the live-tail protocol from a per-connection script, so the loop is
 * tested without the real server: each incoming connection takes the next step, which either
 * refuses the upgrade with an HTTP answer or gets the socket and its first (subscribe) message.
 */
type Step = { reject: number; body?: string } | ((conn: Conn) => void | Promise<void>);

interface Conn {
  ws: WebSocket;
  headers: IncomingHttpHeaders;
  url: string;
  /** The client's first message, parsed. */
  subscribe: Record<string, unknown>;
  send(msg: unknown): void;
  /** Resolves with the close code the client sent or the socket ended with. */
  closed: Promise<number>;
}

class FakeGateway {
  readonly attempts: Array<{ headers: IncomingHttpHeaders; url: string }> = [];
  readonly conns: Conn[] = [];
  private readonly http: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private steps: Step[] = [];

  constructor() {
    this.http = createServer((_req, res) => res.writeHead(404).end());
    this.http.on('upgrade', (req, socket, head) => {
      this.attempts.push({ headers: req.headers, url: req.url ?? '' });
      const step = this.steps.shift();
      if (step === undefined) {
        socket.destroy();
        return;
      }
      if (typeof step !== 'function') {
        const body = step.body ?? '';
        socket.end(
          `HTTP/1.1 ${step.reject} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
        ws.once('message', (data) => {
          const conn: Conn = {
            ws,
            headers: req.headers,
            url: req.url ?? '',
            subscribe: JSON.parse(String(data)) as Record<string, unknown>,
            send: (msg) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
            closed,
          };
          this.conns.push(conn);
          void step(conn);
        });
        ws.send(JSON.stringify({ type: 'connected', connections: 1 }));
      });
    });
  }

  /** Scripts the next connections, in order. */
  script(...steps: Step[]): this {
    this.steps.push(...steps);
    return this;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    return `ws://127.0.0.1:${(this.http.address() as AddressInfo).port}/ws`;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

/** Collects what the loop prints. */
class Collector implements Sink {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  lines(): string[] {
    return this.text === '' ? [] : this.text.replace(/\n$/, '').split('\n');
  }
}

const TOKEN = 'r.00000000-0000-4000-8000-SECRETSECRET';

function entry(n: number, over: Record<string, unknown> = {}) {
  return {
    id: `01J0000000000000000000${String(n).padStart(4, '0')}`,
    timestamp: `2024-06-01T12:00:${String(n % 60).padStart(2, '0')}.000000Z`,
    received_at: '2024-06-01T12:00:00.000000Z',
    level: 'INFO',
    app_id: 'shop',
    message: `message ${n}`,
    source: 'app',
    proc: 'web.1',
    ...over,
  };
}

function line(n: number): string {
  return `${entry(n).timestamp} app[web.1]: INFO  message ${n}`;
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let gateway: FakeGateway;
let out: Collector;
let err: Collector;
let controller: AbortController;

async function setup(...steps: Step[]): Promise<string> {
  gateway = new FakeGateway().script(...steps);
  out = new Collector();
  err = new Collector();
  controller = new AbortController();
  return gateway.listen();
}

function options(url: string, over: Partial<TailOptions> = {}): TailOptions {
  return {
    url,
    token: TOKEN,
    subscription: { apps: ['shop'], history: 3 },
    follow: true,
    json: false,
    color: false,
    errColor: false,
    announceLive: true,
    signal: controller.signal,
    backoff: { initialMs: 10, maxMs: 40 },
    random: () => 0.5,
    ...over,
  };
}

afterEach(async () => {
  controller?.abort();
  await gateway?.close();
  // The token goes in a header only: never in anything printed.
  expect(out?.text ?? '').not.toContain('SECRET');
  expect(err?.text ?? '').not.toContain('SECRET');
});

describe('runTail against a protocol-speaking server', () => {
  it('prints history, live, a gap, and after a 4008 close resumes with since_id = the last id, without duplicates', async () => {
    const url = await setup(
      (c) => {
        c.send({ type: 'logs', data: [entry(1), entry(2), entry(3)] });
        c.send({ type: 'live' });
        c.send({ type: 'log', data: entry(4) });
        c.send({ type: 'gap', count: 2, since_id: entry(4).id, recovered: false });
        c.send({ type: 'logs', data: [entry(7)] });
        c.send({ type: 'heartbeat', time: '2024-06-01T12:00:30.000Z' });
        c.ws.close(4008, 'slow');
      },
      (c) => {
        // The seam may repeat the last entry; the client must not print it twice.
        c.send({ type: 'logs', data: [entry(7), entry(8)] });
        c.send({ type: 'live' });
        c.send({ type: 'log', data: entry(9) });
      },
    );
    const done = runTail(
      options(url, {
        subscription: { apps: ['shop'], levels: ['WARN'], source: 'app', proc: 'web', search: 'x', regex: 'y', history: 3 },
      }),
      { out, err },
    );
    await waitFor(() => out.text.includes('message 9'), 'the entry after the resume');
    controller.abort();
    expect(await done).toBe(EXIT.ok);

    expect(out.lines()).toEqual([1, 2, 3, 4, 7, 8, 9].map(line));
    expect(gateway.conns).toHaveLength(2);
    expect(gateway.conns[0]!.subscribe).toEqual({
      type: 'subscribe',
      apps: ['shop'],
      levels: ['WARN'],
      source: 'app',
      proc: 'web',
      search: 'x',
      regex: 'y',
      history: 3,
      batch: true,
    });
    // The resume: same filters, since_id instead of history (which would repeat entries).
    expect(gateway.conns[1]!.subscribe).toEqual({
      type: 'subscribe',
      apps: ['shop'],
      levels: ['WARN'],
      source: 'app',
      proc: 'web',
      search: 'x',
      regex: 'y',
      since_id: entry(7).id,
      batch: true,
    });
    for (const c of gateway.conns) expect(c.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(gateway.conns[0]!.url).toBe('/ws');

    expect(err.lines()).toEqual([
      '-- live --',
      `!! gap: 2 entries not delivered after ${entry(4).id}`,
      '!! the gateway closed this tail as too slow (4008); resuming in 8 ms',
      '-- resumed --',
    ]);
  });

  it('reconnects after a dropped connection with backoff, resuming in the middle of history', async () => {
    const url = await setup(
      (c) => {
        c.send({ type: 'logs', data: [entry(1), entry(2)] });
        // Give the client time to read the batch, then drop the TCP connection (1006).
        setTimeout(() => c.ws.terminate(), 50);
      },
      (c) => {
        c.send({ type: 'logs', data: [entry(3)] });
        c.send({ type: 'live' });
      },
    );
    const done = runTail(options(url), { out, err });
    await waitFor(() => out.text.includes('message 3') && err.text.includes('resumed'), 'the resumed history');
    controller.abort();
    expect(await done).toBe(EXIT.ok);
    expect(out.lines()).toEqual([1, 2, 3].map(line));
    expect(gateway.conns[1]!.subscribe).toMatchObject({ since_id: entry(2).id });
    expect(gateway.conns[1]!.subscribe).not.toHaveProperty('history');
    expect(err.text).toMatch(/!! connection closed \(1006\); reconnecting in \d+ ms/);
    // A tail that went live only after the reconnection announces it as a resume.
    expect(err.lines().at(-1)).toBe('-- resumed --');
  });

  it('asks for history again when nothing was printed before the disconnection', async () => {
    const url = await setup(
      (c) => {
        c.send({ type: 'live' });
        c.ws.close(1001, 'shutting down');
      },
      (c) => c.send({ type: 'live' }),
    );
    const done = runTail(options(url), { out, err });
    await waitFor(() => gateway.conns.length === 2 && err.text.includes('resumed'), 'the second connection');
    controller.abort();
    expect(await done).toBe(EXIT.ok);
    expect(gateway.conns[1]!.subscribe).toMatchObject({ history: 3 });
    expect(gateway.conns[1]!.subscribe).not.toHaveProperty('since_id');
    expect(err.text).toContain('the gateway is restarting (1001); reconnecting in');
  });

  it('--no-follow prints the history and stops at live, closing the socket normally', async () => {
    const url = await setup((c) => {
      c.send({ type: 'logs', data: [entry(1), entry(2)] });
      c.send({ type: 'live' });
      c.send({ type: 'log', data: entry(3) });
    });
    expect(await runTail(options(url, { follow: false }), { out, err })).toBe(EXIT.ok);
    expect(out.lines()).toEqual([line(1), line(2)]);
    expect(err.text).toBe('');
    expect(await gateway.conns[0]!.closed).toBe(1000);
  });

  it('--no-follow with an empty history prints nothing and exits 0', async () => {
    const url = await setup((c) => c.send({ type: 'live' }));
    expect(await runTail(options(url, { follow: false }), { out, err })).toBe(EXIT.ok);
    expect(out.text).toBe('');
  });

  it('--json prints each entry as one JSON line, as sent', async () => {
    const multi = entry(1, { message: 'a\nb', context: { k: 'v' }, future: true });
    const url = await setup((c) => {
      c.send({ type: 'logs', data: [multi, entry(2)] });
      c.send({ type: 'live' });
    });
    expect(await runTail(options(url, { follow: false, json: true }), { out, err })).toBe(EXIT.ok);
    expect(out.lines().map((l) => JSON.parse(l))).toEqual([multi, entry(2)]);
  });

  it('colours by level on out, and notices on err, when asked', async () => {
    const url = await setup((c) => {
      c.send({ type: 'logs', data: [entry(1, { level: 'ERROR' })] });
      c.send({ type: 'live' });
    });
    const done = runTail(options(url, { color: true, errColor: true }), { out, err });
    await waitFor(() => err.text.includes('live'), 'live');
    controller.abort();
    await done;
    expect(out.text).toBe(`${SGR.red}${entry(1).timestamp} app[web.1]: ERROR message 1${SGR.reset}\n`);
    expect(err.text).toBe(`${SGR.dim}-- live --${SGR.reset}\n`);
  });

  it('does not announce live when told not to (stderr is not a terminal)', async () => {
    const url = await setup((c) => c.send({ type: 'live' }));
    const done = runTail(options(url, { announceLive: false }), { out, err });
    await waitFor(() => gateway.conns.length === 1, 'the connection');
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    expect(await done).toBe(EXIT.ok);
    expect(err.text).toBe('');
  });

  it('ignores heartbeats, pongs, unknown types, non-JSON and binary frames; reports malformed entries once', async () => {
    const url = await setup((c) => {
      c.send({ type: 'heartbeat', time: 'now' });
      c.send({ type: 'pong' });
      c.send({ type: 'stats', data: {} });
      c.send({ type: 'from-the-future' });
      c.send('not json');
      c.send('[1,2]');
      c.send('null');
      c.ws.send(Buffer.from('{"type":"log"}'), { binary: true });
      c.send({ type: 'logs', data: [{ id: 'x' }, null, entry(1, { level: 7 }), entry(2)] });
      c.send({ type: 'logs', data: 'nope' });
      c.send({ type: 'log', data: { message: 'no id' } });
      c.send({ type: 'live' });
    });
    expect(await runTail(options(url, { follow: false }), { out, err })).toBe(EXIT.ok);
    expect(out.lines()).toEqual([line(2)]);
    expect(err.lines()).toEqual(['!! skipped an entry without id, timestamp, level or message']);
  });

  it('shows recovered gaps as notices, and gaps of unknown size', async () => {
    const url = await setup((c) => {
      c.send({ type: 'gap', count: 1, since_id: entry(1).id, recovered: true });
      c.send({ type: 'gap', recovered: false });
      c.send({ type: 'live' });
    });
    expect(await runTail(options(url, { follow: false }), { out, err })).toBe(EXIT.ok);
    expect(err.lines()).toEqual(['-- gap: 1 entry delayed; they follow --', '!! gap: an unknown number of entries not delivered']);
  });
});

describe('runTail: refusals', () => {
  it.each([
    ['unauthorized', EXIT.auth],
    ['forbidden', EXIT.auth],
    ['unknown_app', EXIT.failure],
    ['invalid_regex', EXIT.usage],
    ['invalid_level', EXIT.usage],
  ])('an error message %s ends the tail with exit %i', async (code, exit) => {
    const url = await setup((c) => c.send({ type: 'error', error: code, message: `because ${code}` }));
    expect(await runTail(options(url), { out, err })).toBe(exit);
    expect(err.lines()).toEqual([`sluice: ${code}: because ${code}`]);
    expect(await gateway.conns[0]!.closed).toBe(1000);
  });

  it('hints at SLUICE_TOKEN when no token was given', async () => {
    const url = await setup((c) => c.send({ type: 'error', error: 'unauthorized', message: 'a token is required' }));
    expect(await runTail(options(url, { token: undefined }), { out, err })).toBe(EXIT.auth);
    expect(gateway.conns[0]!.headers.authorization).toBeUndefined();
    expect(err.text).toBe('sluice: unauthorized: a token is required (set SLUICE_TOKEN or pass --token)\n');
  });

  it('keeps tailing after an error code it does not know', async () => {
    const url = await setup((c) => {
      c.send({ type: 'error', error: 'something_new', message: 'hm' });
      c.send({ type: 'logs', data: [entry(1)] });
      c.send({ type: 'live' });
    });
    expect(await runTail(options(url, { follow: false }), { out, err })).toBe(EXIT.ok);
    expect(err.text).toBe('sluice: something_new: hm\n');
    expect(out.lines()).toEqual([line(1)]);
  });

  it('close 4001 (no valid token in time) is an auth error', async () => {
    const url = await setup((c) => c.ws.close(4001, 'auth timeout'));
    expect(await runTail(options(url), { out, err })).toBe(EXIT.auth);
    expect(err.text).toContain('no valid token (4001)');
  });

  it.each([
    [401, '{"error":"unauthorized","message":"unknown token"}', EXIT.auth, 'sluice: unauthorized: unknown token\n'],
    [403, '{"error":"forbidden","message":"that token may not read shop"}', EXIT.auth, 'sluice: forbidden: that token may not read shop\n'],
    [404, '{"error":"app_not_found","message":"no app shop"}', EXIT.failure, 'sluice: app_not_found: no app shop\n'],
    [404, '{"error":"not_found","message":"no route"}', EXIT.failure, /^sluice: no live tail at ws:\/\/127\.0\.0\.1:\d+\/ws \(not_found: no route\)\n$/],
    [401, '<html>proxy</html>', EXIT.auth, 'sluice: HTTP 401\n'],
  ])('an HTTP %i refusal of the upgrade ends with exit', async (status, body, exit, message) => {
    const url = await setup({ reject: status, body });
    expect(await runTail(options(url), { out, err })).toBe(exit);
    if (typeof message === 'string') expect(err.text).toBe(message);
    else expect(err.text).toMatch(message);
  });

  it('retries an HTTP 503 (a proxy during a deploy) and then tails', async () => {
    const url = await setup({ reject: 503, body: '{"error":"unavailable"}' }, (c) => {
      c.send({ type: 'logs', data: [entry(1)] });
      c.send({ type: 'live' });
    });
    expect(await runTail(options(url, { follow: false }), { out, err })).toBe(EXIT.ok);
    expect(out.lines()).toEqual([line(1)]);
    expect(err.text).toMatch(/^!! the gateway answered unavailable; reconnecting in \d+ ms\n$/);
  });
});

describe('runTail: network', () => {
  it('with --no-follow gives up after maxAttempts when the gateway is unreachable (exit 1)', async () => {
    const url = await setup();
    await gateway.close(); // nothing listens on that port any more
    expect(await runTail(options(url, { follow: false, maxAttempts: 3 }), { out, err })).toBe(EXIT.failure);
    const lines = err.lines();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^!! cannot reach ws:\/\/127\.0\.0\.1:\d+\/ws: ECONNREFUSED; reconnecting in \d+ ms$/);
    expect(lines[2]).toMatch(/ECONNREFUSED; giving up after 3 attempts$/);
  });

  it('backs off exponentially between failed attempts', async () => {
    const url = await setup();
    await gateway.close();
    await runTail(options(url, { follow: false, maxAttempts: 4, backoff: { initialMs: 10, maxMs: 25 } }), { out, err });
    const delays = err.lines().flatMap((l) => /in (\d+) ms/.exec(l)?.[1] ?? []).map(Number);
    // attempt 1, 2, 3 with random 0.5: 3/4 of 20, 40 → capped 25, 25.
    expect(delays).toEqual([15, 19, 19]);
  });

  it('reconnects when the gateway goes silent past the idle timeout', async () => {
    const url = await setup(
      () => {
        /* accepts, then says nothing at all */
      },
      (c) => c.send({ type: 'live' }),
    );
    const done = runTail(options(url, { idleTimeoutMs: 100 }), { out, err });
    await waitFor(() => gateway.conns.length === 2, 'a second connection');
    controller.abort();
    expect(await done).toBe(EXIT.ok);
    expect(err.text).toContain('!! no message from the gateway for 100 ms; reconnecting in');
  });

  it('a Ctrl-C during the backoff wait ends at once with 0', async () => {
    const url = await setup((c) => c.ws.terminate());
    const done = runTail(options(url, { backoff: { initialMs: 60_000, maxMs: 60_000 } }), { out, err });
    await waitFor(() => err.text.includes('reconnecting'), 'the backoff');
    const t0 = Date.now();
    controller.abort();
    expect(await done).toBe(EXIT.ok);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('a URL the ws client refuses is an error, not a crash', async () => {
    await setup();
    expect(await runTail(options('ftp://127.0.0.1:1/ws'), { out, err })).toBe(EXIT.failure);
    expect(err.text).toMatch(/^sluice: cannot connect to ftp:\/\/127\.0\.0\.1:1\/ws: /);
  });

  it('an already aborted signal returns 0 without connecting', async () => {
    const url = await setup();
    controller.abort();
    expect(await runTail(options(url), { out, err })).toBe(EXIT.ok);
    expect(gateway.attempts).toHaveLength(0);
  });

  it('pauses reading while out is full and resumes on drain, losing nothing', async () => {
    const url = await setup((c) => {
      c.send({ type: 'log', data: entry(1) });
      // Arrives while the sink is still full: must not be written until it drains.
      setTimeout(() => {
        c.send({ type: 'log', data: entry(2) });
        c.send({ type: 'live' });
      }, 50);
    });
    const full = new (class extends EventEmitter implements Sink {
      writes: string[] = [];
      write(chunk: string): boolean {
        this.writes.push(chunk);
        return this.writes.length > 1; // full after the first write
      }
    })();
    const done = runTail(options(url, { follow: false }), { out: full, err });
    await waitFor(() => full.writes.length === 1, 'the first write');
    await new Promise((r) => setTimeout(r, 200));
    expect(full.writes).toHaveLength(1);
    expect(full.listenerCount('drain')).toBe(1);
    full.emit('drain');
    expect(await done).toBe(EXIT.ok);
    expect(full.writes).toEqual([`${line(1)}\n`, `${line(2)}\n`]);
  });
});

describe('pure helpers', () => {
  it('backoffDelay doubles from initialMs to maxMs with equal jitter', () => {
    const b = { initialMs: 250, maxMs: 10_000 };
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map((a) => backoffDelay(a, () => 0, b))).toEqual([
      125, 250, 500, 1000, 2000, 4000, 5000, 5000, 5000,
    ]);
    expect([0, 1, 5, 6, 1000].map((a) => backoffDelay(a, () => 0.999999, b))).toEqual([250, 500, 8000, 10_000, 10_000]);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(3, Math.random, b);
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThanOrEqual(2000);
    }
  });

  it('subscribeMessage sends history first, since_id on a resume, and only the filters given', () => {
    expect(subscribeMessage({ apps: ['a'], history: 100 })).toEqual({ type: 'subscribe', apps: ['a'], history: 100, batch: true });
    expect(subscribeMessage({ apps: ['a'], history: 100, levels: [] }, 'ID')).toEqual({
      type: 'subscribe',
      apps: ['a'],
      since_id: 'ID',
      batch: true,
    });
  });

  it('RecentIds remembers the last ids added, up to its capacity', () => {
    const ids = new RecentIds(2);
    // a, b in; a seen; c evicts a (the oldest added); a is new again and evicts b.
    expect([ids.seen('a'), ids.seen('b'), ids.seen('a'), ids.seen('c'), ids.seen('a'), ids.seen('b'), ids.seen('a')]).toEqual([
      false,
      false,
      true,
      false,
      false,
      false,
      true,
    ]);
  });

  it('displayUrl shows scheme, host and path only', () => {
    expect(displayUrl('wss://u:p@h:1/ws?token=x#f')).toBe('wss://h:1/ws');
    expect(displayUrl('nonsense')).toBe('the gateway');
  });

  it('gapLine formats counts', () => {
    expect(gapLine({ count: 42, since_id: 'X', recovered: false }, { color: false })).toBe('!! gap: 42 entries not delivered after X');
    expect(gapLine({ count: 1 }, { color: false })).toBe('!! gap: 1 entry not delivered');
  });
});
