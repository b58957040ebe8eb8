/**
 * The metrics worker thread: derives the series of stored drain blocks off the gateway's event
 * loop. The blocks are those the gateway did not build entries of (the Redis store keeps frames);
 * they are decoded here into the entries a read of the store would give (block.ts
 * `decodeBlock`), which go through the aggregator (derive.ts) and are flushed as 10 s deltas to
 * the gateway, which writes them to the backend. The thread holds
 * no buckets of its own beyond one flush interval, so the backend stays the one place the API
 * and the live charts read.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { setEntryLimits } from '../normalize/bounds.js';
import { decodeBlock } from '../store/block.js';
import { Aggregator } from './aggregator.js';
import type { Delta, MetricsBackend } from './backend.js';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('metrics worker: not started as a worker thread');
const setup = workerData as WorkerSetup;
setEntryLimits(setup.entryLimits);
lowerPriority(setup.nice);

/**
 * Gives this thread a niceness of its own, so that under CPU pressure the event loop answering
 * ingest runs first and this thread takes what is left (its bounded queue then drops, counted,
 * rather than ingest slowing). Linux sets niceness per thread: `setpriority` with the thread's id,
 * read from /proc/thread-self. Elsewhere, or when not allowed, the thread keeps the process's.
 */
function lowerPriority(nice: number): void {
  if (nice <= 0 || process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    // Relative to the process's own niceness (getPriority() reads the process's).
    if (tid > 0 && tid !== process.pid) setPriority(tid, Math.min(19, getPriority() + nice));
  } catch {
    // not allowed, or no /proc: the process's priority
  }
}

const send = (msg: FromWorker) => port.postMessage(msg);
let seq = 0;
const pendingWrites = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();

/** The aggregator's backend here: each flush goes to the gateway, which writes it and answers. */
const toGateway: MetricsBackend = {
  write(deltas: Delta[], nowMs: number) {
    const id = ++seq;
    return new Promise<void>((resolve, reject) => {
      pendingWrites.set(id, { resolve, reject });
      send({ t: 'deltas', seq: id, deltas, nowMs, stats: aggregator.stats });
    });
  },
  names: () => Promise.resolve([]),
  read: () => Promise.resolve({ kind: null }),
  activity: () => Promise.resolve([]),
  close: () => Promise.resolve(),
};

const aggregator = new Aggregator({
  backend: toGateway,
  retention: setup.retention,
  flushMs: setup.flushMs,
  maxSkewSec: setup.maxSkewSec,
  maxSeriesPerApp: setup.maxSeriesPerApp,
  // The gateway bounds the lines in flight to this thread; the queue here never holds more.
  maxQueuedEntries: Number.MAX_SAFE_INTEGER,
}).start();

let reportedError = false;

port.on('message', (msg: ToWorker) => {
  if (msg.t === 'blocks') {
    let start = 0;
    for (const end of msg.ends) {
      const block = Buffer.from(msg.buf, start, end - start);
      start = end;
      try {
        aggregator.add(decodeBlock(block));
      } catch (err) {
        // A block this version cannot read (it was stored, so only its metrics are lost).
        if (!reportedError) send({ t: 'error', message: (err as Error).message });
        reportedError = true;
      }
    }
    // Derived now, not on the aggregator's next turn: the gateway's bound counts lines until
    // they are in the series, so the thread's queue never grows past it.
    aggregator.drainQueue();
    send({ t: 'counted', lines: msg.lines });
  } else if (msg.t === 'written') {
    const w = pendingWrites.get(msg.seq);
    pendingWrites.delete(msg.seq);
    if (msg.error === undefined) w?.resolve();
    else w?.reject(new Error(msg.error));
  } else if (msg.t === 'flush') {
    // Twice: a flush already writing returns that write, which may predate the latest blocks.
    void (async () => {
      await aggregator.flush();
      await aggregator.flush();
      send({ t: 'flushed', seq: msg.seq, stats: aggregator.stats });
    })();
  }
});
