/**
 * The time menu in the header, shared by the Logs and Metrics views: Live, the presets, or a
 * custom window (two datetime-local fields and Go). Changes go into the page state; `changed`
 * tells the page, which tells the views.
 */
import { byId } from './dom.js';
import type { Page } from './page.js';
import type { ViewName } from './state.js';
import { setLive, setPreset, setWindow } from './time-range.js';

/** The "Live" entry's label per view: the Metrics view shows the last hour, live. */
const LIVE_LABEL: Record<ViewName, string> = { logs: 'Live', metrics: 'Live (last hour)' };

export class RangePicker {
  readonly el = {
    range: byId<HTMLSelectElement>('range'),
    box: byId('range-custom'),
    from: byId<HTMLInputElement>('range-from'),
    to: byId<HTMLInputElement>('range-to'),
    apply: byId<HTMLButtonElement>('range-apply'),
  };

  constructor(
    private readonly page: Page,
    private readonly changed: () => void,
  ) {
    const el = this.el;
    el.range.addEventListener('change', () => this.onSelect());
    el.apply.addEventListener('click', () => {
      const from = el.from.value ? new Date(el.from.value).toISOString() : '';
      const to = el.to.value ? new Date(el.to.value).toISOString() : '';
      if (!from && !to) return;
      setWindow(this.page.state, from, to);
      el.box.hidden = true;
      this.changed();
    });
  }

  private onSelect(): void {
    const el = this.el;
    const value = el.range.value;
    el.box.hidden = value !== 'custom';
    const s = this.page.state;
    if (value === 'custom') {
      const toLocal = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
      const now = new Date();
      el.from.value = s.from ? toLocal(new Date(s.from)) : toLocal(new Date(now.getTime() - 3600_000));
      el.to.value = s.to ? toLocal(new Date(s.to)) : toLocal(now);
      return;
    }
    if (value === 'live') setLive(s);
    else setPreset(s, Number(value), Date.now());
    this.changed();
  }

  /** Puts the state into the menu (after a reload, a pop, a view switch, or a chart click). */
  sync(): void {
    const s = this.page.state;
    const sel = this.el.range;
    const live = sel.querySelector<HTMLOptionElement>('option[value="live"]');
    if (live) live.textContent = LIVE_LABEL[s.view];
    if (s.range && !s.to && sel.querySelector(`option[value="${s.range}"]`)) sel.value = String(s.range);
    else if (!s.from && !s.to) sel.value = 'live';
    else if (sel.value === 'live' || s.range === 0) sel.value = 'custom';
  }
}
