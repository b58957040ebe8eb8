/**
 * Which series an entry feeds (the names are documented in protocol/README.md, "Metrics"):
 *
 * - each of its l2met metrics, under the name as sent; source = the line's `source=`, else the
 *   entry's dyno (`proc`), else "" (dyno runtime metrics and add-on samples are l2met samples);
 * - a Heroku router line (an entry with `status`): `router.requests`, `router.status.2xx` … and
 *   `router.error.<code>` (H12, H13 …) counts beside its implicit `router.connect`,
 *   `router.service` and `router.bytes` measures, all with the line's `dyno=` as source;
 * - every entry: `log.lines.<level>` (source "": app-wide) and `producer.lines` (source: the
 *   family of its User-Agent).
 */
import type { Entry, Metric } from '../normalize/entry.js';
import type { SeriesKind } from './bucket.js';
import { uaFamily } from './ua-family.js';

/** Where derived observations go (the aggregator). */
export interface Observer {
  observe(app: string, name: string, source: string, kind: SeriesKind, unit: string | undefined, value: number, tMs: number): void;
  /** `n` observations of 1 into a count series at once (what `observe` × n would do). */
  observeCount(app: string, name: string, source: string, unit: string, n: number, tMs: number): void;
  /**
   * A router line at once: `router.requests`, its status class, its error code (when a Heroku
   * one), and each of its metrics (the connect, service and bytes measures), all from `source`.
   * What observe() per series would do, with one lookup of the line's series.
   */
  observeRouter(app: string, source: string, status: number, code: string | undefined, metrics: readonly Metric[] | undefined, tMs: number): void;
  /** The metrics of one line, all from `source`: what observe() per metric would do. */
  observeMetrics(app: string, source: string, metrics: readonly Metric[], tMs: number): void;
}

const LEVEL_SERIES = ['log.lines.debug', 'log.lines.info', 'log.lines.warn', 'log.lines.error', 'log.lines.fatal'];
/** Index in LEVEL_SERIES (unknown: INFO). Compares of the literals the normaliser sets, not a keyed lookup. */
function levelIndex(level: string): number {
  return level === 'INFO' ? 1 : level === 'ERROR' ? 3 : level === 'WARN' ? 2 : level === 'DEBUG' ? 0 : level === 'FATAL' ? 4 : 1;
}
/** Heroku error codes: H10 … H99, R10 …, L10 … (router lines carry H codes). */
const ERROR_CODE = /^[HRL]\d{1,3}$/;
const MAX_SOURCE = 100;

/** A source of at most MAX_SOURCE chars (the string itself when shorter: no builtin call). */
function bounded(source: string): string {
  return source.length > MAX_SOURCE ? source.slice(0, MAX_SOURCE) : source;
}

// Entry timestamps are `YYYY-MM-DDTHH:MM:SS.ffffffZ` (27 chars): read off the digits, the day's
// epoch computed once per day (Date.parse per entry was most of the stage's cost, and comparing
// a cached minute prefix char by char was still its costliest line). One clock for `timestamp`,
// one for `received_at`: they differ (a replayed or skewed sender), and a shared cache would miss
// on every entry.
class DayClock {
  private dayKey = -1;
  private dayMs = 0;
  epochMs(ts: string): number {
    if (ts.length !== 27) return Date.parse(ts);
    // Digits read inline: no closure per call (tsx's keepNames wraps each one in __name).
    const key =
      (ts.charCodeAt(0) - 48) * 10_000_000 +
      (ts.charCodeAt(1) - 48) * 1_000_000 +
      (ts.charCodeAt(2) - 48) * 100_000 +
      (ts.charCodeAt(3) - 48) * 10_000 +
      (ts.charCodeAt(5) - 48) * 1000 +
      (ts.charCodeAt(6) - 48) * 100 +
      (ts.charCodeAt(8) - 48) * 10 +
      (ts.charCodeAt(9) - 48);
    if (key !== this.dayKey) {
      this.dayKey = key;
      this.dayMs = Date.parse(`${ts.slice(0, 10)}T00:00:00Z`);
    }
    const h = (ts.charCodeAt(11) - 48) * 10 + ts.charCodeAt(12) - 48;
    const mi = (ts.charCodeAt(14) - 48) * 10 + ts.charCodeAt(15) - 48;
    const sec = (ts.charCodeAt(17) - 48) * 10 + ts.charCodeAt(18) - 48;
    const ms = (ts.charCodeAt(20) - 48) * 100 + (ts.charCodeAt(21) - 48) * 10 + ts.charCodeAt(22) - 48;
    const us = (ts.charCodeAt(23) - 48) * 100 + (ts.charCodeAt(24) - 48) * 10 + ts.charCodeAt(25) - 48;
    return this.dayMs + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms + us / 1000;
  }
}
const eventClock = new DayClock();
const receiveClock = new DayClock();
// A batch's entries share one `received_at` string (the same object): parsed once per batch.
let lastReceived = '';
let lastReceivedMs = 0;

/**
 * Feeds `obs` with every series the entries feed. An entry whose timestamp is more than
 * `maxSkewMs` from its receive time (a wrong clock, a replay) is counted at its receive time.
 */
export function deriveEntries(entries: readonly Entry[], obs: Observer, maxSkewMs: number): void {
  // Lines per level and per producer are tallied over runs of entries sharing app, User-Agent
  // family and 10 s bucket (a batch is mostly one run): one observation per run, not per entry.
  const run = RUN;
  run.lines = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const app = e.app_id;
    let t = eventClock.epochMs(e.timestamp);
    if (e.received_at !== lastReceived) {
      lastReceived = e.received_at;
      lastReceivedMs = receiveClock.epochMs(lastReceived);
    }
    const received = lastReceivedMs;
    if (!(Math.abs(t - received) <= maxSkewMs)) t = received;
    const proc = e.proc ?? '';
    const family = uaFamily(e.user_agent);
    const t10 = Math.floor(t / 10_000);
    if (run.lines > 0 && (t10 !== run.t10 || app !== run.app || family !== run.family)) run.end(obs);
    if (run.lines === 0) {
      run.app = app;
      run.family = family;
      run.t10 = t10;
      run.t = t;
    } else if (t > run.t) run.t = t;
    run.lines++;
    // Log volume is app-wide (source ""): one series per level.
    run.levels[levelIndex(e.level)]!++;

    if (e.status !== undefined) {
      const ctx = e.context;
      const dyno = ctx?.dyno;
      const code = ctx?.code;
      const source = typeof dyno === 'string' ? bounded(dyno) : '';
      obs.observeRouter(app, source, e.status, typeof code === 'string' && ERROR_CODE.test(code) ? code : undefined, e.metrics, t);
      continue;
    }
    const metrics = e.metrics;
    if (metrics === undefined || metrics.length === 0) continue;
    // The normaliser gives every metric of a line the line's `source=`: one source a line.
    const first = metrics[0]!.source;
    let same = true;
    for (let k = 1; k < metrics.length; k++) if (metrics[k]!.source !== first) same = false;
    if (same) {
      obs.observeMetrics(app, first !== undefined ? bounded(first) : proc, metrics, t);
      continue;
    }
    for (let k = 0; k < metrics.length; k++) {
      const m = metrics[k]!;
      if (m.value === null || !Number.isFinite(m.value)) continue;
      const source = m.source !== undefined ? bounded(m.source) : proc;
      obs.observe(app, m.name, source, m.kind, m.unit, m.value, t);
    }
  }
  if (run.lines > 0) run.end(obs);
}

/** A run's tallies (fields, not closure variables: no number boxed per entry). */
class RunTally {
  app = '';
  family = '';
  t10 = 0;
  t = 0;
  lines = 0;
  readonly levels = new Float64Array(5);
  end(obs: Observer): void {
    for (let k = 0; k < 5; k++) {
      const n = this.levels[k]!;
      if (n > 0) obs.observeCount(this.app, LEVEL_SERIES[k]!, '', 'lines', n, this.t);
      this.levels[k] = 0;
    }
    obs.observeCount(this.app, 'producer.lines', this.family, 'lines', this.lines, this.t);
    this.lines = 0;
  }
}
const RUN = new RunTally();
