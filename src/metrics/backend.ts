/**
 * Where aggregated buckets live: in process (memory-backend.ts) or in Redis, shared by every
 * gateway process (redis-backend.ts). The aggregator hands each a batch of 10 s deltas; the
 * backend counts each into its 10 s bucket and its 60 s bucket.
 */
import type { BucketAcc, Point, SeriesKind, SeriesMeta } from './bucket.js';

/** The bucket sizes kept, in seconds. */
export type Step = 10 | 60;

/** What one series added to one 10 s bucket since the last flush. */
export interface Delta {
  meta: SeriesMeta;
  /** Start of the 10 s bucket, epoch seconds. */
  t10: number;
  acc: BucketAcc;
}

/** How long each step's buckets are kept, in seconds. */
export interface Retention {
  10: number;
  60: number;
}

/** A series as `GET /api/metrics/names` lists it. */
export interface SeriesInfo {
  name: string;
  kind: SeriesKind;
  unit?: string;
  sources: string[];
  /** Epoch seconds of the last flush that brought it data. */
  last_seen: number;
}

/** A series read over a range. */
export interface SeriesRange {
  kind: SeriesKind | null;
  unit?: string;
  /** The points, as objects … */
  points?: Point[];
  /** … or as their JSON texts (what Redis keeps for closed buckets: passed through unparsed). */
  pointsJson?: string[];
}

/** Lines per minute and last seen of one source of a count series (the Sources panel). */
export interface SourceActivity {
  source: string;
  lines_per_min: number;
  last_seen: number;
}

export interface MetricsBackend {
  /** Counts the deltas in (both steps); `nowMs` decides what is past retention. */
  write(deltas: Delta[], nowMs: number): Promise<void>;
  names(app: string): Promise<SeriesInfo[]>;
  /**
   * Buckets of `step` with `fromSec ≤ t ≤ toSec`, ascending; `source` undefined reads the merge
   * of every source. Only buckets with data.
   */
  read(app: string, name: string, source: string | undefined, fromSec: number, toSec: number, step: Step): Promise<SeriesRange>;
  /** Per source of `name` (a count series): its sum over the last 60 s and when it was last seen. */
  activity(app: string, name: string, nowMs: number): Promise<SourceActivity[]>;
  close(): Promise<void>;
}

/** The 60 s bucket a 10 s bucket belongs to. */
export function t60Of(t10: number): number {
  return t10 - (t10 % 60);
}
