/**
 * Which series an entry feeds (the names are documented in protocol/README.md, "Metrics"):
 *
 * - each of its l2met metrics, under the name as sent; source = the line's `source=`, else the
 *   entry's dyno (`proc`), else "" (dyno runtime metrics and add-on samples are l2met samples);
 * - a Heroku router line (an entry with `status`): `router.requests`, `router.status.2xx` … and
 *   `router.error.<code>` (H12, H13 …) counts beside its implicit `router.connect`,
 *   `router.service` and `router.bytes` measures, all with the line's `dyno=` as source;
 * - every entry: `log.lines.<level>` (source: its dyno) and `producer.lines` (source: the
 *   family of its User-Agent).
 */
import type { Entry } from '../normalize/entry.js';
import type { SeriesKind } from './bucket.js';
import { uaFamily } from './ua-family.js';

/** Where derived observations go (the aggregator). */
export interface Observer {
  observe(app: string, name: string, source: string, kind: SeriesKind, unit: string | undefined, value: number, tMs: number): void;
}

const LEVEL_SERIES: Record<string, string> = {
  DEBUG: 'log.lines.debug',
  INFO: 'log.lines.info',
  WARN: 'log.lines.warn',
  ERROR: 'log.lines.error',
  FATAL: 'log.lines.fatal',
};
const STATUS_SERIES = ['router.status.1xx', 'router.status.1xx', 'router.status.2xx', 'router.status.3xx', 'router.status.4xx', 'router.status.5xx'];
/** Heroku error codes: H10 … H99, R10 …, L10 … (router lines carry H codes). */
const ERROR_CODE = /^[HRL]\d{1,3}$/;
const errorSeries = new Map<string, string>();
const MAX_SOURCE = 100;

// Entry timestamps are `YYYY-MM-DDTHH:MM:SS.ffffffZ`; one batch shares its minute, so the minute
// is parsed once and the rest read off the digits (Date.parse per entry was most of the cost).
let minutePrefix = '';
let minuteMs = 0;
function epochMs(ts: string): number {
  if (!ts.startsWith(minutePrefix) || minutePrefix === '') {
    minutePrefix = ts.slice(0, 17);
    minuteMs = Date.parse(`${ts.slice(0, 16)}:00Z`);
  }
  const c = (i: number) => ts.charCodeAt(i) - 48;
  return minuteMs + (c(17) * 10 + c(18)) * 1000 + c(20) * 100 + c(21) * 10 + c(22) + (c(23) * 100 + c(24) * 10 + c(25)) / 1000;
}

/**
 * Feeds `obs` with every series the entries feed. An entry whose timestamp is more than
 * `maxSkewMs` from its receive time (a wrong clock, a replay) is counted at its receive time.
 */
export function deriveEntries(entries: readonly Entry[], obs: Observer, maxSkewMs: number): void {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const app = e.app_id;
    let t = epochMs(e.timestamp);
    const received = e.received_at === e.timestamp ? t : epochMs(e.received_at);
    if (!(Math.abs(t - received) <= maxSkewMs)) t = received;
    const proc = e.proc ?? '';
    obs.observe(app, LEVEL_SERIES[e.level] ?? 'log.lines.info', proc, 'count', 'lines', 1, t);
    obs.observe(app, 'producer.lines', uaFamily(e.user_agent), 'count', 'lines', 1, t);

    let routerSource: string | undefined;
    if (e.status !== undefined) {
      const dyno = e.context?.dyno;
      routerSource = typeof dyno === 'string' ? dyno.slice(0, MAX_SOURCE) : '';
      obs.observe(app, 'router.requests', routerSource, 'count', 'requests', 1, t);
      const cls = Math.floor(e.status / 100);
      if (cls >= 1 && cls <= 5) obs.observe(app, STATUS_SERIES[cls]!, routerSource, 'count', 'requests', 1, t);
      const code = e.context?.code;
      if (typeof code === 'string' && ERROR_CODE.test(code)) {
        let name = errorSeries.get(code);
        if (name === undefined) errorSeries.set(code, (name = `router.error.${code}`));
        obs.observe(app, name, routerSource, 'count', 'requests', 1, t);
      }
    }
    const metrics = e.metrics;
    if (metrics === undefined) continue;
    for (let k = 0; k < metrics.length; k++) {
      const m = metrics[k]!;
      if (m.value === null || !Number.isFinite(m.value)) continue;
      const source = routerSource ?? (m.source !== undefined ? m.source.slice(0, MAX_SOURCE) : proc);
      obs.observe(app, m.name, source, m.kind, m.unit, m.value, t);
    }
  }
}
