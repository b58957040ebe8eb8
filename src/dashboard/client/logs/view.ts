/**
 * The Sluice dashboard: sign-in, app picker, the live view over the WebSocket (history, then live,
 * resuming after drops), filters mirrored in the URL, highlight mode, older history from
 * `GET /api/logs`, time windows and NDJSON download.
 *
 * Speed: frames are queued as text and parsed under a time budget per animation frame; the list
 * is virtualised (≤ 500 row elements by default); the buffer is bounded (10,000 entries by
 * default, `?buffer=N`). While the view is not following (scrolled up or paused) new entries wait
 * in a bounded queue and the rows on screen do not move.
 */
import { stripAnsi } from './ansi.js';
import { renderDetail } from './detail.js';
import { appendMessage, byId, h } from './dom.js';
import { VirtualList } from './list.js';
import { LEVELS, rowOf, type Entry, type Level, type Row } from './model.js';
import {
  formatTime,
  highlightPattern,
  historyParams,
  hueOf,
  localFilter,
  matchRanges,
  parseQuery,
  regexOf,
  subscription,
  toQuery,
  type ViewState,
} from './state.js';
import { LiveStream } from './stream.js';

const TOKEN_KEY = 'sluice.token';
const UTC_KEY = 'sluice.utc';
/** Time spent parsing queued frames per animation frame before yielding to input and paint. */
const PARSE_BUDGET_MS = 8;
const SEARCH_DEBOUNCE_MS = 150;
const PAGE = 200;

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
interface Stats {
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

function numberParam(name: string, fallback: number, min: number, max: number): number {
  const raw = new URLSearchParams(location.search).get(name) ?? localStorage.getItem(`sluice.${name}`);
  const n = raw === null ? NaN : Number(raw);
  return Number.isInteger(n) && n >= min && n <= max ? n : fallback;
}

/** Runs `fn` after the next paint (a frame, then a task). */
function afterPaint(fn: () => void): void {
  requestAnimationFrame(() => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => fn();
    ch.port2.postMessage(null);
  });
}

class Dashboard {
  state: ViewState = parseQuery(location.search);
  token = '';
  apps: string[] = [];
  utc = localStorage.getItem(UTC_KEY) === '1';
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
  el = {
    signin: byId('signin'),
    signinForm: byId<HTMLFormElement>('signin-form'),
    signinToken: byId<HTMLInputElement>('signin-token'),
    signinError: byId('signin-error'),
    main: byId('main'),
    app: byId<HTMLSelectElement>('app'),
    search: byId<HTMLInputElement>('search'),
    regex: byId<HTMLButtonElement>('regex'),
    mode: byId<HTMLButtonElement>('mode'),
    matches: byId('matches'),
    searchError: byId('search-error'),
    chips: byId('chips'),
    source: byId<HTMLInputElement>('source'),
    proc: byId<HTMLInputElement>('proc'),
    range: byId<HTMLSelectElement>('range'),
    rangeBox: byId('range-custom'),
    rangeFrom: byId<HTMLInputElement>('range-from'),
    rangeTo: byId<HTMLInputElement>('range-to'),
    rangeApply: byId<HTMLButtonElement>('range-apply'),
    pause: byId<HTMLButtonElement>('pause'),
    utc: byId<HTMLButtonElement>('utc'),
    download: byId<HTMLButtonElement>('download'),
    signout: byId<HTMLButtonElement>('signout'),
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

  constructor() {
    const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
    this.stream = new LiveStream(wsUrl, () => this.token, {
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
          this.signOut(reason === 'unauthorized' ? 'The gateway refused this token.' : `Disconnected (${code} ${reason}).`);
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
    (window as unknown as { __sluice: unknown }).__sluice = this;
    this.bind();
  }

  // -------------------------------------------------------------------------------------------
  // Sign-in
  // -------------------------------------------------------------------------------------------

  async boot(): Promise<void> {
    const hash = new URLSearchParams(location.hash.slice(1));
    const fromHash = hash.get('token');
    if (fromHash) {
      sessionStorage.setItem(TOKEN_KEY, fromHash);
      // Out of the address bar (and the history), kept for this tab only.
      history.replaceState(history.state, '', location.pathname + location.search);
    }
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return this.showSignIn();
    await this.signIn(token, false);
  }

  showSignIn(error = ''): void {
    this.el.main.hidden = true;
    this.el.signin.hidden = false;
    this.el.signinError.textContent = error;
    this.el.signinToken.focus();
  }

  async signIn(token: string, fromForm: boolean): Promise<void> {
    if (token.startsWith('t.')) {
      return this.showSignIn('That is an ingest token: it can send logs but not read them. Use a read token (r.…) or the admin token.');
    }
    let res: Response;
    try {
      res = await fetch('/api/apps', { headers: { Authorization: `Bearer ${token}` } });
    } catch {
      return this.showSignIn('The gateway does not answer.');
    }
    if (res.status === 401 || res.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      return this.showSignIn(fromForm ? 'Unknown token.' : 'The saved token is no longer valid: sign in again.');
    }
    if (!res.ok) return this.showSignIn(`The gateway answered ${res.status}.`);
    const body = (await res.json()) as { apps: { id: string }[] };
    this.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    this.apps = body.apps.map((a) => a.id).sort();
    this.el.signin.hidden = true;
    this.el.main.hidden = false;
    this.fillApps();
    this.list.measure();
    this.syncControls();
    this.applyState({ resubscribe: true });
  }

  signOut(message = ''): void {
    this.stream.stop();
    sessionStorage.removeItem(TOKEN_KEY);
    this.token = '';
    this.resetRows();
    this.render();
    this.showSignIn(message);
  }

  fillApps(): void {
    const sel = this.el.app;
    sel.replaceChildren();
    if (this.apps.length > 1) sel.append(h('option', { value: '' }, 'All apps'));
    for (const id of this.apps) sel.append(h('option', { value: id }, id));
    if (!this.apps.includes(this.state.app) && !(this.state.app === '' && this.apps.length > 1)) this.state.app = this.apps[0] ?? '';
    sel.value = this.state.app;
  }

  // -------------------------------------------------------------------------------------------
  // Controls
  // -------------------------------------------------------------------------------------------

  bind(): void {
    const el = this.el;
    el.signinForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.signIn(el.signinToken.value.trim(), true);
    });
    el.signout.addEventListener('click', () => this.signOut());
    el.app.addEventListener('change', () => {
      this.state.app = el.app.value;
      this.applyState({ resubscribe: true });
    });
    el.search.addEventListener('input', (ev) => {
      this.state.query = el.search.value;
      this.pendingKey = ev.timeStamp;
      this.pendingKeyServer = ev.timeStamp;
      this.applyState({ resubscribe: false, url: false });
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.applyState({ resubscribe: this.state.mode === 'filter' }), SEARCH_DEBOUNCE_MS);
    });
    el.search.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        if (el.search.value) {
          el.search.value = '';
          this.state.query = '';
          this.pendingKey = ev.timeStamp;
          this.pendingKeyServer = ev.timeStamp;
          this.applyState({ resubscribe: this.state.mode === 'filter' });
        } else el.search.blur();
      } else if (ev.key === 'Enter' && this.state.mode === 'highlight') {
        ev.preventDefault();
        this.nextMatch(ev.shiftKey ? -1 : 1);
      }
    });
    el.regex.addEventListener('click', () => {
      this.state.regex = !this.state.regex;
      this.applyState({ resubscribe: this.state.query !== '' && this.state.mode === 'filter' });
    });
    el.mode.addEventListener('click', () => {
      this.state.mode = this.state.mode === 'filter' ? 'highlight' : 'filter';
      this.applyState({ resubscribe: this.state.query !== '' });
    });
    for (const level of LEVELS) {
      const chip = h('button', { type: 'button', class: `chip lvl-${level.toLowerCase()}`, 'data-chip': level.toLowerCase(), 'aria-pressed': 'true' }, level);
      chip.addEventListener('click', (ev) => {
        const levels = this.state.levels;
        if ((ev as MouseEvent).altKey) {
          // Alt+click: only this level.
          this.state.levels = new Set([level]);
        } else if (levels.has(level)) {
          levels.delete(level);
          if (levels.size === 0) this.state.levels = new Set(LEVELS);
        } else levels.add(level);
        this.applyState({ resubscribe: true });
      });
      el.chips.append(chip);
    }
    const onField = (input: HTMLInputElement, key: 'source' | 'proc') => {
      let t: ReturnType<typeof setTimeout> | undefined;
      input.addEventListener('input', () => {
        clearTimeout(t);
        t = setTimeout(() => {
          this.state[key] = input.value.trim();
          this.applyState({ resubscribe: true });
        }, 300);
      });
      input.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter') {
          clearTimeout(t);
          this.state[key] = input.value.trim();
          this.applyState({ resubscribe: true });
        }
      });
    };
    onField(el.source, 'source');
    onField(el.proc, 'proc');
    el.range.addEventListener('change', () => this.onRange());
    el.rangeApply.addEventListener('click', () => {
      const from = el.rangeFrom.value ? new Date(el.rangeFrom.value).toISOString() : '';
      const to = el.rangeTo.value ? new Date(el.rangeTo.value).toISOString() : '';
      if (!from && !to) return;
      this.state.from = from;
      this.state.to = to;
      el.rangeBox.hidden = true;
      this.applyState({ resubscribe: true });
    });
    el.pause.addEventListener('click', () => {
      if (this.paused || !this.following) this.goLive();
      else {
        this.paused = true;
        this.following = false;
        this.updateChrome();
      }
    });
    el.pill.addEventListener('click', () => this.goLive());
    el.utc.addEventListener('click', () => {
      this.utc = !this.utc;
      localStorage.setItem(UTC_KEY, this.utc ? '1' : '0');
      this.list.invalidate();
      this.syncControls();
      this.dirty = true;
      this.schedule();
    });
    el.download.addEventListener('click', () => void this.download());
    el.windowNote.addEventListener('click', (ev) => {
      if ((ev.target as HTMLElement).closest('button')) {
        this.state.from = '';
        this.state.to = '';
        this.applyState({ resubscribe: true });
      }
    });

    el.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    el.scroller.addEventListener(
      'wheel',
      (ev) => {
        if (ev.deltaY >= 0) return;
        const s = el.scroller;
        if (this.following && s.scrollHeight > s.clientHeight) {
          this.following = false;
          this.updateChrome();
        }
        if (s.scrollTop === 0) void this.loadOlder();
      },
      { passive: true },
    );
    el.layer.addEventListener('click', (ev) => {
      const rowEl = (ev.target as HTMLElement).closest<HTMLElement>('.row');
      if (!rowEl?.dataset.id) return;
      if (window.getSelection()?.toString()) return; // selecting text, not opening
      this.openDetail(rowEl.dataset.id);
    });
    el.layer.addEventListener('keydown', (ev) => {
      const rowEl = (ev.target as HTMLElement).closest<HTMLElement>('.row');
      if (ev.key === 'Enter' && rowEl?.dataset.id) this.openDetail(rowEl.dataset.id);
    });

    document.addEventListener('keydown', (ev) => this.onKey(ev));
    window.addEventListener('resize', () => {
      this.list.measure();
      this.dirty = true;
      this.schedule();
    });
    window.addEventListener('popstate', () => {
      this.state = parseQuery(location.search);
      this.fillApps();
      this.syncControls();
      this.applyState({ resubscribe: true });
    });
    window.addEventListener('online', () => this.stream.reconnectNow());
  }

  onKey(ev: KeyboardEvent): void {
    const target = ev.target as HTMLElement;
    const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
    if (this.el.main.hidden) return;
    if ((ev.key === 'k' || ev.key === 'K') && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      this.el.search.focus();
      this.el.search.select();
      return;
    }
    if (typing) return;
    if (ev.key === '/') {
      ev.preventDefault();
      this.el.search.focus();
      this.el.search.select();
    } else if (ev.key === 'Escape') {
      if (!this.el.detail.hidden) this.closeDetail();
      else if (this.state.query) {
        this.el.search.value = '';
        this.state.query = '';
        this.applyState({ resubscribe: this.state.mode === 'filter' });
      }
    } else if (ev.key === 'n' && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      this.nextMatch(1);
    } else if (ev.key === 'N' && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      this.nextMatch(-1);
    }
  }

  onRange(): void {
    const v = this.el.range.value;
    this.el.rangeBox.hidden = v !== 'custom';
    if (v === 'custom') {
      const toLocal = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
      const now = new Date();
      this.el.rangeFrom.value = this.state.from ? toLocal(new Date(this.state.from)) : toLocal(new Date(now.getTime() - 3600_000));
      this.el.rangeTo.value = this.state.to ? toLocal(new Date(this.state.to)) : toLocal(now);
      return;
    }
    const minutes = v === 'live' ? 0 : Number(v);
    this.state.from = minutes > 0 ? new Date(Date.now() - minutes * 60_000).toISOString() : '';
    this.state.to = '';
    this.applyState({ resubscribe: true });
  }

  /** Puts the state into the controls (after a reload, a pop, or a field click). */
  syncControls(): void {
    const s = this.state;
    const el = this.el;
    el.app.value = s.app;
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
    el.utc.textContent = this.utc ? 'UTC' : 'Local';
    el.utc.setAttribute('aria-pressed', String(this.utc));
    if (!s.from && !s.to) el.range.value = 'live';
    else if (el.range.value === 'live') el.range.value = 'custom';
    el.search.placeholder = s.regex ? 'Regular expression  ( / )' : 'Search  ( / )';
  }

  /**
   * The state changed: URL, controls, the view filtered at once in the browser, and (when
   * `resubscribe`) a new subscription whose answer replaces the buffer.
   */
  applyState(opts: { resubscribe: boolean; url?: boolean }): void {
    // Per keystroke the URL waits for the debounce (browsers throttle history updates).
    if (opts.url !== false) {
      const url = location.pathname + toQuery(this.state, new URLSearchParams(location.search)) + location.hash;
      if (url !== location.pathname + location.search + location.hash) history.replaceState(history.state, '', url);
    }
    this.syncControls();

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
    this.updateMatches();
    if (!this.paused) this.following = true;
    this.dirty = true;
    this.schedule();
    if (opts.resubscribe) {
      clearTimeout(this.searchTimer);
      this.subscribe();
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
      void this.loadWindow();
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
    if (this.hl) this.updateMatchesSoon();
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
    this.updateMatches();
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
      this.state.from = '';
      this.state.to = '';
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

  // -------------------------------------------------------------------------------------------
  // History: older pages, time windows, download
  // -------------------------------------------------------------------------------------------

  async api(params: URLSearchParams): Promise<{ total: number; entries: Entry[] }> {
    const res = await fetch(`/api/logs?${params}`, { headers: { Authorization: `Bearer ${this.token}` } });
    const body = (await res.json().catch(() => ({}))) as { total?: number; entries?: Entry[]; error?: string; message?: string };
    if (!res.ok) throw new Error(body.message ?? `GET /api/logs answered ${res.status}`);
    return { total: body.total ?? 0, entries: body.entries ?? [] };
  }

  /** A page without the entries already shown (the gateway applied every filter, regex included). */
  pageRows(entries: Entry[]): Entry[] {
    return entries.filter((e) => !this.ids.has(e.id));
  }

  /** Scrolled to the top: the page before the oldest row, from `GET /api/logs`. */
  async loadOlder(): Promise<void> {
    const o = this.older;
    if (o.loading || o.done || this.phase === 'history' || this.phase === 'off') return;
    const oldest = this.rows.find((r) => r.entry)?.entry;
    if (!oldest) return;
    try {
      regexOf(this.state); // an invalid regex is already reported; do not ask for pages
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
    this.el.olderNote.textContent = 'loading older entries…';
    this.el.olderNote.hidden = false;
    try {
      const params = historyParams(this.state);
      params.set('date_to', o.anchor);
      params.set('limit', String(PAGE));
      params.set('offset', String(o.offset));
      const { entries } = await this.api(params);
      if (this.older !== o) return; // the view changed meanwhile
      o.offset += entries.length;
      if (entries.length < PAGE) o.done = true;
      const fresh = this.pageRows(entries).reverse();
      this.prependRows(fresh.map((e) => rowOf(e, 0, stripAnsi)));
      this.el.olderNote.textContent = o.done ? 'start of the retained history' : '';
      this.el.olderNote.hidden = !o.done;
    } catch (err) {
      this.el.olderNote.textContent = `older entries: ${(err as Error).message}`;
    } finally {
      o.loading = false;
    }
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
    this.updateMatches();
    this.dirty = true;
    this.schedule();
    this.updateChrome();
  }

  /** A time window: its newest page; older pages load on scrolling up. */
  async loadWindow(): Promise<void> {
    const o = this.older;
    o.loading = true;
    this.resetRows();
    this.older = o;
    try {
      regexOf(this.state);
    } catch (err) {
      this.showSearchError(`Invalid regex: ${(err as Error).message}`);
      o.loading = false;
      return;
    }
    try {
      const params = historyParams(this.state);
      params.set('limit', '500');
      const to = this.state.to || new Date(Date.now() + 1000).toISOString();
      params.set('date_to', to);
      const { entries } = await this.api(params);
      if (this.older !== o || this.phase !== 'window') return;
      o.anchor = to;
      o.offset = entries.length;
      o.done = entries.length < 500;
      this.replaceRows(this.pageRows(entries).reverse());
      this.older = o;
      this.following = true;
      this.el.olderNote.hidden = !o.done;
      this.el.olderNote.textContent = o.done ? 'start of the window' : '';
    } catch (err) {
      this.notice(`History: ${(err as Error).message}`, 'error');
    } finally {
      o.loading = false;
    }
  }

  /** Saves what the filter selects (the whole retained history, not only the buffer) as NDJSON. */
  async download(): Promise<void> {
    const btn = this.el.download;
    try {
      regexOf(this.state);
    } catch (err) {
      this.showSearchError(`Invalid regex: ${(err as Error).message}`);
      return;
    }
    btn.disabled = true;
    const label = btn.textContent;
    try {
      const params = historyParams(this.state);
      if (!params.has('date_to')) params.set('date_to', new Date(Date.now() + 1000).toISOString());
      params.set('limit', '1000');
      const seen = new Set<string>();
      const pages: Entry[][] = [];
      for (let offset = 0; offset < 1_000_000; ) {
        params.set('offset', String(offset));
        const { total, entries } = await this.api(params);
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
      const a = h('a', { href: URL.createObjectURL(blob), download: `sluice-${this.state.app || 'all'}-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (err) {
      this.notice(`Download: ${(err as Error).message}`, 'error');
    } finally {
      btn.disabled = false;
      btn.textContent = label;
    }
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
    if (this.el.scroller.scrollTop < this.list.rowHeight * 3 && !this.following) void this.loadOlder();
    this.dirty = true;
    this.schedule();
  }

  updateMatchesSoon(): void {
    // Counting is O(rows): at most a few times a second while lines stream in.
    if (this.matchTimer) return;
    this.matchTimer = setTimeout(() => {
      this.matchTimer = undefined;
      this.updateMatches();
    }, 300);
  }
  matchTimer: ReturnType<typeof setTimeout> | undefined;

  updateMatches(): void {
    const m = this.el.matches;
    if (!this.hl) {
      m.textContent = '';
      return;
    }
    const re = this.hl;
    let n = 0;
    let at = 0;
    for (const r of this.view) {
      re.lastIndex = 0;
      if (r.entry && re.test(r.text)) {
        n++;
        if (r.seq === this.currentMatch) at = n;
      }
    }
    re.lastIndex = 0;
    m.textContent = n === 0 ? 'no match' : at ? `${at}/${n}` : `${n} match${n === 1 ? '' : 'es'}`;
  }

  /** n / N: the next (or previous) row with a match; the view stops following to show it. */
  nextMatch(dir: 1 | -1): void {
    const re = this.hl;
    if (!re || this.view.length === 0) return;
    const v = this.view;
    let from = this.currentMatch !== undefined ? this.indexOfSeq(this.currentMatch) : -1;
    if (from < 0) from = dir > 0 ? this.list.firstVisible() - 1 : Math.min(v.length, this.list.firstVisible() + Math.floor(this.el.scroller.clientHeight / this.list.rowHeight));
    for (let k = 1; k <= v.length; k++) {
      const i = (((from + dir * k) % v.length) + v.length) % v.length;
      const r = v[i]!;
      re.lastIndex = 0;
      if (r.entry && re.test(r.text)) {
        re.lastIndex = 0;
        if (this.currentMatch !== undefined) this.list.invalidateSeq(this.currentMatch);
        this.currentMatch = r.seq;
        this.list.invalidateSeq(r.seq);
        this.following = false;
        this.list.reveal(i);
        this.updateMatches();
        this.updateChrome();
        this.dirty = true;
        this.schedule();
        return;
      }
    }
    re.lastIndex = 0;
  }

  indexOfSeq(seq: number): number {
    const v = this.view;
    let lo = 0;
    let hi = v.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = v[mid]!.seq;
      if (s === seq) return mid;
      if (s < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
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

  chromeKey = '';

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
    else if (field === 'app_id' && this.apps.includes(value)) s.app = value;
    else {
      s.query = field === 'message' ? value.split('\n')[0]!.slice(0, 200) : value;
      s.regex = false;
      s.mode = 'filter';
    }
    this.applyState({ resubscribe: true });
  }
}

const dashboard = new Dashboard();
void dashboard.boot();
