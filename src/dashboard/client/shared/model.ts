/**
 * What the dashboard knows of an entry (protocol/entry.schema.json) and the rows it shows.
 * Pure: no DOM, so unit tests run it under Node.
 */

export const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type Level = (typeof LEVELS)[number];

export interface Metric {
  kind: 'count' | 'sample' | 'measure';
  name: string;
  value: number | null;
  unit?: string;
  source?: string;
  raw?: string;
}

/** A stored entry as the gateway sends it (absent fields are omitted). */
export interface Entry {
  id: string;
  timestamp: string;
  received_at: string;
  level: Level;
  app_id: string;
  message: string;
  source?: string;
  proc?: string;
  host?: string;
  context?: Record<string, unknown>;
  metrics?: Metric[];
  tags?: string[];
  stack_trace?: string;
  trace_id?: string;
  [field: string]: unknown;
}

/** One line of the list: an entry, or a marker for entries that were not delivered. */
export interface Row {
  /** Position in the buffer: grows for live entries, shrinks for older pages (unique per view). */
  seq: number;
  entry?: Entry;
  /** The message without ANSI escapes (what search and highlight look at). */
  text: string;
  /** `level` in lower case (the row's `data-level`). */
  level: string;
  /** The message in lower case, computed on the first substring search. */
  lower?: string;
  /** A `gap` marker: how many entries were missed (undefined when unknown). */
  gap?: { count?: number; note: string };
}

// eslint-disable-next-line no-control-regex
const ANSI_TEST = /\u001b/;

export function rowOf(entry: Entry, seq: number, strip: (s: string) => string): Row {
  return {
    seq,
    entry,
    text: ANSI_TEST.test(entry.message) ? strip(entry.message) : entry.message,
    level: typeof entry.level === 'string' ? entry.level.toLowerCase() : 'info',
  };
}

/** The dyno prefix rule of the gateway: `web` matches `web` and `web.N`; `web.1` only itself. */
export function procMatches(proc: string | undefined, want: string): boolean {
  if (proc === undefined) return false;
  if (proc === want) return true;
  return !want.includes('.') && proc.startsWith(`${want}.`);
}
