import { describe, expect, it } from 'vitest';
import { defaultState, parseQuery, toQuery } from './state.js';
import { logsWindowAround, metricsWindow, refreshPreset, setLive, setPreset, setWindow, stepFor } from './time-range.js';

const NOW = Date.parse('2026-01-15T12:00:07.500Z');
const nowSec = Math.floor(NOW / 1000);

describe('the shared time range', () => {
  it('keeps view, preset and metric in the URL, and only when not the default', () => {
    const s = parseQuery('?app=shop&view=metrics&range=15&metric=db.latency');
    expect(s).toMatchObject({ app: 'shop', view: 'metrics', range: 15, metric: 'db.latency' });
    expect(toQuery(s)).toBe('?app=shop&range=15&view=metrics&metric=db.latency');
    expect(parseQuery('?view=nope&range=-3')).toMatchObject({ view: 'logs', range: 0 });
    expect(toQuery({ ...defaultState(), app: 'a' })).toBe('?app=a');
  });

  it('a preset starts the Logs view window at now − N; live and custom clear it', () => {
    const s = defaultState();
    setPreset(s, 15, NOW);
    expect(s).toMatchObject({ range: 15, from: '2026-01-15T11:45:07.500Z', to: '' });
    expect(refreshPreset(s, NOW + 60_000)).toBe(true);
    expect(s.from).toBe('2026-01-15T11:46:07.500Z');
    setWindow(s, '2026-01-15T10:00:00.000Z', '');
    expect(s.range).toBe(0);
    expect(refreshPreset(s, NOW)).toBe(false);
    setLive(s);
    expect(s).toMatchObject({ range: 0, from: '', to: '' });
  });

  it('gives the Metrics view epoch-aligned buckets: 10 s up to an hour, else 60 s; live unless the window ends', () => {
    expect(stepFor(3600)).toBe(10);
    expect(stepFor(3601)).toBe(60);
    // No range: the last hour, live.
    expect(metricsWindow(defaultState(), NOW)).toEqual({ from: 1768474800, to: 1768478400, step: 10, live: true });
    expect(metricsWindow(defaultState(), NOW).to).toBe(nowSec - (nowSec % 10));
    const day = { ...defaultState(), range: 1440 };
    expect(metricsWindow(day, NOW)).toEqual({ from: nowSec - 86400 - ((nowSec - 86400) % 60), to: nowSec - (nowSec % 60), step: 60, live: true });
    const custom = { ...defaultState(), from: '2026-01-15T11:00:00Z', to: '2026-01-15T11:10:00Z' };
    expect(metricsWindow(custom, NOW)).toEqual({ from: Date.parse('2026-01-15T11:00:00Z') / 1000, to: Date.parse('2026-01-15T11:10:00Z') / 1000, step: 10, live: false });
  });

  it('opens the Logs view on a bucket with one step either side', () => {
    const t = Date.parse('2026-01-15T11:30:00Z') / 1000;
    expect(logsWindowAround(t, 10)).toEqual({ from: '2026-01-15T11:29:50.000Z', to: '2026-01-15T11:30:20.000Z' });
  });
});
