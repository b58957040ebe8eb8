/**
 * Monotonic ULIDs (https://github.com/ulid/spec): 48-bit ms time + 80 random bits, Crockford
 * base32, 26 chars. Within one ms (or when the clock steps back) the random part of the previous
 * id is incremented, as the spec's monotonic mode does, so ids made by one process sort in the
 * order they were made.
 *
 * Random bytes come from a pooled `crypto.randomFillSync` buffer: one syscall per 256 fresh
 * random parts, and a fresh part is only drawn when the ms changes.
 */
import { randomFillSync } from 'node:crypto';

/** Crockford's base32: no I, L, O, U. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const DIGITS: string[] = Array.from(ALPHABET);
const TIME_MAX = 2 ** 48 - 1;
const RANDOM_LEN = 16; // 80 bits = 16 × 5

const pool = Buffer.allocUnsafe(4096);
let poolPos = pool.length;

/** The random part as 16 base32 digits (0–31). */
const random = new Uint8Array(RANDOM_LEN);
let lastMs = -1;
/** Time chars followed by the first 15 random chars: only the last char changes on most calls. */
let prefix = '';

function freshRandom(): void {
  if (poolPos + RANDOM_LEN > pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  for (let i = 0; i < RANDOM_LEN; i++) random[i] = pool[poolPos + i]! & 31;
  poolPos += RANDOM_LEN;
}

function encodeTime(ms: number): string {
  let s = '';
  for (let i = 0; i < 10; i++) {
    const mod = ms % 32;
    s = DIGITS[mod]! + s;
    ms = (ms - mod) / 32;
  }
  return s;
}

function rebuildPrefix(): void {
  let s = encodeTime(lastMs);
  for (let i = 0; i < RANDOM_LEN - 1; i++) s += DIGITS[random[i]!]!;
  prefix = s;
}

/**
 * A new ULID. `nowMs` defaults to `Date.now()`. Never throws: a time outside 0…2^48−1 is clamped,
 * and if the 80-bit random part ever overflows within one ms (2^80 ids), the time part is
 * advanced by 1 ms rather than failing as the spec's reference does.
 *
 * @example ulid() // '01HZXYZ3J6Q8…' (26 chars)
 */
export function ulid(nowMs: number = Date.now()): string {
  let ms = Math.floor(nowMs);
  if (!(ms >= 0)) ms = 0; // also NaN
  else if (ms > TIME_MAX) ms = TIME_MAX;
  if (ms > lastMs) {
    lastMs = ms;
    freshRandom();
    rebuildPrefix();
    return prefix + DIGITS[random[RANDOM_LEN - 1]!]!;
  }
  // Same ms (or the clock stepped back): increment the previous random part.
  let i = RANDOM_LEN - 1;
  while (i >= 0 && random[i] === 31) random[i--] = 0;
  if (i < 0) {
    // 2^80 ids in one ms: move to the next ms with a fresh random part.
    lastMs = Math.min(lastMs + 1, TIME_MAX);
    freshRandom();
  } else {
    random[i] = random[i]! + 1;
    if (i === RANDOM_LEN - 1) return prefix + DIGITS[random[i]!]!;
  }
  rebuildPrefix();
  return prefix + DIGITS[random[RANDOM_LEN - 1]!]!;
}

/** The ms time of a ULID (its first 10 chars), or null when they are not Crockford base32. */
export function ulidTime(id: string): number | null {
  if (id.length !== 26) return null;
  let ms = 0;
  for (let i = 0; i < 10; i++) {
    const v = ALPHABET.indexOf(id[i]!.toUpperCase());
    if (v < 0) return null;
    ms = ms * 32 + v;
  }
  return ms <= TIME_MAX ? ms : null;
}
