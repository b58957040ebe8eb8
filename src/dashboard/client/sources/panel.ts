/**
 * The Sources panel (beside the charts in the Metrics view): per app and per producer family
 * (the User-Agent's first product: `sluice-node`, `logplex`, …) lines per minute and last seen,
 * and the WebSocket producers connected now, each with a status dot. From `GET /api/sources`,
 * refreshed every few seconds while shown.
 *
 * Rows carry `data-status` (green, amber, grey) and `data-name`; the tables `data-table`.
 */
import { ApiError, getJson } from '../shared/api.js';
import { h } from '../shared/dom.js';
import type { Page } from '../shared/page.js';
import { ago, formatValue } from '../metrics/format.js';
import type { SourcesResponse } from '../metrics/types.js';
import { sourceRows, type SourceRow } from './status.js';

const REFRESH_MS = 5000;
const DOT_TITLE = { green: 'seen in the last minute', amber: 'seen within 5 minutes', grey: 'not seen for 5 minutes or more' };

export class SourcesPanel {
  private timer: ReturnType<typeof setInterval> | undefined;
  private loading = false;
  private readonly apps = h('tbody');
  private readonly producers = h('tbody');
  private readonly connected = h('tbody');
  private readonly note = h('p', { class: 'sources-note', role: 'status' });

  constructor(
    readonly el: HTMLElement,
    private readonly page: Page,
  ) {
    const table = (name: string, head: string[], body: HTMLElement) =>
      h('table', { class: 'sources-table', 'data-table': name }, h('thead', {}, h('tr', {}, ...head.map((t) => h('th', {}, t)))), body);
    el.replaceChildren(
      h('h2', {}, 'Sources'),
      this.note,
      h('h3', {}, 'Apps'),
      table('apps', ['', 'app', 'lines/min', 'last seen'], this.apps),
      h('h3', {}, 'Producers'),
      table('producers', ['', 'family', 'lines/min', 'last seen'], this.producers),
      h('h3', {}, 'Connected now (WebSocket)'),
      table('connected', ['', 'user agent', 'conn.', 'lines/min'], this.connected),
    );
  }

  /** Loads now, then every few seconds until {@link stop}. */
  start(): void {
    this.stop();
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async refresh(): Promise<void> {
    if (this.loading || !this.page.token) return;
    this.loading = true;
    const app = this.page.state.app;
    try {
      const body = await getJson<SourcesResponse>('/api/sources', app ? new URLSearchParams({ app_id: app }) : undefined, this.page.token);
      if (app !== this.page.state.app) return; // the app changed meanwhile
      this.render(body);
      this.note.textContent = '';
    } catch (err) {
      this.note.textContent = err instanceof ApiError ? err.message : 'The gateway does not answer.';
    } finally {
      this.loading = false;
    }
  }

  private render(body: SourcesResponse): void {
    const now = Date.now() / 1000;
    const rows = sourceRows(body, now);
    const many = new Set(body.apps.map((a) => a.app_id)).size > 1;
    const row = (r: SourceRow, cells: (string | HTMLElement)[]) =>
      h('tr', { 'data-status': r.dot, 'data-name': r.name, 'data-app': r.app_id }, h('td', {}, h('span', { class: `dot dot-${r.dot}`, title: DOT_TITLE[r.dot], 'aria-label': DOT_TITLE[r.dot] })), ...cells.map((c) => h('td', {}, c)));
    const name = (r: SourceRow) => (many && r.name !== r.app_id ? h('span', {}, r.name, h('span', { class: 'sources-app' }, ` ${r.app_id}`)) : r.name);
    const empty = (text: string, cols: number) => h('tr', { class: 'sources-empty' }, h('td', { colspan: cols }, text));
    this.apps.replaceChildren(...(rows.apps.length ? rows.apps.map((r) => row(r, [r.name, formatValue(r.lines_per_min), ago(r.last_seen, now)])) : [empty('No app has sent lines yet.', 4)]));
    this.producers.replaceChildren(
      ...(rows.producers.length ? rows.producers.map((r) => row(r, [name(r), formatValue(r.lines_per_min), ago(r.last_seen, now)])) : [empty('No producer has sent lines yet.', 4)]),
    );
    this.connected.replaceChildren(
      ...(rows.connected.length
        ? rows.connected.map((r) => row(r, [name(r), String(r.connections ?? 0), r.lines_per_min === null ? '–' : formatValue(r.lines_per_min)]))
        : [empty('No WebSocket producer is connected to this process.', 4)]),
    );
  }
}
