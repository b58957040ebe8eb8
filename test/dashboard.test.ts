import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { browserAvailable, launchBrowser, newPage } from './support/browser.js';
import { liveApp, postLines, sleep, writeAppsConfig, type LiveApp } from './support/live.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';
import { deleteKeysWithPrefix, getTestRedis, redisAvailable, testKeyPrefix, type TestRedis } from './support/redis.js';

/**
 * The dashboard (`GET /`) in Debian's Chromium driven by playwright-core, against real gateway
 * processes: sign-in, history then live, levels, filters and highlight, URL state, following and
 * the "N new" pill, the detail panel, older pages, time windows, download, and reconnecting after
 * the gateway restarts (on Redis, so history survives: no duplicates, nothing missing).
 */

// Callbacks given to page.evaluate / $$eval run in the browser; this project has Node types only.
declare const document: any, window: any, location: any, sessionStorage: any, getComputedStyle: any; // eslint-disable-line @typescript-eslint/no-explicit-any
type HTMLElement = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type HTMLOptionElement = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const ADMIN = 'dash-admin-token-0123456789abcdef';
const BASE_ENV = { ADMIN_TOKEN: ADMIN, HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_LINES_PER_SEC: '0' };

const app = {
  signin: liveApp('signin'),
  levels: liveApp('levels'),
  chips: liveApp('chips'),
  search: liveApp('search'),
  url: liveApp('url'),
  follow: liveApp('follow'),
  detail: liveApp('detail'),
  older: liveApp('older'),
  phone: liveApp('phone'),
  restart: liveApp('restart'),
};

/** Messages of the rows in the DOM, top to bottom. */
const rowTexts = (page: Page) => page.$$eval('#rows [data-id] .msg', (els) => els.map((e) => e.textContent ?? ''));
const rowIds = (page: Page) => page.$$eval('#rows [data-id]', (els) => els.map((e) => (e as HTMLElement).dataset.id!));

async function postJson(base: string, token: string, body: unknown): Promise<void> {
  const res = await request(`${base}/api/logs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`POST /api/logs → ${res.statusCode} ${text}`);
}

/** Opens the dashboard signed in with `a`'s read token (by fragment) and waits until it is live. */
async function openLive(browser: Browser, gw: GatewayProcess, a: LiveApp, query = '', opts: Parameters<typeof newPage>[1] = {}) {
  const { page, errors } = await newPage(browser, opts);
  await page.goto(`${gw.url}/${query}#token=${a.read}`);
  await waitLive(page);
  return { page, errors };
}

const waitLive = (page: Page, timeout = 5000) => page.waitForFunction(() => document.querySelector('#status')?.getAttribute('data-state') === 'live', null, { timeout });

/** Waits until the row messages (top to bottom) satisfy `pred`, polling every 25 ms. */
async function waitRows(page: Page, pred: (texts: string[]) => boolean, timeout = 5000): Promise<string[]> {
  const until = Date.now() + timeout;
  let texts: string[] = [];
  for (;;) {
    texts = await rowTexts(page);
    if (pred(texts)) return texts;
    if (Date.now() > until) throw new Error(`rows never matched ${pred.toString()}; rows: ${JSON.stringify(texts.slice(-12))}`);
    await sleep(25);
  }
}

describe.skipIf(!browserAvailable)('the dashboard in Chromium', () => {
  let gw: GatewayProcess;
  let browser: Browser;

  beforeAll(async () => {
    const config = writeAppsConfig(Object.values(app).filter((a) => a !== app.restart));
    [gw, browser] = await Promise.all([startGatewayProcess({ ...BASE_ENV, SLUICE_CONFIG: config }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  it('is served by the gateway: page no-cache, hashed assets immutable, nothing from elsewhere', async () => {
    const res = await request(`${gw.url}/`);
    const html = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((u) => !u.startsWith('data:'));
    expect(assets.length).toBe(2);
    for (const path of assets) {
      expect(path).toMatch(/^\/assets\/(app|style)-[A-Z0-9]+\.(js|css)$/);
      const a = await request(`${gw.url}${path}`);
      await a.body.text();
      expect(a.statusCode).toBe(200);
      expect(a.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
    const missing = await request(`${gw.url}/assets/app-NOPE.js`);
    expect(missing.statusCode).toBe(404);
    await missing.body.text();
  });

  it('signs in from #token=, then drops it from the address bar; the form takes the admin token', async () => {
    await postLines(gw.url, app.signin.ingest, ['hello from sign-in']);
    const { page, errors } = await openLive(browser, gw, app.signin);
    expect(page.url()).not.toContain('token');
    expect(page.url()).not.toContain('#');
    expect(await page.evaluate(() => sessionStorage.getItem('sluice.token'))).toBe(app.signin.read);
    // A read token lists only its own app.
    expect(await page.$$eval('#app option', (os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['signin']);
    await waitRows(page, (t) => t.includes('hello from sign-in'));
    // A reload keeps the session (sessionStorage), with no token anywhere in the URL.
    await page.reload();
    await waitLive(page);
    expect(page.url()).toBe(`${gw.url}/?app=signin`);

    // The form: an unknown token is refused, an ingest token is explained, the admin token lists every app.
    const form = await newPage(browser);
    await form.page.goto(`${gw.url}/`);
    await form.page.fill('#signin-token', 'r.not-a-real-token-0123456789');
    await form.page.click('#signin-form button[type=submit]');
    await form.page.waitForSelector('#signin-error:has-text("Unknown token")');
    await form.page.fill('#signin-token', app.signin.ingest);
    await form.page.click('#signin-form button[type=submit]');
    await form.page.waitForSelector('#signin-error:has-text("ingest token")');
    await form.page.fill('#signin-token', ADMIN);
    await form.page.click('#signin-form button[type=submit]');
    await form.page.waitForSelector('#main:not([hidden])');
    const options = await form.page.$$eval('#app option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options).toContain('');
    expect(options).toEqual(expect.arrayContaining(['signin', 'levels', 'search']));
    await form.page.selectOption('#app', 'signin');
    await waitLive(form.page);
    await waitRows(form.page, (t) => t.includes('hello from sign-in'));
    expect(errors).toEqual([]);
    // Chromium logs the refused sign-in (401) itself; nothing else.
    expect(form.errors.filter((e) => !e.includes('401 (Unauthorized)'))).toEqual([]);
    await page.context().close();
    await form.page.context().close();
    // The fragment never reaches the server: no token in its logs.
    expect(gw.stdout() + gw.stderr()).not.toContain(app.signin.read);
  });

  it('shows history, then live lines, each row with the right data-level; ANSI colours rendered', async () => {
    const a = app.levels;
    await postLines(gw.url, a.ingest, Array.from({ length: 20 }, (_, i) => `history ${i}`));
    await postLines(gw.url, a.ingest, ['level=error msg="charge failed"', '{"level":"warn","message":"disk almost full"}', '[ERROR] x', '\u001b[31mred\u001b[0m and \u001b[1;32mbold green\u001b[0m']);
    await postLines(gw.url, a.ingest, ['at=error code=H12 desc="Request timeout" method=GET path="/" dyno=web.1 connect=6ms service=30001ms status=503 bytes=0'], {
      source: 'heroku',
      proc: 'router',
      pri: 158,
    });
    const { page, errors } = await openLive(browser, gw, a);
    const history = await rowTexts(page);
    expect(history.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => `history ${i}`));

    const levelOf = (needle: string) => page.$eval(`#rows [data-id]:has(.msg:text-is(${JSON.stringify(needle)}))`, (e) => (e as HTMLElement).dataset.level);
    expect(await levelOf('level=error msg="charge failed"')).toBe('error');
    expect(await levelOf('disk almost full')).toBe('warn');
    expect(await levelOf('[ERROR] x')).toBe('error');
    expect(await page.$eval('#rows [data-id]:has(.msg:has-text("code=H12"))', (e) => (e as HTMLElement).dataset.level)).toBe('error');
    expect(await levelOf('history 0')).toBe('info');

    // ANSI: coloured spans, no escape characters or "[31m" left in the text.
    const ansi = await page.$eval('#rows [data-id]:has(.msg:has-text("bold green")) .msg', (e) => ({
      text: e.textContent,
      red: e.querySelector('.a-f1')?.textContent,
      green: e.querySelector('.a-f2.a-bold')?.textContent,
    }));
    expect(ansi).toEqual({ text: 'red and bold green', red: 'red', green: 'bold green' });

    // Live lines follow, in order, after the history; ids are unique.
    await postLines(gw.url, a.ingest, ['live 1', 'live 2']);
    await postLines(gw.url, a.ingest, ['live 3']);
    await waitRows(page, (t) => t.at(-1) === 'live 3');
    const texts = await rowTexts(page);
    expect(texts.slice(-3)).toEqual(['live 1', 'live 2', 'live 3']);
    expect(texts.length).toBe(28);
    const ids = await rowIds(page);
    expect(new Set(ids).size).toBe(ids.length);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('level chips hide rows (on the gateway subscription) and show them again', async () => {
    const a = app.chips;
    await postLines(gw.url, a.ingest, ['level=info one', 'level=error two', 'level=warn three', 'level=error four']);
    const { page, errors } = await openLive(browser, gw, a);
    await waitRows(page, (t) => t.length === 4);
    await page.click('[data-chip=error]');
    expect(await page.getAttribute('[data-chip=error]', 'aria-pressed')).toBe('false');
    await page.waitForFunction(() => document.querySelectorAll('#rows [data-level=error]').length === 0);
    expect(new URL(page.url()).searchParams.get('level')).toBe('debug,info,warn,fatal');
    await waitLive(page);
    // New error lines do not come through the new subscription; others do.
    await postLines(gw.url, a.ingest, ['level=error five', 'level=info six']);
    await waitRows(page, (t) => t.at(-1) === 'level=info six');
    expect(await page.$$eval('#rows [data-level=error]', (e) => e.length)).toBe(0);
    await page.click('[data-chip=error]');
    await waitRows(page, (t) => t.includes('level=error five') && t.length === 6);
    expect(new URL(page.url()).searchParams.get('level')).toBeNull();
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('search filters on the gateway; highlight keeps every row and marks matches, n moves; a bad regex shows the error', async () => {
    const a = app.search;
    await postLines(gw.url, a.ingest, ['alpha', 'a needle here', 'beta', 'NEEDLE again', 'gamma', 'delta']);
    const { page, errors } = await openLive(browser, gw, a);
    await waitRows(page, (t) => t.length === 6);

    // `/` focuses the search box.
    await page.click('#scroller');
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search');
    await page.keyboard.type('needle');
    await waitRows(page, (t) => t.length === 2 && t[0] === 'a needle here' && t[1] === 'NEEDLE again');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('search') === 'needle');
    await waitLive(page);
    await postLines(gw.url, a.ingest, ['no match', 'third needle']);
    await waitRows(page, (t) => t.at(-1) === 'third needle');
    expect(await rowTexts(page)).toEqual(['a needle here', 'NEEDLE again', 'third needle']);

    // Download saves what the filter selects, as NDJSON.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const saved = readFileSync((await download.path())!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { message: string });
    expect(saved.map((e) => e.message)).toEqual(['a needle here', 'NEEDLE again', 'third needle']);

    // Highlight mode: every row back, matches in <mark>.
    await page.click('#mode');
    await waitRows(page, (t) => t.length === 8);
    expect(new URL(page.url()).searchParams.get('mode')).toBe('highlight');
    expect(await page.$$eval('#rows mark', (ms) => ms.map((m) => m.textContent))).toEqual(['needle', 'NEEDLE', 'needle']);
    expect(await page.textContent('#matches')).toBe('3 matches');
    await page.click('#scroller');
    await page.keyboard.press('n');
    await page.waitForSelector('#rows .row.current');
    expect(await page.textContent('#rows .row.current .msg')).toBe('a needle here');
    await page.keyboard.press('n');
    await page.waitForFunction(() => document.querySelector('#rows .row.current .msg')?.textContent === 'NEEDLE again');
    await page.keyboard.press('Shift+N');
    await page.waitForFunction(() => document.querySelector('#rows .row.current .msg')?.textContent === 'a needle here');
    expect(await page.textContent('#matches')).toBe('1/3');

    // Esc in the search box clears it.
    await page.keyboard.press('Control+k');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search');
    await page.keyboard.press('Escape');
    expect(await page.inputValue('#search')).toBe('');
    await page.waitForFunction(() => document.querySelectorAll('#rows mark').length === 0);

    // Regex: the gateway's own error message, and the rows stay.
    await page.click('#mode'); // back to filter
    await page.click('#regex');
    await page.fill('#search', 'needle (');
    await page.waitForSelector('#search-error:not([hidden])');
    expect(await page.textContent('#search-error')).toMatch(/Invalid regex: Invalid regular expression: \/needle \(\/: Unterminated group/);
    expect((await rowTexts(page)).length).toBe(8);
    await page.fill('#search', '^(alpha|beta)$');
    await waitRows(page, (t) => t.join() === 'alpha,beta');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('regex') === '^(alpha|beta)$');
    expect(await page.isHidden('#search-error')).toBe(true);
    // History under a regex is filtered by the gateway (GET /api/logs?regex=…), not page by page here.
    const [, regexDownload] = await Promise.all([
      page.waitForRequest((r) => r.url().includes('/api/logs?') && new URL(r.url()).searchParams.get('regex') === '^(alpha|beta)$'),
      page.waitForEvent('download'),
      page.click('#download'),
    ]);
    const savedByRegex = readFileSync((await regexDownload.path())!, 'utf8').trim().split('\n');
    expect(savedByRegex.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['alpha', 'beta']);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('restores the view from the URL after a reload', async () => {
    const a = app.url;
    await postLines(gw.url, a.ingest, ['level=info web ok', 'level=warn web slow'], { proc: 'web.1' });
    await postLines(gw.url, a.ingest, ['level=warn worker slow', 'level=error worker failed'], { proc: 'worker.1' });
    const { page, errors } = await openLive(browser, gw, a);
    await waitRows(page, (t) => t.length === 4);
    await page.click('[data-chip=info]');
    await page.fill('#proc', 'worker');
    await page.press('#proc', 'Enter');
    await page.fill('#search', 'slow');
    await page.click('#mode');
    await page.waitForFunction(() => new URLSearchParams(location.search).get('search') === 'slow');
    const url = new URL(page.url());
    expect(Object.fromEntries(url.searchParams)).toEqual({ app: 'url', level: 'debug,warn,error,fatal', proc: 'worker', search: 'slow', mode: 'highlight' });
    await waitRows(page, (t) => t.join() === 'level=warn worker slow,level=error worker failed');

    await page.reload();
    await waitLive(page);
    await waitRows(page, (t) => t.join() === 'level=warn worker slow,level=error worker failed');
    expect(await page.inputValue('#search')).toBe('slow');
    expect(await page.inputValue('#proc')).toBe('worker');
    expect(await page.getAttribute('[data-chip=info]', 'aria-pressed')).toBe('false');
    expect(await page.getAttribute('[data-chip=warn]', 'aria-pressed')).toBe('true');
    expect(await page.textContent('#mode')).toBe('Highlight');
    expect(await page.$$eval('#rows mark', (m) => m.map((x) => x.textContent))).toEqual(['slow']);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('follows at 1000 lines/s; scrolled up, the first visible row holds still and "N new" counts; the pill returns to live', async () => {
    const a = app.follow;
    await postLines(gw.url, a.ingest, Array.from({ length: 300 }, (_, i) => `before ${i}`));
    const { page, errors } = await openLive(browser, gw, a);
    await waitRows(page, (t) => t.at(-1) === 'before 299');

    // ~1000 lines/s for 2 s: the view stays pinned to the newest line.
    for (let b = 0; b < 20; b++) {
      await postLines(gw.url, a.ingest, Array.from({ length: 100 }, (_, i) => `fast ${b * 100 + i}`));
      await sleep(100);
    }
    await waitRows(page, (t) => t.at(-1) === 'fast 1999');
    const pinned = await page.evaluate(() => {
      const s = document.querySelector('#scroller')!;
      return s.scrollHeight - s.scrollTop - s.clientHeight;
    });
    expect(pinned).toBeLessThan(2);
    expect(await page.$$eval('#rows [data-id]', (e) => e.length)).toBeLessThanOrEqual(500);

    // Scroll up: following pauses.
    await page.hover('#scroller');
    await page.mouse.wheel(0, -1500);
    await page.waitForFunction(() => !document.body.classList.contains('following'));
    await sleep(150);
    const firstVisible = () =>
      page.evaluate(() => {
        const top = document.querySelector('#scroller')!.getBoundingClientRect().top;
        const row = [...document.querySelectorAll('#rows [data-id]')].find((r) => r.getBoundingClientRect().bottom > top + 1)!;
        return { id: row.dataset.id, text: row.querySelector('.msg')!.textContent, y: row.getBoundingClientRect().top };
      });
    const before = await firstVisible();
    for (let b = 0; b < 5; b++) {
      await postLines(gw.url, a.ingest, Array.from({ length: 10 }, (_, i) => `while paused ${b * 10 + i}`));
      await sleep(60);
    }
    await page.waitForSelector('#pill:has-text("50 new")');
    expect(await firstVisible()).toEqual(before);
    expect(await page.textContent('#pause')).toBe('Resume');

    // The pill: back to live, the newest line at the bottom.
    await page.click('#pill');
    await waitRows(page, (t) => t.at(-1) === 'while paused 49');
    expect(await page.isHidden('#pill')).toBe(true);
    await page.waitForFunction(() => document.body.classList.contains('following'));

    // Pause/Resume does the same from the button.
    await page.click('#pause');
    await postLines(gw.url, a.ingest, ['during pause']);
    await page.waitForSelector('#pill:has-text("1 new")');
    expect((await rowTexts(page)).includes('during pause')).toBe(false);
    await page.click('#pause');
    await waitRows(page, (t) => t.at(-1) === 'during pause');
    const ids = await rowIds(page);
    expect(new Set(ids).size).toBe(ids.length);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('opens a row: fields, context tree, metrics, stack trace; a field click adds a filter', async () => {
    const a = app.detail;
    await postJson(gw.url, a.ingest, {
      level: 'error',
      message: 'payment failed',
      source: 'billing',
      proc: 'worker.2',
      context: { order: { id: 42, items: ['book', 'pen'] }, user: 'ann' },
      stack_trace: 'Error: card declined\n    at charge (billing.js:10:5)',
    });
    await postLines(gw.url, a.ingest, ['measure#db.latency=20ms count#errors=1 msg="db sample"']);
    const { page, errors } = await openLive(browser, gw, a);
    await waitRows(page, (t) => t.length === 2);
    await page.click('#rows [data-id]:has-text("payment failed")');
    await page.waitForSelector('#detail:not([hidden])');
    expect(await page.textContent('#detail .detail-msg')).toBe('payment failed');
    expect(await page.textContent('#detail pre.stack')).toContain('at charge (billing.js:10:5)');
    expect(await page.$$eval('#detail .context .json-key', (ks) => ks.map((k) => k.textContent))).toEqual(['order: ', 'id: ', 'items: ', '0: ', '1: ', 'user: ']);
    // Collapsible: the tree's nodes are <details>.
    expect(await page.$$eval('#detail .context details', (d) => d.length)).toBe(3);
    await page.keyboard.press('Escape');
    await page.waitForSelector('#detail', { state: 'hidden' });

    await page.click('#rows [data-id]:has-text("db sample")');
    await page.waitForSelector('#detail .metrics');
    const metrics = await page.$$eval('#detail .metrics tr', (rows) => rows.slice(1).map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    expect(metrics).toEqual([
      ['db.latency', 'measure', '20', 'ms', ''],
      ['errors', 'count', '1', '', ''],
    ]);

    // A click on a field filters on it.
    await page.click('#rows [data-id]:has-text("payment failed")');
    await page.click('#detail button[data-field=source]');
    await waitRows(page, (t) => t.join() === 'payment failed');
    expect(new URL(page.url()).searchParams.get('source')).toBe('billing');
    expect(await page.inputValue('#source')).toBe('billing');
    await page.click('#detail button[data-field="order.id"]');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('search') === '42');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('loads older entries from GET /api/logs when scrolled to the top; a time window shows history', async () => {
    const a = app.older;
    await postLines(gw.url, a.ingest, Array.from({ length: 150 }, (_, i) => `old ${String(i).padStart(3, '0')}`));
    // Ask for 40 entries of history over the WebSocket: the rest must come from GET /api/logs.
    const { page, errors } = await openLive(browser, gw, a, '?history=40');
    await waitRows(page, (t) => t.at(-1) === 'old 149');
    expect(await page.evaluate(() => (window as unknown as { __sluice: { rows: unknown[] } }).__sluice.rows.length)).toBe(40);
    await page.hover('#scroller');
    for (let i = 0; i < 6; i++) {
      await page.mouse.wheel(0, -5000);
      await sleep(100);
    }
    await page.waitForFunction(() => (window as unknown as { __sluice: { rows: unknown[] } }).__sluice.rows.length === 150);
    await page.evaluate(() => (document.querySelector('#scroller')!.scrollTop = 0));
    await waitRows(page, (t) => t[0] === 'old 000');

    // Time window: the last 5 minutes, from history, with a way back to live.
    await page.selectOption('#range', '5');
    await page.waitForSelector('#window:not([hidden])');
    expect(new URL(page.url()).searchParams.get('from')).toMatch(/^\d{4}-\d\d-\d\dT/);
    await page.waitForFunction(() => (window as unknown as { __sluice: { rows: unknown[] } }).__sluice.rows.length === 150);
    await page.click('#window button');
    await waitLive(page);
    expect(new URL(page.url()).searchParams.get('from')).toBeNull();
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('is usable at phone width, in dark mode', async () => {
    const a = app.phone;
    await postLines(gw.url, a.ingest, ['level=warn a fairly long line that would not fit on a phone screen at all, truncated with an ellipsis']);
    const { page, errors } = await openLive(browser, gw, a, '', { viewport: { width: 390, height: 800 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
    await waitRows(page, (t) => t.length === 1);
    const layout = await page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      bg: getComputedStyle(document.body).backgroundColor,
      search: document.querySelector('#search')!.getBoundingClientRect().width,
    }));
    expect(layout.overflow).toBeLessThanOrEqual(0);
    expect(layout.bg).toBe('rgb(15, 18, 23)');
    expect(layout.search).toBeGreaterThan(150);
    await page.tap('#rows [data-id]');
    await page.waitForSelector('#detail:not([hidden])');
    const detail = await page.$eval('#detail', (d) => d.getBoundingClientRect().width);
    expect(detail).toBe(390);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe.skipIf(!browserAvailable || !redisAvailable)('the dashboard across a gateway restart (Redis)', () => {
  let redis: TestRedis;
  let gw: GatewayProcess | undefined;
  let browser: Browser;
  const prefix = testKeyPrefix('dashboard');
  const a = app.restart;
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = (await getTestRedis())!;
    env = { ...BASE_ENV, SLUICE_CONFIG: writeAppsConfig([a]), REDIS_URL: redis.url, REDIS_PREFIX: prefix };
    [gw, browser] = await Promise.all([startGatewayProcess(env), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await deleteKeysWithPrefix(redis.url, prefix);
    await redis.stop();
  });

  it('reconnects by itself, resumes from the last id, and shows no duplicate rows', async () => {
    await postLines(gw!.url, a.ingest, Array.from({ length: 10 }, (_, i) => `before restart ${i}`));
    const { page, errors } = await openLive(browser, gw!, a);
    await waitRows(page, (t) => t.length === 10);
    await postLines(gw!.url, a.ingest, ['live before restart']);
    await waitRows(page, (t) => t.at(-1) === 'live before restart');

    const port = gw!.port;
    await gw!.stop();
    await page.waitForFunction(() => document.querySelector('#status')?.getAttribute('data-state') === 'reconnecting');
    gw = await startGatewayProcess({ ...env, PORT: String(port) });
    // Lines that arrive before the page is back are resumed (since_id), then live ones follow.
    await postLines(gw.url, a.ingest, ['after restart 1', 'after restart 2']);
    await waitLive(page, 10_000);
    await postLines(gw.url, a.ingest, ['after restart 3']);
    await waitRows(page, (t) => t.at(-1) === 'after restart 3');
    const texts = await rowTexts(page);
    expect(texts).toEqual([...Array.from({ length: 10 }, (_, i) => `before restart ${i}`), 'live before restart', 'after restart 1', 'after restart 2', 'after restart 3']);
    const ids = await rowIds(page);
    expect(new Set(ids).size).toBe(ids.length);
    expect(await page.$$eval('#rows .row.gap', (g) => g.length)).toBe(0);
    // The failed attempts while it was down are the only console errors.
    expect(errors.filter((e) => !/WebSocket connection to .* failed/.test(e))).toEqual([]);
    await page.context().close();
  });
});

describe.skipIf(!browserAvailable)('the dashboard across a gateway restart (memory store)', () => {
  it('announces the gap when the restarted gateway no longer has the resume point', async () => {
    const a = liveApp('gap');
    const env = { ...BASE_ENV, SLUICE_CONFIG: writeAppsConfig([a]) };
    let gw = await startGatewayProcess(env);
    const browser = await launchBrowser();
    try {
      await postLines(gw.url, a.ingest, ['first life']);
      const { page } = await openLive(browser, gw, a);
      await waitRows(page, (t) => t.length === 1);
      const port = gw.port;
      await gw.stop();
      gw = await startGatewayProcess({ ...env, PORT: String(port) });
      await postLines(gw.url, a.ingest, ['second life']);
      await page.waitForSelector('.notice-gap');
      expect(await page.textContent('.notice-gap')).toContain('no longer holds the point to resume from');
      await waitRows(page, (t) => t.at(-1) === 'second life');
      expect(await page.$$eval('#rows .row.gap', (g) => g.length)).toBe(1);
    } finally {
      await browser.close();
      await gw.stop();
    }
  });
});

describe.skipIf(!browserAvailable)('the dashboard presents its token at the WebSocket upgrade', () => {
  // Not an RFC 6455 subprotocol token ('/', '='): the page must fall back to the subscribe message.
  const SLASHED_ADMIN = 'dash/admin=token-0123456789abcdef';
  const a = liveApp('upgrade');
  let gw: GatewayProcess;
  let browser: Browser;
  const unauthenticated = async () => ((await (await request(`${gw.url}/health`)).body.json()) as { ws_unauthenticated: number }).ws_unauthenticated;

  beforeAll(async () => {
    const env = {
      ...BASE_ENV,
      ADMIN_TOKEN: SLASHED_ADMIN,
      SLUICE_CONFIG: writeAppsConfig([a]),
      // One socket without a token fills the pool, and stays there for the length of the test.
      FANOUT_MAX_UNAUTHENTICATED: '1',
      FANOUT_AUTH_TIMEOUT_MS: '60000',
    };
    [gw, browser] = await Promise.all([startGatewayProcess(env), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  it('gets in while sockets that never authenticate fill their pool (token in Sec-WebSocket-Protocol)', async () => {
    const filler = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/ws`);
    await new Promise((resolve, reject) => filler.once('open', resolve).once('error', reject));
    try {
      expect(await unauthenticated()).toBe(1);
      await postLines(gw.url, a.ingest, ['before the page']);
      const { page, errors } = await openLive(browser, gw, a);
      await waitRows(page, (t) => t.includes('before the page'));
      await postLines(gw.url, a.ingest, ['while the pool is full']);
      await waitRows(page, (t) => t.at(-1) === 'while the pool is full');
      // The pool is still full: the page's socket was a reader from its upgrade on.
      expect(await unauthenticated()).toBe(1);
      expect(filler.readyState).toBe(WebSocket.OPEN);
      expect(errors).toEqual([]);
      await page.context().close();
    } finally {
      filler.terminate();
    }
    // Neither the token nor the subprotocol that carried it reaches the gateway's logs.
    expect(gw.stdout() + gw.stderr()).not.toContain(a.read);
    expect(gw.stdout() + gw.stderr()).not.toContain('sluice.token.');
  });

  it('still signs in with a token a subprotocol cannot carry (sent in the subscribe message instead)', async () => {
    for (let i = 0; i < 100 && (await unauthenticated()) > 0; i++) await sleep(20);
    const { page, errors } = await newPage(browser);
    await page.goto(`${gw.url}/#token=${encodeURIComponent(SLASHED_ADMIN)}`);
    await waitLive(page);
    await page.selectOption('#app', 'upgrade');
    await waitLive(page);
    await waitRows(page, (t) => t.includes('while the pool is full'));
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
