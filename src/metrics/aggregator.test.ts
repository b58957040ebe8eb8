import { describe, expect, it } from 'vitest';
import type { Entry } from '../normalize/entry.js';
import { Aggregator } from './aggregator.js';
import { createMemoryMetricsBackend } from './memory-backend.js';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 30);
const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

function entry(over: Partial<Entry> & { at?: number }): Entry {
  const at = over.at ?? NOW - 5000;
  const { at: _, ...rest } = over;
  return { id: '01J00000000000000000000000', timestamp: iso(at), received_at: iso(NOW), level: 'INFO', app_id: 'a', message: 'm', ...rest };
}

function setup(over: Partial<ConstructorParameters<typeof Aggregator>[0]> = {}) {
  const retention = { 10: 3600, 60: 86_400 };
  const backend = createMemoryMetricsBackend(retention);
  const agg = new Aggregator({ backend, retention, flushMs: 1000, maxSkewSec: 300, maxSeriesPerApp: 100, maxQueuedEntries: 10_000, now: () => NOW, ...over });
  return { agg, backend };
}

const metric = (name: string, kind: 'count' | 'measure' | 'sample', value: number | null, extra: object = {}) => ({ name, kind, value, ...extra });

describe('Aggregator', () => {
  it('counts by entry time; an entry beyond the skew counts at its receive time', async () => {
    const { agg, backend } = setup();
    agg.add([
      entry({ at: NOW - 25_000, metrics: [metric('jobs', 'count', 2)] }),
      // A clock a day behind: counted now, not in yesterday's bucket.
      entry({ at: NOW - 86_000_000, metrics: [metric('jobs', 'count', 5)] }),
    ]);
    await agg.flush();
    const r = await backend.read('a', 'jobs', undefined, 0, NOW / 1000, 10);
    expect(r.points!.map((p) => [p.t, p.sum])).toEqual([
      [Math.floor((NOW - 25_000) / 10_000) * 10, 2],
      [Math.floor(NOW / 10_000) * 10, 5],
    ]);
  });

  it('keeps a name to its first kind, skips null values, and bounds the series per app', async () => {
    const { agg, backend } = setup({ maxSeriesPerApp: 12 });
    agg.add([entry({ metrics: [metric('x', 'count', 1), metric('x', 'measure', 3), metric('y', 'measure', null)] })]);
    // 2 built-in series per entry (log.lines.info, producer.lines) + x: 3 so far; 20 more names.
    agg.add([entry({ metrics: Array.from({ length: 20 }, (_, i) => metric(`n${i}`, 'count', 1)) })]);
    await agg.flush();
    const names = (await backend.names('a')).map((s) => s.name);
    expect(names).toContain('x');
    expect(names).not.toContain('y');
    expect(names.filter((n) => n.startsWith('n'))).toHaveLength(9);
    expect(agg.stats.droppedObservations).toBe(1 + 11);
    expect((await backend.read('a', 'x', undefined, 0, NOW / 1000, 10)).kind).toBe('count');
    // A line whose x is of another kind first, then of x's own: the second is counted.
    agg.add([entry({ metrics: [metric('x', 'sample', 7)] }), entry({ metrics: [metric('x', 'count', 1)] })]);
    await agg.flush();
    expect((await backend.read('a', 'x', undefined, 0, NOW / 1000, 10)).points![0]!.sum).toBe(2);
  });

  it('merges every source of a name into the series read without a source', async () => {
    const { agg, backend } = setup();
    agg.add([
      entry({ proc: 'web.1', metrics: [metric('db', 'measure', 10)] }),
      entry({ proc: 'web.2', metrics: [metric('db', 'measure', 30)] }),
      entry({ proc: 'web.2', metrics: [metric('db', 'measure', 20, { source: 'primary' })] }),
    ]);
    await agg.flush();
    const all = await backend.read('a', 'db', undefined, 0, NOW / 1000, 60);
    expect(all.points![0]).toMatchObject({ count: 3, sum: 60, min: 10, max: 30 });
    expect((await backend.names('a')).find((s) => s.name === 'db')!.sources).toEqual(['primary', 'web.1', 'web.2']);
    expect((await backend.read('a', 'db', 'web.2', 0, NOW / 1000, 60)).points![0]).toMatchObject({ count: 1, sum: 30 });
  });

  it('drops entries beyond the queue bound from the metrics, and entries older than retention', async () => {
    const { agg } = setup({ maxQueuedEntries: 1000 });
    agg.add(Array.from({ length: 800 }, () => entry({})));
    agg.add(Array.from({ length: 300 }, () => entry({})));
    expect(agg.stats.droppedEntries).toBe(300);
    agg.drainQueue();
    const old = setup({ maxSkewSec: 7 * 86_400 });
    old.agg.add([entry({ at: NOW - 2 * 86_400_000 })]);
    old.agg.drainQueue();
    expect(old.agg.stats.tooOld).toBe(2);
  });

  it('keeps the deltas of a failed write for the next flush', async () => {
    const retention = { 10: 3600, 60: 86_400 };
    const real = createMemoryMetricsBackend(retention);
    let fail = true;
    const flaky = { ...real, write: async (...a: Parameters<typeof real.write>) => (fail ? Promise.reject(new Error('down')) : real.write(...a)) };
    const errors: unknown[] = [];
    const agg = new Aggregator({ backend: flaky, retention, flushMs: 1000, maxSkewSec: 300, maxSeriesPerApp: 100, maxQueuedEntries: 1000, now: () => NOW, onError: (e) => errors.push(e) });
    agg.add([entry({ metrics: [metric('jobs', 'count', 4)] })]);
    await agg.flush();
    expect(errors).toHaveLength(1);
    fail = false;
    agg.add([entry({ metrics: [metric('jobs', 'count', 1)] })]);
    await agg.flush();
    expect((await real.read('a', 'jobs', undefined, 0, NOW / 1000, 10)).points![0]!.sum).toBe(5);
  });

  it('counts a router line into all its series at once, from its dyno, within the series bound', async () => {
    const { agg, backend } = setup({ maxSeriesPerApp: 8 });
    const router = (dyno: string, status: number, code?: string) =>
      entry({
        proc: 'router',
        status,
        context: { dyno, ...(code ? { code } : {}) },
        metrics: [metric('router.connect', 'measure', 1, { unit: 'ms' }), metric('router.service', 'measure', 30, { unit: 'ms' }), metric('router.bytes', 'measure', 512, { unit: 'bytes' })],
      });
    agg.add([router('web.1', 200), router('web.2', 503, 'H12'), router('web.1', 201)]);
    await agg.flush();
    const sum = async (name: string, source?: string) => (await backend.read('a', name, source, 0, NOW / 1000, 60)).points?.[0]?.sum;
    expect(await sum('router.requests')).toBe(3);
    expect(await sum('router.requests', 'web.1')).toBe(2);
    expect(await sum('router.status.2xx', 'web.1')).toBe(2);
    // web.1's requests, 2xx, connect, service and bytes (5 series), web.2's requests, 5xx and H12
    // (8): the bound. web.2's measures and the line counts of the batch (log.lines.info,
    // producer.lines, 3 lines each) are dropped, and counted.
    expect(await sum('router.status.5xx')).toBe(1);
    expect(await sum('router.error.H12', 'web.2')).toBe(1);
    expect(await sum('router.service', 'web.1')).toBe(60);
    expect(await sum('router.service', 'web.2')).toBeUndefined();
    expect(await sum('log.lines.info')).toBeUndefined();
    expect(agg.stats.droppedObservations).toBe(3 + 3 + 3);
    const all = await backend.read('a', 'router.service', undefined, 0, NOW / 1000, 60);
    expect(all.points![0]).toMatchObject({ count: 2, min: 30, max: 30, p50: 30 });
  });

  it('reads entry times across the end of a leap day into their 10 s buckets', async () => {
    const at = [Date.UTC(2028, 1, 29, 23, 59, 59, 999), Date.UTC(2028, 2, 1, 0, 0, 0, 1), Date.UTC(2028, 2, 1, 0, 0, 9, 999)];
    const { agg, backend } = setup({ now: () => at[2]! + 1000, maxSkewSec: 7 * 86_400 });
    agg.add(at.map((ms) => ({ ...entry({ at: ms, metrics: [metric('jobs', 'count', 1)] }), received_at: iso(at[2]! + 1000) })));
    await agg.flush();
    const r = await backend.read('a', 'jobs', undefined, 0, at[2]! / 1000 + 10, 10);
    // The last second of Feb 29, then the first bucket of Mar 1 (two lines).
    expect(r.points!.map((p) => [p.t, p.sum])).toEqual([
      [Math.floor(at[0]! / 10_000) * 10, 1],
      [Math.floor(at[1]! / 10_000) * 10, 2],
    ]);
  });
});
