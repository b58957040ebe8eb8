import { describe, expect, it, vi } from 'vitest';
import { createMemoryStore } from './memory.js';
import { createEntryFactory, describeStoreContract } from './store.contract.js';

describeStoreContract('memory', async () => ({ store: createMemoryStore({ historyPerApp: 20, historyBytesPerApp: 256 * 1024 }) }), {
  historyPerApp: 20,
  historyBytesPerApp: 256 * 1024,
});

describe('createMemoryStore', () => {
  const make = createEntryFactory();

  it('keeps 1500 lines per app by default, as Logplex does', async () => {
    const store = createMemoryStore();
    const app = make.appId('default');
    await store.append({ entries: Array.from({ length: 1503 }, (_, i) => make.entry(app, { at: i })) });
    const { total, entries } = await store.query({ appIds: [app], limit: 1, offset: 1499 });
    expect(total).toBe(1500);
    expect(entries[0].timestamp).toBe(make.ts(3));
  });

  it('forgets the least recently used dedupe keys beyond maxDedupeKeys', async () => {
    const store = createMemoryStore({ maxDedupeKeys: 2 });
    const app = make.appId('lru');
    for (const key of ['k1', 'k2', 'k3']) await store.append({ entries: [make.entry(app)], dedupeKey: key });
    await expect(store.append({ entries: [make.entry(app)], dedupeKey: 'k3' })).resolves.toMatchObject({
      duplicate: true,
    });
    await expect(store.append({ entries: [make.entry(app)], dedupeKey: 'k1' })).resolves.toMatchObject({
      duplicate: false,
    });
  });

  it('reports what a listener threw to onListenerError', async () => {
    const onListenerError = vi.fn();
    const store = createMemoryStore({ onListenerError });
    const bug = new Error('listener bug');
    store.subscribe(() => {
      throw bug;
    });
    await store.append({ entries: [make.entry(make.appId('err'))] });
    expect(onListenerError).toHaveBeenCalledWith(bug);
  });

  it('notifies listeners before append resolves', async () => {
    const store = createMemoryStore();
    let seen = 0;
    store.subscribe((entries) => (seen += entries.length));
    const pending = store.append({ entries: [make.entry(make.appId('sync'))] });
    expect(seen).toBe(1);
    await pending;
  });

  it('does not notify listeners of a request with no entries', async () => {
    const store = createMemoryStore();
    const listener = vi.fn();
    store.subscribe(listener);
    await store.append({ entries: [] });
    expect(listener).not.toHaveBeenCalled();
  });

  it('rejects a dedupe TTL that is not a positive number of ms', async () => {
    const store = createMemoryStore();
    const entry = make.entry(make.appId('ttl'));
    await expect(store.append({ entries: [entry], dedupeKey: 'k', dedupeTtlMs: 0 })).rejects.toThrow(RangeError);
    expect((await store.query({ limit: 10, offset: 0 })).total).toBe(0);
  });

  it('refuses a history size or key bound that is not a positive integer', () => {
    expect(() => createMemoryStore({ historyPerApp: 0 })).toThrow(RangeError);
    expect(() => createMemoryStore({ maxDedupeKeys: -1 })).toThrow(RangeError);
  });

  it('reports itself unhealthy once closed', async () => {
    const store = createMemoryStore();
    await store.close();
    await expect(store.health()).resolves.toEqual({ kind: 'memory', ok: false, detail: 'closed' });
  });
});
