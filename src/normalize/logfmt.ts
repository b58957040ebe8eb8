/**
 * logfmt: `key=value key="quoted \" value" bare_key key=`.
 *
 * The scanner writes tokens into a reusable {@link LogfmtTokens} instead of returning fresh
 * objects: on the drain hot path every router line holds ~12 pairs, and an object per pair would
 * be most of the garbage the normalise stage makes. {@link parseLogfmt} is the allocating
 * convenience form for callers that are not hot.
 *
 * Grammar, lenient on purpose (a log line is never rejected for its logfmt):
 * - Tokens are separated by whitespace: space, tab, LF, CR (so multi-line messages scan too;
 *   other control chars, such as the ESC of ANSI colours, are ordinary token chars).
 * - A key is a run of non-whitespace chars other than `=`.
 * - `key=value`: the value runs to the next whitespace and may itself hold `=` or `"`
 *   (`a=b=c` → `b=c`; `mem=1028MB(103.3%)` is kept whole).
 * - `key="..."`: `\"` and `\\` are unescaped; any other backslash sequence is kept as written
 *   (logfmt has no standard for `\n`, and keeping the chars loses nothing). Chars glued after the
 *   closing quote (`a="b"c`) are dropped up to the next whitespace.
 * - An unterminated quote (`this_is="broken`) takes the rest of the line as the value.
 * - `key=` is the empty string; `key` alone is a bare key.
 * - A token starting with `=` or `"` is prose (`= 3`, `"quoted words" here`): it is skipped and
 *   counted as a word, never stored.
 *
 * Speed (this is the drain hot path): a line without tab/LF/CR, nearly every line, is cut with
 * native `indexOf` searches, which on V8 run several times faster than a `charCodeAt` loop; other
 * lines take a char-by-char path with the same results. Keys are interned and classified once
 * (see {@link KEY_LEVEL} and friends) so later stages switch on small integers.
 */

/** Kind of a stored token: a `key=value` pair. */
export const LOGFMT_PAIR = 0;
/** A pair whose value was written in double quotes. */
export const LOGFMT_QUOTED = 1;
/** A key with no `=`; its value slot holds `''`. */
export const LOGFMT_BARE = 2;

// Key classes: the keys later stages give a meaning to, recognised once per distinct key.
/** Any other key. */
export const KEY_OTHER = 0;
/** l2met `count#name`. */
export const KEY_COUNT = 1;
/** l2met `sample#name`. */
export const KEY_SAMPLE = 2;
/** l2met `measure#name`. */
export const KEY_MEASURE = 3;
/** Legacy l2met `measure.name`. */
export const KEY_MEASURE_LEGACY = 4;
/** `source` (l2met's emitter name). */
export const KEY_SOURCE = 5;
/** `level`, `severity`, `lvl`. */
export const KEY_LEVEL = 6;
/** `at` (Heroku: `at=info|error`, or an event name). */
export const KEY_AT = 7;
/** `code` (Heroku error codes `H12`, `R14`). */
export const KEY_CODE = 8;
/** `trace_id`. */
export const KEY_TRACE_ID = 9;
/** `request_id` (the Heroku router's X-Request-ID). */
export const KEY_REQUEST_ID = 10;
/** Heroku router field `connect` (ms to connect to the dyno). */
export const KEY_CONNECT = 11;
/** Heroku router field `service` (ms the dyno took). */
export const KEY_SERVICE = 12;
/** Heroku router field `bytes`. */
export const KEY_BYTES = 13;
/** Heroku router field `status`. */
export const KEY_STATUS = 14;
/** Heroku router field `method`. */
export const KEY_METHOD = 15;
/** Heroku router field `path`. */
export const KEY_PATH = 16;
/** `__proto__`: must be set with defineProperty (see {@link setField}). */
export const KEY_PROTO = 17;

/** Length of the l2met prefix of a key of class 1–4 (index = class). */
export const L2MET_PREFIX_LENGTH: readonly number[] = [0, 6, 7, 8, 8];

/** True for the l2met classes ({@link KEY_COUNT} … {@link KEY_MEASURE_LEGACY}). */
export function isL2metClass(cls: number): boolean {
  return cls >= KEY_COUNT && cls <= KEY_MEASURE_LEGACY;
}

/** The class of a key (one of the KEY_ constants). */
export function classifyKey(key: string): number {
  switch (key) {
    case 'source':
      return KEY_SOURCE;
    case 'level':
    case 'severity':
    case 'lvl':
      return KEY_LEVEL;
    case 'at':
      return KEY_AT;
    case 'code':
      return KEY_CODE;
    case 'trace_id':
      return KEY_TRACE_ID;
    case 'request_id':
      return KEY_REQUEST_ID;
    case 'connect':
      return KEY_CONNECT;
    case 'service':
      return KEY_SERVICE;
    case 'bytes':
      return KEY_BYTES;
    case 'status':
      return KEY_STATUS;
    case 'method':
      return KEY_METHOD;
    case 'path':
      return KEY_PATH;
    case '__proto__':
      return KEY_PROTO;
  }
  const c = key.charCodeAt(0);
  if (c === 0x63 /* c */) return key.startsWith('count#') ? KEY_COUNT : KEY_OTHER;
  if (c === 0x73 /* s */) return key.startsWith('sample#') ? KEY_SAMPLE : KEY_OTHER;
  if (c === 0x6d /* m */ && key.startsWith('measure')) {
    const sep = key.charCodeAt(7);
    if (sep === 0x23 /* # */) return KEY_MEASURE;
    if (sep === 0x2e /* . */) return KEY_MEASURE_LEGACY;
  }
  return KEY_OTHER;
}

/**
 * Reusable scan result: parallel arrays indexed `0 … length-1`. Slots past `length` hold stale
 * strings from earlier lines; read only up to `length`.
 */
export interface LogfmtTokens {
  /** Number of stored tokens (pairs and bare keys). */
  length: number;
  keys: string[];
  /** The (unescaped) value; `''` for bare keys and `key=`. */
  values: string[];
  /** {@link LOGFMT_PAIR}, {@link LOGFMT_QUOTED} or {@link LOGFMT_BARE}. */
  kinds: number[];
  /** Key class of each token ({@link KEY_OTHER}, {@link KEY_LEVEL}, …). */
  classes: number[];
  /** Bit `1 << class` set for every class present: lets later stages skip whole passes. */
  mask: number;
  /** How many tokens were `key=…` pairs. */
  pairs: number;
  /** How many tokens were not pairs: bare keys plus skipped prose tokens. */
  words: number;
  /** True when the first token of the line was a `key=…` pair. */
  firstIsPair: boolean;
}

/** A new, empty token buffer. Make one per call site and reuse it (it is not re-entrant). */
export function createLogfmtTokens(): LogfmtTokens {
  return { length: 0, keys: [], values: [], kinds: [], classes: [], mask: 0, pairs: 0, words: 0, firstIsPair: false };
}

const CH_EQ = 0x3d;
const CH_QUOTE = 0x22;
const CH_BACKSLASH = 0x5c;
const CH_SPACE = 0x20;

function isWs(c: number): boolean {
  return c === CH_SPACE || c === 0x09 || c === 0x0a || c === 0x0d;
}

// Keys repeat from line to line (`at`, `method`, `sample#memory_total`): a small direct-mapped
// cache hands back the same internalized string, with its class, instead of a fresh slice.
// Bounded (a slot is overwritten on collision), so hostile keys only cost misses.
const KEY_CACHE_SIZE = 1024; // power of two
const KEY_CACHE_MAX_LENGTH = 64;
const keyCache: string[] = new Array<string>(KEY_CACHE_SIZE).fill('');
const classCache = new Uint8Array(KEY_CACHE_SIZE);
/** Class of the key last returned by {@link internKey}. */
let internedClass = KEY_OTHER;

/** `s[start, end)` (non-empty) as a string, from the key cache when it holds it; sets internedClass. */
function internKey(s: string, start: number, end: number): string {
  const len = end - start;
  if (len > KEY_CACHE_MAX_LENGTH) {
    const key = s.slice(start, end);
    internedClass = classifyKey(key);
    return key;
  }
  // O(1) hash of length and a few chars: enough to tell apart the keys of real lines
  // (`sample#load_avg_1m`/`_5m` differ in the second-last char).
  let h = len * 31 + s.charCodeAt(start);
  h = h * 31 + s.charCodeAt(end - 1);
  h = h * 31 + s.charCodeAt(start + (len >> 1));
  if (len > 1) h = h * 31 + s.charCodeAt(end - 2);
  if (len > 3) h = h * 31 + s.charCodeAt(start + 1);
  const slot = (h ^ (h >>> 10)) & (KEY_CACHE_SIZE - 1);
  const cached = keyCache[slot]!;
  // A slice and a native string compare beat a charCodeAt loop for all but the shortest keys.
  const fresh = s.slice(start, end);
  if (fresh === cached) {
    internedClass = classCache[slot]!;
    return cached;
  }
  const key = internalize(fresh);
  const cls = classifyKey(key);
  keyCache[slot] = key;
  classCache[slot] = cls;
  internedClass = cls;
  return key;
}

/** The engine's internalized copy of `s` (property names are internalized). */
function internalize(s: string): string {
  const o: Record<string, number> = {};
  o[s] = 0;
  for (const k in o) return k;
  return s;
}

/**
 * Scans `s` into `out` (overwriting what it held) and returns `out`. Never throws.
 *
 * @example
 * const t = scanLogfmt('at=info path="/a b" tls', createLogfmtTokens());
 * // t.length 3; t.keys ['at','path','tls']; t.values ['info','/a b','']; t.kinds [0,1,2]
 */
export function scanLogfmt(s: string, out: LogfmtTokens): LogfmtTokens {
  if (s.indexOf('\n') === -1 && s.indexOf('\t') === -1 && s.indexOf('\r') === -1) return scanSpaced(s, out);
  return scanCharwise(s, out);
}

/** The fast path: `s` holds no tab, LF or CR, so whitespace is only ' ' and indexOf finds it. */
function scanSpaced(s: string, out: LogfmtTokens): LogfmtTokens {
  const n = s.length;
  const keys = out.keys;
  const values = out.values;
  const kinds = out.kinds;
  const classes = out.classes;
  let count = 0;
  let pairs = 0;
  let words = 0;
  let mask = 0;
  let firstIsPair = false;
  let tokens = 0;
  // Next ' ', '=', '\' at or after i (n when none), searched again only when passed.
  let sp = -1;
  let eq = -1;
  let bs = -1;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === CH_SPACE) {
      i++;
      continue;
    }
    const isFirst = tokens === 0;
    tokens++;
    if (c === CH_EQ || c === CH_QUOTE) {
      words++;
      if (c === CH_QUOTE) i = skipQuoted(s, i + 1, n);
      if (sp < i) sp = indexOrEnd(s, ' ', i, n);
      i = sp + 1;
      continue;
    }
    if (sp < i) sp = indexOrEnd(s, ' ', i, n);
    if (eq < i) eq = indexOrEnd(s, '=', i, n);
    if (eq >= sp) {
      keys[count] = internKey(s, i, sp);
      classes[count] = internedClass;
      mask |= 1 << internedClass;
      values[count] = '';
      kinds[count] = LOGFMT_BARE;
      count++;
      words++;
      i = sp + 1;
      continue;
    }
    keys[count] = internKey(s, i, eq);
    classes[count] = internedClass;
    mask |= 1 << internedClass;
    pairs++;
    if (isFirst) firstIsPair = true;
    const v = eq + 1;
    if (v < n && s.charCodeAt(v) === CH_QUOTE) {
      let close = indexOrEnd(s, '"', v + 1, n);
      if (bs < v) bs = indexOrEnd(s, '\\', v, n);
      if (bs < close) {
        close = closingQuote(s, v + 1, n); // escapes: find the real closing quote
        values[count] = unescapeQuoted(s, v + 1, close);
      } else {
        values[count] = s.slice(v + 1, close);
      }
      kinds[count] = LOGFMT_QUOTED;
      i = close + 1;
      if (sp < i) sp = indexOrEnd(s, ' ', i, n);
    } else {
      values[count] = s.slice(v, sp);
      kinds[count] = LOGFMT_PAIR;
    }
    count++;
    i = sp + 1;
  }
  out.length = count;
  out.pairs = pairs;
  out.words = words;
  out.mask = mask;
  out.firstIsPair = firstIsPair;
  return out;
}

function indexOrEnd(s: string, ch: string, from: number, n: number): number {
  const p = s.indexOf(ch, from);
  return p < 0 ? n : p;
}

/** The general path, char by char; same results as {@link scanSpaced} on lines it can take. */
function scanCharwise(s: string, out: LogfmtTokens): LogfmtTokens {
  const n = s.length;
  const keys = out.keys;
  const values = out.values;
  const kinds = out.kinds;
  const classes = out.classes;
  let count = 0;
  let pairs = 0;
  let words = 0;
  let mask = 0;
  let firstIsPair = false;
  let tokens = 0;
  let i = 0;
  while (i < n) {
    let c = s.charCodeAt(i);
    if (isWs(c)) {
      i++;
      continue;
    }
    const isFirst = tokens === 0;
    tokens++;
    if (c === CH_EQ || c === CH_QUOTE) {
      // Prose token: step over a quoted run as a whole so `"a b"` counts as one word.
      words++;
      if (c === CH_QUOTE) i = skipQuoted(s, i + 1, n);
      while (i < n && !isWs(s.charCodeAt(i))) i++;
      continue;
    }
    const keyStart = i;
    while (i < n) {
      c = s.charCodeAt(i);
      if (c === CH_EQ || isWs(c)) break;
      i++;
    }
    keys[count] = internKey(s, keyStart, i);
    classes[count] = internedClass;
    mask |= 1 << internedClass;
    if (i >= n || c !== CH_EQ) {
      values[count] = '';
      kinds[count] = LOGFMT_BARE;
      count++;
      words++;
      continue;
    }
    i++; // '='
    pairs++;
    if (isFirst) firstIsPair = true;
    if (i < n && s.charCodeAt(i) === CH_QUOTE) {
      const valStart = i + 1;
      let j = valStart;
      let escaped = false;
      while (j < n) {
        c = s.charCodeAt(j);
        if (c === CH_QUOTE) break;
        if (c === CH_BACKSLASH) {
          escaped = true;
          j += 2;
          continue;
        }
        j++;
      }
      if (j > n) j = n; // a trailing lone backslash stepped past the end
      values[count] = escaped ? unescapeQuoted(s, valStart, j) : s.slice(valStart, j);
      kinds[count] = LOGFMT_QUOTED;
      i = j + 1;
      while (i < n && !isWs(s.charCodeAt(i))) i++;
    } else {
      const valStart = i;
      while (i < n && !isWs(s.charCodeAt(i))) i++;
      values[count] = s.slice(valStart, i);
      kinds[count] = LOGFMT_PAIR;
    }
    count++;
  }
  out.length = count;
  out.pairs = pairs;
  out.words = words;
  out.mask = mask;
  out.firstIsPair = firstIsPair;
  return out;
}

/** Index of the unescaped `"` closing a quoted run that starts at `i`, or `n` if unterminated. */
function closingQuote(s: string, i: number, n: number): number {
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === CH_QUOTE) return i;
    i += c === CH_BACKSLASH ? 2 : 1;
  }
  return n;
}

/** Index just past the closing quote of a quoted run starting at `i` (or `n` if unterminated). */
function skipQuoted(s: string, i: number, n: number): number {
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === CH_QUOTE) return i + 1;
    i += c === CH_BACKSLASH ? 2 : 1;
  }
  return n;
}

/** `s[start, end)` with `\"` → `"` and `\\` → `\`; other escapes kept verbatim. */
function unescapeQuoted(s: string, start: number, end: number): string {
  let out = '';
  let from = start;
  for (let i = start; i < end; i++) {
    if (s.charCodeAt(i) !== CH_BACKSLASH) continue;
    const next = i + 1 < end ? s.charCodeAt(i + 1) : -1;
    if (next === CH_QUOTE || next === CH_BACKSLASH) {
      out += s.slice(from, i);
      from = i + 1; // keep the escaped char, drop the backslash
      i++;
    } else if (next === -1) {
      break; // a lone trailing backslash (unterminated value): kept
    } else {
      i++; // unknown escape: both chars kept
    }
  }
  return out + s.slice(from, end);
}

/**
 * The prose rule: should bare keys of this scan go into the entry's context?
 *
 * Pairs always count (a `key=value` in the middle of prose is still data). Bare words are only
 * kept when the line reads as logfmt: its first token is a pair and bare words are at most as many
 * as pairs. So `Release v138 created by user foo@bar` gives nothing, `Process running
 * mem=1028MB(103.3%)` gives only `mem`, and `at=info tls` keeps `tls: true`.
 */
export function keepBareKeys(t: LogfmtTokens): boolean {
  return t.firstIsPair && t.words <= t.pairs;
}

/** One logfmt token, as {@link parseLogfmt} returns it. */
export interface LogfmtPair {
  key: string;
  /** The unescaped value; `true` for a bare key. */
  value: string | true;
  /** True when the value was written in double quotes. */
  quoted: boolean;
}

const scratch = createLogfmtTokens();

/**
 * Every token of `s`, pairs and bare keys alike, in order (no prose rule applied).
 * Allocates; hot paths use {@link scanLogfmt}.
 *
 * @example
 * parseLogfmt('a=1 b="x y" c')
 * // [{key:'a',value:'1',quoted:false},{key:'b',value:'x y',quoted:true},{key:'c',value:true,quoted:false}]
 */
export function parseLogfmt(s: string): LogfmtPair[] {
  const t = scanLogfmt(s, scratch);
  const out: LogfmtPair[] = new Array(t.length);
  for (let k = 0; k < t.length; k++) {
    const kind = t.kinds[k];
    out[k] = { key: t.keys[k]!, value: kind === LOGFMT_BARE ? true : t.values[k]!, quoted: kind === LOGFMT_QUOTED };
  }
  return out;
}

/** @internal The char-by-char scanner alone, so tests can check both paths agree. */
export const scanLogfmtCharwise: (s: string, out: LogfmtTokens) => LogfmtTokens = scanCharwise;

/**
 * Sets `obj[key] = value` as an own property even for `__proto__` (a plain assignment would
 * change the prototype instead and lose the field).
 */
export function setField(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}
