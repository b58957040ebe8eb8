/**
 * `npm run bench:ui`: the dashboard in Chromium while one app receives 5,000 lines/s for 60 s.
 *
 *   npm run bench:ui                               # 5,000 lines/s for 60 s (~70 s)
 *   npm run bench:ui -- --rate=10000 --seconds=20  # other load
 *   npm run bench:ui -- --rows=2000 --height=2000  # a tall window
 *   npm run screenshots                            # docs/dashboard-*.png instead (same machinery),
 *                                                  # the Metrics view with an hour of realistic data too
 *
 * A real gateway process (memory store) gets the lines on `POST /drain` (drift-corrected, batches
 * every 20 ms); the page follows the app over the WebSocket. Every second it samples the row
 * elements in the DOM, the JS heap (CDP `Performance.getMetrics`) and the page's counters. Every
 * 6 s a search term is typed one key per 100 ms and cleared with Esc; each keypress is timed from
 * the key event's timestamp to the first paint of the filtered view (in the page: input event →
 * filter → next animation frame → after paint), and to the paint of the gateway's answer for the
 * new filter (which is debounced by 150 ms). Long tasks (> 50 ms) are counted with a
 * PerformanceObserver. Figures only; the targets are printed beside them.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { launchBrowser } from '../test/support/browser.js';
import { basic, frame } from '../test/support/gateway.js';
import { liveApp, writeAppsConfig } from '../test/support/live.js';
import { startGatewayProcess, type GatewayProcess } from '../test/support/process.js';

// Callbacks given to page.evaluate run in the browser; this project has Node types only.
declare const document: any, window: any; // eslint-disable-line @typescript-eslint/no-explicit-any

const args = process.argv.slice(2);
const arg = (name: string, def: number) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const SECONDS = arg('seconds', 60);
const RATE = arg('rate', 5000);
const HEIGHT = arg('height', 800);
const ROWS = arg('rows', 500);
const screenshots = args.includes('--screenshots');

const TARGETS = { rows: 500, heapMB: 200, keyP95Ms: 100 };

// ---------------------------------------------------------------------------------------------
// Lines: a Heroku-like mix (router lines, logfmt app lines, JSON, [ERROR] prefixes, ANSI)
// ---------------------------------------------------------------------------------------------

const PATHS = ['/', '/api/items', '/api/items/4711', '/checkout', '/api/users/me', '/assets/app.js', '/healthz'];
const stamp = () => new Date().toISOString().replace('Z', '000+00:00');

function line(i: number): string {
  const r = i % 100;
  const path = PATHS[i % PATHS.length]!;
  if (r < 45) {
    const status = r === 3 ? 503 : r === 7 ? 404 : 200;
    const at = status === 503 ? 'at=error code=H12 desc="Request timeout"' : 'at=info';
    return `<158>1 ${stamp()} host heroku router - ${at} method=GET path="${path}" host=shop.example.com request_id=${(i * 2654435761) >>> 0} fwd="10.0.${i % 255}.${(i * 7) % 255}" dyno=web.${1 + (i % 3)} connect=${i % 5}ms service=${(i * 13) % 400}ms status=${status} bytes=${(i * 31) % 9000} protocol=https`;
  }
  const dyno = r < 80 ? `web.${1 + (i % 3)}` : 'worker.1';
  let msg: string;
  if (r < 70) msg = `level=info msg="handled request" path=${path} user_id=${i % 977} duration_ms=${(i * 7) % 250} cache=${i % 3 ? 'hit' : 'miss'}`;
  else if (r < 78) msg = `{"level":"debug","message":"cache lookup","key":"item:${i % 5000}","hit":${i % 2 === 0},"elapsed_us":${(i * 11) % 900}}`;
  else if (r < 86) msg = `level=warn msg="slow query" table=orders duration_ms=${800 + (i % 700)} rows=${i % 400}`;
  else if (r < 90) msg = `[ERROR] payment failed for order ${i}: card declined (code=card_declined)`;
  else if (r < 95) msg = `\u001b[32m✓\u001b[0m job \u001b[1mSendEmailJob\u001b[0m finished in \u001b[33m${(i * 3) % 900}ms\u001b[0m queue=mailers`;
  else msg = `measure#db.latency=${(i * 17) % 90}ms measure#queue.depth=${i % 40} count#jobs.done=1 source=${dyno}`;
  return `<190>1 ${stamp()} host app ${dyno} - ${msg}`;
}

const body = (from: number, n: number) => {
  let out = '';
  for (let i = 0; i < n; i++) out += frame(line(from + i));
  return out;
};

// ---------------------------------------------------------------------------------------------
// Gateway, producer, page
// ---------------------------------------------------------------------------------------------

const bench = liveApp('bench');

async function startGateway(): Promise<GatewayProcess> {
  return startGatewayProcess({
    SLUICE_CONFIG: writeAppsConfig([bench]),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_LINES_PER_SEC: '0',
  });
}

class Producer {
  sent = 0;
  failed = 0;
  private stopped = false;
  private readonly pool: Pool;
  constructor(
    private readonly gw: GatewayProcess,
    private readonly rate: number,
  ) {
    this.pool = new Pool(gw.url, { connections: 4, pipelining: 1 });
  }

  /** Sends `rate` lines/s until `stop()`, in batches every ~20 ms, correcting drift. */
  async run(): Promise<void> {
    const t0 = performance.now();
    const inflight = new Set<Promise<void>>();
    while (!this.stopped) {
      const due = Math.floor(((performance.now() - t0) / 1000) * this.rate) - this.sent;
      if (due > 0 && inflight.size < 4) {
        const n = Math.min(due, 2000);
        const from = this.sent;
        this.sent += n;
        const p = this.post(from, n).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all(inflight);
    await this.pool.close();
  }

  private async post(from: number, n: number): Promise<void> {
    try {
      const res = await this.pool.request({
        path: '/drain',
        method: 'POST',
        headers: { 'content-type': 'application/logplex-1', authorization: basic(bench.ingest) },
        body: body(from, n),
      });
      await res.body.text();
      if (res.statusCode !== 200) this.failed += n;
    } catch {
      this.failed += n;
    }
  }

  stop(): void {
    this.stopped = true;
  }
}

interface PageStats {
  received: number;
  shown: number;
  maxRendered: number;
  keyToView: number[];
  keyToServer: number[];
  queued: number;
  rendered: number;
  buffer: number;
  following: boolean;
  gaps: number;
  longTasks: number[];
}

const readStats = (page: Page): Promise<PageStats> =>
  page.evaluate(() => {
    const d = (window as unknown as { __sluice: { stats: Record<string, unknown>; rows: unknown[]; following: boolean; paused: boolean } }).__sluice;
    const w = window as unknown as { __longTasks?: number[] };
    return {
      ...(d.stats as unknown as PageStats),
      rendered: document.querySelectorAll('#rows > *').length,
      buffer: d.rows.length,
      following: d.following && !d.paused,
      gaps: document.querySelectorAll('.notice-gap').length,
      longTasks: w.__longTasks ?? [],
    };
  });

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');

async function runBench(): Promise<void> {
  process.stderr.write(`bench:ui: ${RATE.toLocaleString('en-US')} lines/s for ${SECONDS} s into one app; Chromium ${HEIGHT}px tall, ≤ ${ROWS} rows\n`);
  const gw = await startGateway();
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: HEIGHT } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript(() => {
      const w = window as unknown as { __longTasks: number[] };
      w.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longTasks.push(e.duration);
      }).observe({ type: 'longtask' as never, buffered: true }); // a browser entry type (Node's types lack it)
    });
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const heapMB = async () => {
      const { metrics } = await cdp.send('Performance.getMetrics');
      return (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN) / 2 ** 20;
    };
    await page.goto(`${gw.url}/?app=bench${ROWS !== 500 ? `&rows=${ROWS}` : ''}#token=${bench.read}`);
    await page.waitForFunction(() => document.querySelector('#status')?.getAttribute('data-state') === 'live');

    const producer = new Producer(gw, RATE);
    const producing = producer.run();
    const t0 = Date.now();
    const samples: { t: number; heap: number; rendered: number; shown: number; received: number; queued: number; typing: boolean }[] = [];
    let typing = false;

    // Typing: every 6 s from 5 s on, a term one key per 100 ms, held 1.5 s, then Esc.
    const terms = ['timeout', 'payment', 'slow query', 'worker', 'h12'];
    const typer = (async () => {
      await new Promise((r) => setTimeout(r, 5000));
      for (let k = 0; Date.now() - t0 < SECONDS * 1000 - 4000; k++) {
        typing = true;
        await page.keyboard.press('/');
        await page.keyboard.type(terms[k % terms.length]!, { delay: 100 });
        await new Promise((r) => setTimeout(r, 1500));
        await page.keyboard.press('Escape'); // clears the search
        await new Promise((r) => setTimeout(r, 600));
        await page.keyboard.press('Escape'); // leaves the (empty) search box
        typing = false;
        await new Promise((r) => setTimeout(r, 6000 - 100 * terms[k % terms.length]!.length - 2100));
      }
    })();

    while (Date.now() - t0 < SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      const [s, heap] = await Promise.all([readStats(page), heapMB()]);
      samples.push({ t: (Date.now() - t0) / 1000, heap, rendered: s.rendered, shown: s.shown, received: s.received, queued: s.queued, typing });
      const last = samples.at(-1)!;
      const prev = samples.at(-2);
      const perSec = prev ? (last.shown - prev.shown) / (last.t - prev.t) : NaN;
      process.stderr.write(
        `  t=${f0(last.t).padStart(3)} s  sent ${f0(producer.sent).padStart(9)}  shown/s ${f0(perSec).padStart(6)}  rows ${String(s.rendered).padStart(3)}  heap ${f1(heap).padStart(6)} MB  queued ${s.queued}${typing ? '  (typing)' : ''}\n`,
      );
    }
    producer.stop();
    await producing;
    await typer;
    const end = await readStats(page);
    const elapsed = samples.at(-1)!.t;

    // Lines shown per second while nothing filters (typing periods excluded), after a 2 s warm-up.
    const rates: number[] = [];
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1]!;
      const b = samples[i]!;
      if (b.t < 3 || a.typing || b.typing) continue;
      rates.push((b.shown - a.shown) / (b.t - a.t));
    }
    const heapMax = Math.max(...samples.map((s) => s.heap));
    const rowsMax = Math.max(end.maxRendered, ...samples.map((s) => s.rendered));
    const key95 = pct(end.keyToView, 95);
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;

    const out = [
      '',
      `Dashboard under load: ${f0(RATE)} lines/s offered for ${f0(elapsed)} s (sent ${f0(producer.sent)}, failed ${f0(producer.failed)}), Chromium ${(await browser.version()).split('.')[0]}, viewport 1280×${HEIGHT}`,
      '',
      '| measure | result | target |',
      '|---|---|---|',
      `| rendered row elements (max) | ${f0(rowsMax)} | ≤ ${TARGETS.rows} |`,
      `| JS heap used (max) | ${f1(heapMax)} MB | ≤ ${TARGETS.heapMB} MB |`,
      `| lines shown per second (mean / min over unfiltered seconds) | ${f0(mean)} / ${f0(Math.min(...rates))} | ${f0(RATE)} (all) |`,
      `| lines received by the page | ${f0(end.received)} | |`,
      `| keypress → filtered view painted (p50 / p95 / max, n=${end.keyToView.length}) | ${f1(pct(end.keyToView, 50))} / ${f1(key95)} / ${f1(Math.max(...end.keyToView))} ms | p95 ≤ ${TARGETS.keyP95Ms} ms |`,
      `| keypress → gateway's answer painted (p50 / p95, incl. 150 ms debounce) | ${f1(pct(end.keyToServer, 50))} / ${f1(pct(end.keyToServer, 95))} ms | |`,
      `| long tasks > 50 ms (count / max) | ${end.longTasks.length} / ${f0(Math.max(0, ...end.longTasks))} ms | |`,
      `| buffer at the end (entries) | ${f0(end.buffer)} | ≤ 10,000 |`,
      `| still following at the end; gap notices | ${end.following ? 'yes' : 'NO'}; ${end.gaps} | yes; 0 |`,
      `| page errors | ${errors.length} | 0 |`,
      '',
      `Targets: ${rowsMax <= TARGETS.rows ? 'rows ok' : 'ROWS OVER'}, ${heapMax <= TARGETS.heapMB ? 'heap ok' : 'HEAP OVER'}, ${key95 <= TARGETS.keyP95Ms ? 'keypress ok' : 'KEYPRESS OVER'}.`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    if (errors.length) process.stderr.write(`page errors:\n${errors.join('\n')}\n`);
  } finally {
    await browser.close();
    await gw.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Screenshots for the README (npm run screenshots)
// ---------------------------------------------------------------------------------------------

async function postJson(gw: GatewayProcess, entry: unknown): Promise<void> {
  const res = await fetch(`${gw.url}/api/logs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${bench.ingest}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(entry),
  });
  if (res.status !== 201) throw new Error(`POST /api/logs → ${res.status} ${await res.text()}`);
}

async function postDrain(gw: GatewayProcess, lines: string[]): Promise<void> {
  const res = await fetch(`${gw.url}/drain`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/logplex-1', Authorization: basic(bench.ingest) },
    body: lines.map((l) => frame(l)).join(''),
  });
  if (res.status !== 200) throw new Error(`POST /drain → ${res.status} ${await res.text()}`);
}

async function runScreenshots(): Promise<void> {
  const dir = fileURLToPath(new URL('../docs/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const gw = await startGateway();
  const browser = await launchBrowser();
  try {
    await postDrain(gw, Array.from({ length: 70 }, (_, i) => line(i * 7 + 3)));
    await postJson(gw, {
      level: 'error',
      message: 'payment failed: card declined measure#payment.latency=812ms count#payments.failed=1',
      source: 'app',
      proc: 'worker.1',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      context: { order: { id: 4711, total_cents: 12900, items: ['book', 'pen'] }, customer: 'cus_8812', retry: false },
      stack_trace: 'CardError: card declined\n    at charge (/app/billing/charge.js:41:11)\n    at processTicksAndRejections (node:internal/process/task_queues:95:5)\n    at async Checkout.complete (/app/checkout.js:88:5)',
    });
    await postDrain(gw, Array.from({ length: 6 }, (_, i) => line(i * 11 + 50)));
    for (const scheme of ['light', 'dark'] as const) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, colorScheme: scheme, deviceScaleFactor: 1 });
      await page.goto(`${gw.url}/?app=bench#token=${bench.read}`);
      await page.waitForFunction(() => document.querySelector('#status')?.getAttribute('data-state') === 'live');
      await page.waitForTimeout(300);
      await page.screenshot({ path: `${dir}dashboard-${scheme}.png` });
      if (scheme === 'light') {
        await page.click('#rows [data-id]:has-text("payment failed: card declined")');
        await page.waitForSelector('#detail:not([hidden])');
        await page.waitForTimeout(150);
        await page.screenshot({ path: `${dir}dashboard-detail.png` });
      }
      await page.close();
    }
    const phone = await browser.newPage({ viewport: { width: 390, height: 760 }, colorScheme: 'dark', isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
    await phone.goto(`${gw.url}/?app=bench#token=${bench.read}`);
    await phone.waitForFunction(() => document.querySelector('#status')?.getAttribute('data-state') === 'live');
    await phone.waitForTimeout(300);
    await phone.screenshot({ path: `${dir}dashboard-phone.png` });
    await metricsScreenshots(browser, dir);
    process.stderr.write(`screenshots: ${dir}dashboard-{light,dark,detail,phone,metrics,metrics-dark}.png\n`);
  } finally {
    await browser.close();
    await gw.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// The Metrics view: an hour of a Heroku app (router traffic with an H12 episode, dyno runtime
// metrics, app lines), sent with their own timestamps, and producers on the WebSocket
// ---------------------------------------------------------------------------------------------

const shop = liveApp('shop');

/** Deterministic pseudo-random numbers in [0, 1): the screenshots do not change run to run. */
function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Drain frames for the `minutes` before `nowMs`, in 10 s steps. */
function hourOfLines(nowMs: number, minutes = 60): string[] {
  const r = seeded(42);
  const at = (ms: number) => new Date(ms).toISOString().replace('Z', '000+00:00');
  const out: string[] = [];
  const start = nowMs - minutes * 60_000;
  for (let t = start, k = 0; t < nowMs - 2000; t += 10_000, k++) {
    const phase = (t - start) / (minutes * 60_000);
    // Six minutes of timeouts (H12) two thirds in: slow responses, 503s, busy dynos.
    const incident = phase > 0.62 && phase < 0.68;
    const requests = Math.round(18 + 10 * Math.sin(phase * Math.PI * 2) + r() * 6);
    for (let i = 0; i < requests; i++) {
      const ts = at(t + Math.floor(r() * 10_000));
      const dyno = `web.${1 + Math.floor(r() * 2)}`;
      const path = PATHS[i % PATHS.length]!;
      const x = r();
      const status = incident && x < 0.35 ? 503 : x < 0.06 ? 404 : x < 0.1 ? 302 : x < 0.112 ? 500 : 200;
      const service = status === 503 ? 30_000 : Math.round(Math.exp(3 + r() * 1.6 + (r() < 0.05 ? 1.5 : 0)) * (incident ? 3 : 1));
      const kind = status === 503 ? 'at=error code=H12 desc="Request timeout"' : status === 500 && r() < 0.3 ? 'at=error code=H13 desc="Connection closed without response"' : 'at=info';
      out.push(
        frame(
          `<158>1 ${ts} host heroku router - ${kind} method=GET path="${path}" host=shop.example.com request_id=${(t + i) >>> 0} fwd="10.0.${i % 255}.7" dyno=${dyno} connect=${1 + Math.floor(r() * 3)}ms service=${service}ms status=${status} bytes=${Math.floor(r() * 9000)} protocol=https`,
        ),
      );
      const level = status >= 500 ? 'error' : r() < 0.1 ? 'warn' : r() < 0.3 ? 'debug' : 'info';
      out.push(frame(`<190>1 ${ts} host app ${dyno} - level=${level} msg="handled request" path=${path} status=${status}`));
    }
    if (k % 2 === 0) {
      // Dyno runtime metrics every 20 s, as log-runtime-metrics sends them.
      const ts = at(t + 5000);
      for (const [d, dyno] of ['web.1', 'web.2', 'worker.1'].entries()) {
        const rss = 180 + d * 70 + phase * 60 + r() * 8;
        const id = `heroku.2808254.d97d0ea7-cf3d-411b-b453-d2943a50b45${d}`;
        out.push(
          frame(
            `<45>1 ${ts} host heroku ${dyno} - source=${dyno} dyno=${id} sample#memory_total=${(rss + 12).toFixed(2)}MB sample#memory_rss=${rss.toFixed(2)}MB sample#memory_cache=12.00MB sample#memory_swap=0.00MB sample#memory_pgpgin=1234pages sample#memory_pgpgout=567pages sample#memory_quota=512.00MB`,
          ),
        );
        const load = 0.3 + d * 0.2 + (incident && d < 2 ? 1.8 : 0) + r() * 0.3;
        out.push(frame(`<45>1 ${ts} host heroku ${dyno} - source=${dyno} dyno=${id} sample#load_avg_1m=${load.toFixed(2)} sample#load_avg_5m=${(load * 0.8).toFixed(2)} sample#load_avg_15m=${(load * 0.6).toFixed(2)}`));
      }
      out.push(frame(`<190>1 ${ts} host app worker.1 - level=info msg="job done" measure#job.duration=${Math.round(200 + r() * 800)}ms count#jobs.done=${1 + Math.floor(r() * 4)}`));
    }
  }
  return out;
}

/** A producer on `GET /logs` with the User-Agent of a client library, sending a few lines. */
async function wsProducer(gw: GatewayProcess, userAgent: string, lines: number): Promise<WebSocket> {
  const ws = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/logs`, { headers: { Authorization: `Bearer ${shop.ingest}`, 'User-Agent': userAgent } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ type: 'logs', seq: 1, data: Array.from({ length: lines }, (_, i) => ({ message: `checkout step ${i}`, level: i % 9 ? 'info' : 'warn' })) }));
  return ws;
}

async function metricsScreenshots(browser: Awaited<ReturnType<typeof launchBrowser>>, dir: string): Promise<void> {
  const gw = await startGatewayProcess({
    SLUICE_CONFIG: writeAppsConfig([shop]),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_LINES_PER_SEC: '0',
    // The hour is sent now with its own timestamps: let the aggregation take them as they are.
    METRICS_MAX_SKEW_SEC: '7200',
  });
  const producers: WebSocket[] = [];
  try {
    const frames = hourOfLines(Date.now());
    for (let i = 0; i < frames.length; i += 2000) {
      const res = await fetch(`${gw.url}/drain`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/logplex-1', Authorization: basic(shop.ingest), 'User-Agent': 'Logplex/v123' },
        body: frames.slice(i, i + 2000).join(''),
      });
      if (res.status !== 200) throw new Error(`POST /drain → ${res.status} ${await res.text()}`);
    }
    producers.push(await wsProducer(gw, 'sluice-node/0.1.0 (node 20.20.2)', 40), await wsProducer(gw, 'sluice-python/0.1.0 (python 3.11.2)', 12));
    await new Promise((r) => setTimeout(r, 1500)); // a flush of the aggregation
    for (const scheme of ['light', 'dark'] as const) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: scheme, deviceScaleFactor: 1 });
      await page.goto(`${gw.url}/?app=shop&view=metrics#token=${shop.read}`);
      await page.waitForSelector('#metrics-status[data-state=live]');
      await page.waitForSelector('#sources [data-table=connected] tr[data-status]');
      await page.waitForTimeout(400);
      await page.screenshot({ path: `${dir}dashboard-metrics${scheme === 'dark' ? '-dark' : ''}.png` });
      await page.close();
    }
  } finally {
    for (const ws of producers) ws.terminate();
    await gw.stop();
  }
}

await (screenshots ? runScreenshots() : runBench());
