/**
 * Syslog over TCP and TLS (issue 11) against the real gateway process: util-linux `logger`
 * into the plain listener, a Node TLS client into the TLS one, both framings, bad-token frames
 * counted and the connection closed after SYSLOG_MAX_BAD_FRAMES, and TCP back-pressure on a
 * fast sender while the app is over its rate (memory stays bounded, the sender is slowed).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sample } from './support/metrics.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix } from './support/redis.js';
import { selfSignedCert } from './support/tls-cert.js';

const octet = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;

/** The demo app's tokens from the start banner. */
function demoTokens(gw: GatewayProcess): { ingest: string; read: string } {
  const m = /ingest token (t\.\S+)\s+read token (r\.\S+)/.exec(gw.stderr());
  if (!m) throw new Error(`no demo tokens in the banner:\n${gw.stderr()}`);
  return { ingest: m[1]!, read: m[2]! };
}

/** The syslog ports the gateway logged once listening. */
async function syslogPorts(gw: GatewayProcess, kinds: string[]): Promise<Record<string, number>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ports: Record<string, number> = {};
    for (const line of gw.stdout().split('\n')) {
      if (!line.includes('"syslog listening"')) continue;
      const j = JSON.parse(line) as { listener: string; port: number };
      ports[j.listener] = j.port;
    }
    if (kinds.every((k) => ports[k])) return ports;
    if (Date.now() > deadline) throw new Error(`syslog listeners not up:\n${gw.stdout()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function query(gw: GatewayProcess, read: string, params: Record<string, string>): Promise<{ total: number; entries: Record<string, unknown>[] }> {
  const res = await fetch(`${gw.url}/api/logs?${new URLSearchParams({ token: read, ...params })}`);
  expect(res.status).toBe(200);
  return (await res.json()) as { total: number; entries: Record<string, unknown>[] };
}

/** Polls until `fn` returns a truthy value (stored entries become visible asynchronously). */
async function eventually<T>(fn: () => Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const metricsText = async (gw: GatewayProcess) => (await fetch(`${gw.url}/metrics`)).text();

/** Sends `data` on a fresh connection and resolves once the gateway closed it (or after `ms`). */
function sendAndWaitClose(connect: () => net.Socket, data: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect();
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, ms);
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve(true);
    });
    s.write(data);
  });
}

// On Redis too: there a batch without tokens is kept as its frames and parsed again when read.
describe.each(['memory', 'redis'] as const)('syslog over TCP and TLS, real process, %s store', (store) => {
  let gw: GatewayProcess;
  let cert: ReturnType<typeof selfSignedCert>;
  let ports: Record<string, number>;
  let tokens: { ingest: string; read: string };
  let redis: { url: string; prefix: string } | undefined;

  beforeAll(async () => {
    if (store === 'redis') {
      if (!redisAvailable) throw new Error('no Redis for the syslog listener test');
      redis = { url: (await getTestRedis())!.url, prefix: testKeyPrefix('syslog') };
    }
    cert = selfSignedCert();
    gw = await startGatewayProcess({
      ...(redis ? { REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix } : {}),
      SYSLOG_TCP_PORT: '0',
      SYSLOG_TLS_PORT: '0',
      SYSLOG_TLS_CERT: cert.certPath,
      SYSLOG_TLS_KEY: cert.keyPath,
      SYSLOG_TLS_APP: 'demo',
      SYSLOG_MAX_BAD_FRAMES: '3',
    });
    ports = await syslogPorts(gw, ['tcp', 'tls']);
    tokens = demoTokens(gw);
  }, 30_000);
  afterAll(async () => {
    await gw?.stop();
    if (redis) await deleteKeysWithPrefix(redis.url, redis.prefix);
    if (cert) rmSync(cert.dir, { recursive: true, force: true });
  });

  it('stores what util-linux logger --tcp --octet-count --rfc5424 sends, app found by the SD token, which is not stored', async () => {
    execFileSync('logger', [
      '--tcp', '--octet-count', '--rfc5424', '--server', '127.0.0.1', '--port', String(ports.tcp),
      '--sd-id', 'sluice@32473', '--sd-param', `token="${tokens.ingest}"`, '--sd-param', 'region="eu"',
      '-t', 'billing', '-p', 'user.warning', 'invoice 42 failed to render',
    ]);
    const { entries } = await eventually(async () => {
      const r = await query(gw, tokens.read, { search: 'invoice 42' });
      return r.total === 1 && r;
    });
    const e = entries[0]!;
    expect(e).toMatchObject({ app_id: 'demo', source: 'billing', level: 'WARN', message: 'invoice 42 failed to render', severity: 4 });
    expect((e.context as Record<string, unknown>)['sluice@32473']).toEqual({ region: 'eu' });
    // logger's own SD element is kept as context too (full STRUCTURED-DATA in input mode).
    expect((e.context as Record<string, unknown>).timeQuality).toBeDefined();
    expect(JSON.stringify(e)).not.toContain(tokens.ingest);
  });

  it('reads LF-framed RFC 5424 and RFC 3164 lines on the same listener, with the token as APP-NAME (Logplex style)', async () => {
    const lines = [
      `<134>1 2025-01-15T14:22:00.123456+00:00 web-1 ${tokens.ingest} web.1 - - lf-framed five424 user=7`,
      `<131>Jan 15 14:22:01 web-1 ${tokens.ingest}: lf-framed bsd line`,
    ];
    const closed = await sendAndWaitClose(() => net.connect(ports.tcp!, '127.0.0.1'), lines.join('\n') + '\n', 300);
    expect(closed).toBe(false); // good frames: the connection stays open
    const r = await eventually(async () => {
      const q = await query(gw, tokens.read, { search: 'lf-framed' });
      return q.total === 2 && q;
    });
    const byMsg = Object.fromEntries(r.entries.map((e) => [e.message, e]));
    expect(byMsg['lf-framed five424 user=7']).toMatchObject({ source: 'demo', proc: 'web.1', timestamp: '2025-01-15T14:22:00.123456Z', context: { user: '7' } });
    expect(byMsg['lf-framed bsd line']).toMatchObject({ level: 'ERROR', flags: ['rfc3164'] });
    expect(JSON.stringify(r.entries)).not.toContain(tokens.ingest);
  });

  it('accepts a Node TLS client, octet-counted, into the listener bound to an app (SYSLOG_TLS_APP)', async () => {
    const frames = Array.from({ length: 50 }, (_, i) => octet(`<14>1 - tls-host worker 42 - [req id="${i}"] over tls #${i}\nsecond line`)).join('');
    await new Promise<void>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: ports.tls!, ca: readFileSync(cert.certPath), servername: undefined }, () => {
        s.end(frames, () => resolve());
      });
      s.on('error', reject);
    });
    const r = await eventually(async () => {
      const q = await query(gw, tokens.read, { search: 'over tls', limit: '100' });
      return q.total === 50 && q;
    });
    const e = r.entries.find((x) => x.message === 'over tls #7\nsecond line');
    expect(e).toMatchObject({ app_id: 'demo', source: 'worker', host: 'tls-host', proc: '42', context: { req: { id: '7' } } });
  });

  it('counts and drops frames without a valid token, and closes the connection after SYSLOG_MAX_BAD_FRAMES', async () => {
    const before = await metricsText(gw);
    const bad = [
      octet('<13>1 - h t.00000000-0000-0000-0000-000000000000 - - - unknown token as app-name'),
      octet('<13>1 - h app - - [x@1 token="t.nope"] unknown sd token'),
      octet('<13>1 - h app - - - no token at all'),
      octet('<13>1 - h app - - - never read'),
    ].join('');
    expect(await sendAndWaitClose(() => net.connect(ports.tcp!, '127.0.0.1'), bad, 3000)).toBe(true);
    const after = await metricsText(gw);
    const d = (result: string) =>
      (sample(after, 'sluice_syslog_frames_total', { listener: 'tcp', result }) ?? 0) - (sample(before, 'sluice_syslog_frames_total', { listener: 'tcp', result }) ?? 0);
    expect(d('bad_token')).toBe(2);
    expect(d('no_token')).toBe(1);
    expect(sample(after, 'sluice_syslog_connections_closed_total', { listener: 'tcp', reason: 'bad_frames' })).toBe(1);
    expect((await query(gw, tokens.read, { search: 'token' })).entries.filter((e) => String(e.message).includes('token'))).toEqual([]);
    // The bound TLS listener does not need a token, but a wrong one is still a bad frame.
    expect(gw.stdout()).not.toContain('t.nope');
  });
});

describe('syslog TCP back-pressure, real process', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGatewayProcess({ SYSLOG_TCP_PORT: '0', SYSLOG_TCP_APP: 'demo', RATE_LIMIT_LINES_PER_SEC: '2000', RATE_LIMIT_BURST: '2000' });
  }, 30_000);
  afterAll(async () => {
    await gw?.stop();
  });

  it('slows a fast sender through TCP while the app is over its rate: bounded memory, nothing dropped', async () => {
    const { tcp } = await syslogPorts(gw, ['tcp']);
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gw.child.pid}/status`, 'utf8'))![1]) * 1024;
    const line = octet(`<14>1 - h app - - - ${'x'.repeat(180)}`);
    const chunk = Buffer.from(line.repeat(300));
    const rss0 = rss();
    const s = net.connect(tcp!, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    let written = 0;
    let blocked = 0;
    const t0 = Date.now();
    // Write as fast as the socket takes it for 3 s; a `false` from write means TCP pushed back.
    while (Date.now() - t0 < 3000) {
      if (!s.write(chunk)) {
        blocked++;
        await Promise.race([new Promise((r) => s.once('drain', r)), new Promise((r) => setTimeout(r, 200))]);
      }
      written += chunk.length;
      if (written > 512 * 1024 * 1024) break;
    }
    const elapsed = (Date.now() - t0) / 1000;
    const peak = rss();
    const text = await metricsText(gw);
    const stored = sample(text, 'sluice_syslog_frames_total', { listener: 'tcp', result: 'stored' }) ?? 0;
    s.destroy();
    // The limiter lets ~2000 lines/s through (burst 2000): the sender was held back by TCP…
    expect(blocked).toBeGreaterThan(0);
    expect(written).toBeLessThan(64 * 1024 * 1024);
    expect(stored).toBeLessThanOrEqual(2000 + 2000 * (elapsed + 1) + 2000);
    expect(stored).toBeGreaterThan(1000);
    // … and the gateway did not buffer what it could not store yet.
    expect(peak - rss0).toBeLessThan(80 * 1024 * 1024);
    expect(sample(text, 'sluice_syslog_frames_total', { listener: 'tcp', result: 'store_unavailable' })).toBeUndefined();
  }, 20_000);
});
