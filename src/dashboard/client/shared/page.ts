/**
 * What every view of the page shares: the URL state (app, filters, time range), the signed-in
 * token and the apps it may read, the Local/UTC preference, and the page's tunables.
 */
import { parseQuery, toQuery, type ViewState } from './state.js';

const UTC_KEY = 'sluice.utc';

/** An integer tunable from `?name=` or `localStorage['sluice.name']`, within [min, max]. */
export function numberParam(name: string, fallback: number, min: number, max: number): number {
  const raw = new URLSearchParams(location.search).get(name) ?? localStorage.getItem(`sluice.${name}`);
  const n = raw === null ? NaN : Number(raw);
  return Number.isInteger(n) && n >= min && n <= max ? n : fallback;
}

/** The shared state of the page; one instance, handed to every view. */
export class Page {
  /** The state kept in the URL query; views change it and call {@link writeUrl}. */
  state: ViewState = parseQuery(location.search);
  /** The signed-in token ('' when signed out). */
  token = '';
  /** The apps the token may read, sorted. */
  apps: string[] = [];
  /** Times in UTC instead of local time (the Local/UTC button, kept in localStorage). */
  utc = localStorage.getItem(UTC_KEY) === '1';

  setUtc(on: boolean): void {
    this.utc = on;
    localStorage.setItem(UTC_KEY, on ? '1' : '0');
  }

  private readonly listeners: (() => void)[] = [];

  /** Calls `fn` after every {@link writeUrl}: what one view changed, the others and the header see. */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /**
   * Puts the state into the address bar (replacing the entry; unknown parameters are kept), or
   * as a new entry with `push` (Back returns to what was shown), and tells the listeners.
   */
  writeUrl(push = false): void {
    const url = location.pathname + toQuery(this.state, new URLSearchParams(location.search)) + location.hash;
    if (push) history.pushState(history.state, '', url);
    else if (url !== location.pathname + location.search + location.hash) history.replaceState(history.state, '', url);
    for (const fn of this.listeners) fn();
  }

  /** Re-reads the state from the address bar (after Back/Forward). */
  readUrl(): void {
    this.state = parseQuery(location.search);
  }
}
