/**
 * The Metrics view: charts of the app's metrics over the shared time range (charts.ts says
 * which), drawn from `GET /api/metrics` and kept live by `subscribe_metrics` on `/ws`, a picker
 * for any series by name, and the Sources panel beside them. A click on a chart opens the Logs
 * view at that bucket.
 *
 * Loading: the series the app has (`GET /api/metrics/names`) decide the charts' lines; each
 * distinct series is read once over the window; then, for a window that ends now, the socket
 * subscribes to all of them and each frame (the open bucket and the one before, every ~2 s)
 * slides the windows and replaces those buckets. Charts are redrawn once per animation frame.
 */
import { ApiError, getJson } from '../shared/api.js';
import { byId, h } from '../shared/dom.js';
import type { Page } from '../shared/page.js';
import { metricsWindow, type MetricsWindow } from '../shared/time-range.js';
import { SourcesPanel } from '../sources/panel.js';
import { Chart } from './chart.js';
import { chartDefs, type ChartDef } from './charts.js';
import { seriesKey } from './series-data.js';
import { MetricsSocket } from './socket.js';
import type { MetricsFrame, NamesResponse, SeriesInfo, SeriesResponse } from './types.js';

/** How often the list of series is read again while shown (new error codes, new dynos). */
const NAMES_REFRESH_MS = 30_000;
/** `GET /api/metrics` requests in flight at once on a (re)load. */
const CONCURRENCY = 6;

export interface MetricsEvents {
  /** A click on the bucket starting at `t`: show the Logs view around it. */
  openLogs(t: number, step: number): void;
  /** The gateway refused the token. */
  refused(message: string): void;
}

interface Route {
  chart: Chart;
  line: number;
}

export class MetricsView {
  readonly el = {
    root: byId('metrics'),
    charts: byId('charts'),
    status: byId('metrics-status'),
    note: byId('metrics-note'),
    pick: byId<HTMLSelectElement>('metric-pick'),
  };
  visible = false;
  charts: Chart[] = [];
  /** Series key → the chart lines it feeds. */
  private routes = new Map<string, Route[]>();
  private win: MetricsWindow | undefined;
  private app = '';
  /** What the charts were loaded for: the state they show (app, range, picked series). */
  private loadedKey = '';
  /** The lines the charts have: a names refresh that changes them reloads. */
  private linesKey = '';
  private gen = 0;
  private readonly socket: MetricsSocket;
  private readonly sources: SourcesPanel;
  private namesTimer: ReturnType<typeof setInterval> | undefined;
  private readonly dirty = new Set<Chart>();
  private frameQueued = false;

  constructor(
    private readonly page: Page,
    private readonly on: MetricsEvents,
  ) {
    this.socket = new MetricsSocket(() => page.token, {
      frame: (f) => this.onFrame(f),
      status: (state, text) => this.setStatus(state, text),
      refused: (message) => on.refused(message),
    });
    this.sources = new SourcesPanel(byId('sources'), page);
    this.el.pick.addEventListener('change', () => {
      page.state.metric = this.el.pick.value;
      page.writeUrl();
    });
    page.onChange(() => {
      if (this.visible && this.key() !== this.loadedKey) void this.reload();
    });
    // Canvas colours come from the theme: draw again when it changes.
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.rebuild());
    window.addEventListener('online', () => this.socket.reconnectNow());
  }

  private key(): string {
    const s = this.page.state;
    return [s.app, s.range, s.range ? '' : s.from, s.range ? '' : s.to, s.metric].join('|');
  }

  /** On screen: (re)load when the state moved on since, subscribe again, refresh the panel. */
  show(): void {
    this.visible = true;
    this.el.root.hidden = false;
    this.sources.start();
    clearInterval(this.namesTimer);
    this.namesTimer = setInterval(() => void this.refreshNames(), NAMES_REFRESH_MS);
    // A live window was frozen while hidden: its buckets are stale, read them again.
    if (this.key() !== this.loadedKey || this.win?.live) void this.reload();
  }

  /** Off screen: the socket closes and nothing refreshes. */
  hide(): void {
    this.visible = false;
    this.el.root.hidden = true;
    this.socket.set(undefined);
    this.sources.stop();
    clearInterval(this.namesTimer);
  }

  /** Signed out: everything goes. */
  stop(): void {
    this.hide();
    this.gen++;
    this.clearCharts();
    this.loadedKey = '';
  }

  /** Local/UTC changed: the axes and legends again. */
  rebuild(): void {
    for (const c of this.charts) c.build();
  }

  private clearCharts(): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    this.routes.clear();
    this.dirty.clear();
  }

  /** Loads the charts for the state: names, lines, every series over the window, then live. */
  async reload(): Promise<void> {
    const gen = ++this.gen;
    const s = this.page.state;
    this.loadedKey = this.key();
    this.app = s.app;
    this.socket.set(undefined);
    if (!s.app) {
      this.clearCharts();
      this.win = undefined;
      this.note('Metrics are per app: pick one above. The Sources panel lists every app.');
      this.setStatus('off', '');
      return;
    }
    const win = metricsWindow(s, Date.now());
    this.win = win;
    let names: SeriesInfo[];
    try {
      names = (await getJson<NamesResponse>('/api/metrics/names', new URLSearchParams({ app_id: s.app }), this.page.token)).series;
    } catch (err) {
      if (gen === this.gen) this.fail(err);
      return;
    }
    if (gen !== this.gen) return;
    this.fillPicker(names);
    const defs = chartDefs(names, s.metric, win.step);
    this.linesKey = linesKey(defs);
    this.mountCharts(defs, win);
    this.note('');
    this.setStatus('loading', 'loading…');

    const series = [...new Map(defs.flatMap((d) => d.lines).map((l) => [seriesKey(l.name, l.source), { name: l.name, ...(l.source !== undefined ? { source: l.source } : {}) }])).values()];
    let next = 0;
    let failed: unknown;
    const worker = async () => {
      while (next < series.length && gen === this.gen) {
        const one = series[next++]!;
        const params = new URLSearchParams({ app_id: s.app, name: one.name, from: String(win.from), to: String(win.to + win.step - 1), step: String(win.step) });
        if (one.source !== undefined) params.set('source', one.source);
        try {
          const body = await getJson<SeriesResponse>('/api/metrics', params, this.page.token);
          if (gen === this.gen) this.feed(body.name, body.source ?? undefined, body.points);
        } catch (err) {
          failed ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, series.length) }, worker));
    if (gen !== this.gen) return;
    if (failed) this.fail(failed);
    if (win.live && this.visible) {
      this.socket.set({ app_id: s.app, series, step: win.step });
    } else this.setStatus('window', 'time window');
  }

  /** The picker's options: every series of the app by kind, the picked one selected. */
  private fillPicker(names: SeriesInfo[]): void {
    const sel = this.el.pick;
    const groups: Record<string, HTMLOptGroupElement> = {};
    const opts: (HTMLOptionElement | HTMLOptGroupElement)[] = [h('option', { value: '' }, 'Any series…')];
    for (const s of [...names].sort((a, b) => a.name.localeCompare(b.name))) {
      const g = (groups[s.kind] ??= h('optgroup', { label: s.kind }));
      g.append(h('option', { value: s.name }, s.unit ? `${s.name} (${s.unit})` : s.name));
    }
    for (const kind of ['count', 'measure', 'sample']) if (groups[kind]) opts.push(groups[kind]);
    const picked = this.page.state.metric;
    if (picked && !names.some((n) => n.name === picked)) opts.push(h('option', { value: picked }, picked));
    sel.replaceChildren(...opts);
    sel.value = picked;
  }

  private mountCharts(defs: ChartDef[], win: MetricsWindow): void {
    this.clearCharts();
    for (const def of defs) {
      const chart = new Chart(def, { utc: () => this.page.utc, pick: (t, step) => this.on.openLogs(t, step) });
      chart.reset(win);
      this.el.charts.append(chart.el);
      chart.build();
      this.charts.push(chart);
      def.lines.forEach((line, i) => {
        const key = seriesKey(line.name, line.source);
        const list = this.routes.get(key) ?? [];
        list.push({ chart, line: i });
        this.routes.set(key, list);
      });
    }
  }

  /** Points of one series into every chart line it feeds; drawn on the next frame. */
  private feed(name: string, source: string | undefined, points: SeriesResponse['points']): void {
    for (const r of this.routes.get(seriesKey(name, source)) ?? []) {
      r.chart.data.setPoints(r.line, points);
      this.dirty.add(r.chart);
    }
    this.schedule();
  }

  private onFrame(f: MetricsFrame): void {
    const win = this.win;
    if (!win || f.app_id !== this.app || f.step !== win.step) return;
    // The window ends at the newest bucket the gateway sent (its clock), else at this one's.
    let newest = 0;
    for (const s of f.series) for (const p of s.points) if (p.t > newest) newest = p.t;
    if (newest === 0) {
      const now = Math.floor(Date.now() / 1000);
      newest = now - (now % win.step);
    }
    for (const c of this.charts) if (c.data.slideTo(newest)) this.dirty.add(c);
    for (const s of f.series) this.feed(s.name, s.source ?? undefined, s.points);
  }

  private schedule(): void {
    if (this.frameQueued) return;
    this.frameQueued = true;
    requestAnimationFrame(() => {
      this.frameQueued = false;
      for (const c of this.dirty) c.render();
      this.dirty.clear();
    });
  }

  /** New series (an error code, a dyno) change the charts' lines: reload then. */
  private async refreshNames(): Promise<void> {
    const s = this.page.state;
    if (!this.visible || !s.app || !this.win) return;
    try {
      const names = (await getJson<NamesResponse>('/api/metrics/names', new URLSearchParams({ app_id: s.app }), this.page.token)).series;
      if (linesKey(chartDefs(names, s.metric, this.win.step)) !== this.linesKey) void this.reload();
      else this.fillPicker(names);
    } catch {
      // the next refresh tries again
    }
  }

  private fail(err: unknown): void {
    this.note(err instanceof ApiError ? err.message : 'The gateway does not answer.');
    this.setStatus('error', err instanceof ApiError ? err.code : 'unreachable');
  }

  private note(text: string): void {
    this.el.note.textContent = text;
    this.el.note.hidden = text === '';
  }

  private setStatus(state: string, text: string): void {
    this.el.status.dataset.state = state;
    this.el.status.textContent = text;
  }
}

/** The charts' lines as one string, to tell whether new names change them. */
function linesKey(defs: ChartDef[]): string {
  return defs.map((d) => `${d.id}:${d.lines.map((l) => l.key).join(',')}`).join(';');
}
