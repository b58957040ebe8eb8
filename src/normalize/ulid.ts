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

/** Crockford digit value by char code (upper and lower case), -1 elsewhere. */
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) {
  VALUE[ALPHABET.charCodeAt(i)] = i;
  VALUE[ALPHABET.toLowerCase().charCodeAt(i)] = i;
}

/**
 * Reserves `n` consecutive ULIDs and returns the first; the k-th is {@link ulidAt}`(first, k)`.
 * Every id made afterwards by {@link ulid} or `ulidRun` sorts after all `n`.
 *
 * A request's entries get one run, so a store can keep the first id and rebuild the others
 * (the Redis store keeps a drain request's frames, not its entries: see store/block.ts).
 *
 * @example
 * const first = ulidRun(100); // ids first … ulidAt(first, 99)
 */
export function ulidRun(n: number, nowMs: number = Date.now()): string {
  const first = ulid(nowMs);
  if (n <= 1) return first;
  if (!addToRandom(n - 1)) {
    // The 80-bit random part has no room for the run (about 1 chance in 2^73 for 100 ids):
    // move to the next ms, as `ulid` does on overflow, with room guaranteed (top digit 0).
    lastMs = Math.min(lastMs + 1, TIME_MAX);
    freshRandom();
    random[0] = 0;
    rebuildPrefix();
    const start = prefix + DIGITS[random[RANDOM_LEN - 1]!]!;
    addToRandom(n - 1);
    rebuildPrefix();
    return start;
  }
  rebuildPrefix();
  return first;
}

/** Adds `k` to the current random part; false (and unchanged) when it would overflow 80 bits. */
function addToRandom(k: number): boolean {
  const sum = new Uint8Array(RANDOM_LEN);
  let carry = k;
  for (let i = RANDOM_LEN - 1; i >= 0; i--) {
    const v = random[i]! + carry;
    sum[i] = v % 32;
    carry = Math.floor(v / 32);
  }
  if (carry > 0) return false;
  random.set(sum);
  return true;
}

/**
 * The id `k` places after `first` (base-32 addition on the random part), for ids reserved with
 * {@link ulidRun}. `ulidAt(first, 0) === first`.
 */
export function ulidAt(first: string, k: number): string {
  if (k === 0) return first;
  let carry = k;
  let i = first.length - 1;
  let tail = '';
  while (carry > 0 && i >= 10) {
    const v = VALUE[first.charCodeAt(i)]! + carry;
    tail = DIGITS[v & 31]! + tail;
    carry = Math.floor(v / 32);
    i--;
  }
  return first.slice(0, i + 1) + tail;
}
