/**
 * Messages between the gateway's event loop and the metrics worker thread (worker.ts).
 *
 * The worker derives the series of drain batches the gateway did not build entries of (the
 * Redis store keeps their frames), sent as their stored blocks (block.ts `S` blocks), which it
 * decodes as a read would. It sends the 10 s deltas back at every flush; the gateway writes them to the backend (memory
 * or Redis) and answers, so a failed write is retried by the worker's aggregator.
 */
import type { AggregatorStats } from './aggregator.js';
import type { Delta } from './backend.js';
import type { EntryLimits } from '../normalize/bounds.js';

/** What the worker is started with (`workerData`). */
export interface WorkerSetup {
  retention: { 10: number; 60: number };
  flushMs: number;
  maxSkewSec: number;
  maxSeriesPerApp: number;
  maxQueuedEntries: number;
  /** Niceness the thread gives itself (Linux; 0: none). */
  nice: number;
  /** The gateway's entry bounds: the worker must build the very entries the store keeps. */
  entryLimits: EntryLimits;
}

/** Gateway → worker. */
export type ToWorker =
  /**
   * Blocks stored since the last message, back to back in `buf` (transferred, not copied):
   * block k is `buf[ends[k-1] … ends[k])`; `lines` is their number of lines in all.
   */
  | { t: 'blocks'; buf: ArrayBuffer; ends: number[]; lines: number }
  /** The answer to `deltas` #seq: written, or the error. */
  | { t: 'written'; seq: number; error?: string }
  /** Count what is queued and flush now; answer `flushed` #seq once the deltas are written. */
  | { t: 'flush'; seq: number };

/** Worker → gateway. */
export type FromWorker =
  /** `lines` of the blocks sent were counted (or dropped): the gateway's in-flight bound goes down. */
  | { t: 'counted'; lines: number }
  /** A flush: write these deltas, answer `written` #seq. */
  | { t: 'deltas'; seq: number; deltas: Delta[]; nowMs: number; stats: AggregatorStats }
  | { t: 'flushed'; seq: number; stats: AggregatorStats }
  /** A block that does not decode (a version mismatch): counted as dropped, reported once. */
  | { t: 'error'; message: string };
