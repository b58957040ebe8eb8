/**
 * The local demo mode (issue 11, WebSocket ingest): no ADMIN_TOKEN, no config file, a loopback
 * bind. An anonymous producer of the seed's kit writes the app its `app_id` names, created on
 * first use; the demo read token of the start banner then lists and reads every app (history,
 * SSE, the /ws live tail, the dashboard's app picker), and still writes nothing. Outside demo
 * mode a read token reads its own app only, even with WS_INGEST_ANONYMOUS=true.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { browserAvailable, launchBrowser, newPage } from './support/browser.js';
import { LiveClient, SseClient, liveApp, sleep, writeAppsConfig } from './support/live.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';

// Callbacks given to page.evaluate / $$eval run in the browser; this project has Node types only.
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any
type HTMLOptionElement = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Sends `messages` as an anonymous producer (auth without api_key, one `log` per entry with seq). */
async function anonymousProducer(gw: GatewayProcess, appId: string, messages: string[]): Promise<{ type: string; seq?: number; error?: string }[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/logs`);
  const got: { type: string; seq?: number; error?: string }[] = [];
  ws.on('message', (d) => got.push(JSON.parse(String(d)) as { type: string }));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'auth', app_id: appId }));
  messages.forEach((message, i) => ws.send(JSON.stringify({ type: 'log', seq: i + 1, data: { level: 'INFO', message } })));
  const t0 = Date.now();
  while (!got.some((m) => m.seq === messages.length || m.type === 'error') && Date.now() - t0 < 5000) await sleep(20);
  ws.close();
  return got;
}

async function getJson(url: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

const messagesOf = (body: Record<string, unknown>) => (body.entries as { message: string }[]).map((e) => e.message).reverse();

describe('demo mode: the demo read token reads every app', () => {
  let gw: GatewayProcess;
  let read: string;
  let ingest: string;

  beforeAll(async () => {
    // No ADMIN_TOKEN, no config file (SLUICE_CONFIG names none), loopback (the default bind then).
    const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
    gw = await startGatewayProcess({ SLUICE_CONFIG: join(dir, 'none.json') });
    const m = /Demo app: +demo +ingest token (\S+) +read token (\S+)/.exec(gw.stderr());
    if (!m) throw new Error(`no demo app in the banner:\n${gw.stderr()}`);
    [ingest, read] = [m[1]!, m[2]!];
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('says so in the banner', () => {
    expect(gw.stderr()).toMatch(/producers without an api_key are accepted/);
    expect(gw.stderr()).toMatch(/demo mode: the read token reads every app/);
  });

  it("lists an anonymous producer's app and reads its lines through history, SSE and /ws", async () => {
    const acks = await anonymousProducer(gw, 'my-app', ['first from my-app', 'second from my-app']);
    expect(acks.filter((m) => m.type === 'ack').map((m) => m.seq)).toEqual([1, 2]);

    const apps = await getJson(`${gw.url}/api/apps`, read);
    expect(apps.status).toBe(200);
    expect((apps.body.apps as { id: string }[]).map((a) => a.id).sort()).toEqual(['demo', 'my-app']);

    const history = await getJson(`${gw.url}/api/logs?app_id=my-app`, read);
    expect(history.status).toBe(200);
    expect(messagesOf(history.body)).toEqual(['first from my-app', 'second from my-app']);
    // Without app_id: every app, as for the admin token.
    await request(`${gw.url}/api/logs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ingest}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: 'from demo' }),
    }).then((r) => r.body.text());
    const all = await getJson(`${gw.url}/api/logs`, read);
    expect(messagesOf(all.body)).toEqual(['first from my-app', 'second from my-app', 'from demo']);
    const id = (history.body.entries as { id: string }[])[0]!.id;
    expect((await getJson(`${gw.url}/api/logs/${id}`, read)).status).toBe(200);

    const sse = await SseClient.open(`${gw.url}/api/logs/stream?app_id=my-app&history=10&token=${read}`);
    try {
      expect(sse.status).toBe(200);
      await sse.waitForEvent((e) => e.event === 'live');
      expect(sse.entries().map((e) => e.message)).toEqual(['first from my-app', 'second from my-app']);
    } finally {
      sse.close();
    }

    const live = await LiveClient.connect(gw.url, { token: read });
    try {
      live.send({ type: 'subscribe', apps: ['my-app'], history: 10 });
      const entries = await live.waitForEntries(2);
      expect(entries.map((e) => e.message)).toEqual(['first from my-app', 'second from my-app']);
      await anonymousProducer(gw, 'my-app', ['live from my-app']);
      expect((await live.waitForEntries(3)).map((e) => e.message).at(-1)).toBe('live from my-app');
    } finally {
      live.close();
    }
  });

  it('still refuses writing with the read token', async () => {
    const res = await request(`${gw.url}/api/logs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${read}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: 'no', app_id: 'my-app' }),
    });
    await res.body.text();
    expect(res.statusCode).toBe(403);
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/logs`);
    const got: { type: string; error?: string }[] = [];
    ws.on('message', (d) => got.push(JSON.parse(String(d)) as { type: string }));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    ws.send(JSON.stringify({ type: 'auth', app_id: 'my-app', api_key: read }));
    expect(await closed).toBe(1008);
    expect(got).toMatchObject([{ type: 'error', error: 'forbidden' }]);
  });

  describe.skipIf(!browserAvailable)('in Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchBrowser();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it("the dashboard's app picker shows the producer's app and its lines", async () => {
      await anonymousProducer(gw, 'picker-app', ['hello from the picker app']);
      const { page, errors } = await newPage(browser);
      await page.goto(`${gw.url}/#token=${read}`);
      await page.waitForFunction(() => document.querySelector('#status')?.getAttribute('data-state') === 'live', null, { timeout: 5000 });
      const options = await page.$$eval('#app option', (os) => os.map((o) => (o as HTMLOptionElement).value));
      expect(options).toEqual(['', 'demo', 'my-app', 'picker-app']); // '' is "All apps"
      const rows = () => page.$$eval('#rows [data-id] .msg', (els) => els.map((e) => e.textContent ?? ''));
      const waitRows = async (pred: (texts: string[]) => boolean) => {
        const t0 = Date.now();
        for (;;) {
          const texts = await rows();
          if (pred(texts)) return texts;
          if (Date.now() - t0 > 5000) throw new Error(`rows never matched; rows: ${JSON.stringify(texts)}`);
          await sleep(25);
        }
      };
      // "All apps" (the default with several): every app's lines.
      await waitRows((t) => t.includes('hello from the picker app') && t.includes('second from my-app') && t.includes('from demo'));
      await page.selectOption('#app', 'my-app');
      const mine = await waitRows((t) => !t.includes('hello from the picker app') && t.includes('second from my-app'));
      expect([...mine].sort()).toEqual(['first from my-app', 'live from my-app', 'second from my-app']);
      await page.selectOption('#app', 'picker-app');
      expect(await waitRows((t) => !t.includes('second from my-app') && t.length > 0)).toEqual(['hello from the picker app']);
      expect(errors).toEqual([]);
      await page.context().close();
    });
  });
});

describe('outside demo mode a read token reads its own app only', () => {
  const a = liveApp('own-a');
  const b = liveApp('own-b');
  let gw: GatewayProcess;

  beforeAll(async () => {
    // Anonymous producers switched on explicitly: not the demo mode (ADMIN_TOKEN, a config file).
    gw = await startGatewayProcess({
      SLUICE_CONFIG: writeAppsConfig([a, b]),
      ADMIN_TOKEN: 'admin-token-for-demo-tests-0123456789',
      HOST: '127.0.0.1',
      WS_INGEST_ANONYMOUS: 'true',
    });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('answers 403 for another app on history, SSE and /ws, and lists only its own app', async () => {
    const acks = await anonymousProducer(gw, b.id, ['from b']);
    expect(acks.some((m) => m.type === 'ack')).toBe(true);
    expect(gw.stderr()).not.toMatch(/reads every app/);

    expect((await getJson(`${gw.url}/api/logs?app_id=${b.id}`, a.read)).status).toBe(403);
    expect((await getJson(`${gw.url}/api/logs`, a.read)).body.entries).toEqual([]);
    expect(messagesOf((await getJson(`${gw.url}/api/logs`, b.read)).body)).toEqual(['from b']);
    const apps = await getJson(`${gw.url}/api/apps`, a.read);
    expect((apps.body.apps as { id: string }[]).map((x) => x.id)).toEqual([a.id]);

    const sse = await SseClient.open(`${gw.url}/api/logs/stream?app_id=${b.id}&token=${a.read}`);
    expect(sse.status).toBe(403);
    sse.close();

    const live = await LiveClient.connect(gw.url, { token: a.read });
    try {
      live.send({ type: 'subscribe', apps: [b.id] });
      expect((await live.waitForType('error')).error).toBe('forbidden');
    } finally {
      live.close();
    }
  });
});
