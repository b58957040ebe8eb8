/**
 * The charts of the Metrics view and the lines each draws, from the series the app has
 * (`GET /api/metrics/names`; derived names in protocol/README.md): router requests by status
 * class, router response time p50/p95/p99, router error codes, dyno memory and load per dyno,
 * log volume by level, and the series picked by name. Pure: no DOM.
 */
import type { LineSpec } from './series-data.js';
import type { PointField, SeriesInfo, SeriesKind } from './types.js';

/** How the legend shows a line's value: a count's total over the window, else its latest value. */
export type LegendMode = 'total' | 'latest';

export interface ChartDef {
  /** The chart element's `data-chart`. */
  id: string;
  title: string;
  /** The y axis' unit ('' for none); counts are per bucket. */
  unit: string;
  legend: LegendMode;
  /** A log y scale (response times: 20 ms and a 30 s timeout on one chart). */
  log?: boolean;
  lines: LineSpec[];
  /** Shown over an empty chart. */
  empty: string;
}

/** At most this many dynos per dyno chart, and error codes: `subscribe_metrics` takes ≤ 50 series. */
const MAX_DYNOS = 6;
const MAX_CODES = 8;
/** The series palette (styles.css, light and dark): lines with no colour of their own. */
export const PALETTE = ['--c1', '--c2', '--c3', '--c4', '--c5', '--c6', '--c7', '--c8'];

const STATUS: [string, string][] = [
  ['2xx', '--c-ok'],
  ['3xx', '--c-info'],
  ['4xx', '--c-warn'],
  ['5xx', '--c-error'],
];
const LEVELS: [string, string][] = [
  ['debug', '--debug'],
  ['info', '--info'],
  ['warn', '--warn'],
  ['error', '--error'],
  ['fatal', '--fatal'],
];

const count = (key: string, name: string, color: string, source?: string): LineSpec => ({
  key,
  label: key,
  name,
  ...(source !== undefined ? { source } : {}),
  field: 'sum',
  zero: true,
  color,
});
const value = (key: string, label: string, name: string, field: PointField, color: string, source?: string): LineSpec => ({
  key,
  label,
  name,
  ...(source !== undefined ? { source } : {}),
  field,
  zero: false,
  color,
});

/** Dynos first by name (web.1, web.2 … worker.1), without the '' source. */
function dynos(info: SeriesInfo | undefined): string[] {
  return (info?.sources ?? []).filter((s) => s !== '').sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).slice(0, MAX_DYNOS);
}

/** The lines of one series by its kind: a count's sum, a measure's percentiles, a sample's last. */
export function linesOf(name: string, kind: SeriesKind | undefined): LineSpec[] {
  if (kind === 'measure') {
    return [value('p50', 'p50', name, 'p50', '--c1'), value('p95', 'p95', name, 'p95', '--c2'), value('p99', 'p99', name, 'p99', '--c3')];
  }
  if (kind === 'sample') return [value('last', 'last', name, 'last', '--c1'), value('max', 'max', name, 'max', '--c2')];
  return [{ ...count('sum', name, '--c1'), label: name }];
}

/** The view's charts for the series the app has, plus `picked` (a name from the picker, or ''). */
export function chartDefs(names: SeriesInfo[], picked: string, step: number): ChartDef[] {
  const byName = new Map(names.map((s) => [s.name, s]));
  const per = `per ${step} s`;
  const codes = names
    .filter((s) => s.name.startsWith('router.error.'))
    .map((s) => s.name)
    .sort()
    .slice(0, MAX_CODES);
  const memDynos = [...new Set([...dynos(byName.get('memory_rss')), ...dynos(byName.get('memory_total'))])].slice(0, MAX_DYNOS);
  const loadDynos = dynos(byName.get('load_avg_1m'));
  const defs: ChartDef[] = [
    {
      id: 'router',
      title: 'Router requests by status',
      unit: per,
      legend: 'total',
      lines: STATUS.map(([cls, color]) => count(cls, `router.status.${cls}`, color)),
      empty: 'No router lines in this range.',
    },
    {
      id: 'latency',
      title: 'Response time (router service)',
      unit: byName.get('router.service')?.unit ?? 'ms',
      legend: 'latest',
      log: true,
      lines: [
        value('p50', 'p50', 'router.service', 'p50', '--c1'),
        value('p95', 'p95', 'router.service', 'p95', '--c2'),
        value('p99', 'p99', 'router.service', 'p99', '--c3'),
      ],
      empty: 'No router lines in this range.',
    },
    {
      id: 'errors',
      title: 'Router errors by code',
      unit: per,
      legend: 'total',
      lines: codes.map((name, i) => count(name.slice('router.error.'.length), name, PALETTE[i % PALETTE.length]!)),
      empty: 'No Heroku error codes (H12, H13, …) seen.',
    },
    {
      id: 'memory',
      title: 'Dyno memory',
      unit: byName.get('memory_rss')?.unit ?? 'MB',
      legend: 'latest',
      lines: memDynos.flatMap((dyno, i) => {
        const color = PALETTE[i % PALETTE.length]!;
        return [value(`${dyno} rss`, `${dyno} rss`, 'memory_rss', 'last', color, dyno), { ...value(`${dyno} total`, `${dyno} total`, 'memory_total', 'last', color, dyno), dashed: true }];
      }),
      empty: 'No dyno runtime metrics (enable log-runtime-metrics).',
    },
    {
      id: 'load',
      title: 'Dyno load (1 min)',
      unit: '',
      legend: 'latest',
      lines: loadDynos.map((dyno, i) => value(dyno, dyno, 'load_avg_1m', 'last', PALETTE[i % PALETTE.length]!, dyno)),
      empty: 'No dyno runtime metrics (enable log-runtime-metrics).',
    },
    {
      id: 'levels',
      title: 'Log volume by level',
      unit: per,
      legend: 'total',
      lines: LEVELS.map(([level, color]) => count(level, `log.lines.${level}`, color)),
      empty: 'No log lines in this range.',
    },
  ];
  if (picked) {
    const info = byName.get(picked);
    defs.push({
      id: 'picked',
      title: picked,
      unit: info?.kind === 'count' ? `${info.unit ? `${info.unit} ` : ''}${per}` : (info?.unit ?? ''),
      legend: info?.kind === 'count' || !info ? 'total' : 'latest',
      lines: linesOf(picked, info?.kind),
      empty: info ? 'No data in this range.' : 'No such series in this app (yet).',
    });
  }
  return defs;
}
