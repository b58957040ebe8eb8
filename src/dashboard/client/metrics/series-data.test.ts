import { describe, expect, it } from 'vitest';
import { ChartData, seriesKey, type LineSpec } from './series-data.js';

const line = (over: Partial<LineSpec>): LineSpec => ({ key: 'k', label: 'k', name: 'n', field: 'sum', zero: true, color: '--c-ok', ...over });

describe('ChartData', () => {
  it('lays points on every bucket of the window: counts read 0 where there is no data, measures a gap', () => {
    const d = new ChartData([line({ key: '2xx' }), line({ key: 'p95', field: 'p95', zero: false })]);
    d.reset({ from: 1000, to: 1050, step: 10 });
    expect(d.xs).toEqual([1000, 1010, 1020, 1030, 1040, 1050]);
    expect(d.setPoints(0, [{ t: 1010, sum: 3 }, { t: 1040, sum: 2 }, { t: 990, sum: 9 }, { t: 1015, sum: 9 }])).toBe(true);
    d.setPoints(1, [{ t: 1020, p95: 80.5 }]);
    expect(d.data).toEqual([d.xs, [0, 3, 0, 0, 2, 0], [null, null, 80.5, null, null, null]]);
    expect(d.total(0)).toBe(5);
    expect(d.latest(1)).toBe(80.5);
    expect(d.bucketsWithData()).toBe(3);
    // A live frame's bucket replaces the value (whole buckets, not deltas).
    d.setPoints(0, [{ t: 1040, sum: 4 }]);
    expect(d.total(0)).toBe(7);
  });

  it('slides a live window in place, keeping its length and its arrays', () => {
    const d = new ChartData([line({})]);
    d.reset({ from: 0, to: 30, step: 10 });
    d.setPoints(0, [{ t: 10, sum: 1 }, { t: 20, sum: 2 }, { t: 30, sum: 3 }]);
    const xs = d.xs;
    const ys = d.ys[0];
    expect(d.slideTo(50)).toBe(true);
    expect(d.xs).toBe(xs);
    expect(d.ys[0]).toBe(ys);
    expect(d.xs).toEqual([20, 30, 40, 50]);
    expect(d.ys[0]).toEqual([2, 3, 0, 0]);
    expect(d.slideTo(50)).toBe(false);
    expect(d.slideTo(500)).toBe(true);
    expect(d.xs).toEqual([470, 480, 490, 500]);
    expect(d.ys[0]).toEqual([0, 0, 0, 0]);
  });

  it('keys series by name and source, merged apart from any source', () => {
    expect(seriesKey('router.service', null)).toBe(seriesKey('router.service', undefined));
    expect(seriesKey('router.service', '')).not.toBe(seriesKey('router.service', null));
    expect(seriesKey('memory_rss', 'web.1')).not.toBe(seriesKey('memory_rss', 'web.2'));
  });
});
