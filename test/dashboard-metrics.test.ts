import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { browserAvailable, launchBrowser, newPage } from './support/browser.js';
import { liveApp, postLines, sleep, writeAppsConfig, type LiveApp } from './support/live.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';

/**
 * The dashboard's Metrics view and Sources panel (issue 14) in Debian's Chromium, against a real
 * gateway process: Heroku router lines posted to `POST /drain` appear in the router chart's
 * legend through the live `subscribe_metrics` frames (no reload), the response-time legend shows
 * the posted service time within the sketch's bound, a click on the chart opens the Logs view at
 * that moment, and a WebSocket producer connected to `GET /logs` is listed with its status dot.
 */

// Callbacks given to page.evaluate / $$eval run in the browser; this project has Node types only.
declare const document: any, window: any, getComputedStyle: any; // eslint-disable-line @typescript-eslint/no-explicit-any
type HTMLElement = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const ADMIN = 'dash-metrics-admin-token-0123456789';
const app = { router: liveApp('metrics-router'), sources: liveApp('metrics-sources'), phone: liveApp('metrics-phone') };
/** Live frames every 300 ms instead of 2 s, flushes every 100 ms: the test waits less. */
const ENV = { ADMIN_TOKEN: ADMIN, HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_LINES_PER_SEC: '0', METRICS_LIVE_INTERVAL_MS: '300', METRICS_FLUSH_MS: '100' };
const ROUTER = { source: 'heroku', proc: 'router', pri: 158 };
const UA = 'sluice-node/0.1.0 (node 20.20.2)';

/** A Heroku router line as the router writes it. */
const routerLine = (status: number, serviceMs: number, i: number) =>
  `at=${status >= 500 ? 'error code=H12 desc="Request timeout"' : 'info'} method=GET path="/items/${i}" host=shop.example.com request_id=req-${i} fwd="10.0.0.1" dyno=web.1 connect=1ms service=${serviceMs}ms status=${status} bytes=512 protocol=https`;

/** The values the legend of chart `chart` shows, by line: what a user reads under the chart. */
const legend = (page: Page, chart: string) =>
  page.$$eval(`[data-chart=${chart}] .chart-legend li`, (items) => Object.fromEntries(items.map((li) => [(li as HTMLElement).dataset.line, li.querySelector('.value')!.textContent])));

async function waitLegend(page: Page, chart: string, pred: (v: Record<string, string>) => boolean, timeout = 8000): Promise<Record<string, string>> {
  const until = Date.now() + timeout;
  for (;;) {
    const v = await legend(page, chart);
    if (pred(v)) return v;
    if (Date.now() > until) throw new Error(`the ${chart} legend never matched: ${JSON.stringify(v)}`);
    await sleep(50);
  }
}

async function openMetrics(browser: Browser, gw: GatewayProcess, a: LiveApp, opts: Parameters<typeof newPage>[1] = {}, query = '') {
  const { page, errors } = await newPage(browser, opts);
  await page.goto(`${gw.url}/?app=${a.id}&view=metrics${query}#token=${a.read}`);
  await page.waitForSelector('#metrics-status[data-state=live]', { timeout: 8000 });
  return { page, errors };
}

describe.skipIf(!browserAvailable)('the Metrics view in Chromium', () => {
  let gw: GatewayProcess;
  let browser: Browser;

  beforeAll(async () => {
    [gw, browser] = await Promise.all([startGatewayProcess({ ...ENV, SLUICE_CONFIG: writeAppsConfig(Object.values(app)) }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  it('draws the router chart from live data: the legend counts the posted requests per status class', async () => {
    const a = app.router;
    // The last 5 minutes: 31 buckets of 10 s, each a dozen pixels wide.
    const { page, errors } = await openMetrics(browser, gw, a, {}, '&range=5');
    expect(await page.inputValue('#range')).toBe('5');
    // Nothing posted yet: every class at 0, the chart says so.
    expect(await legend(page, 'router')).toEqual({ '2xx': '0', '3xx': '0', '4xx': '0', '5xx': '0' });
    expect(await page.getAttribute('[data-chart=router]', 'data-points')).toBe('0');
    expect(await page.isVisible('[data-chart=router] .chart-empty')).toBe(true);
    expect(await page.$$eval('[data-chart=router] canvas', (c) => c.length)).toBeGreaterThan(0);

    // From now on the page may only learn through the socket: no GET /api/metrics again.
    const reads: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/metrics') reads.push(r.url());
    });
    const statuses = [...Array(7).fill(200), 302, 302, 404, 404, 404, 503, 503, 503, 503] as number[];
    await postLines(gw.url, a.ingest, statuses.map((s, i) => routerLine(s, 40, i)), ROUTER);
    expect(await waitLegend(page, 'router', (v) => v['2xx'] === '7' && v['5xx'] === '4')).toEqual({ '2xx': '7', '3xx': '2', '4xx': '3', '5xx': '4' });
    expect(reads).toEqual([]);
    expect(Number(await page.getAttribute('[data-chart=router]', 'data-points'))).toBeGreaterThanOrEqual(1);
    expect(await page.isVisible('[data-chart=router] .chart-empty')).toBe(false);
    // Every request took 40 ms: p50, p95 and p99 within the sketch's 1 % of it.
    const latency = await waitLegend(page, 'latency', (v) => v.p99 !== '–');
    for (const p of ['p50', 'p95', 'p99']) {
      expect(latency[p]).toMatch(/ ms$/);
      expect(Math.abs(parseFloat(latency[p]!) - 40)).toBeLessThanOrEqual(0.4);
    }
    // Log volume: the router lines of 503 are errors, the others info.
    const levels = await waitLegend(page, 'levels', (v) => v.error === '4');
    expect(levels).toMatchObject({ info: '12', error: '4' });

    // A reload draws the same from GET /api/metrics; the view is kept in the URL.
    await page.reload();
    await page.waitForSelector('#metrics-status[data-state=live]');
    expect(new URL(page.url()).searchParams.get('view')).toBe('metrics');
    expect(await page.getAttribute('#tab-metrics', 'aria-selected')).toBe('true');
    expect(await waitLegend(page, 'router', (v) => v['2xx'] === '7')).toEqual({ '2xx': '7', '3xx': '2', '4xx': '3', '5xx': '4' });

    // Hovering shows a bucket's values: from the right, find the spike, and click it.
    const plot = (await (await page.$('[data-chart=router] .u-over'))!.boundingBox())!;
    const y = plot.y + plot.height / 2;
    let spike: { x: number; values: Record<string, string>; at: string } | undefined;
    for (let x = plot.x + plot.width - 1; x > plot.x && !spike; x -= 3) {
      await page.mouse.move(x, y);
      const values = await legend(page, 'router');
      if (Object.values(values).some((v) => v !== '0')) spike = { x, values, at: (await page.textContent('[data-chart=router] .chart-hover'))! };
    }
    expect(spike, 'no bucket with requests under the cursor').toBeDefined();
    expect(spike!.at).toMatch(/^\d\d:\d\d:\d0$/); // the bucket's start, local time
    await page.mouse.click(spike!.x, y);
    await page.waitForSelector('#window:not([hidden])');
    const url = new URL(page.url());
    expect(url.searchParams.get('view')).toBeNull();
    const from = Date.parse(url.searchParams.get('from')!);
    const to = Date.parse(url.searchParams.get('to')!);
    expect(to - from).toBe(30_000); // the 10 s bucket and one either side
    expect(await page.isVisible('#metrics')).toBe(false);
    expect(await page.isVisible('#scroller')).toBe(true);
    await page.waitForFunction(() => document.querySelectorAll('#rows [data-id]').length === 16);
    // Back: the Metrics view again.
    await page.goBack();
    await page.waitForSelector('#metrics:not([hidden])');
    expect(Object.fromEntries(new URL(page.url()).searchParams)).toEqual({ app: a.id, view: 'metrics', range: '5' });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('lists a WebSocket producer connected to GET /logs in the Sources panel, green once it sent lines', async () => {
    const a = app.sources;
    const producer = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/logs`, { headers: { Authorization: `Bearer ${a.ingest}`, 'User-Agent': UA } });
    await new Promise((resolve, reject) => producer.once('open', resolve).once('error', reject));
    try {
      // The gateway may say `authenticated` first: wait for the ack itself.
      const acked = new Promise<unknown>((resolve) =>
        producer.on('message', (d) => {
          const msg = JSON.parse(String(d)) as { type: string };
          if (msg.type !== 'authenticated') resolve(msg);
        }),
      );
      producer.send(JSON.stringify({ type: 'logs', seq: 1, data: [{ message: 'hello from a socket' }, { message: 'and again', level: 'warn' }] }));
      expect(await acked).toMatchObject({ type: 'ack', seq: 1, saved: 2 });

      const { page, errors } = await openMetrics(browser, gw, a);
      const row = `#sources [data-table=connected] tr[data-name="${UA}"]`;
      await page.waitForSelector(row, { timeout: 8000 });
      const connected = await page.$eval(row, (tr) => ({
        status: (tr as HTMLElement).dataset.status,
        dot: tr.querySelector('.dot')!.className,
        cells: [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent),
      }));
      expect(connected).toEqual({ status: 'green', dot: 'dot dot-green', cells: [UA, '1', '2'] });
      // Per producer family and per app: lines per minute and when last seen.
      await page.waitForSelector('#sources [data-table=producers] tr[data-name="sluice-node"][data-status=green]');
      const family = await page.$$eval('#sources [data-table=producers] tr[data-name="sluice-node"] td', (tds) => tds.slice(1).map((td) => td.textContent));
      expect(family[0]).toBe('sluice-node');
      expect(family[1]).toBe('2');
      expect(family[2]).toMatch(/^\d+ s ago$/);
      expect(await page.getAttribute(`#sources [data-table=apps] tr[data-name="${a.id}"]`, 'data-status')).toBe('green');

      // Disconnected: gone from "connected now" on the next refresh (every 5 s).
      producer.close();
      await page.waitForSelector(row, { state: 'detached', timeout: 8000 });
      expect(await page.textContent('#sources [data-table=connected]')).toContain('No WebSocket producer is connected');
      expect(errors).toEqual([]);
      await page.context().close();
    } finally {
      producer.terminate();
    }
  });

  it('is usable at phone width, in dark mode: one column of charts, the Sources panel below, nothing wider than the screen', async () => {
    const a = app.phone;
    await postLines(gw.url, a.ingest, [routerLine(200, 12, 1)], ROUTER);
    const { page, errors } = await openMetrics(browser, gw, a, { viewport: { width: 390, height: 800 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
    await waitLegend(page, 'router', (v) => v['2xx'] === '1');
    const layout = await page.evaluate(() => {
      const cards = [...document.querySelectorAll('.chart-card')].map((c) => c.getBoundingClientRect());
      const sources = document.querySelector('#sources')!.getBoundingClientRect();
      return {
        overflow: document.documentElement.scrollWidth - window.innerWidth,
        bg: getComputedStyle(document.body).backgroundColor,
        lefts: [...new Set(cards.map((r) => Math.round(r.left)))],
        widest: Math.max(...cards.map((r) => r.right)),
        sourcesBelow: sources.top >= Math.max(...cards.map((r) => r.bottom)),
      };
    });
    expect(layout.overflow).toBeLessThanOrEqual(0);
    expect(layout.bg).toBe('rgb(15, 18, 23)');
    expect(layout.lefts).toHaveLength(1);
    expect(layout.widest).toBeLessThanOrEqual(390);
    expect(layout.sourcesBelow).toBe(true);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
