/**
 * The Logs view's history from `GET /api/logs`: older pages when scrolled to the top, a time
 * window's newest page, and the NDJSON download of what the filter selects.
 */
import { getJson } from '../shared/api.js';
import { h } from '../shared/dom.js';
import { rowOf, type Entry } from '../shared/model.js';
import { stripAnsi } from './ansi.js';
import { historyParams, regexOf } from './filter.js';
import type { LogsView } from './view.js';

const PAGE = 200;

async function getLogs(v: LogsView, params: URLSearchParams): Promise<{ total: number; entries: Entry[] }> {
  const body = await getJson<{ total?: number; entries?: Entry[] }>('/api/logs', params, v.token);
  return { total: body.total ?? 0, entries: body.entries ?? [] };
}

/** A page without the entries already shown (the gateway applied every filter, regex included). */
function pageRows(v: LogsView, entries: Entry[]): Entry[] {
  return entries.filter((e) => !v.ids.has(e.id));
}

/** Scrolled to the top: the page before the oldest row, from `GET /api/logs`. */
export async function loadOlder(v: LogsView): Promise<void> {
  const o = v.older;
  if (o.loading || o.done || v.phase === 'history' || v.phase === 'off') return;
  const oldest = v.rows.find((r) => r.entry)?.entry;
  if (!oldest) return;
  try {
    regexOf(v.state); // an invalid regex is already reported; do not ask for pages
  } catch {
    return;
  }
  o.loading = true;
  // Paging is anchored at the oldest timestamp shown when it started: new entries do not
  // shift the offsets; entries sharing that timestamp are deduplicated by id.
  if (!o.anchor) {
    o.anchor = oldest.timestamp;
    o.offset = 0;
  }
  v.el.olderNote.textContent = 'loading older entries…';
  v.el.olderNote.hidden = false;
  try {
    const params = historyParams(v.state);
    params.set('date_to', o.anchor);
    params.set('limit', String(PAGE));
    params.set('offset', String(o.offset));
    const { entries } = await getLogs(v, params);
    if (v.older !== o) return; // the view changed meanwhile
    o.offset += entries.length;
    if (entries.length < PAGE) o.done = true;
    const fresh = pageRows(v, entries).reverse();
    v.prependRows(fresh.map((e) => rowOf(e, 0, stripAnsi)));
    v.el.olderNote.textContent = o.done ? 'start of the retained history' : '';
    v.el.olderNote.hidden = !o.done;
  } catch (err) {
    v.el.olderNote.textContent = `older entries: ${(err as Error).message}`;
  } finally {
    o.loading = false;
  }
}


/** A time window: its newest page; older pages load on scrolling up. */
export async function loadWindow(v: LogsView): Promise<void> {
  const o = v.older;
  o.loading = true;
  v.resetRows();
  v.older = o;
  try {
    regexOf(v.state);
  } catch (err) {
    v.showSearchError(`Invalid regex: ${(err as Error).message}`);
    o.loading = false;
    return;
  }
  try {
    const params = historyParams(v.state);
    params.set('limit', '500');
    const to = v.state.to || new Date(Date.now() + 1000).toISOString();
    params.set('date_to', to);
    const { entries } = await getLogs(v, params);
    if (v.older !== o || v.phase !== 'window') return;
    o.anchor = to;
    o.offset = entries.length;
    o.done = entries.length < 500;
    v.replaceRows(pageRows(v, entries).reverse());
    v.older = o;
    v.following = true;
    v.el.olderNote.hidden = !o.done;
    v.el.olderNote.textContent = o.done ? 'start of the window' : '';
  } catch (err) {
    v.notice(`History: ${(err as Error).message}`, 'error');
  } finally {
    o.loading = false;
  }
}

/** Saves what the filter selects (the whole retained history, not only the buffer) as NDJSON. */
export async function download(v: LogsView): Promise<void> {
  const btn = v.el.download;
  try {
    regexOf(v.state);
  } catch (err) {
    v.showSearchError(`Invalid regex: ${(err as Error).message}`);
    return;
  }
  btn.disabled = true;
  const label = btn.textContent;
  try {
    const params = historyParams(v.state);
    if (!params.has('date_to')) params.set('date_to', new Date(Date.now() + 1000).toISOString());
    params.set('limit', '1000');
    const seen = new Set<string>();
    const pages: Entry[][] = [];
    for (let offset = 0; offset < 1_000_000; ) {
      params.set('offset', String(offset));
      const { total, entries } = await getLogs(v, params);
      const kept = entries.filter((e) => !seen.has(e.id));
      for (const e of kept) seen.add(e.id);
      pages.push(kept);
      offset += entries.length;
      btn.textContent = `${Math.min(offset, total)}/${total}`;
      if (entries.length < 1000 || offset >= total) break;
    }
    // Oldest first, one entry per line.
    const lines: string[] = [];
    for (let p = pages.length - 1; p >= 0; p--) for (let i = pages[p]!.length - 1; i >= 0; i--) lines.push(JSON.stringify(pages[p]![i]));
    const blob = new Blob(lines.length ? [lines.join('\n'), '\n'] : [], { type: 'application/x-ndjson' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `sluice-${v.state.app || 'all'}-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  } catch (err) {
    v.notice(`Download: ${(err as Error).message}`, 'error');
  } finally {
    btn.disabled = false;
    btn.textContent = label;
  }
}
