/**
 * Micro-benchmark of a subscriber's queue: 100 subscribers offered the same 100-entry chunks, first
 * with sockets that take everything (keeping up), then with sockets that never drain (stalled:
 * every queue sits at its limit and sheds the oldest entries on and on).
 *
 *   npx tsx bench/fanout/stalled-subscribers.ts
 *
 * Prints offers/s for both and their ratio. The ring queue (src/fanout/entry-queue.ts) exists
 * because stalled subscribers cost 7× more per offer with arrays sliced at the front; see
 * bench/FANOUT.md.
 */
import { Chunk, Subscriber, type Sink } from '../../src/fanout/subscriber.js';
import type { Entry } from '../../src/normalize/entry.js';

const limits = { queueMaxMessages: 10_000, queueMaxBytes: 4 * 1024 * 1024, socketHighWaterBytes: 1 << 20, slowCloseMs: 1e9, batchMax: 200 };

function offersPerSec(stalled: boolean, ms = 2000): number {
  const sink: Sink = {
    buffered: () => (stalled ? 2 << 20 : 0),
    writeEntries: () => {},
    writeLive() {},
    writeGap() {},
    close() {},
    onDrain() {},
  };
  const matchAll = { matches: () => true } as unknown as ConstructorParameters<typeof Subscriber>[0];
  const subs = Array.from({ length: 100 }, () => new Subscriber(matchAll, sink, limits));
  for (const s of subs) s.startLive([]);
  const entries = Array.from({ length: 100 }, (_, i) => ({ id: `01J${String(i).padStart(23, '0')}`, timestamp: '', received_at: '', level: 'INFO', app_id: 'a', message: 'm' }) as Entry);
  // 541 characters: the mean entry JSON of the fan-out bench's main mix.
  const jsons = entries.map((e) => JSON.stringify(e).padEnd(541, ' '));
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    const chunk = new Chunk();
    for (let i = 0; i < entries.length; i++) for (const s of subs) s.offer(entries[i]!, jsons[i]!, chunk);
    n += entries.length * subs.length;
    for (const s of subs) s.flush();
  }
  return n / ((performance.now() - start) / 1000);
}

offersPerSec(false, 500); // warm-up
const keeping = offersPerSec(false);
const stalled = offersPerSec(true);
console.log(`offers/s, 100 subscribers: keeping up ${(keeping / 1e6).toFixed(1)}M, stalled ${(stalled / 1e6).toFixed(1)}M (stalled / keeping up ${(stalled / keeping).toFixed(2)}×)`);
