/**
 * One chart card of the Metrics view: a title, a uPlot canvas, and a legend of its own (values a
 * user reads: a count's total over the window, else the latest value; the hovered bucket's
 * values while the cursor is on the chart). A click on the plot picks the bucket under it.
 *
 * The card carries `data-chart` (its id), `data-lines` and `data-points` (buckets with data, as
 * drawn); each legend item `data-line` and its value. Colours come from styles.css' custom
 * properties, read when the plot is built (again on a theme change).
 */
import uPlot from 'uplot';
import { h } from '../shared/dom.js';
import type { ChartDef } from './charts.js';
import { formatBucket, formatTick, formatValue } from './format.js';
import { ChartData, type Buckets } from './series-data.js';

const HEIGHT = 170;
const PHONE_HEIGHT = 140;

/** A colour from a custom property of the page (`--c-ok` → `#16a34a`). */
function cssColor(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** A log axis' splits without the 2…9 × 10^k ones. */
function powersOfTen(_u: uPlot, splits: number[]): (number | null)[] {
  return splits.map((v) => {
    const e = Math.log10(v);
    return Math.abs(e - Math.round(e)) < 1e-9 ? v : null;
  });
}

/** `#rrggbb` → the same with alpha (for a count's fill); other forms unchanged (no fill). */
function withAlpha(color: string, alpha: string): string | undefined {
  return /^#[0-9a-f]{6}$/i.test(color) ? color + alpha : undefined;
}

export interface ChartOptions {
  /** Times in UTC (read on every build: the Local/UTC button rebuilds). */
  utc(): boolean;
  /** A click on the bucket starting at `t` (epoch seconds), `step` wide. */
  pick(t: number, step: number): void;
}

export class Chart {
  readonly el: HTMLElement;
  readonly data: ChartData;
  private plot: uPlot | undefined;
  private readonly plotEl: HTMLElement;
  private readonly hoverEl: HTMLElement;
  private readonly emptyEl: HTMLElement;
  private readonly values: HTMLElement[] = [];
  private readonly items: HTMLElement[] = [];
  private hovered: number | null = null;
  private readonly resizer: ResizeObserver;

  constructor(
    readonly def: ChartDef,
    private readonly opts: ChartOptions,
  ) {
    this.data = new ChartData(def.lines);
    this.plotEl = h('div', { class: 'chart-plot' });
    this.hoverEl = h('span', { class: 'chart-hover' });
    this.emptyEl = h('p', { class: 'chart-empty' }, def.empty);
    const legend = h('ul', { class: 'chart-legend' });
    def.lines.forEach((line, i) => {
      const swatch = h('i', { class: line.dashed ? 'swatch dashed' : 'swatch' });
      swatch.style.setProperty('--swatch', `var(${line.color})`);
      const value = h('span', { class: 'value' }, '–');
      const button = h('button', { type: 'button', title: `${line.name}${line.source ? ` (${line.source})` : ''} · click to hide or show` }, swatch, h('span', { class: 'name' }, line.label), value);
      const item = h('li', { 'data-line': line.key }, button);
      button.addEventListener('click', () => this.toggle(i));
      legend.append(item);
      this.values.push(value);
      this.items.push(item);
    });
    const unit = def.unit ? h('span', { class: 'chart-unit' }, def.unit) : null;
    this.el = h(
      'section',
      { class: 'chart-card', 'data-chart': def.id, 'data-lines': def.lines.length, 'data-points': 0, 'aria-label': def.title },
      h('header', { class: 'chart-head' }, h('h2', {}, def.title), unit, this.hoverEl),
      h('div', { class: 'chart-body' }, this.plotEl, this.emptyEl),
      legend,
    );
    this.resizer = new ResizeObserver(() => this.resize());
  }

  /** Empties the chart for a new window. */
  reset(w: Buckets): void {
    this.data.reset(w);
  }

  /** Builds the plot (after the card is in the page, so it has a width). */
  build(): void {
    this.plot?.destroy();
    this.plot = undefined;
    if (this.def.lines.length === 0) {
      this.render();
      return;
    }
    const fg = cssColor('--fg2');
    const grid = cssColor('--line');
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: '11px system-ui, sans-serif' };
    const counts = this.def.legend === 'total';
    const utc = this.opts.utc();
    const options: uPlot.Options = {
      width: Math.max(200, this.plotEl.clientWidth),
      height: this.height(),
      legend: { show: false },
      // No drag-to-zoom (the time menu sets the range), and every click is a click: uPlot would
      // swallow one whose up position it sees apart from its down position (live redraws move it).
      cursor: { drag: { x: false, y: false, setScale: false, click: () => {} }, points: { size: 6 } },
      scales: { x: { time: true }, y: this.def.log ? { distr: 3, log: 10 } : { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] } },
      axes: [
        axis,
        {
          ...axis,
          size: 44,
          values: (_u, splits) => splits.map(formatTick),
          // A log scale splits at 1…9 × 10^k: keep the powers of ten, or the grid is a comb.
          ...(this.def.log ? { filter: powersOfTen, grid: { ...axis.grid, filter: powersOfTen }, ticks: { ...axis.ticks, filter: powersOfTen } } : {}),
        },
      ],
      ...(utc ? { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') } : {}),
      series: [
        {},
        ...this.def.lines.map((line, i) => {
          const color = cssColor(line.color);
          const fill = counts ? withAlpha(color, '1a') : undefined;
          return {
            label: line.label,
            // A line hidden from the legend stays hidden when the plot is built again (theme, UTC).
            show: !this.items[i]!.classList.contains('off'),
            stroke: color,
            width: 1.5,
            ...(fill ? { fill } : {}),
            ...(line.dashed ? { dash: [5, 4] } : {}),
            points: { show: false },
            // Samples come every 20 s or so, in 10 s buckets: a sample's line joins its readings.
            // A count has no gaps (no line = 0); a measure's gap is a bucket without requests.
            spanGaps: !line.zero,
          };
        }),
      ],
      hooks: {
        setCursor: [
          (u) => {
            const idx = u.cursor.idx ?? null;
            if (idx !== this.hovered) {
              this.hovered = idx;
              this.renderLegend();
            }
          },
        ],
      },
    };
    this.plot = new uPlot(options, this.data.data as uPlot.AlignedData, this.plotEl);
    this.plot.over.addEventListener('click', (ev) => {
      const idx = this.plot!.posToIdx(ev.offsetX);
      const t = this.data.xs[idx];
      if (t !== undefined) this.opts.pick(t, this.data.step);
    });
    this.resizer.observe(this.plotEl);
    this.render();
  }

  /** Draws the data as it is now (after a REST answer or a live frame). */
  render(): void {
    const withData = this.data.bucketsWithData();
    this.el.dataset.points = String(withData);
    this.emptyEl.hidden = withData > 0;
    this.plot?.setData(this.data.data as uPlot.AlignedData);
    this.renderLegend();
  }

  /** The legend's values: at the hovered bucket, else the window's totals / latest values. */
  private renderLegend(): void {
    const d = this.data;
    const unit = this.def.unit;
    const at = this.hovered;
    this.hoverEl.textContent = at !== null && d.xs[at] !== undefined ? formatBucket(d.xs[at]!, this.opts.utc()) : '';
    for (let i = 0; i < this.values.length; i++) {
      let v: number | null;
      if (at !== null) v = d.ys[i]![at] ?? null;
      else v = this.def.legend === 'total' ? d.total(i) : d.latest(i);
      const text = formatValue(v, unit);
      if (this.values[i]!.textContent !== text) this.values[i]!.textContent = text;
    }
  }

  private toggle(i: number): void {
    const item = this.items[i]!;
    const off = !item.classList.contains('off');
    item.classList.toggle('off', off);
    this.plot?.setSeries(i + 1, { show: !off });
  }

  private height(): number {
    return window.matchMedia('(max-width: 700px)').matches ? PHONE_HEIGHT : HEIGHT;
  }

  private resize(): void {
    const width = Math.floor(this.plotEl.clientWidth);
    if (!this.plot || width <= 0) return;
    const height = this.height();
    if (width !== this.plot.width || height !== this.plot.height) this.plot.setSize({ width, height });
  }

  destroy(): void {
    this.resizer.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
    this.el.remove();
  }
}
