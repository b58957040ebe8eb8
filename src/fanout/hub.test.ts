import { describe, expect, it } from 'vitest';
import type { Entry } from '../normalize/entry.js';
import { createMemoryStore } from '../store/memory.js';
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
});
