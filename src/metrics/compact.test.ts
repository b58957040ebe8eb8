import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeLogplexBody, syslogBatchOf } from '../ingest/logplex-body.js';
import type { Entry } from '../normalize/entry.js';
import { receivedAtDate, syslogBatchEntries } from '../normalize/syslog-batch.js';
import { CompactWriter, readCompact } from './compact.js';
import { deriveEntries, type Observer } from './derive.js';

/** Every observation derive.ts makes, in order. */
function observations(entries: Entry[]): unknown[][] {
  const seen: unknown[][] = [];
  const obs: Observer = {
    observe: (...args) => void seen.push(['observe', ...args]),
    observeCount: (...args) => void seen.push(['count', ...args]),
  };
  deriveEntries(entries, obs, 300_000);
  return seen;
}

/** The real Heroku lines of protocol/vectors, as the drain route builds their entries. */
function vectorEntries(app: string, userAgent: string | undefined): Entry[] {
  const lines = readFileSync(new URL('../../protocol/vectors/heroku-lines.txt', import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('<'));
  const body = Buffer.from(lines.map((l) => `${Buffer.byteLength(l) + 1} ${l}\n`).join(''));
  const receivedAt = '2026-12-04T10:00:00.000000Z';
  const decoded = decodeLogplexBody(body, { mode: 'drain', maxFrameBytes: 65536, receivedAt: receivedAtDate(receivedAt) });
  expect(decoded.records.length).toBe(lines.length);
  return syslogBatchEntries(syslogBatchOf(body, decoded, { appId: app, mode: 'drain', receivedAt, frameId: undefined, drainToken: 'd.x', userAgent, tags: undefined }));
}

describe('compact entries (what crosses to the metrics worker)', () => {
  it('derive the very observations of the entries they were packed from', () => {
    const a = vectorEntries('shop', 'Logplex/v123');
    const b = vectorEntries('blog', undefined);
    expect(a.some((e) => e.status !== undefined) && a.some((e) => e.metrics?.some((m) => m.kind === 'sample'))).toBe(true);
    const odd: Entry[] = [
      {
        ...a[0]!,
        // Fields derive reads in every shape they come in: a non-string dyno, a null metric
        // value, a metric with source and without unit, an empty proc and user agent.
        context: { dyno: 7, code: 'H12' },
        proc: '',
        user_agent: '',
        metrics: [
          { name: 'jobs', kind: 'count', value: null, raw: 'x' },
          { name: 'db.rows', kind: 'sample', value: -3.5, source: 'primary' },
          { name: 'lat', kind: 'measure', value: Infinity, unit: 'ms' },
        ],
      },
    ];
    const w = new CompactWriter();
    w.add(a);
    w.add(b);
    w.add(odd);
    const { nums, stamps, dict, entries } = w.take();
    expect(entries).toBe(a.length + b.length + 1);
    const back = readCompact(nums, stamps, dict);
    expect(back).toHaveLength(entries);
    expect(observations(back)).toEqual(observations([...a, ...b, ...odd]));
    expect(observations(back).length).toBeGreaterThan(entries);
  });

  it('starts afresh after take: a batch is never read against the previous one', () => {
    const w = new CompactWriter();
    const a = vectorEntries('shop', 'Logplex/v123');
    w.add(a.slice(0, 3));
    w.take();
    w.add(a.slice(3, 5));
    const { nums, stamps, dict } = w.take();
    expect(observations(readCompact(nums, stamps, dict))).toEqual(observations(a.slice(3, 5)));
  });
});
