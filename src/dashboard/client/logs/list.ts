/**
 * A virtualised list of fixed-height rows: the DOM holds only the rows in view plus a margin
 * (never more than `maxRows`), whatever the length of the list. Row elements are kept by `seq`
 * between renders, so a frame that adds ten lines creates ten elements.
 */
import type { Row } from '../shared/model.js';

export interface ListOptions {
  /** At most this many row elements in the DOM (default 500). */
  maxRows: number;
  /** Extra rows above and below the visible ones. */
  overscan: number;
  makeRow(row: Row, index: number): HTMLElement;
}

export class VirtualList {
  rows: Row[] = [];
  rowHeight = 22;
  private els = new Map<number, HTMLElement>();
  private shown: HTMLElement[] = [];
  /** The scrollTop this code set last (scroll events for it are not the user's). */
  private setTop = -1;
  start = 0;
  end = 0;

  constructor(
    readonly scroller: HTMLElement,
    private readonly spacer: HTMLElement,
    private readonly layer: HTMLElement,
    private readonly opts: ListOptions,
  ) {
    this.measure();
  }

  /** Reads the row height from the CSS (`--row-h`). */
  measure(): void {
    const v = parseFloat(getComputedStyle(this.layer).getPropertyValue('--row-h'));
    if (v > 0) this.rowHeight = v;
  }

  /** Drops every cached row element (time format or highlight changed). */
  invalidate(): void {
    this.els.clear();
  }

  /** Re-creates one row's element on the next render. */
  invalidateSeq(seq: number): void {
    this.els.delete(seq);
  }

  /** The scroll event was caused by this code (a follow or an anchor adjustment). */
  isOwnScroll(): boolean {
    return Math.abs(this.scroller.scrollTop - this.setTop) < 1;
  }

  atBottom(): boolean {
    const s = this.scroller;
    return s.scrollTop + s.clientHeight >= s.scrollHeight - this.rowHeight / 2;
  }

  scrollTo(top: number): void {
    const max = Math.max(0, this.rows.length * this.rowHeight - this.scroller.clientHeight);
    const t = Math.max(0, Math.min(max, top));
    this.scroller.scrollTop = t;
    this.setTop = this.scroller.scrollTop;
  }

  scrollBy(dy: number): void {
    this.scrollTo(this.scroller.scrollTop + dy);
  }

  /** Index of the first row at least half visible. */
  firstVisible(): number {
    return Math.min(this.rows.length - 1, Math.max(0, Math.round(this.scroller.scrollTop / this.rowHeight)));
  }

  /** Scrolls so that row `index` is in view (centred when `center`). */
  reveal(index: number, center = true): void {
    const rh = this.rowHeight;
    const s = this.scroller;
    const top = index * rh;
    if (!center && top >= s.scrollTop && top + rh <= s.scrollTop + s.clientHeight) return;
    this.scrollTo(center ? top - (s.clientHeight - rh) / 2 : top);
  }

  /** Lays out the rows in view; `follow` pins the list to its bottom first. */
  render(follow: boolean): void {
    const rh = this.rowHeight;
    const n = this.rows.length;
    this.spacer.style.height = `${n * rh}px`;
    if (follow) this.scrollTo(n * rh);
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 600;
    const visible = Math.ceil(height / rh) + 1;
    const over = Math.max(0, Math.min(this.opts.overscan, Math.floor((this.opts.maxRows - visible) / 2)));
    let start = Math.max(0, Math.floor(top / rh) - over);
    let end = Math.min(n, Math.floor(top / rh) + visible + over);
    if (end - start > this.opts.maxRows) end = start + this.opts.maxRows;
    if (start > end) start = end;
    this.start = start;
    this.end = end;
    this.layer.style.transform = `translateY(${start * rh}px)`;

    const next = new Map<number, HTMLElement>();
    const list: HTMLElement[] = [];
    let same = this.shown.length === end - start;
    for (let i = start; i < end; i++) {
      const row = this.rows[i]!;
      let el = this.els.get(row.seq);
      if (!el) el = this.opts.makeRow(row, i);
      next.set(row.seq, el);
      if (same && this.shown[i - start] !== el) same = false;
      list.push(el);
    }
    this.els = next;
    if (!same) {
      this.layer.replaceChildren(...list);
      this.shown = list;
    }
  }

  /** Rendered row elements now (for stats). */
  get rendered(): number {
    return this.shown.length;
  }
}
