/**
 * The page around the views: the header's shared controls (view tabs, app picker, time menu,
 * Local/UTC), which view is shown (`?view=`, so a reload keeps it), Back/Forward, and a chart
 * click that opens the Logs view at that moment (a new history entry: Back returns to the chart).
 */
import { LogsView } from './logs/view.js';
import { MetricsView } from './metrics/view.js';
import { byId } from './shared/dom.js';
import { Page } from './shared/page.js';
import { RangePicker } from './shared/range-picker.js';
import { Session } from './shared/session.js';
import type { ViewName } from './shared/state.js';
import { logsWindowAround, setWindow } from './shared/time-range.js';

export class Shell {
  readonly page = new Page();
  readonly session: Session;
  readonly logs: LogsView;
  readonly metrics: MetricsView;
  readonly range: RangePicker;
  private shown: ViewName | undefined;
  private readonly el = {
    tabs: [...document.querySelectorAll<HTMLButtonElement>('.tabs [role=tab]')],
    app: byId<HTMLSelectElement>('app'),
    utc: byId<HTMLButtonElement>('utc'),
  };

  constructor() {
    const refused = (message: string) => this.session.signOut(message);
    this.logs = new LogsView(this.page, { refused });
    this.metrics = new MetricsView(this.page, { refused, openLogs: (t, step) => this.openLogsAt(t, step) });
    this.session = new Session(this.page, {
      signedIn: () => {
        this.showView();
        this.logs.start();
        this.sync();
      },
      signedOut: () => {
        this.logs.stop();
        this.metrics.stop();
        this.shown = undefined;
      },
    });
    this.range = new RangePicker(this.page, () => this.changed());
    for (const tab of this.el.tabs) {
      tab.addEventListener('click', () => {
        this.page.state.view = tab.dataset.view === 'metrics' ? 'metrics' : 'logs';
        this.page.writeUrl();
        this.showView();
      });
    }
    this.el.app.addEventListener('change', () => {
      this.page.state.app = this.el.app.value;
      this.changed();
    });
    this.el.utc.addEventListener('click', () => {
      this.page.setUtc(!this.page.utc);
      this.sync();
      this.logs.redrawTimes();
      this.metrics.rebuild();
    });
    window.addEventListener('popstate', () => {
      this.page.readUrl();
      this.session.fillApps();
      this.showView();
      this.logs.fromUrl();
      this.sync();
    });
    this.page.onChange(() => this.sync());
  }

  boot(): Promise<void> {
    return this.session.boot();
  }

  /** The app or the time range changed: the Logs view subscribes again (the Metrics view follows the URL). */
  private changed(): void {
    this.logs.applyState({ resubscribe: true });
  }

  /** Shows the state's view, hiding the other (each stops or defers what it does while hidden). */
  private showView(): void {
    const view = this.page.state.view;
    if (view === this.shown) return;
    this.shown = view;
    document.body.dataset.view = view;
    for (const tab of this.el.tabs) tab.setAttribute('aria-selected', String(tab.dataset.view === view));
    if (view === 'metrics') {
      this.logs.hide();
      this.metrics.show();
    } else {
      this.metrics.hide();
      this.logs.show();
    }
    this.range.sync();
  }

  /** A chart's bucket clicked: the Logs view, its time window around that bucket. */
  private openLogsAt(t: number, step: number): void {
    // Hidden first: the new URL must not reload the charts that are going away.
    this.metrics.hide();
    const s = this.page.state;
    const w = logsWindowAround(t, step);
    setWindow(s, w.from, w.to);
    s.view = 'logs';
    this.page.writeUrl(true);
    this.showView();
    this.logs.applyState({ resubscribe: true });
  }

  /** The shared controls show the state. */
  private sync(): void {
    const s = this.page.state;
    if (this.el.app.value !== s.app) this.el.app.value = s.app;
    this.el.utc.textContent = this.page.utc ? 'UTC' : 'Local';
    this.el.utc.setAttribute('aria-pressed', String(this.page.utc));
    this.range.sync();
  }
}
