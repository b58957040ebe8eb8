/**
 * The Logs view: the live view over the WebSocket (history, then live, resuming after drops),
 * filters mirrored in the URL, highlight mode, older history from `GET /api/logs`, time windows
 * and NDJSON download (the last three in history.ts, the controls in controls.ts).
 *
 * Speed: frames are queued as text and parsed under a time budget per animation frame; the list
 * is virtualised (≤ 500 row elements by default); the buffer is bounded (10,000 entries by
 * default, `?buffer=N`). While the view is not following (scrolled up or paused) new entries wait
 * in a bounded queue and the rows on screen do not move.
 */
import { afterPaint, byId, h } from '../shared/dom.js';
import { formatTime, hueOf } from '../shared/format.js';
import { LEVELS, rowOf, type Entry, type Level, type Row } from '../shared/model.js';
import { numberParam, type Page } from '../shared/page.js';
import type { ViewState } from '../shared/state.js';
import { refreshPreset, setLive } from '../shared/time-range.js';
import { wsUrl } from '../shared/ws.js';
import { stripAnsi } from './ansi.js';
import { bindControls, syncControls } from './controls.js';
import { renderDetail } from './detail.js';
import { highlightPattern, localFilter, matchRanges, subscription } from './filter.js';
import { loadOlder, loadWindow } from './history.js';
import { VirtualList } from './list.js';
import { updateMatches, updateMatchesSoon } from './matches.js';
import { appendMessage } from './message.js';
import { LiveStream } from './stream.js';

/** Time spent parsing queued frames per animation frame before yielding to input and paint. */
const PARSE_BUDGET_MS = 8;

interface ServerMessage {
  type: string;
  data?: unknown;
  error?: string;
  message?: string;
  count?: number;
  since_id?: string;
  recovered?: boolean;
}

/** Counters for tests and `npm run bench:ui` (read through `window.__sluice`). */
export interface Stats {
  /** Entries received from the gateway. */
  received: number;
  /** Entries that went into the view. */
  shown: number;
  maxRendered: number;
  /** Keypress in the search box → the filtered view painted, ms. */
  keyToView: number[];
  /** Keypress → the gateway's answer for the new filter painted, ms. */
  keyToServer: number[];
  queued: number;
}

/** What the page does for the Logs view. */
export interface LogsEvents {
  /** The gateway refused the token (or closed for good): sign out with this message. */
  refused(message: string): void;
}

export class LogsView {
  /** The URL state (shared with the other views). */
  get state(): ViewState {
    return this.page.state;
  }
  set state(s: ViewState) {
    this.page.state = s;
  }
  get token(): string {
    return this.page.token;
  }
  get utc(): boolean {
    return this.page.utc;
  }
  readonly bufferMax = numberParam('buffer', 10_000, 100, 1_000_000);
  readonly maxRows = numberParam('rows', 500, 50, 5000);
  /** Entries of history asked for on subscribing (the gateway caps it at HISTORY_PER_APP). */
  readonly historySize = numberParam('history', this.bufferMax, 0, 1_000_000);

  /** The buffer: entries of the current subscription (plus older pages), in order. */
  rows: Row[] = [];
  ids = new Set<string>();
  /** What the list shows: `rows` through the local filter. */
  view: Row[] = [];
  filter: (row: Row) => boolean = () => true;
  seqHi = 0;
  seqLo = 0;

  following = true;
  paused = false;
  /** New entries held while not following (bounded), and how many of those were dropped. */
  pending: Row[] = [];
  pendingDropped = 0;
  /** The buffer no longer joins up with live (older pages pushed the newest out). */
  detached = false;

  stream: LiveStream;
  phase: 'history' | 'live' | 'window' | 'off' = 'off';
  historyBuf: Entry[] = [];
  lastId: string | undefined;
  inbox: { gen: number; text: string }[] = [];
  inboxAt = 0;

  older = { loading: false, done: false, anchor: '', offset: 0 };
  selected: string | undefined;
  currentMatch: number | undefined;
  hl: RegExp | undefined;
  dirty = true;
  frameQueued = false;
  pendingKey: number | undefined;
  pendingKeyServer: number | undefined;
  searchTimer: ReturnType<typeof setTimeout> | undefined;
  stats: Stats = { received: 0, shown: 0, maxRendered: 0, keyToView: [], keyToServer: [], queued: 0 };

  list: VirtualList;
  matchTimer: ReturnType<typeof setTimeout> | undefined;
  chromeKey = '';
  el = {
    main: byId('main'),
    search: byId<HTMLInputElement>('search'),
    regex: byId<HTMLButtonElement>('regex'),
    mode: byId<HTMLButtonElement>('mode'),
    matches: byId('matches'),
    searchError: byId('search-error'),
    chips: byId('chips'),
    source: byId<HTMLInputElement>('source'),
    proc: byId<HTMLInputElement>('proc'),
    pause: byId<HTMLButtonElement>('pause'),
    download: byId<HTMLButtonElement>('download'),
    status: byId('status'),
    notices: byId('notices'),
    scroller: byId('scroller'),
    spacer: byId('spacer'),
    layer: byId('rows'),
    olderNote: byId('older'),
    detail: byId('detail'),
    pill: byId<HTMLButtonElement>('pill'),
    windowNote: byId('window'),
  };

  constructor(
    readonly page: Page,
    readonly on: LogsEvents,
  ) {
    this.stream = new LiveStream(wsUrl(), () => this.token, {
      text: (gen, text) => {
        this.inbox.push({ gen, text });
        this.schedule();
      },
      open: (gen, resumed) => {
        if (gen !== this.stream.generation) return;
        if (!resumed) {
          this.phase = 'history';
          this.historyBuf = [];
        }
        this.setStatus(resumed ? 'resuming' : 'loading', resumed ? 'resuming…' : 'loading history…');
      },
      down: (gen, code, reason, retryMs) => {
        if (gen !== this.stream.generation) return;
        if (retryMs === undefined) {
          this.on.refused(reason === 'unauthorized' ? 'The gateway refused this token.' : `Disconnected (${code} ${reason}).`);
          return;
        }
        this.setStatus('reconnecting', `reconnecting in ${retryMs < 1000 ? `${retryMs} ms` : `${retryMs / 1000} s`}…`);
      },
      beforeResume: () => this.drainInbox(Infinity),
      resumeId: () => (this.phase === 'live' ? this.lastId : undefined),
    });
    this.list = new VirtualList(this.el.scroller, this.el.spacer, this.el.layer, {
      maxRows: this.maxRows,
      overscan: 30,
      makeRow: (row) => this.makeRow(row),
    });
    bindControls(this);
  }

  /** Whether the view is on screen; hidden, it defers new subscriptions until shown. */
  visible = true;
  /** A subscription was deferred while hidden. */
  stale = false;

  /** Signed in: the controls show the state, and the view subscribes (at once, or when shown). */
  start(): void {
    this.list.measure();
    syncControls(this);
    this.applyState({ resubscribe: true });
  }

  /** Signed out: the socket closes and the rows go. */
  stop(): void {
    this.stream.stop();
    this.stale = false;
    this.resetRows();
    this.render();
  }

  /**
   * On screen again (the Logs tab): a preset window starts at now − N again, and what was
   * deferred subscribes. A live tail kept running while hidden, so its rows are already there.
   */
  show(): void {
    this.visible = true;
    this.list.measure();
    const moved = refreshPreset(this.state, Date.now());
    if (moved) this.page.writeUrl();
    this.applyState({ resubscribe: moved || this.stale });
  }

  /** Off screen (another tab): nothing stops, but new subscriptions wait for {@link show}. */
  hide(): void {
    this.visible = false;
    if (this.el.detail.hidden === false) this.closeDetail();
  }

  /** Back/Forward changed the state: the controls show it, and the view subscribes again. */
  fromUrl(): void {
    syncControls(this);
    this.applyState({ resubscribe: true });
  }

  /** Local/UTC changed: the rows are drawn again. */
  redrawTimes(): void {
    this.list.invalidate();
    this.dirty = true;
    this.schedule();
  }


  /**
   * The state changed: URL, controls, the view filtered at once in the browser, and (when
   * `resubscribe`) a new subscription whose answer replaces the buffer.
   */
  applyState(opts: { resubscribe: boolean; url?: boolean }): void {
    // Per keystroke the URL waits for the debounce (browsers throttle history updates).
    if (opts.url !== false) this.page.writeUrl();
    syncControls(this);

    const filter = localFilter(this.state);
    this.el.searchError.hidden = true;
    this.el.search.removeAttribute('aria-invalid');
    if (filter) {
      this.filter = filter;
      this.view = this.rows.filter(filter);
    }
    const hl = this.state.mode === 'highlight' ? highlightPattern(this.state) : undefined;
    if (this.state.mode === 'highlight' && this.state.query && !hl) this.showSearchError(this.localRegexError());
    if (String(hl) !== String(this.hl)) {
      this.hl = hl;
      this.currentMatch = undefined;
      this.list.invalidate();
    }
    updateMatches(this);
    if (!this.paused) this.following = true;
    this.dirty = true;
    this.schedule();
    if (opts.resubscribe) {
      clearTimeout(this.searchTimer);
      // Hidden (the Metrics tab changed the app or the range): subscribe when shown.
      if (this.visible) {
        this.stale = false;
        this.subscribe();
      } else this.stale = true;
    }
  }

  localRegexError(): string {
    try {
      new RegExp(this.state.query);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  }

  showSearchError(message: string): void {
    this.el.searchError.textContent = message;
    this.el.searchError.hidden = false;
    this.el.search.setAttribute('aria-invalid', 'true');
  }

  // -------------------------------------------------------------------------------------------
  // Subscription and incoming frames
  // -------------------------------------------------------------------------------------------

  /** A new subscription for the state: live (history then live), or a time window. */
  subscribe(): void {
    this.detached = false;
    this.pending = [];
    this.pendingDropped = 0;
    this.lastId = undefined;
    this.inbox = [];
    this.inboxAt = 0;
    this.older = { loading: false, done: false, anchor: '', offset: 0 };
    const windowed = Boolean(this.state.from || this.state.to);
    this.el.windowNote.hidden = !windowed;
    if (windowed) {
      this.stream.stop();
      this.phase = 'window';
      this.el.windowNote.replaceChildren(
        `Showing ${this.state.from ? formatTime(this.state.from, this.utc) : 'the start'} – ${this.state.to ? formatTime(this.state.to, this.utc) : 'now'} from history. `,
        h('button', { type: 'button' }, 'Back to live'),
      );
      this.setStatus('window', 'time window');
      void loadWindow(this);
      return;
    }
    this.phase = 'history';
    this.historyBuf = [];
    this.setStatus('connecting', 'connecting…');
    this.stream.start(subscription(this.state), Math.min(this.historySize, this.bufferMax));
  }

  schedule(): void {
    if (this.frameQueued) return;
    this.frameQueued = true;
    const run = () => {
      if (!this.frameQueued) return;
      this.frameQueued = false;
      clearTimeout(fallback);
      this.frame();
    };
    requestAnimationFrame(run);
    // Hidden tabs get no animation frames: keep the queue moving (and bounded) anyway.
    const fallback = setTimeout(run, 250);
  }

  frame(): void {
    this.drainInbox(PARSE_BUDGET_MS);
    if (this.inboxAt < this.inbox.length) this.schedule();
    if (this.dirty) this.render();
  }

  /** Parses queued frames for at most `budgetMs`. */
  drainInbox(budgetMs: number): void {
    const t0 = performance.now();
    const gen = this.stream.generation;
    while (this.inboxAt < this.inbox.length) {
      const item = this.inbox[this.inboxAt++]!;
      if (item.gen === gen) this.handle(item.text);
      if (performance.now() - t0 > budgetMs) break;
    }
    if (this.inboxAt >= this.inbox.length) {
      this.inbox = [];
      this.inboxAt = 0;
    } else if (this.inboxAt > 1024) {
      this.inbox = this.inbox.slice(this.inboxAt);
      this.inboxAt = 0;
    }
    this.stats.queued = this.inbox.length - this.inboxAt;
  }

  handle(text: string): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(text) as ServerMessage;
    } catch {
      return;
    }
    switch (msg.type) {
      case 'logs':
      case 'log': {
        const entries = (msg.type === 'logs' ? msg.data : [msg.data]) as Entry[];
        if (entries.length === 0) return;
        this.stats.received += entries.length;
        this.lastId = entries[entries.length - 1]!.id;
        if (this.phase === 'history') {
          for (const e of entries) this.historyBuf.push(e);
        } else this.appendLive(entries);
        return;
      }
      case 'live':
        if (this.phase === 'history') {
          this.replaceRows(this.historyBuf);
          this.historyBuf = [];
          this.phase = 'live';
          if (this.pendingKeyServer !== undefined) {
            const t0 = this.pendingKeyServer;
            this.pendingKeyServer = undefined;
            afterPaint(() => this.stats.keyToServer.push(performance.now() - t0));
          }
        }
        this.setStatus('live', 'live');
        return;
      case 'gap':
        this.onGap(msg);
        return;
      case 'error':
        this.onServerError(msg);
        return;
      default:
        return; // connected, heartbeat, pong
    }
  }

  onGap(msg: ServerMessage): void {
    const count = typeof msg.count === 'number' ? msg.count : undefined;
    let note: string;
    if (msg.recovered) note = `${count ?? 'Some'} entries arrived late; they follow.`;
    else if (count !== undefined) note = `${count.toLocaleString()} ${count === 1 ? 'entry was' : 'entries were'} not delivered (the view fell behind the stream).`;
    else note = 'Reconnected, but the gateway no longer holds the point to resume from: entries between may be missing.';
    this.notice(note, 'gap');
    if (msg.recovered) return;
    const row: Row = { seq: 0, text: note, level: 'gap', gap: { count, note } };
    if (this.phase === 'history') return; // nothing shown yet: the history is what there is
    this.appendRows([row]);
  }

  onServerError(msg: ServerMessage): void {
    if (msg.error === 'invalid_regex' || msg.error === 'regex_budget_exceeded') {
      // Refused, or ended by the gateway for taking too long: either way the pattern is the cause.
      const slow = msg.error === 'regex_budget_exceeded';
      this.showSearchError(`${slow ? 'Regex too slow' : 'Invalid regex'}: ${msg.message ?? ''}`);
      this.phase = 'live';
      this.setStatus('error', slow ? 'regex too slow' : 'invalid regex');
      return;
    }
    if (msg.error === 'unauthorized') return; // the close (4001) follows
    this.notice(`${msg.error}: ${msg.message ?? ''}`, 'error');
    if (msg.error === 'forbidden' || msg.error === 'unknown_app') this.setStatus('error', msg.error);
  }

  /** Entries after the `live` marker (or of a resume). */
  appendLive(entries: Entry[]): void {
    const fresh: Row[] = [];
    for (const e of entries) {
      if (this.ids.has(e.id)) continue;
      this.ids.add(e.id);
      fresh.push(rowOf(e, 0, stripAnsi));
    }
    if (fresh.length === 0) return;
    if (!this.following || this.paused || this.detached) {
      for (const r of fresh) this.pending.push(r);
      const over = this.pending.length - this.bufferMax;
      if (over > 0) {
        for (const r of this.pending.splice(0, over)) if (r.entry) this.ids.delete(r.entry.id);
        this.pendingDropped += over;
      }
      this.updateChrome();
      return;
    }
    this.appendRows(fresh);
  }

  /** Appends rows to the buffer and the view, dropping the oldest past the bound. */
  appendRows(rows: Row[]): void {
    for (const r of rows) {
      r.seq = ++this.seqHi;
      this.rows.push(r);
      if (this.filter(r)) {
        this.view.push(r);
        this.stats.shown++;
      }
    }
    const over = this.rows.length - this.bufferMax;
    if (over > 0) {
      const removed = this.rows.splice(0, over);
      for (const r of removed) if (r.entry) this.ids.delete(r.entry.id);
      const minSeq = this.rows[0]!.seq;
      let cut = 0;
      while (cut < this.view.length && this.view[cut]!.seq < minSeq) cut++;
      if (cut > 0) this.view.splice(0, cut);
      // Older pages start again from what is now the oldest row.
      this.older = { loading: false, done: false, anchor: '', offset: 0 };
    }
    if (this.hl) updateMatchesSoon(this);
    this.dirty = true;
    this.schedule();
  }

  /** The answer to a new subscription (or a window) replaces the buffer. */
  replaceRows(entries: Entry[]): void {
    this.resetRows();
    const from = Math.max(0, entries.length - this.bufferMax);
    for (let i = from; i < entries.length; i++) {
      const e = entries[i]!;
      if (this.ids.has(e.id)) continue;
      this.ids.add(e.id);
      const r = rowOf(e, ++this.seqHi, stripAnsi);
      this.rows.push(r);
    }
    this.view = this.rows.filter(this.filter);
    this.list.invalidate();
    updateMatches(this);
    this.dirty = true;
    this.schedule();
  }

  resetRows(): void {
    this.rows = [];
    this.view = [];
    this.ids.clear();
    this.pending = [];
    this.pendingDropped = 0;
    this.seqHi = 0;
    this.seqLo = 0;
    this.older = { loading: false, done: false, anchor: '', offset: 0 };
  }

  /** Back to following the stream: what waited is shown, the list goes to its bottom. */
  goLive(): void {
    this.paused = false;
    this.following = true;
    if (this.phase === 'window') {
      setLive(this.state);
      this.applyState({ resubscribe: true });
      return;
    }
    if (this.detached) {
      this.subscribe();
      this.updateChrome();
      return;
    }
    const waiting = this.pending;
    const dropped = this.pendingDropped;
    this.pending = [];
    this.pendingDropped = 0;
    if (dropped > 0) {
      const note = `${dropped.toLocaleString()} entries skipped while paused (over the ${this.bufferMax.toLocaleString()}-entry buffer).`;
      waiting.unshift({ seq: 0, text: note, level: 'gap', gap: { count: dropped, note } });
    }
    if (waiting.length) this.appendRows(waiting);
    this.dirty = true;
    this.schedule();
    this.updateChrome();
  }


  /** Rows before the first; the rows on screen keep their place. */
  prependRows(rows: Row[]): void {
    if (rows.length === 0) return;
    for (const r of rows) if (r.entry) this.ids.add(r.entry.id);
    for (let i = rows.length - 1; i >= 0; i--) rows[i]!.seq = --this.seqLo;
    const shown = rows.filter(this.filter);
    this.rows = rows.concat(this.rows);
    this.view = shown.concat(this.view);
    const over = this.rows.length - this.bufferMax;
    if (over > 0) {
      // The newest fall out: the buffer no longer joins up with live.
      const removed = this.rows.splice(this.rows.length - over);
      for (const r of removed) if (r.entry) this.ids.delete(r.entry.id);
      const maxSeq = this.rows[this.rows.length - 1]!.seq;
      while (this.view.length && this.view[this.view.length - 1]!.seq > maxSeq) this.view.pop();
      if (this.phase === 'live') this.detached = true;
    }
    if (this.following) this.following = false;
    this.list.rows = this.view;
    this.list.scrollBy(shown.length * this.list.rowHeight);
    updateMatches(this);
    this.dirty = true;
    this.schedule();
    this.updateChrome();
  }


  // -------------------------------------------------------------------------------------------
  // Scrolling, following, highlight navigation
  // -------------------------------------------------------------------------------------------

  onScroll(): void {
    if (!this.list.isOwnScroll()) {
      const bottom = this.list.atBottom();
      if (bottom && !this.paused && !this.following && !this.detached && this.phase !== 'window') {
        this.following = true;
        this.goLive();
      } else if (!bottom && this.following) this.following = false;
      this.updateChrome();
    }
    if (this.el.scroller.scrollTop < this.list.rowHeight * 3 && !this.following) void loadOlder(this);
    this.dirty = true;
    this.schedule();
  }

  // -------------------------------------------------------------------------------------------
  // Rendering
  // -------------------------------------------------------------------------------------------

  render(): void {
    this.dirty = false;
    this.list.rows = this.view;
    this.list.render(this.following && !this.paused);
    if (this.list.rendered > this.stats.maxRendered) this.stats.maxRendered = this.list.rendered;
    this.el.layer.classList.toggle('empty', this.view.length === 0);
    this.updateChrome();
    if (this.pendingKey !== undefined) {
      const t0 = this.pendingKey;
      this.pendingKey = undefined;
      afterPaint(() => this.stats.keyToView.push(performance.now() - t0));
    }
  }

  makeRow(row: Row): HTMLElement {
    const el = document.createElement('div');
    if (row.gap) {
      el.className = 'row gap';
      el.dataset.gap = String(row.gap.count ?? '');
      el.textContent = `⚠ ${row.gap.note}`;
      return el;
    }
    const e = row.entry!;
    el.className = row.seq === this.currentMatch ? 'row current' : 'row';
    if (e.id === this.selected) el.classList.add('selected');
    el.dataset.id = e.id;
    el.dataset.level = row.level;
    el.tabIndex = -1;
    const ts = document.createElement('span');
    ts.className = 'ts';
    ts.textContent = formatTime(e.timestamp, this.utc);
    ts.title = e.timestamp;
    const src = document.createElement('span');
    src.className = 'src';
    const source = e.source ?? e.app_id;
    src.textContent = e.proc ? `${source}[${e.proc}]` : source;
    src.style.setProperty('--h', String(hueOf(source)));
    const lvl = document.createElement('span');
    lvl.className = `lvl lvl-${row.level}`;
    lvl.textContent = e.level;
    const msg = document.createElement('span');
    msg.className = 'msg';
    const ranges = this.hl ? matchRanges(row.text, this.hl) : [];
    appendMessage(msg, e.message, ranges, true);
    el.append(ts, src, lvl, msg);
    return el;
  }

  updateChrome(): void {
    const waiting = this.pending.length + this.pendingDropped;
    const off = !this.following || this.paused;
    const pill = this.el.pill;
    const showPill = off && this.phase !== 'window' && (waiting > 0 || this.detached);
    const label = showPill ? (waiting > 0 ? `${waiting.toLocaleString()} new ↓` : 'Back to live ↓') : '';
    const key = `${label}|${off}`;
    if (key === this.chromeKey) return; // called every frame: touch the DOM only on a change
    this.chromeKey = key;
    pill.hidden = !showPill;
    pill.textContent = label;
    this.el.pause.textContent = off ? 'Resume' : 'Pause';
    this.el.pause.setAttribute('aria-pressed', String(off));
    document.body.classList.toggle('following', !off);
  }

  setStatus(kind: string, text: string): void {
    this.el.status.dataset.state = kind;
    this.el.status.textContent = text;
  }

  notice(text: string, kind: 'gap' | 'error' | 'info'): void {
    const n = h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, h('span', {}, text));
    n.append(h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', onclick: () => n.remove() }, '×'));
    this.el.notices.append(n);
    while (this.el.notices.childElementCount > 3) this.el.notices.firstElementChild!.remove();
  }

  // -------------------------------------------------------------------------------------------
  // Detail
  // -------------------------------------------------------------------------------------------

  openDetail(id: string): void {
    const row = this.rows.find((r) => r.entry?.id === id) ?? this.pending.find((r) => r.entry?.id === id);
    if (!row?.entry) return;
    const before = this.selected;
    this.selected = id;
    for (const s of [before, id]) {
      const r = s && this.rows.find((x) => x.entry?.id === s);
      if (r) this.list.invalidateSeq(r.seq);
    }
    const panel = this.el.detail;
    panel.replaceChildren(renderDetail(row.entry, this.utc, (field, value) => this.filterOn(field, value), () => this.closeDetail()));
    panel.hidden = false;
    document.body.classList.add('detail-open');
    this.dirty = true;
    this.schedule();
  }

  closeDetail(): void {
    const r = this.selected && this.rows.find((x) => x.entry?.id === this.selected);
    if (r) this.list.invalidateSeq(r.seq);
    this.selected = undefined;
    this.el.detail.hidden = true;
    document.body.classList.remove('detail-open');
    this.dirty = true;
    this.schedule();
  }

  /** A click on a field of the detail: a filter on it. */
  filterOn(field: string, value: string): void {
    const s = this.state;
    if (field === 'level') {
      const l = value.toUpperCase() as Level;
      if (LEVELS.includes(l)) s.levels = new Set([l]);
    } else if (field === 'source') s.source = value;
    else if (field === 'proc') s.proc = value;
    else if (field === 'app_id' && this.page.apps.includes(value)) s.app = value;
    else {
      s.query = field === 'message' ? value.split('\n')[0]!.slice(0, 200) : value;
      s.regex = false;
      s.mode = 'filter';
    }
    this.applyState({ resubscribe: true });
  }
}
