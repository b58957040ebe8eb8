/** Numbers and times as the Metrics view's legends and axes show them. Pure: no DOM. */

/** `1,234` for counts; `28.3` / `812` / `0.42` for measures (3 significant digits, at most). */
export function formatValue(v: number | null | undefined, unit = ''): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const abs = Math.abs(v);
  let text: string;
  if (Number.isInteger(v) || abs >= 100) text = Math.round(v).toLocaleString('en-US');
  else if (abs >= 10) text = v.toFixed(1);
  else if (abs >= 1) text = v.toFixed(2);
  else text = v.toPrecision(2);
  return unit && !unit.startsWith('per ') ? `${text} ${unit}` : text;
}

/** An axis tick: `30k`, `1.5M`, `0.25`, short enough for a narrow axis. */
export function formatTick(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '';
  const abs = Math.abs(v);
  if (abs >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${+(v / 1e3).toFixed(0)}k`;
  if (abs >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toPrecision(3));
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A bucket's start as `HH:MM:SS` (with `MM-DD` when not today), local or UTC (then with `Z`). */
export function formatBucket(t: number, utc: boolean, now: Date = new Date()): string {
  const d = new Date(t * 1000);
  const [mo, day, hh, mm, ss] = utc
    ? [d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  const today = utc ? now.getUTCDate() === day && now.getUTCMonth() === mo : now.getDate() === day && now.getMonth() === mo;
  const time = `${pad(hh)}:${pad(mm)}:${pad(ss)}${utc ? 'Z' : ''}`;
  return today ? time : `${pad(mo + 1)}-${pad(day)} ${time}`;
}

/** "12 s ago", "4 min ago", "3 h ago", "never" (epoch seconds against `nowSec`). */
export function ago(t: number | null | undefined, nowSec: number): string {
  if (!t) return 'never';
  const s = Math.max(0, Math.round(nowSec - t));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
