import { describe, expect, it } from 'vitest';
import type { Entry } from '../normalize/entry.js';
import { UNMETERED } from '../query/regex-budget.js';
import { createMemoryStore } from '../store/memory.js';
import { compileFilter } from '../store/query.js';
import { createEntryFactory } from '../store/store.contract.js';
import type { CompiledSubscription } from './filter.js';
import { Hub } from './hub.js';
import type { Sink } from './subscriber.js';

const limits = { queueMaxMessages: 10_000, queueMaxBytes: 1 << 30, socketHighWaterBytes: 1 << 20, slowCloseMs: 10_000, batchMax: 200 };

function recordingSink(): { sink: Sink; got: string[]; frames: unknown[] } {
  const got: string[] = [];
  const frames: unknown[] = [];
  const sink: Sink = {
    buffered: () => 0,
    writeEntries: (_jsons, entries) => {
      frames.push(entries);
      got.push(...entries.map((e) => e.id));
    },
    writeLive() {},
    writeGap() {},
    close() {},
    onDrain() {},
  };
  return { sink, got, frames };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

/** A subscription with a regex, compiled as compileSubscription does (its budget left to the hub). */
function regexFilter(app: string, regex: string): CompiledSubscription {
  const base = compileFilter({ appIds: [app], regex }, UNMETERED);
  return { apps: [app], matches: base, key: `regex:${regex}`, metered: (budget) => base.withBudget(budget) };
}

/** A pattern the size limit accepts that costs milliseconds on a long line: V8 falls back to its linear-time engine. */
const SLOW = `${'.*'.repeat(21)}#`;

describe('Hub', () => {
  it('tests a filter shared by many subscribers once per entry, and delivers every entry to each', async () => {
    const store = createMemoryStore();
    const hub = new Hub(store, { ...limits, historyPerApp: 1500, listApps: async () => [] });
    const make = createEntryFactory();
    const app = make.appId('hub');
    let tests = 0;
    const filterOf = (): CompiledSubscription => ({
      apps: [app],
      key: 'same-filter',
      matches: (e: Entry) => {
        tests++;
        return e.level !== 'DEBUG';
      },
    });
    const sinks = Array.from({ length: 10 }, recordingSink);
    for (const s of sinks) await hub.attach(filterOf(), s.sink, {});
    const other = recordingSink();
    await hub.attach({ apps: [app], matches: () => true }, other.sink, {}); // no key: its own group

    const sent = Array.from({ length: 50 }, (_, i) => make.entry(app, { level: i % 5 === 0 ? 'DEBUG' : 'INFO' }));
    await store.append({ entries: sent });
    await settle();
    const want = sent.filter((e) => e.level !== 'DEBUG').map((e) => e.id);
    for (const s of sinks) expect(s.got).toEqual(want);
    expect(other.got).toEqual(sent.map((e) => e.id));
    expect(tests).toBe(50); // not 10 × 50
    // The same batch array reached every subscriber of the group: frames can be shared.
    expect(new Set(sinks.map((s) => s.frames[0])).size).toBe(1);
    hub.close();
  });

  it('totals sent and dropped entries over its life, subscribers that left included (for /metrics)', async () => {
    const store = createMemoryStore();
    const hub = new Hub(store, { ...limits, queueMaxMessages: 10, historyPerApp: 1500, listApps: async () => [] });
    const make = createEntryFactory();
    const app = make.appId('totals');
    const fast = recordingSink();
    const stuck = { ...recordingSink().sink, buffered: () => Number.MAX_SAFE_INTEGER }; // never drains
    const a = await hub.attach({ apps: [app], matches: () => true }, fast.sink, {});
    const b = await hub.attach({ apps: [app], matches: () => true }, stuck, {});
    await store.append({ entries: Array.from({ length: 50 }, () => make.entry(app)) });
    await settle();
    const { dropped } = hub.totals();
    expect(dropped).toBeGreaterThan(0);
    expect(hub.stats()).toMatchObject({ subscribed: 2, sent: 50 });
    expect(hub.totals().sent).toBe(50);
    hub.detach(a);
    hub.detach(b);
    expect(hub.stats()).toMatchObject({ subscribed: 0, sent: 0, dropped: 0 });
    expect(hub.totals()).toEqual({ sent: 50, dropped });
    hub.close();
  });

  it('ends a live subscription whose regex takes over its budget, and only that one', async () => {
    const store = createMemoryStore();
    // 1 ms a second: a bucket of 2 ms, which one test of SLOW on 4 KiB (~20 ms) empties.
    const hub = new Hub(store, { ...limits, historyPerApp: 1500, listApps: async () => [], regexBudgetMsPerSec: 1 });
    const make = createEntryFactory();
    const app = make.appId('budget');
    const failed: [string, string][] = [];
    const slowSinks = [recordingSink(), recordingSink()].map((s) => ({ ...s.sink, fail: (code: string, message: string) => void failed.push([code, message]) }));
    for (const sink of slowSinks) await hub.attach(regexFilter(app, SLOW), sink, {}); // one group, one budget
    const cheap = recordingSink();
    await hub.attach(regexFilter(app, '^x'), cheap.sink, {});
    const plain = recordingSink();
    await hub.attach({ apps: [app], matches: () => true }, plain.sink, {});
    expect(hub.size).toBe(4);

    const sent = Array.from({ length: 20 }, () => make.entry(app, { message: 'x'.repeat(4096) }));
    await store.append({ entries: sent });
    await settle();
    expect(failed).toHaveLength(2);
    for (const [code, message] of failed) {
      expect(code).toBe('regex_budget_exceeded');
      expect(message).toMatch(/more than 1 ms a second matching \(FANOUT_REGEX_BUDGET_MS_PER_SEC/);
    }
    expect(hub.size).toBe(2); // the slow group is gone; the others got everything
    expect(cheap.got).toEqual(sent.map((e) => e.id));
    expect(plain.got).toEqual(sent.map((e) => e.id));
    hub.close();
  });

  it('refuses a subscription whose history scan takes over QUERY_REGEX_BUDGET_MS, with regex_budget_exceeded', async () => {
    const store = createMemoryStore();
    const hub = new Hub(store, { ...limits, historyPerApp: 1500, listApps: async () => [], queryRegexBudgetMs: 50 });
    const make = createEntryFactory();
    const app = make.appId('history-budget');
    await store.append({ entries: Array.from({ length: 1500 }, () => make.entry(app, { message: 'x'.repeat(2048) })) });
    const sink = recordingSink();
    await expect(hub.attach(regexFilter(app, SLOW), sink.sink, { history: 100 })).rejects.toMatchObject({
      code: 'regex_budget_exceeded',
      message: expect.stringMatching(/used its 50 ms budget \(QUERY_REGEX_BUDGET_MS\)/),
    });
    expect(hub.size).toBe(0);
    // Without history to read, the same subscription is accepted (its live budget is its own).
    await hub.attach(regexFilter(app, SLOW), sink.sink, {});
    expect(hub.size).toBe(1);
    hub.close();
  }, 20_000);
});
