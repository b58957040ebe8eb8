/**
 * The Logs view's controls: search box (debounced to the gateway), regex and highlight toggles,
 * level chips, source and proc fields, Pause, Download, the keys
 * (`/`, Ctrl/Cmd+K, Esc, n / N), scrolling and clicks on rows; and the state put back into them.
 */
import { h } from '../shared/dom.js';
import { LEVELS, type Level } from '../shared/model.js';
import { setLive } from '../shared/time-range.js';
import { download, loadOlder } from './history.js';
import { nextMatch } from './matches.js';
import type { LogsView } from './view.js';

const SEARCH_DEBOUNCE_MS = 150;

/** Wires the controls of the Logs view to `v` (once, at start). */
export function bindControls(v: LogsView): void {
  const el = v.el;
  el.search.addEventListener('input', (ev) => {
    v.state.query = el.search.value;
    v.pendingKey = ev.timeStamp;
    v.pendingKeyServer = ev.timeStamp;
    v.applyState({ resubscribe: false, url: false });
    clearTimeout(v.searchTimer);
    v.searchTimer = setTimeout(() => v.applyState({ resubscribe: v.state.mode === 'filter' }), SEARCH_DEBOUNCE_MS);
  });
  el.search.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      if (el.search.value) {
        el.search.value = '';
        v.state.query = '';
        v.pendingKey = ev.timeStamp;
        v.pendingKeyServer = ev.timeStamp;
        v.applyState({ resubscribe: v.state.mode === 'filter' });
      } else el.search.blur();
    } else if (ev.key === 'Enter' && v.state.mode === 'highlight') {
      ev.preventDefault();
      nextMatch(v, ev.shiftKey ? -1 : 1);
    }
  });
  el.regex.addEventListener('click', () => {
    v.state.regex = !v.state.regex;
    v.applyState({ resubscribe: v.state.query !== '' && v.state.mode === 'filter' });
  });
  el.mode.addEventListener('click', () => {
    v.state.mode = v.state.mode === 'filter' ? 'highlight' : 'filter';
    v.applyState({ resubscribe: v.state.query !== '' });
  });
  for (const level of LEVELS) {
    const chip = h('button', { type: 'button', class: `chip lvl-${level.toLowerCase()}`, 'data-chip': level.toLowerCase(), 'aria-pressed': 'true' }, level);
    chip.addEventListener('click', (ev) => {
      const levels = v.state.levels;
      if ((ev as MouseEvent).altKey) {
        // Alt+click: only this level.
        v.state.levels = new Set([level]);
      } else if (levels.has(level)) {
        levels.delete(level);
        if (levels.size === 0) v.state.levels = new Set(LEVELS);
      } else levels.add(level);
      v.applyState({ resubscribe: true });
    });
    el.chips.append(chip);
  }
  const onField = (input: HTMLInputElement, key: 'source' | 'proc') => {
    let t: ReturnType<typeof setTimeout> | undefined;
    input.addEventListener('input', () => {
      clearTimeout(t);
      t = setTimeout(() => {
        v.state[key] = input.value.trim();
        v.applyState({ resubscribe: true });
      }, 300);
    });
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        clearTimeout(t);
        v.state[key] = input.value.trim();
        v.applyState({ resubscribe: true });
      }
    });
  };
  onField(el.source, 'source');
  onField(el.proc, 'proc');
  el.pause.addEventListener('click', () => {
    if (v.paused || !v.following) v.goLive();
    else {
      v.paused = true;
      v.following = false;
      v.updateChrome();
    }
  });
  el.pill.addEventListener('click', () => v.goLive());
  el.download.addEventListener('click', () => void download(v));
  el.windowNote.addEventListener('click', (ev) => {
    if ((ev.target as HTMLElement).closest('button')) {
      setLive(v.state);
      v.applyState({ resubscribe: true });
    }
  });

  el.scroller.addEventListener('scroll', () => v.onScroll(), { passive: true });
  el.scroller.addEventListener(
    'wheel',
    (ev) => {
      if (ev.deltaY >= 0) return;
      const s = el.scroller;
      if (v.following && s.scrollHeight > s.clientHeight) {
        v.following = false;
        v.updateChrome();
      }
      if (s.scrollTop === 0) void loadOlder(v);
    },
    { passive: true },
  );
  el.layer.addEventListener('click', (ev) => {
    const rowEl = (ev.target as HTMLElement).closest<HTMLElement>('.row');
    if (!rowEl?.dataset.id) return;
    if (window.getSelection()?.toString()) return; // selecting text, not opening
    v.openDetail(rowEl.dataset.id);
  });
  el.layer.addEventListener('keydown', (ev) => {
    const rowEl = (ev.target as HTMLElement).closest<HTMLElement>('.row');
    if (ev.key === 'Enter' && rowEl?.dataset.id) v.openDetail(rowEl.dataset.id);
  });

  document.addEventListener('keydown', (ev) => onKey(v, ev));
  window.addEventListener('resize', () => {
    v.list.measure();
    v.dirty = true;
    v.schedule();
  });
  window.addEventListener('online', () => v.stream.reconnectNow());
}

function onKey(v: LogsView, ev: KeyboardEvent): void {
  const target = ev.target as HTMLElement;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
  if (v.el.main.hidden || !v.visible) return;
  if ((ev.key === 'k' || ev.key === 'K') && (ev.ctrlKey || ev.metaKey)) {
    ev.preventDefault();
    v.el.search.focus();
    v.el.search.select();
    return;
  }
  if (typing) return;
  if (ev.key === '/') {
    ev.preventDefault();
    v.el.search.focus();
    v.el.search.select();
  } else if (ev.key === 'Escape') {
    if (!v.el.detail.hidden) v.closeDetail();
    else if (v.state.query) {
      v.el.search.value = '';
      v.state.query = '';
      v.applyState({ resubscribe: v.state.mode === 'filter' });
    }
  } else if (ev.key === 'n' && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
    nextMatch(v, 1);
  } else if (ev.key === 'N' && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
    nextMatch(v, -1);
  }
}

/** Puts the state into the controls (after a reload, a pop, or a field click). */
export function syncControls(v: LogsView): void {
  const s = v.state;
  const el = v.el;
  if (el.search.value !== s.query) el.search.value = s.query;
  el.regex.setAttribute('aria-pressed', String(s.regex));
  el.mode.textContent = s.mode === 'filter' ? 'Filter' : 'Highlight';
  el.mode.setAttribute('aria-pressed', String(s.mode === 'highlight'));
  el.mode.title = s.mode === 'filter' ? 'Search hides rows that do not match (click: highlight instead)' : 'Search marks matches; n / N move between them (click: filter instead)';
  for (const chip of el.chips.querySelectorAll<HTMLElement>('[data-chip]')) {
    chip.setAttribute('aria-pressed', String(s.levels.has(chip.dataset.chip!.toUpperCase() as Level)));
  }
  if (el.source.value.trim() !== s.source) el.source.value = s.source;
  if (el.proc.value.trim() !== s.proc) el.proc.value = s.proc;
  el.search.placeholder = s.regex ? 'Regular expression  ( / )' : 'Search  ( / )';
}
