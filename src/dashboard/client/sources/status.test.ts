import { describe, expect, it } from 'vitest';
import { ago, formatValue } from '../metrics/format.js';
import { dotOf, sourceRows } from './status.js';

const NOW = 1_764_786_000;

describe('the Sources panel', () => {
  it('dots: green within a minute, amber within 5 minutes, grey older or never', () => {
    expect(dotOf(NOW - 5, NOW)).toBe('green');
    expect(dotOf(NOW - 60, NOW)).toBe('green');
    expect(dotOf(NOW - 61, NOW)).toBe('amber');
    expect(dotOf(NOW - 300, NOW)).toBe('amber');
    expect(dotOf(NOW - 301, NOW)).toBe('grey');
    expect(dotOf(null, NOW)).toBe('grey');
    expect(dotOf(0, NOW)).toBe('grey');
  });

  it('lists apps and producers busiest first; a connected producer is green while its family sends, else amber', () => {
    const rows = sourceRows(
      {
        apps: [{ app_id: 'shop', lines_per_min: 1200, last_seen: NOW - 2 }],
        producers: [
          { app_id: 'shop', family: 'logplex', lines_per_min: 600, last_seen: NOW - 2 },
          { app_id: 'shop', family: 'sluice-node', lines_per_min: 900, last_seen: NOW - 1 },
          { app_id: 'shop', family: 'curl', lines_per_min: 0, last_seen: NOW - 3600 },
        ],
        connected: [
          { app_id: 'shop', user_agent: 'sluice-node/0.1.0 (node 20.20.2)', family: 'sluice-node', connections: 2 },
          { app_id: 'shop', user_agent: 'sluice-python/0.1.0', family: 'sluice-python', connections: 1 },
        ],
      },
      NOW,
    );
    expect(rows.apps.map((r) => [r.name, r.dot])).toEqual([['shop', 'green']]);
    expect(rows.producers.map((r) => [r.name, r.dot])).toEqual([
      ['sluice-node', 'green'],
      ['logplex', 'green'],
      ['curl', 'grey'],
    ]);
    expect(rows.connected.map((r) => [r.name, r.dot, r.connections, r.lines_per_min])).toEqual([
      ['sluice-node/0.1.0 (node 20.20.2)', 'green', 2, 900],
      ['sluice-python/0.1.0', 'amber', 1, null],
    ]);
  });

  it('formats values and ages for people', () => {
    expect(formatValue(1234)).toBe('1,234');
    expect(formatValue(28.345, 'ms')).toBe('28.3 ms');
    expect(formatValue(0.4213)).toBe('0.42');
    expect(formatValue(null)).toBe('–');
    expect(formatValue(7, 'per 10 s')).toBe('7');
    expect(ago(NOW - 12, NOW)).toBe('12 s ago');
    expect(ago(NOW - 600, NOW)).toBe('10 min ago');
    expect(ago(null, NOW)).toBe('never');
  });
});
