/**
 * The Sources panel's status dots and rows, from `GET /api/sources`. Pure: no DOM.
 *
 * - green: seen in the last minute; amber: seen within 5 minutes; grey: older, or never.
 * - A WebSocket producer connected now is green while its family sent lines in the last minute,
 *   else amber (connected, quiet): it is never grey, since it is there.
 */
import type { SourcesResponse } from '../metrics/types.js';

export type Dot = 'green' | 'amber' | 'grey';

const GREEN_S = 60;
const AMBER_S = 300;

/** The dot for something last seen at `lastSeen` (epoch seconds; null/0 = never). */
export function dotOf(lastSeen: number | null | undefined, nowSec: number): Dot {
  if (!lastSeen) return 'grey';
  const age = nowSec - lastSeen;
  if (age <= GREEN_S) return 'green';
  if (age <= AMBER_S) return 'amber';
  return 'grey';
}

export interface SourceRow {
  dot: Dot;
  app_id: string;
  /** The producer family (`sluice-node`, `logplex`, …), the user agent for a connection. */
  name: string;
  lines_per_min: number | null;
  last_seen: number | null;
  connections?: number;
}

/** The panel's three tables: per app, per producer family, WebSocket producers connected now. */
export function sourceRows(body: SourcesResponse, nowSec: number): { apps: SourceRow[]; producers: SourceRow[]; connected: SourceRow[] } {
  const apps = body.apps.map((a) => ({ dot: dotOf(a.last_seen, nowSec), app_id: a.app_id, name: a.app_id, lines_per_min: a.lines_per_min, last_seen: a.last_seen }));
  const producers = body.producers.map((p) => ({ dot: dotOf(p.last_seen, nowSec), app_id: p.app_id, name: p.family, lines_per_min: p.lines_per_min, last_seen: p.last_seen }));
  const seen = new Map(body.producers.map((p) => [`${p.app_id}\u0000${p.family}`, p]));
  const connected = body.connected.map((c) => {
    const family = seen.get(`${c.app_id}\u0000${c.family}`);
    const dot: Dot = dotOf(family?.last_seen, nowSec) === 'green' ? 'green' : 'amber';
    return { dot, app_id: c.app_id, name: c.user_agent, lines_per_min: family?.lines_per_min ?? null, last_seen: family?.last_seen ?? null, connections: c.connections };
  });
  const busiest = (a: SourceRow, b: SourceRow) => (b.lines_per_min ?? 0) - (a.lines_per_min ?? 0) || a.name.localeCompare(b.name);
  return { apps: apps.sort(busiest), producers: producers.sort(busiest), connected: connected.sort(busiest) };
}
