/** Highlight mode's matches in the Logs view: the count ("2/5") and n / N between them. */
import type { Row } from '../shared/model.js';
import type { LogsView } from './view.js';

/** Recounts soon: counting is O(rows), so at most a few times a second while lines stream in. */
export function updateMatchesSoon(v: LogsView): void {
  if (v.matchTimer) return;
  v.matchTimer = setTimeout(() => {
    v.matchTimer = undefined;
    updateMatches(v);
  }, 300);
}

/** The match count next to the search box. */
export function updateMatches(v: LogsView): void {
  const m = v.el.matches;
  if (!v.hl) {
    m.textContent = '';
    return;
  }
  const re = v.hl;
  let n = 0;
  let at = 0;
  for (const r of v.view) {
    re.lastIndex = 0;
    if (r.entry && re.test(r.text)) {
      n++;
      if (r.seq === v.currentMatch) at = n;
    }
  }
  re.lastIndex = 0;
  m.textContent = n === 0 ? 'no match' : at ? `${at}/${n}` : `${n} match${n === 1 ? '' : 'es'}`;
}

/** n / N: the next (or previous) row with a match; the view stops following to show it. */
export function nextMatch(v: LogsView, dir: 1 | -1): void {
  const re = v.hl;
  if (!re || v.view.length === 0) return;
  const rows = v.view;
  let from = v.currentMatch !== undefined ? indexOfSeq(rows, v.currentMatch) : -1;
  if (from < 0) from = dir > 0 ? v.list.firstVisible() - 1 : Math.min(rows.length, v.list.firstVisible() + Math.floor(v.el.scroller.clientHeight / v.list.rowHeight));
  for (let k = 1; k <= rows.length; k++) {
    const i = (((from + dir * k) % rows.length) + rows.length) % rows.length;
    const r = rows[i]!;
    re.lastIndex = 0;
    if (r.entry && re.test(r.text)) {
      re.lastIndex = 0;
      if (v.currentMatch !== undefined) v.list.invalidateSeq(v.currentMatch);
      v.currentMatch = r.seq;
      v.list.invalidateSeq(r.seq);
      v.following = false;
      v.list.reveal(i);
      updateMatches(v);
      v.updateChrome();
      v.dirty = true;
      v.schedule();
      return;
    }
  }
  re.lastIndex = 0;
}

/** The index of the row with `seq` in `rows` (ordered by seq), or -1. */
function indexOfSeq(rows: Row[], seq: number): number {
  let lo = 0;
  let hi = rows.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = rows[mid]!.seq;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
