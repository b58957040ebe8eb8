import { describe, expect, it } from 'vitest';
import { createEntryFactory } from '../store/store.contract.js';
import type { Entry } from '../normalize/entry.js';
import { Chunk, Subscriber, type Gap, type Sink, type SubscriberLimits } from './subscriber.js';

/** A sink whose socket buffer we control: `blocked` makes it report a full buffer. */
function fakeSink() {
  const out: ({ kind: 'entries'; ids: string[] } | { kind: 'live' } | { kind: 'gap'; gap: Gap } | { kind: 'close'; code: number })[] = [];
  let drain: (() => void) | undefined;
  const state = { blocked: false };
  const sink: Sink = {
    buffered: () => (state.blocked ? Number.MAX_SAFE_INTEGER : 0),
    writeEntries: (_j, entries) => out.push({ kind: 'entries', ids: entries.map((e) => e.id) }),
    writeLive: () => out.push({ kind: 'live' }),
    writeGap: (gap) => out.push({ kind: 'gap', gap }),
    close: (code) => out.push({ kind: 'close', code }),
    onDrain: (fn) => (drain = fn),
  };
  return {
    sink,
    out,
    state,
    unblock() {
      state.blocked = false;
      drain?.();
    },
    delivered: () => out.flatMap((o) => (o.kind === 'entries' ? o.ids : [])),
  };
}

const limits: SubscriberLimits = { queueMaxMessages: 100, queueMaxBytes: 1 << 30, socketHighWaterBytes: 1024, slowCloseMs: 1000, batchMax: 50 };
const all = { apps: null, matches: () => true };
const make = createEntryFactory();
const app = make.appId('sub');
const entries = (n: number) => Array.from({ length: n }, () => make.entry(app));
const offerAll = (s: Subscriber, list: Entry[]) => list.forEach((e) => s.offer(e, JSON.stringify(e)));

describe('Subscriber', () => {
  it('writes history, then live, then queued live entries without the ones history already held', () => {
    const f = fakeSink();
    const sub = new Subscriber(all, f.sink, limits);
    const history = entries(3);
    const live = entries(2);
    offerAll(sub, [history[2]!, ...live]); // arrived while history was read
    sub.startLive(history);
    expect(f.out.map((o) => o.kind)).toEqual(['entries', 'live', 'entries']);
    expect(f.delivered()).toEqual([...history, ...live].map((e) => e.id));
  });

  it('sheds the oldest entries of a full queue and announces the exact count where the hole is', () => {
    const f = fakeSink();
    const sub = new Subscriber(all, f.sink, limits);
    sub.startLive([]);
    const first = entries(10);
    offerAll(sub, first);
    sub.flush();
    f.state.blocked = true;
    const flood = entries(1000);
    offerAll(sub, flood);
    sub.flush();
    f.unblock();
    const delivered = f.delivered();
    const gap = f.out.find((o) => o.kind === 'gap') as { gap: Gap };
    expect(gap.gap).toEqual({ count: 1000 - (delivered.length - 10), since_id: first[9]!.id, recovered: false });
    // Everything delivered after the gap is the newest tail of the flood, in order.
    const after = delivered.slice(10);
    expect(after).toEqual(flood.slice(flood.length - after.length).map((e) => e.id));
    expect(after.length + gap.gap.count!).toBe(1000);
    expect(after.length).toBeLessThanOrEqual(limits.queueMaxMessages);
  });

  it('bounds its queue by bytes as well as by entries', () => {
    const f = fakeSink();
    const sub = new Subscriber(all, f.sink, { ...limits, queueMaxMessages: 1_000_000, queueMaxBytes: 20_000 });
    sub.startLive([]);
    f.state.blocked = true;
    offerAll(sub, entries(500));
    const json = JSON.stringify(entries(1)[0]);
    expect(sub.queued * json.length).toBeLessThanOrEqual(20_000 + json.length * 2);
  });

  it('closes with 4008 "slow" once it has been over its limits for slowCloseMs, not before', () => {
    let now = 0;
    const f = fakeSink();
    const sub = new Subscriber(all, f.sink, limits, () => now);
    sub.startLive([]);
    f.state.blocked = true;
    offerAll(sub, entries(500));
    now = 900;
    expect(sub.checkSlow()).toBe(false);
    now = 1001;
    expect(sub.checkSlow()).toBe(true);
    expect(f.out.at(-1)).toEqual({ kind: 'close', code: 4008 });
  });

  it('is not closed when it catches up before slowCloseMs', () => {
    let now = 0;
    const f = fakeSink();
    const sub = new Subscriber(all, f.sink, limits, () => now);
    sub.startLive([]);
    f.state.blocked = true;
    offerAll(sub, entries(500));
    sub.flush(); // as the hub does after offering: nothing goes out, it waits for the drain
    now = 500;
    f.unblock();
    now = 5000;
    expect(sub.checkSlow()).toBe(false);
  });

  it('writes the same batches of a delivery chunk whatever its backlog, never mixing two chunks', () => {
    const chunks = [new Chunk(), new Chunk(), new Chunk()];
    const lists = [entries(30), entries(70), entries(20)];
    const batchesOf = (f: ReturnType<typeof fakeSink>) => f.out.flatMap((o) => (o.kind === 'entries' ? [o.ids.length] : []));
    // In step: each chunk is offered, then flushed.
    const roomy = { ...limits, queueMaxMessages: 1000 };
    const inStep = fakeSink();
    const a = new Subscriber(all, inStep.sink, roomy);
    a.startLive([]);
    // Behind: its socket is full until all three chunks are queued.
    const behind = fakeSink();
    const b = new Subscriber(all, behind.sink, roomy);
    b.startLive([]);
    behind.state.blocked = true;
    lists.forEach((list, k) => {
      list.forEach((e) => {
        a.offer(e, JSON.stringify(e), chunks[k]);
        b.offer(e, JSON.stringify(e), chunks[k]);
      });
      a.flush();
      b.flush();
    });
    behind.unblock();
    expect(batchesOf(inStep)).toEqual([30, 50, 20, 20]);
    expect(batchesOf(behind)).toEqual(batchesOf(inStep));
    expect(behind.delivered()).toEqual(lists.flat().map((e) => e.id));
  });
});

describe('Subscriber.offerAll (a filter group\'s entries of one chunk)', () => {
  const jsonsOf = (list: Entry[]) => list.map((e) => JSON.stringify(e));

  it('writes a caught-up subscriber\'s entries at once, in batches of batchMax', () => {
    const f = fakeSink();
    const sub = new Subscriber(all, f.sink, limits);
    sub.startLive([]);
    const live = entries(120);
    sub.offerAll(jsonsOf(live), live, new Chunk());
    expect(f.out.filter((o) => o.kind === 'entries').map((o) => (o as { ids: string[] }).ids.length)).toEqual([50, 50, 20]);
    expect(f.delivered()).toEqual(live.map((e) => e.id));
    expect(sub.queued).toBe(0);
  });

  it('queues what the socket cannot take and delivers it in order once it drains', () => {
    const f = fakeSink();
    const sub = new Subscriber(all, f.sink, limits);
    sub.startLive([]);
    f.state.blocked = true;
    const first = entries(30);
    sub.offerAll(jsonsOf(first), first, new Chunk());
    expect(sub.queued).toBe(30);
    const second = entries(30);
    sub.offerAll(jsonsOf(second), second, new Chunk()); // queued behind, never ahead
    f.unblock();
    expect(f.delivered()).toEqual([...first, ...second].map((e) => e.id));
  });

  it('skips, right after its history, the live entries the history already held', () => {
    const f = fakeSink();
    const sub = new Subscriber(all, f.sink, limits);
    const history = entries(3);
    sub.startLive(history);
    const live = [history[2]!, ...entries(2)];
    sub.offerAll(jsonsOf(live), live, new Chunk());
    expect(f.delivered()).toEqual([...history, ...live.slice(1)].map((e) => e.id));
  });

  it('ends with an error told through Sink.fail (a WebSocket stays open), or a close when the sink has none', () => {
    const f = fakeSink();
    const failed: string[] = [];
    const sub = new Subscriber(all, { ...f.sink, fail: (code, message) => void failed.push(`${code}: ${message}`) }, limits);
    sub.startLive([]);
    f.state.blocked = true;
    offerAll(sub, entries(3));
    sub.fail('regex_budget_exceeded', 'too slow');
    expect(failed).toEqual(['regex_budget_exceeded: too slow']);
    expect(sub.queued).toBe(0);
    expect(sub.isClosed).toBe(true);
    sub.fail('regex_budget_exceeded', 'again'); // once
    expect(failed).toHaveLength(1);
    const plain = fakeSink();
    const other = new Subscriber(all, plain.sink, limits);
    other.fail('regex_budget_exceeded', 'too slow');
    expect(plain.out).toContainEqual({ kind: 'close', code: 1011 });
  });
});
