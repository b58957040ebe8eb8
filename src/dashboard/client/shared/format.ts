/** Display helpers shared by the views: colours per name, times. Pure: no DOM. */

/** Stable hue (0–359) for a source name: the same source always gets the same colour. */
export function hueOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) % 360;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * A row's time: `HH:MM:SS.mmm` (with `MM-DD` when not today), local or UTC (then with `Z`).
 * The µs digits are kept in the title (full ISO) only.
 */
export function formatTime(iso: string, utc: boolean, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = utc
    ? [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  const today = utc
    ? now.getUTCFullYear() === parts[0] && now.getUTCMonth() === parts[1] && now.getUTCDate() === parts[2]
    : now.getFullYear() === parts[0] && now.getMonth() === parts[1] && now.getDate() === parts[2];
  const time = `${pad(parts[3]!)}:${pad(parts[4]!)}:${pad(parts[5]!)}.${pad(parts[6]!, 3)}${utc ? 'Z' : ''}`;
  return today ? time : `${pad(parts[1]! + 1)}-${pad(parts[2]!)} ${time}`;
}
