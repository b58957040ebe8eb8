/**
 * RFC 3339 timestamps → UTC with microseconds kept.
 *
 * A JS Date holds only milliseconds, and Heroku sends microseconds
 * (`2013-05-27T19:59:36.538297+00:00`), so the result is a string in one fixed form,
 * `YYYY-MM-DDTHH:MM:SS.ffffffZ` (27 chars), which also sorts lexicographically by time.
 */

const CH_0 = 0x30;
const CH_9 = 0x39;
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** The fast path's output bytes: 26 copied, then `Z`. */
const FAST_SCRATCH = new Uint8Array(27);
FAST_SCRATCH[26] = 0x5a;

/**
 * `Buffer.prototype.latin1Slice`, what `buf.toString('latin1', a, b)` calls after checking its
 * arguments: undocumented but present in every Node release, and it accepts any Uint8Array as
 * `this` (parseTimestampString passes a plain one).
 */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, a: number, b: number): string })
  .latin1Slice;

function digit(buf: Uint8Array, i: number): number {
  const c = buf[i]! - CH_0;
  return c >= 0 && c <= 9 ? c : -1;
}

function two(buf: Uint8Array, i: number): number {
  const a = digit(buf, i);
  const b = digit(buf, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/** Options of {@link parseTimestamp}. */
export interface TimestampOptions {
  /** Accept a timestamp with no zone designator, read as UTC (JSON input does; RFC 5424 does not). */
  allowMissingOffset?: boolean;
}

/**
 * Parses an RFC 3339 timestamp in `buf[start, end)`.
 * Accepts 0–9 fraction digits (kept to µs, truncated past 6), `Z`/`z`, `±hh:mm`, `-00:00`,
 * `T`/`t`/space as separator, and the broken `...Z+00:00` seen in Logplex's own README.
 * Returns the 27-char UTC form, or null when the bytes are not a valid timestamp.
 *
 * @example parseTimestamp(Buffer.from('2013-05-27T21:59:36.538297+02:00'), 0, 32)
 *   // '2013-05-27T19:59:36.538297Z'
 */
export function parseTimestamp(
  buf: Uint8Array,
  start: number,
  end: number,
  opts?: TimestampOptions,
): string | null {
  if (end - start < 19) return null;
  const y1 = two(buf, start);
  const y2 = two(buf, start + 2);
  const mo = two(buf, start + 5);
  const d = two(buf, start + 8);
  const h = two(buf, start + 11);
  const mi = two(buf, start + 14);
  const s = two(buf, start + 17);
  if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59) return null;
  if (s < 0 || s > 60) return null;
  if (buf[start + 4] !== 0x2d || buf[start + 7] !== 0x2d || buf[start + 13] !== 0x3a || buf[start + 16] !== 0x3a) {
    return null;
  }
  const sep = buf[start + 10];
  if (sep !== 0x54 && sep !== 0x74 && sep !== 0x20) return null; // T, t or space (RFC 3339 §5.6 note)
  const year = y1 * 100 + y2;
  if (d > DAYS_IN_MONTH[mo - 1]! || (mo === 2 && d === 29 && !isLeap(year))) return null;

  // Fraction: up to 9 digits read, 6 kept.
  let i = start + 19;
  let micros = 0;
  let fracDigits = 0;
  if (i < end && buf[i] === 0x2e) {
    i++;
    while (i < end && buf[i]! >= CH_0 && buf[i]! <= CH_9) {
      if (fracDigits < 6) micros = micros * 10 + (buf[i]! - CH_0);
      fracDigits++;
      i++;
    }
    if (fracDigits === 0 || fracDigits > 9) return null;
  }
  for (let k = Math.min(fracDigits, 6); k < 6; k++) micros *= 10;

  // Zone: Z | ±hh:mm | Z±hh:mm (broken but seen) | none (only when allowed).
  let offsetMin = 0;
  if (i === end) {
    if (!opts?.allowMissingOffset) return null;
  } else {
    const z = buf[i];
    if (z === 0x5a || z === 0x7a) i++;
    if (i < end) {
      const sign = buf[i];
      if ((sign !== 0x2b && sign !== 0x2d) || end - i !== 6 || buf[i + 3] !== 0x3a) return null;
      const oh = two(buf, i + 1);
      const om = two(buf, i + 4);
      if (oh < 0 || oh > 23 || om < 0 || om > 59) return null;
      // After a `Z` the offset is redundant at best; the `Z` wins (UTC).
      if (z !== 0x5a && z !== 0x7a) offsetMin = (sign === 0x2b ? 1 : -1) * (oh * 60 + om);
      i = end;
    }
  }

  // Fast path, Heroku's own form (`YYYY-MM-DDTHH:MM:SS.ffffff` then `+00:00`, `-00:00` or `Z`):
  // the validated input bytes already are the output, so copy them instead of formatting
  // numbers (+22% on the header path, see bench/README.md).
  if (offsetMin === 0 && fracDigits === 6 && sep === 0x54 && s !== 60) {
    // Copied with its `Z` into scratch bytes and sliced once: a flat string. `slice + 'Z'` made
    // a cons string, which every later reader (JSON.stringify, the metrics stage's clock)
    // had to flatten, an allocation and a copy per entry.
    for (let k = 0; k < 26; k++) FAST_SCRATCH[k] = buf[start + k]!;
    return latin1Slice.call(FAST_SCRATCH, 0, 27);
  }
  const frac = micros.toString().padStart(6, '0');
  const sec = s === 60 ? 59 : s; // a leap second is kept inside its minute
  if (offsetMin === 0) {
    // Fast path (Heroku sends +00:00 or Z): the wall time already is UTC.
    return `${pad4(year)}-${pad2(mo)}-${pad2(d)}T${pad2(h)}:${pad2(mi)}:${pad2(sec)}.${frac}Z`;
  }
  if (year < 100) return null; // Date.UTC maps 0–99 to the 1900s; such years are no real log time
  const ms = Date.UTC(year, mo - 1, d, h, mi, sec) - offsetMin * 60_000;
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z for 0000–9999
  if (iso.length !== 24) return null;
  return `${iso.slice(0, 19)}.${frac}Z`;
}

/**
 * Parses a timestamp given as a string (JSON input, query parameters).
 * @see parseTimestamp
 */
export function parseTimestampString(value: string, opts?: TimestampOptions): string | null {
  const n = value.length;
  if (n > TS_SCRATCH.length) return null;
  // Copy the chars into one reusable byte array (a Buffer per call was most of a JSON item's
  // cost). Any non-ASCII char rejects: no timestamp char is outside ASCII, and truncating it to
  // a byte could turn `Ķ` (U+0136) into the digit `6`.
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7f) return null;
    TS_SCRATCH[i] = c;
  }
  return parseTimestamp(TS_SCRATCH, 0, n, opts);
}

const TS_SCRATCH = new Uint8Array(64);

/** Formats epoch microseconds in the 27-char form. */
export function formatMicros(epochMicros: number): string {
  // Whole µs only: a fractional input would otherwise print as `0001.5Z`.
  const whole = Math.floor(epochMicros);
  const ms = Math.floor(whole / 1000);
  const us = whole - ms * 1000;
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 23)}${us.toString().padStart(3, '0')}Z`;
}

/** The current time in the 27-char form. Sub-ms digits come from the high-resolution clock. */
export function nowMicros(): string {
  return formatMicros(currentEpochMicros());
}

let hrBase = process.hrtime.bigint();
let wallBaseUs = Date.now() * 1000;

/**
 * Epoch µs: the wall clock with sub-ms digits from the high-resolution clock. Re-anchored to the
 * wall clock when the two drift apart by more than 50 ms (NTP steps, long uptimes).
 */
export function currentEpochMicros(): number {
  const us = wallBaseUs + Number((process.hrtime.bigint() - hrBase) / 1000n);
  const wall = Date.now() * 1000;
  if (us - wall > 50_000 || wall - us > 50_000) {
    hrBase = process.hrtime.bigint();
    wallBaseUs = wall;
    return wall;
  }
  return us;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}
function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}
function pad4(n: number): string {
  return n.toString().padStart(4, '0');
}
