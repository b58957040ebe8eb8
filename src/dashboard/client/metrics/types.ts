/**
 * The metrics API as the dashboard reads it (protocol/README.md, "Metrics"; the issue 14
 * contract): `GET /api/metrics/names`, `GET /api/metrics`, the `metrics` frames of
 * `subscribe_metrics` on `/ws`, and `GET /api/sources`.
 */

export type SeriesKind = 'count' | 'measure' | 'sample';

/** One bucket (`t`: epoch seconds of its start); fields by kind, absent ones omitted. */
export interface MetricPoint {
  t: number;
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
  mean?: number;
  p50?: number;
  p95?: number;
  p99?: number;
  last?: number;
}

/** A field of a point a chart line draws. */
export type PointField = 'sum' | 'count' | 'mean' | 'p50' | 'p95' | 'p99' | 'last' | 'min' | 'max';

/** One series of `GET /api/metrics/names`. */
export interface SeriesInfo {
  name: string;
  kind: SeriesKind;
  unit?: string;
  sources: string[];
  last_seen: number;
}

export interface NamesResponse {
  app_id: string;
  series: SeriesInfo[];
}

/** `GET /api/metrics`: one series over a range (`kind: null` for a series never seen). */
export interface SeriesResponse {
  app_id: string;
  name: string;
  source: string | null;
  kind: SeriesKind | null;
  unit?: string;
  step: number;
  from: number;
  to: number;
  points: MetricPoint[];
}

/** A `metrics` frame on `/ws`: the open bucket of each subscribed series and the one before. */
export interface MetricsFrame {
  type: 'metrics';
  app_id: string;
  step: number;
  series: { name: string; source: string | null; kind: SeriesKind | null; unit?: string; points: MetricPoint[] }[];
}

/** `GET /api/sources`. Times are epoch seconds. */
export interface SourcesResponse {
  apps: { app_id: string; lines_per_min: number; last_seen: number | null }[];
  producers: { app_id: string; family: string; lines_per_min: number; last_seen: number | null }[];
  connected: { app_id: string; user_agent: string; family: string; connections: number }[];
}
