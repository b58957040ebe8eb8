import { randomInt, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { formatMicros, nowMicros } from '../decode/timestamp.js';
import { drainMode } from '../ingest/drain.js';
import { decodeLogplexBody, syslogBatchOf } from '../ingest/logplex-body.js';
import { EntrySchema, type Entry } from '../normalize/entry.js';
import { receivedAtDate, syslogBatchEntries, type SyslogBatch } from '../normalize/syslog-batch.js';
import type { QueryFilter, Store } from './types.js';

/**
 * The conformance suite of the Store interface: every implementation runs it (Centrifuge-style,
 * one suite, every broker). Call it from a `*.test.ts` file:
 *
 * @example
 * describeStoreContract('memory', async () => ({ store: createMemoryStore({ historyPerApp: 20 }) }), {
 *   historyPerApp: 20,
 * });
 *
 * `makeStore` runs before each test and must return a store configured with `opts.historyPerApp`
 * entries per app (default 1500) and `opts.historyBytesPerApp` bytes per app (default 8 MiB). After each test `cleanup` runs (if given), then `store.close()`.
 * App ids, entry ids and search terms carry a random per-run part, so suites running in parallel
 * against one shared Redis do not see each other's entries; a shared backend need not be flushed.
 */
export function describeStoreContract(
  name: string,
  makeStore: () => Promise<{ store: Store; cleanup?: () => Promise<void> }>,
  opts?: { historyPerApp: number; historyBytesPerApp?: number },
): void {
  const historyPerApp = opts?.historyPerApp ?? 1500;
  const historyBytes = opts?.historyBytesPerApp ?? 8 * 1024 * 1024;

  describe(`${name} store (Store contract)`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;
    const make = createEntryFactory();

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup?.();
      await store.close();
    });

    async function all(appIds: string[], extra: Partial<QueryFilter> = {}): Promise<Entry[]> {
      const { entries } = await store.query({ appIds, limit: 100_000, offset: 0, ...extra });
      return entries;
    }

    describe('append and history', () => {
      it('returns what it stored, newest first', async () => {
        const app = make.appId('orders');
        const entries = [make.entry(app, { at: 1 }), make.entry(app, { at: 2 }), make.entry(app, { at: 3 })];
        await expect(store.append({ entries })).resolves.toEqual({ stored: 3, duplicate: false });
        const result = await store.query({ appIds: [app], limit: 100, offset: 0 });
        expect(result.total).toBe(3);
        expect(result.entries).toEqual([entries[2], entries[1], entries[0]]);
      });

      it('keeps every field of an entry unchanged', async () => {
        const app = make.appId('full');
        const entry = make.entry(app, {
          level: 'ERROR',
          message: 'at=error code=H12 desc="Request timeout" ünïcödé',
          source: 'heroku',
          proc: 'router',
          host: 'host',
          context: { code: 'H12', nested: { n: 1, list: [true, null] } },
          metrics: [
            { kind: 'measure', name: 'router.service', value: 30001, unit: 'ms' },
            { kind: 'count', name: 'bad', value: null, raw: 'x' },
          ],
          tags: ['a', 'b'],
          stack_trace: 'Error: boom\n    at x (y.js:1:1)',
          trace_id: randomUUID(),
          batch_id: randomUUID(),
          category: 'http',
          user_agent: 'BillingService/2.1.0',
          facility: 1,
          severity: 3,
          frame_id: '09C557EAFCFB6CF2740EE62F62971098',
          drain_token: 'd.01234567-89ab-cdef-0123-456789abcdef',
          environment: 'production',
          status: 503,
          flags: ['rfc3164', 'invalid_utf8'],
        });
        await store.append({ entries: [entry] });
        expect(await all([app])).toEqual([entry]);
        expect(await store.get(entry.id, [app])).toEqual(entry);
      });

      it('stores each entry of a mixed request in the history of its own app', async () => {
        const a = make.appId('a');
        const b = make.appId('b');
        const ea = make.entry(a, { at: 1 });
        const eb = make.entry(b, { at: 2 });
        await store.append({ entries: [ea, eb] });
        expect(await all([a])).toEqual([ea]);
        expect(await all([b])).toEqual([eb]);
        expect(await all([a, b])).toEqual([eb, ea]);
      });

      it('drops the oldest entries once an app holds more than its history size', async () => {
        const busy = make.appId('busy');
        const quiet = make.appId('quiet');
        const quietEntries = [make.entry(quiet, { at: 0 }), make.entry(quiet, { at: 1 })];
        await store.append({ entries: quietEntries });
        const busyEntries = Array.from({ length: historyPerApp + 3 }, (_, i) => make.entry(busy, { at: i }));
        // Several requests, as a drain would send them.
        for (let i = 0; i < busyEntries.length; i += 500) {
          await store.append({ entries: busyEntries.slice(i, i + 500) });
        }
        const kept = await store.query({ appIds: [busy], limit: historyPerApp + 10, offset: 0 });
        expect(kept.total).toBe(historyPerApp);
        expect(kept.entries.map((e) => e.id)).toEqual(
          busyEntries
            .slice(3)
            .reverse()
            .map((e) => e.id),
        );
        for (const dropped of busyEntries.slice(0, 3)) expect(await store.get(dropped.id, [busy])).toBeNull();
        expect(await all([quiet])).toEqual([quietEntries[1], quietEntries[0]]);
      });

      it('bounds each app history in bytes too: the oldest go first, the newest always stays', async () => {
        // Fewer lines than the line bound, twice the byte bound: only bytes can trim here.
        const n = Math.min(historyPerApp - 1, 16);
        const size = Math.ceil((2 * historyBytes) / n);
        const big = make.appId('big');
        const quiet = make.appId('quiet');
        const quietEntry = make.entry(quiet, { at: 0 });
        await store.append({ entries: [quietEntry] });
        const sent = Array.from({ length: n }, (_, i) => make.entry(big, { at: i, message: `${i} ${'x'.repeat(size)}` }));
        for (const e of sent) await store.append({ entries: [e] });
        const kept = (await store.recent(big, historyPerApp)).map((e) => e.id);
        // A suffix of what was sent: the newest, in order.
        expect(kept).toEqual(sent.slice(n - kept.length).map((e) => e.id));
        const keptBytes = kept.length * size;
        expect(keptBytes).toBeLessThanOrEqual(historyBytes);
        // Not trimmed far below the bound either (an entry's overhead is small next to `size`).
        expect(keptBytes + 2 * size).toBeGreaterThan(historyBytes);
        expect((await store.query({ appIds: [big], limit: 100, offset: 0 })).total).toBe(kept.length);
        expect(await all([quiet])).toEqual([quietEntry]);

        // One entry over the whole bound is still stored (and replaces the rest).
        const huge = make.entry(big, { at: n, message: 'y'.repeat(historyBytes + 1) });
        await store.append({ entries: [huge] });
        expect((await store.recent(big, historyPerApp)).map((e) => e.id)).toEqual([huge.id]);
      });
    });

    describe('dedupe', () => {
      it('acknowledges a repeated dedupe key as a duplicate without storing the entries again', async () => {
        const app = make.appId('dup');
        const key = `frame:${app}:09C557EAFCFB6CF2740EE62F62971098`;
        const first = [make.entry(app, { at: 1 }), make.entry(app, { at: 2 })];
        const retry = [make.entry(app, { at: 1 }), make.entry(app, { at: 2 })];
        await expect(store.append({ entries: first, dedupeKey: key })).resolves.toEqual({ stored: 2, duplicate: false });
        await expect(store.append({ entries: retry, dedupeKey: key })).resolves.toEqual({ stored: 0, duplicate: true });
        expect((await all([app])).map((e) => e.id)).toEqual([first[1].id, first[0].id]);
      });

      it('does not treat the same frame id sent to another app as a duplicate', async () => {
        const a = make.appId('a');
        const b = make.appId('b');
        const frameId = randomUUID();
        await store.append({ entries: [make.entry(a)], dedupeKey: `frame:${a}:${frameId}` });
        const other = await store.append({ entries: [make.entry(b)], dedupeKey: `frame:${b}:${frameId}` });
        expect(other).toEqual({ stored: 1, duplicate: false });
        expect(await all([b])).toHaveLength(1);
      });

      it('stores a repeated request again once its dedupe key has expired', async () => {
        const app = make.appId('ttl');
        const key = `batch:${app}:${randomUUID()}`;
        await store.append({ entries: [make.entry(app)], dedupeKey: key, dedupeTtlMs: 500 });
        await expect(store.append({ entries: [make.entry(app)], dedupeKey: key, dedupeTtlMs: 500 })).resolves.toEqual({
          stored: 0,
          duplicate: true,
        });
        await sleep(900);
        await expect(store.append({ entries: [make.entry(app)], dedupeKey: key, dedupeTtlMs: 500 })).resolves.toEqual({
          stored: 1,
          duplicate: false,
        });
        expect(await all([app])).toHaveLength(2);
      });

      it('stores every request that has no dedupe key, even identical ones', async () => {
        const app = make.appId('nokey');
        const entry = make.entry(app);
        await store.append({ entries: [entry] });
        await store.append({ entries: [{ ...entry, id: make.id() }] });
        expect(await all([app])).toHaveLength(2);
      });
    });

    describe('query filters', () => {
      // One data set, each filter checked against the labels it must return, newest first.
      let a: string;
      let b: string;
      let tag: string;
      const byLabel = new Map<string, Entry>();
      const T1 = randomUUID();
      const T2 = randomUUID();
      const B1 = randomUUID();

      beforeEach(async () => {
        a = make.appId('filters-a');
        b = make.appId('filters-b');
        tag = `tag${randomUUID().slice(0, 8)}`;
        byLabel.clear();
        const rows: [string, string, Partial<Entry> & { at: number }][] = [
          ['e1', a, { at: 10, level: 'DEBUG', source: 'app', proc: 'web.1', message: `GET /health ok ${tag}`, environment: 'production', category: 'http', user_agent: 'BillingService/2.1.0 (PHP 8.3)', trace_id: T1, batch_id: B1 }],
          ['e2', a, { at: 20, level: 'INFO', source: 'app', proc: 'web.2', message: `Charge failed for invoice #1234 ${tag}`, environment: 'production', category: 'payments', user_agent: 'billingservice/2.2', trace_id: T2, batch_id: B1 }],
          ['e3', a, { at: 30, level: 'WARN', source: 'heroku', proc: 'router', message: `at=info method=GET path=/ ${tag}`, environment: 'staging' }],
          ['e4', a, { at: 40, level: 'ERROR', source: 'app', proc: 'webhook.1', message: `webhook CHARGE retry ${tag}`, category: 'Payments-Retry', trace_id: T1 }],
          ['e5', a, { at: 50, level: 'FATAL', source: 'app', proc: 'web', message: `crashed ${tag}` }],
          ['e6', b, { at: 60, level: 'ERROR', source: 'app', proc: 'web.1', message: `charge failed elsewhere ${tag}`, environment: 'production' }],
          ['e7', a, { at: 70, level: 'INFO', message: `no source, no proc ${tag}` }],
        ];
        const entries = rows.map(([label, app, over]) => {
          const e = make.entry(app, over);
          byLabel.set(label, e);
          return e;
        });
        // Appended shuffled: the order of results comes from the timestamps, not from arrival.
        await store.append({ entries: [entries[3], entries[0], entries[6], entries[5], entries[1], entries[4], entries[2]] });
      });

      type Case = { title: string; filter: () => Partial<QueryFilter>; expected: string[] };
      const cases: Case[] = [
        { title: 'keeps lines at or above a minimum level', filter: () => ({ appIds: [a], minLevel: 'WARN' }), expected: ['e5', 'e4', 'e3'] },
        { title: 'keeps only the levels listed', filter: () => ({ appIds: [a], levels: ['DEBUG', 'ERROR'] }), expected: ['e4', 'e1'] },
        { title: 'applies both a level list and a minimum level', filter: () => ({ appIds: [a], levels: ['INFO', 'WARN', 'ERROR'], minLevel: 'WARN' }), expected: ['e4', 'e3'] },
        { title: 'matches the source exactly', filter: () => ({ appIds: [a], source: 'heroku' }), expected: ['e3'] },
        { title: 'matches a process type and all its dynos, but not a longer name', filter: () => ({ appIds: [a], proc: 'web' }), expected: ['e5', 'e2', 'e1'] },
        { title: 'matches a single dyno when the dyno number is given', filter: () => ({ appIds: [a], proc: 'web.1' }), expected: ['e1'] },
        { title: 'matches a process name without a dot exactly', filter: () => ({ appIds: [a], proc: 'router' }), expected: ['e3'] },
        { title: 'finds a message by a substring in any case', filter: () => ({ appIds: [a], search: 'charge' }), expected: ['e4', 'e2'] },
        { title: 'finds a message by a regular expression, case as written', filter: () => ({ appIds: [a], regex: '^(Charge|webhook) [a-zA-Z]+ ' }), expected: ['e4', 'e2'] },
        { title: 'combines a regular expression with the other filters', filter: () => ({ appIds: [a], regex: 'CHARGE|GET', minLevel: 'WARN' }), expected: ['e4', 'e3'] },
        { title: 'finds a user agent by a substring in any case', filter: () => ({ appIds: [a], userAgent: 'BILLINGSERVICE' }), expected: ['e2', 'e1'] },
        { title: 'narrows a user agent to a version', filter: () => ({ appIds: [a], userAgent: '/2.2' }), expected: ['e2'] },
        { title: 'matches the environment exactly', filter: () => ({ appIds: [a], environment: 'production' }), expected: ['e2', 'e1'] },
        { title: 'does not match part of an environment name', filter: () => ({ appIds: [a], environment: 'prod' }), expected: [] },
        { title: 'finds a category by a substring in any case', filter: () => ({ appIds: [a], category: 'payments' }), expected: ['e4', 'e2'] },
        { title: 'matches a trace id exactly', filter: () => ({ appIds: [a], traceId: T1 }), expected: ['e4', 'e1'] },
        { title: 'matches a batch id exactly', filter: () => ({ appIds: [a], batchId: B1 }), expected: ['e2', 'e1'] },
        { title: 'includes both ends of a date range', filter: () => ({ appIds: [a], dateFrom: make.ts(20), dateTo: make.ts(40) }), expected: ['e4', 'e3', 'e2'] },
        { title: 'takes an open-ended date range from a start', filter: () => ({ appIds: [a], dateFrom: make.ts(50) }), expected: ['e7', 'e5'] },
        { title: 'takes an open-ended date range up to an end', filter: () => ({ appIds: [a], dateTo: make.ts(10) }), expected: ['e1'] },
        { title: 'excludes a range that falls between two lines', filter: () => ({ appIds: [a], dateFrom: make.ts(11), dateTo: make.ts(19) }), expected: [] },
        { title: 'combines filters with AND', filter: () => ({ appIds: [a], minLevel: 'INFO', source: 'app', search: 'charge' }), expected: ['e4', 'e2'] },
        { title: 'reads several apps at once', filter: () => ({ appIds: [a, b], search: 'charge failed' }), expected: ['e6', 'e2'] },
        { title: 'reads only the apps asked for', filter: () => ({ appIds: [b] }), expected: ['e6'] },
        { title: 'reads every app when no app is given', filter: () => ({ search: tag, minLevel: 'ERROR' }), expected: ['e6', 'e5', 'e4'] },
        { title: 'reads every app when the app list is empty', filter: () => ({ appIds: [], search: tag, proc: 'web.1' }), expected: ['e6', 'e1'] },
        { title: 'answers nothing for an app that has no history', filter: () => ({ appIds: [make.appId('empty')] }), expected: [] },
      ];

      it.each(cases)('$title', async ({ filter, expected }) => {
        const result = await store.query({ limit: 100, offset: 0, ...filter() });
        const labels = result.entries.map((e) => [...byLabel].find(([, v]) => v.id === e.id)?.[0] ?? e.id);
        expect(labels).toEqual(expected);
        expect(result.total).toBe(expected.length);
      });
    });

    describe('order and pagination', () => {
      it('orders by timestamp, newest first, even when lines arrived out of order', async () => {
        const a = make.appId('order-a');
        const b = make.appId('order-b');
        const late = make.entry(a, { at: 5 });
        const early = make.entry(b, { at: 1 });
        const middle = make.entry(a, { at: 3 });
        await store.append({ entries: [late] });
        await store.append({ entries: [early, middle] });
        expect((await all([a, b])).map((e) => e.id)).toEqual([late.id, middle.id, early.id]);
      });

      it('breaks timestamp ties by id, newest id first', async () => {
        const app = make.appId('ties');
        const first = make.entry(app, { at: 7 });
        const second = make.entry(app, { at: 7 });
        const third = make.entry(app, { at: 7 });
        await store.append({ entries: [second, third, first] });
        expect((await all([app])).map((e) => e.id)).toEqual([third.id, second.id, first.id]);
      });

      it('pages through the matches with limit and offset and counts them all', async () => {
        // Spread over two apps, and no more than both histories hold.
        const apps = [make.appId('pages-a'), make.appId('pages-b')];
        const n = Math.min(25, 2 * historyPerApp);
        const size = Math.ceil(n / 3);
        const entries = Array.from({ length: n }, (_, i) => make.entry(apps[i % 2], { at: i }));
        await store.append({ entries });
        const newestFirst = entries.map((e) => e.id).reverse();
        const pages: string[] = [];
        for (let offset = 0; offset < n; offset += size) {
          const page = await store.query({ appIds: apps, limit: size, offset });
          expect(page.total).toBe(n);
          expect(page.entries).toHaveLength(Math.min(size, n - offset));
          pages.push(...page.entries.map((e) => e.id));
        }
        expect(pages).toEqual(newestFirst);
      });

      it('answers an empty page past the end with the full count', async () => {
        const app = make.appId('past');
        await store.append({ entries: [make.entry(app), make.entry(app)] });
        await expect(store.query({ appIds: [app], limit: 10, offset: 5 })).resolves.toEqual({ total: 2, entries: [] });
      });

      it('counts the matches of a filter, not the whole history', async () => {
        const app = make.appId('count');
        await store.append({
          entries: [
            make.entry(app, { level: 'ERROR' }),
            make.entry(app, { level: 'INFO' }),
            make.entry(app, { level: 'ERROR' }),
          ],
        });
        const page = await store.query({ appIds: [app], minLevel: 'ERROR', limit: 1, offset: 0 });
        expect(page.total).toBe(2);
        expect(page.entries).toHaveLength(1);
      });
    });

    describe('get', () => {
      it('finds an entry by its id', async () => {
        const app = make.appId('get');
        const entries = [make.entry(app), make.entry(app)];
        await store.append({ entries });
        await expect(store.get(entries[0].id)).resolves.toEqual(entries[0]);
        await expect(store.get(entries[1].id, [app])).resolves.toEqual(entries[1]);
      });

      it('finds the newest entry of a trace id', async () => {
        const app = make.appId('trace');
        const traceId = randomUUID();
        const newest = make.entry(app, { at: 9, trace_id: traceId });
        const older = make.entry(app, { at: 2, trace_id: traceId });
        await store.append({ entries: [newest, older, make.entry(app, { at: 10 })] });
        await expect(store.get(traceId, [app])).resolves.toEqual(newest);
      });

      it('does not reveal an entry of an app outside the ones allowed', async () => {
        const a = make.appId('mine');
        const b = make.appId('theirs');
        const traceId = randomUUID();
        const mine = make.entry(a, { at: 1, trace_id: traceId });
        const theirs = make.entry(b, { at: 2, trace_id: traceId });
        await store.append({ entries: [mine, theirs] });
        await expect(store.get(theirs.id, [a])).resolves.toBeNull();
        await expect(store.get(traceId, [a])).resolves.toEqual(mine);
        await expect(store.get(traceId, [a, b])).resolves.toEqual(theirs);
      });

      it('answers null for an unknown id', async () => {
        await expect(store.get(make.id())).resolves.toBeNull();
        await expect(store.get(randomUUID(), [make.appId('none')])).resolves.toBeNull();
      });
    });

    describe('recent', () => {
      it('returns the newest entries of one app in append order, not timestamp order', async () => {
        const app = make.appId('recent');
        const other = make.appId('other');
        const entries = [make.entry(app, { at: 9 }), make.entry(app, { at: 1 }), make.entry(app, { at: 5 })];
        await store.append({ entries: entries.slice(0, 2) });
        await store.append({ entries: [make.entry(other), entries[2]!] });
        expect(await store.recent(app, 10)).toEqual(entries);
        expect((await store.recent(app, 2)).map((e) => e.id)).toEqual([entries[1]!.id, entries[2]!.id]);
        expect(await store.recent(make.appId('none'), 10)).toEqual([]);
      });

      it('returns at most the retained history', async () => {
        const app = make.appId('recent-bound');
        const entries = Array.from({ length: historyPerApp + 5 }, (_, i) => make.entry(app, { at: i }));
        await store.append({ entries });
        const got = await store.recent(app, historyPerApp + 100);
        expect(got.map((e) => e.id)).toEqual(entries.slice(5).map((e) => e.id));
      });
    });

    describe('subscribe', () => {
      it('hands listeners the stored entries in append order', async () => {
        const app = make.appId('live');
        const got: Entry[] = [];
        const unsubscribe = store.subscribe((entries) => got.push(...entries));
        await unsubscribe.ready;
        const first = [make.entry(app, { at: 5 }), make.entry(app, { at: 1 })];
        const second = [make.entry(app, { at: 3 })];
        await store.append({ entries: first });
        await store.append({ entries: second });
        await waitFor(() => got.length >= 3);
        expect(got.map((e) => e.id)).toEqual([...first, ...second].map((e) => e.id));
        expect(got[0]).toEqual(first[0]);
        unsubscribe();
      });

      it('stops calling a listener once it unsubscribed', async () => {
        const app = make.appId('unsub');
        const stopped: Entry[] = [];
        const still: Entry[] = [];
        const unsubscribe = store.subscribe((entries) => stopped.push(...entries));
        await unsubscribe.ready;
        const unsubscribeOther = store.subscribe((entries) => still.push(...entries));
        await unsubscribeOther.ready;
        await store.append({ entries: [make.entry(app)] });
        await waitFor(() => stopped.length === 1 && still.length === 1);
        unsubscribe();
        const after = make.entry(app);
        await store.append({ entries: [after] });
        // The listener still subscribed is the barrier: once it saw `after`, the other would have too.
        await waitFor(() => still.some((e) => e.id === after.id));
        expect(stopped).toHaveLength(1);
        unsubscribeOther();
      });

      it('does not announce a duplicate request', async () => {
        const app = make.appId('dupe-live');
        const got: Entry[] = [];
        const unsubscribe = store.subscribe((entries) => got.push(...entries));
        await unsubscribe.ready;
        const key = `frame:${app}:${randomUUID()}`;
        const once = make.entry(app);
        await store.append({ entries: [once], dedupeKey: key });
        await store.append({ entries: [{ ...once, id: make.id() }], dedupeKey: key });
        const marker = make.entry(app);
        await store.append({ entries: [marker] });
        await waitFor(() => got.some((e) => e.id === marker.id));
        expect(got.map((e) => e.id)).toEqual([once.id, marker.id]);
        unsubscribe();
      });

      it('keeps storing and notifying others when a listener throws', async () => {
        const app = make.appId('throws');
        const got: Entry[] = [];
        const unsubscribeBad = store.subscribe(() => {
          throw new Error('listener bug');
        });
        await unsubscribeBad.ready;
        const unsubscribe = store.subscribe((entries) => got.push(...entries));
        await unsubscribe.ready;
        const entry = make.entry(app);
        await expect(store.append({ entries: [entry] })).resolves.toEqual({ stored: 1, duplicate: false });
        await waitFor(() => got.length === 1);
        expect(await all([app])).toEqual([entry]);
        unsubscribeBad();
        unsubscribe();
      });
    });

    describe('drain batches (frames kept, entries built from them)', () => {
      // The entries the drain route acknowledges are syslogBatchEntries(batch) of the batch as it
      // builds it (records at hand). Whatever a store keeps, it must give back exactly those.
      const ingestEntries = (batch: SyslogBatch) => syslogBatchEntries(batch);

      it('gives back every Heroku vector line exactly as ingest built it, by query, recent, get and live', async () => {
        const app = make.appId('vectors');
        const got: Entry[] = [];
        const unsubscribe = store.subscribe((entries) => got.push(...entries.filter((e) => e.app_id === app)));
        await unsubscribe.ready;
        const batch = drainBatch(app, herokuVectorBody(), {
          frameId: randomUUID(),
          drainToken: 'd.01234567-89ab-cdef-0123-456789abcdef',
          userAgent: 'Logplex/v123',
          tags: ['env=prod', 'canary'],
        });
        const want = ingestEntries(batch);
        expect(want.length).toBe(batch.count);
        for (const e of want) EntrySchema.parse(e);
        await expect(store.append({ syslog: batch })).resolves.toEqual({ stored: batch.count, duplicate: false });
        expect(await store.recent(app, 10_000)).toEqual(want.slice(-historyPerApp));
        const queried = await all([app]);
        expect(new Set(queried.map((e) => e.id))).toEqual(new Set(want.slice(-historyPerApp).map((e) => e.id)));
        const last = want.at(-1)!;
        expect(await store.get(last.id, [app])).toEqual(last);
        await waitFor(() => got.length >= want.length);
        expect(got).toEqual(want);
        unsubscribe();
      });

      it('keeps only the accepted frames of a body with bad ones, with their own bytes (LF, bad UTF-8, BSD syslog)', async () => {
        const app = make.appId('salvage');
        const good1 = '<190>1 2025-01-15T14:22:00.123456+00:00 host app web.1 - first line\nsecond line';
        const bad = '<999>1 nonsense';
        const good2 = Buffer.concat([Buffer.from('<134>1 2025-01-15T14:22:01.5Z host app worker.2 - caf'), Buffer.from([0xc3, 0x28]), Buffer.from(' ok')]);
        const bsd = '<13>Jan 15 14:22:02 myhost myapp[42]: a BSD line at=info';
        const body = Buffer.concat([frameBytes(good1), frameBytes(bad), Buffer.from('junk '), frameBytes(good2), frameBytes(bsd)]);
        const batch = drainBatch(app, body);
        expect(batch.count).toBe(3);
        const want = ingestEntries(batch);
        expect(want.map((e) => e.flags ?? [])).toEqual([[], ['invalid_utf8'], ['rfc3164']]);
        await store.append({ syslog: batch });
        expect(await store.recent(app, 10)).toEqual(want);
      });

      it('gives back repaired drain frames identically, flags included (wrong LENs, log-shuttle framing)', async () => {
        const app = make.appId('repaired');
        const ts = '2025-01-15T14:22:00.123456+00:00';
        const chars = `<190>1 ${ts} host app web.1 - - héllo wörld ✓`; // LEN in characters (lpxc)
        const short = `<190>1 ${ts} host app web.2 - - short by three`; // LEN 3 short
        const long = `<190>1 ${ts} host app web.3 - - long by twenty\n`; // LEN 20 over, swallowing the next
        const next = `<190>1 ${ts} host app web.4 - - after the long one\n`;
        const last = `<190>1 ${ts} host app web.5 - - last, LEN counts a missing LF`;
        const body = Buffer.from(
          `${chars.length} ${chars}${Buffer.byteLength(short) - 3} ${short}${Buffer.byteLength(long) + 20} ${long}` +
            `${Buffer.byteLength(next)} ${next}${Buffer.byteLength(last) + 1} ${last}`,
        );
        for (const userAgent of ['excon/0.71.0', 'Logplex/v72']) {
          const batch = drainBatch(app, body, { userAgent });
          expect(batch.count).toBe(5);
          const want = ingestEntries(batch);
          expect(want.map((e) => e.flags ?? [])).toEqual([['length_mismatch'], ['length_mismatch'], ['length_mismatch'], [], []]);
          const texts = want.map((e) => e.message);
          expect(texts).toEqual(
            userAgent === 'excon/0.71.0'
              ? ['héllo wörld ✓', 'short by three', 'long by twenty', 'after the long one', 'last, LEN counts a missing LF']
              : ['- héllo wörld ✓', '- short by three', '- long by twenty', '- after the long one', '- last, LEN counts a missing LF'],
          );
          await store.append({ syslog: batch });
          expect((await store.recent(app, 5))).toEqual(want);
        }
      });

      it('bounds the history in lines whatever the size of each request, entries and batches mixed', async () => {
        const app = make.appId('mixed');
        const sent: Entry[] = [];
        const sizes = [1, 7, 13, Math.max(1, historyPerApp - 3), 2, 5];
        let n = 0;
        for (const [i, size] of sizes.entries()) {
          if (i % 2 === 0) {
            const lines = Array.from({ length: size }, () => `<190>1 2025-01-15T14:22:00.000001+00:00 host app web.1 - line ${++n}`);
            const batch = drainBatch(app, Buffer.concat(lines.map((l) => frameBytes(l))));
            await store.append({ syslog: batch });
            sent.push(...ingestEntries(batch));
          } else {
            const entries = Array.from({ length: size }, () => make.entry(app, { message: `line ${++n}` }));
            await store.append({ entries });
            sent.push(...entries);
          }
          const kept = sent.slice(-historyPerApp);
          for (const k of [1, 3, kept.length]) expect(await store.recent(app, k)).toEqual(kept.slice(-k));
          expect((await store.query({ appIds: [app], limit: 1, offset: 0 })).total).toBe(kept.length);
        }
        expect(sent.length).toBeGreaterThan(historyPerApp);
        for (const dropped of sent.slice(0, sent.length - historyPerApp)) expect(await store.get(dropped.id, [app])).toBeNull();
      });

      it('acknowledges a replayed batch as a duplicate and does not announce it', async () => {
        const app = make.appId('batch-dupe');
        const got: Entry[] = [];
        const unsubscribe = store.subscribe((entries) => got.push(...entries.filter((e) => e.app_id === app)));
        await unsubscribe.ready;
        const key = `frame:${app}:${randomUUID()}`;
        const line = '<190>1 2025-01-15T14:22:00.000001+00:00 host app web.1 - once';
        const first = drainBatch(app, frameBytes(line));
        await expect(store.append({ syslog: first, dedupeKey: key })).resolves.toEqual({ stored: 1, duplicate: false });
        await expect(store.append({ syslog: drainBatch(app, frameBytes(line)), dedupeKey: key })).resolves.toEqual({
          stored: 0,
          duplicate: true,
        });
        const marker = make.entry(app);
        await store.append({ entries: [marker] });
        await waitFor(() => got.some((e) => e.id === marker.id));
        expect(got.map((e) => e.id)).toEqual([ingestEntries(first)[0]!.id, marker.id]);
        expect((await all([app])).length).toBe(2);
        unsubscribe();
      });
    });

    describe('lifecycle', () => {
      it('reports itself healthy', async () => {
        await expect(store.health()).resolves.toMatchObject({ kind: store.kind, ok: true });
      });

      it('refuses appends with store_unavailable once closed', async () => {
        await store.close();
        await expect(store.append({ entries: [make.entry(make.appId('closed'))] })).rejects.toMatchObject({
          code: 'store_unavailable',
          status: 503,
        });
      });
    });
  });
}

/** Test entries: valid `Entry` objects with ids unique across runs and increasing within one. */
export interface EntryFactory {
  /** A fresh app id with a random per-run suffix (valid for the app registry too). */
  appId(label: string): string;
  /** A fresh 26-char id, greater than every id this factory made before. */
  id(): string;
  /** The 27-char timestamp `sec` seconds after a fixed base time. */
  ts(sec: number): string;
  /** A valid entry of `appId`; `at` sets the timestamp (seconds after the base), default the call count. */
  entry(appId: string, over?: Partial<Entry> & { at?: number }): Entry;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function base32(n: number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out = CROCKFORD[n % 32] + out;
    n = Math.floor(n / 32);
  }
  return out;
}

/** Builds test entries. ULID-like ids: 10 chars of time, 8 random chars per factory, an 8-char counter. */
export function createEntryFactory(): EntryFactory {
  const run = randomUUID().slice(0, 8);
  const prefix = base32(Date.now(), 10) + base32(randomInt(2 ** 20), 4) + base32(randomInt(2 ** 20), 4);
  const baseMicros = Date.UTC(2025, 0, 15, 14, 22, 0) * 1000;
  let seq = 0;
  let apps = 0;
  const factory: EntryFactory = {
    appId: (label) => `${label}-${run}-${++apps}`,
    id: () => prefix + base32(++seq, 8),
    ts: (sec) => formatMicros(baseMicros + Math.round(sec * 1_000_000)),
    entry(appId, over = {}) {
      const { at, ...fields } = over;
      const id = factory.id();
      const entry: Entry = {
        id,
        timestamp: factory.ts(at ?? seq),
        received_at: formatMicros(Date.now() * 1000),
        level: 'INFO',
        app_id: appId,
        message: `line ${seq}`,
        ...fields,
      };
      return EntrySchema.parse(entry);
    },
  };
  return factory;
}

/** `LEN SP MSG\n`: one octet-counted frame. */
export function frameBytes(msg: string | Buffer): Buffer {
  const m = Buffer.concat([typeof msg === 'string' ? Buffer.from(msg) : msg, Buffer.from('\n')]);
  return Buffer.concat([Buffer.from(`${m.length} `), m]);
}

/** Every line of protocol/vectors/heroku-lines.txt, framed into one body. */
export function herokuVectorBody(): Buffer {
  const text = readFileSync(new URL('../../protocol/vectors/heroku-lines.txt', import.meta.url), 'utf8');
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
  return Buffer.concat(lines.map((l) => frameBytes(l)));
}

/** A drain request's batch, built from a body as `POST /drain` builds it. */
export function drainBatch(
  appId: string,
  body: Buffer,
  extra: Pick<SyslogBatch, 'frameId' | 'drainToken' | 'userAgent' | 'tags'> = {},
): SyslogBatch {
  const receivedAt = nowMicros();
  const mode = drainMode(extra.userAgent);
  const decoded = decodeLogplexBody(body, { mode, maxFrameBytes: 10240, receivedAt: receivedAtDate(receivedAt) });
  return syslogBatchOf(body, decoded, { appId, mode, receivedAt, ...extra });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `done()` (live delivery may be asynchronous in a networked store). */
async function waitFor(done: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}
