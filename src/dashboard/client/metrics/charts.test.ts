import { describe, expect, it } from 'vitest';
import { chartDefs } from './charts.js';
import { seriesKey } from './series-data.js';
import type { SeriesInfo } from './types.js';

const info = (name: string, kind: SeriesInfo['kind'], sources: string[] = [''], unit?: string): SeriesInfo => ({ name, kind, sources, last_seen: 1, ...(unit ? { unit } : {}) });

describe('the Metrics view charts', () => {
  it('always has the router, response-time and level charts; error codes and dynos come from the names', () => {
    const defs = chartDefs(
      [
        info('router.error.H13', 'count'),
        info('router.error.H12', 'count'),
        info('memory_rss', 'sample', ['web.10', 'web.2', 'worker.1', ''], 'MB'),
        info('memory_total', 'sample', ['web.2'], 'MB'),
        info('load_avg_1m', 'sample', ['web.1']),
      ],
      '',
      10,
    );
    const lines = Object.fromEntries(defs.map((d) => [d.id, d.lines.map((l) => l.key)]));
    expect(lines).toEqual({
      router: ['2xx', '3xx', '4xx', '5xx'],
      latency: ['p50', 'p95', 'p99'],
      errors: ['H12', 'H13'],
      // Dynos in numeric order; the '' source (no dyno) is not a dyno.
      memory: ['web.2 rss', 'web.2 total', 'web.10 rss', 'web.10 total', 'worker.1 rss', 'worker.1 total'],
      load: ['web.1'],
      levels: ['debug', 'info', 'warn', 'error', 'fatal'],
    });
    const router = defs.find((d) => d.id === 'router')!;
    expect(router).toMatchObject({ unit: 'per 10 s', legend: 'total' });
    expect(router.lines[3]).toMatchObject({ name: 'router.status.5xx', field: 'sum', zero: true });
    expect(defs.find((d) => d.id === 'latency')).toMatchObject({ unit: 'ms', legend: 'latest', log: true });
    expect(defs.find((d) => d.id === 'memory')!.lines[1]).toMatchObject({ name: 'memory_total', source: 'web.2', field: 'last', dashed: true });
  });

  it('draws a picked series by its kind: a count its sum, a measure its percentiles, a sample its last', () => {
    const names = [info('orders', 'count', [''], 'orders'), info('db.latency', 'measure', [''], 'ms'), info('queue.depth', 'sample')];
    const picked = (name: string) => chartDefs(names, name, 60).find((d) => d.id === 'picked')!;
    expect(picked('orders')).toMatchObject({ title: 'orders', unit: 'orders per 60 s', legend: 'total', lines: [{ label: 'orders', field: 'sum' }] });
    expect(picked('db.latency').lines.map((l) => l.field)).toEqual(['p50', 'p95', 'p99']);
    expect(picked('queue.depth').lines.map((l) => l.field)).toEqual(['last', 'max']);
    expect(picked('nope')).toMatchObject({ empty: 'No such series in this app (yet).' });
    expect(chartDefs(names, '', 10).some((d) => d.id === 'picked')).toBe(false);
  });

  it('stays within the 50 series one live subscription may follow, however many dynos and codes', () => {
    const many = Array.from({ length: 40 }, (_, i) => `web.${i + 1}`);
    const names = [
      ...Array.from({ length: 30 }, (_, i) => info(`router.error.H${10 + i}`, 'count')),
      info('memory_rss', 'sample', many),
      info('memory_total', 'sample', many),
      info('load_avg_1m', 'sample', many),
    ];
    const series = new Set(chartDefs(names, 'custom.thing', 10).flatMap((d) => d.lines.map((l) => seriesKey(l.name, l.source))));
    expect(series.size).toBeLessThanOrEqual(50);
  });
});
