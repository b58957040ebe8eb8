/**
 * Entries → JSON, for every path that serves them (history answers, live frames, stored blocks).
 *
 * Normalisation bounds every entry (bounds.ts), so `JSON.stringify` of a stored entry is not
 * expected to fail. These functions are the second line: an entry that still cannot be
 * serialised (an entry stored by an older version without the bounds, a future field) is
 * skipped and counted, never thrown past the caller, so one entry can neither crash the process
 * nor fail a batch, a read or a live tail that includes it.
 */
import type { Entry } from './entry.js';

let unservable = 0;

/** Entries skipped so far because they could not be serialised (for `/metrics`). */
export function unservableEntries(): number {
  return unservable;
}

/** The entry's JSON, or null (counted) when it cannot be serialised. Never throws. */
export function entryJson(entry: Entry): string | null {
  try {
    return JSON.stringify(entry);
  } catch {
    unservable++;
    return null;
  }
}

/**
 * The JSON array of `entries`, leaving out (and counting) any that cannot be serialised.
 * One `JSON.stringify` for the whole array in the common case.
 */
export function entriesJsonArray(entries: readonly Entry[]): string {
  try {
    return JSON.stringify(entries);
  } catch {
    const parts: string[] = [];
    for (const e of entries) {
      const json = entryJson(e);
      if (json !== null) parts.push(json);
    }
    return `[${parts.join(',')}]`;
  }
}

/** The entries that can be serialised, with their JSON (same index); the others are counted. */
export function servableEntries(entries: readonly Entry[]): { entries: Entry[]; jsons: string[] } {
  const out: Entry[] = [];
  const jsons: string[] = [];
  for (const e of entries) {
    const json = entryJson(e);
    if (json === null) continue;
    out.push(e);
    jsons.push(json);
  }
  return { entries: out, jsons };
}
