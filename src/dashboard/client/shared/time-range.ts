/**
 * The time range both views share (the time menu in the header): live, a preset ("last 15 min"),
 * or a custom window; what it means for the Logs view (a window of history, or the live tail)
 * and for the Metrics view (buckets from `from` to `to`, 10 s up to an hour, else 60 s, sliding
 * with the clock unless the window has an end). Pure: no DOM.
 */
import type { ViewState } from './state.js';

/** The time menu's presets, in minutes. */
export const RANGE_PRESETS = [5, 15, 60, 360, 1440] as const;

/** The Metrics view's window without a range: the last hour, live. */
export const DEFAULT_METRICS_MINUTES = 60;

export type Step = 10 | 60;

/** The bucket width the gateway keeps for a span: 10 s up to an hour, else 60 s. */
export function stepFor(seconds: number): Step {
  return seconds <= 3600 ? 10 : 60;
}

/** Back to live: no window. */
export function setLive(s: ViewState): void {
  s.range = 0;
  s.from = '';
  s.to = '';
}

/** "Last N minutes": the Logs view shows history from now − N; the Metrics view slides. */
export function setPreset(s: ViewState, minutes: number, nowMs: number): void {
  s.range = minutes;
  s.from = new Date(nowMs - minutes * 60_000).toISOString();
  s.to = '';
}

/** A custom window (ISO 8601; either end may be ''). */
export function setWindow(s: ViewState, from: string, to: string): void {
  s.range = 0;
  s.from = from;
  s.to = to;
}

/** A preset's start moved to now − N (the Logs view, shown again after a while). */
export function refreshPreset(s: ViewState, nowMs: number): boolean {
  if (!s.range) return false;
  setPreset(s, s.range, nowMs);
  return true;
}

/** A window of buckets, epoch seconds: `from` and `to` are bucket starts (both included). */
export interface MetricsWindow {
  from: number;
  to: number;
  step: Step;
  /** The window ends now and slides: live updates extend it. */
  live: boolean;
}

/** The Metrics view's window for a state at `nowMs`. */
export function metricsWindow(s: ViewState, nowMs: number): MetricsWindow {
  const now = Math.floor(nowMs / 1000);
  let from: number;
  let to: number;
  let live: boolean;
  if (s.range) {
    to = now;
    from = now - s.range * 60;
    live = true;
  } else if (s.from || s.to) {
    const parse = (iso: string, fallback: number) => {
      const ms = Date.parse(iso);
      return Number.isFinite(ms) ? Math.floor(ms / 1000) : fallback;
    };
    to = s.to ? parse(s.to, now) : now;
    from = s.from ? parse(s.from, to - DEFAULT_METRICS_MINUTES * 60) : to - DEFAULT_METRICS_MINUTES * 60;
    live = !s.to;
    if (from > to) [from, to] = [to, from];
  } else {
    to = now;
    from = now - DEFAULT_METRICS_MINUTES * 60;
    live = true;
  }
  const step = stepFor(to - from);
  // Buckets are aligned to the epoch, as the gateway keeps them.
  return { from: from - (from % step), to: to - (to % step), step, live };
}

/**
 * The Logs view's window for a click on the bucket starting at `t` (epoch seconds): the bucket
 * and one step either side, so lines stamped a little early or late are in view too.
 */
export function logsWindowAround(t: number, step: number): { from: string; to: string } {
  return { from: new Date((t - step) * 1000).toISOString(), to: new Date((t + 2 * step) * 1000).toISOString() };
}
