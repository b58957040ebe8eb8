/**
 * Log-derived metrics: the l2met conventions (docs/logplex-facts.md §5), the implicit
 * measures of Heroku router lines, and the dropped counts of Logplex's L10/L11 lines
 * (`logplex.l10.dropped`, `logplex.l11.dropped`; see protocol/README.md).
 *
 * Where l2met is wrong we do better, as the facts file asks: signs and exponents parse
 * (`-3`, `1e3`, `2.5E-2`), and a value that is not a number is kept (value null, `raw` set) and
 * reported so the caller can flag the entry `invalid_metric`, instead of vanishing.
 */
import type { Metric } from './entry.js';
import {
  classifyKey,
  createLogfmtTokens,
  isL2metClass,
  KEY_AT,
  KEY_BYTES,
  KEY_CONNECT,
  KEY_COUNT,
  KEY_MEASURE,
  KEY_MEASURE_LEGACY,
  KEY_METHOD,
  KEY_PATH,
  KEY_SAMPLE,
  KEY_SERVICE,
  KEY_SOURCE,
  KEY_STATUS,
  L2MET_PREFIX_LENGTH,
  LOGFMT_BARE,
  scanLogfmt,
  type LogfmtTokens,
} from './logfmt.js';

const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_DOT = 0x2e;
const CH_PLUS = 0x2b;
const CH_MINUS = 0x2d;
const CH_PERCENT = 0x25;
const CH_MICRO = 0xb5;
const CH_SPACE = 0x20;

/** Metric kind by key class (index 0, KEY_OTHER, is never used). */
const KIND: Metric['kind'][] = ['measure', 'count', 'sample', 'measure', 'measure'];
const L2MET_MASK = (1 << KEY_COUNT) | (1 << KEY_SAMPLE) | (1 << KEY_MEASURE) | (1 << KEY_MEASURE_LEGACY);
const ROUTER_MASK = (1 << KEY_METHOD) | (1 << KEY_PATH) | (1 << KEY_STATUS);

/** True when a scan holds an l2met key (pair, empty value or bare key alike). */
export function hasL2metKeys(t: LogfmtTokens): boolean {
  return (t.mask & L2MET_MASK) !== 0;
}

/**
 * Cheap gate before a logfmt scan, for messages without a `=`: could `s` hold an l2met key?
 * True when some `#` follows `count`, `sample` or `measure`, or `s` holds `measure.`. A gate
 * only (`discount#5` passes; the scan decides): false means no l2met key can be found.
 *
 * Needed because a bare key is an l2met metric (an empty value counts as 1): `measure#a` alone,
 * or `Finished job count#jobs.done` in prose, has no `=` yet is a metric.
 */
export function mayHoldL2metKey(s: string): boolean {
  for (let p = s.indexOf('#'); p !== -1; p = s.indexOf('#', p + 1)) {
    if (s.startsWith('count', p - 5) || s.startsWith('sample', p - 6) || s.startsWith('measure', p - 7)) return true;
  }
  return s.indexOf('measure.') !== -1;
}

/**
 * True when `key` is an l2met metric key (`count#`, `sample#`, `measure#`, legacy `measure.`).
 * The normaliser leaves such keys out of the entry's context: the metric holds them exactly.
 */
export function isMetricKey(key: string): boolean {
  return isL2metClass(classifyKey(key));
}

// Results of scanNumber, in module state so the hot path allocates nothing to return two values.
let scannedValue = 0;
let scannedUnitStart = 0;

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * Reads `[+-]digits[.digits][(e|E)[+-]digits]` then a unit of ASCII letters, `%` or `µ`, and
 * nothing else. An `e` not followed by a digit starts the unit (`5events`). Sets scannedValue and
 * scannedUnitStart; false when `s` is not that shape or the number is not finite.
 */
function scanNumber(s: string): boolean {
  const n = s.length;
  let i = 0;
  let c = s.charCodeAt(0);
  let negative = false;
  if (c === CH_MINUS || c === CH_PLUS) {
    negative = c === CH_MINUS;
    i++;
  }
  let digits = 0;
  let fraction = 0;
  let mantissa = 0; // all digits, the point ignored
  while (i < n) {
    c = s.charCodeAt(i);
    if (c < CH_0 || c > CH_9) break;
    mantissa = mantissa * 10 + (c - CH_0);
    digits++;
    i++;
  }
  if (i < n && s.charCodeAt(i) === CH_DOT) {
    i++;
    while (i < n) {
      c = s.charCodeAt(i);
      if (c < CH_0 || c > CH_9) break;
      mantissa = mantissa * 10 + (c - CH_0);
      digits++;
      fraction++;
      i++;
    }
  }
  if (digits === 0) return false;
  let exponent = false;
  if (i < n && (s.charCodeAt(i) | 0x20) === 0x65 /* e|E */) {
    let j = i + 1;
    c = s.charCodeAt(j);
    if (c === CH_PLUS || c === CH_MINUS) c = s.charCodeAt(++j);
    if (c >= CH_0 && c <= CH_9) {
      exponent = true;
      while (j < n && (c = s.charCodeAt(j)) >= CH_0 && c <= CH_9) j++;
      i = j;
    }
  }
  const numEnd = i;
  while (i < n) {
    c = s.charCodeAt(i);
    const lower = c | 0x20;
    if ((lower >= 0x61 && lower <= 0x7a) || c === CH_PERCENT || c === CH_MICRO) i++;
    else return false;
  }
  let value: number;
  if (!exponent && digits <= 15) {
    // Clinger's fast path: both operands are exact doubles, so the one correctly rounded
    // division gives exactly what Number() would, without slicing a string.
    value = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
    if (negative) value = -value;
  } else {
    value = Number(s.slice(0, numEnd));
  }
  if (!Number.isFinite(value)) return false;
  scannedValue = value;
  scannedUnitStart = numEnd;
  return true;
}

/** A metric value split into number and unit. */
export interface MetricValue {
  value: number;
  unit?: string;
}

/**
 * Parses an l2met value: number with sign and exponent, then an optional unit of ASCII letters,
 * `%` or `µ`.
 * Returns null when the value is not of that shape. The empty string is not handled here
 * (l2met reads it as 1; see {@link extractMetrics}).
 *
 * @example parseMetricValue('21.00MB') // { value: 21, unit: 'MB' }
 * @example parseMetricValue('-2.5E-2') // { value: -0.025 }
 * @example parseMetricValue('fast')    // null
 */
export function parseMetricValue(raw: string): MetricValue | null {
  if (!scanNumber(raw)) return null;
  return scannedUnitStart < raw.length
    ? { value: scannedValue, unit: raw.slice(scannedUnitStart) }
    : { value: scannedValue };
}

function makeMetric(kind: Metric['kind'], name: string, raw: string, source: string | undefined): Metric {
  let m: Metric;
  if (raw.length === 0) {
    m = { kind, name, value: 1 }; // l2met: an empty value counts as 1
  } else if (scanNumber(raw)) {
    m =
      scannedUnitStart < raw.length
        ? { kind, name, value: scannedValue, unit: unitOf(raw, scannedUnitStart) }
        : { kind, name, value: scannedValue };
  } else {
    m = { kind, name, value: null };
    if (source !== undefined) m.source = source;
    m.raw = raw;
    return m;
  }
  if (source !== undefined) m.source = source;
  return m;
}

/** What {@link extractMetrics} found. Reused between calls: copy out what you keep. */
export interface MetricsResult {
  /** The metrics in line order, or undefined when there were none. */
  metrics: Metric[] | undefined;
  /** The HTTP status of a router line. */
  status: number | undefined;
  /** True when some l2met value was not a number (flag the entry `invalid_metric`). */
  invalid: boolean;
}

/** A new result holder for {@link extractMetrics}. */
export function createMetricsResult(): MetricsResult {
  return { metrics: undefined, status: undefined, invalid: false };
}

/** Index of the first pair of class `cls`, or -1. */
function findPair(t: LogfmtTokens, cls: number): number {
  if ((t.mask & (1 << cls)) === 0) return -1;
  for (let k = 0; k < t.length; k++) {
    if (t.classes[k] === cls && t.kinds[k] !== LOGFMT_BARE) return k;
  }
  return -1;
}

/**
 * Is this a Heroku router line? Yes when PROCID is `router`, or when the line starts with
 * `at=info|error|warning` and has `method=`, `path=` and `status=` (so a router line relayed
 * without its syslog header, or stored as a bare message, is still read as one; all three keys
 * are required so an app's own `at=info status=ok` is not mistaken for one).
 */
export function isRouterLine(t: LogfmtTokens, proc: string | null | undefined): boolean {
  if (proc === 'router') return true;
  if (t.length === 0 || !t.firstIsPair || t.classes[0] !== KEY_AT || (t.mask & ROUTER_MASK) !== ROUTER_MASK) {
    return false;
  }
  const at = t.values[0];
  if (at !== 'info' && at !== 'error' && at !== 'warning') return false;
  return findPair(t, KEY_METHOD) >= 0 && findPair(t, KEY_PATH) >= 0 && findPair(t, KEY_STATUS) >= 0;
}

// Units repeat (`ms`, `MB`, `pages`): a few recent ones are handed back instead of new slices.
const unitCache: string[] = ['ms', 'MB', 'bytes', 'pages', 's', '%', 'kB', 'GB'];
let unitNext = 0;

/** `raw.slice(start)`, from the unit cache when it holds it. */
function unitOf(raw: string, start: number): string {
  const len = raw.length - start;
  for (let k = 0; k < unitCache.length; k++) {
    const u = unitCache[k]!;
    if (u.length === len && raw.endsWith(u)) return u;
  }
  if (len > 16) return raw.slice(start);
  const u = raw.slice(start);
  unitCache[unitNext] = u;
  unitNext = (unitNext + 1) & 7;
  return u;
}

/**
 * Router value `connect=1ms` → measure `router.connect`; empty or non-numeric values give none
 * (an H10 line has `connect= service=`: no request was timed, and these are not l2met keys, so
 * nothing is flagged).
 */
function routerMeasure(name: string, raw: string, defaultUnit: string, source: string | undefined): Metric | null {
  if (raw.length === 0 || !scanNumber(raw)) return null;
  const unit = scannedUnitStart < raw.length ? unitOf(raw, scannedUnitStart) : defaultUnit;
  const m: Metric = { kind: 'measure', name, value: scannedValue, unit };
  if (source !== undefined) m.source = source;
  return m;
}

/** Reads a router `status=` value: an integer 0–999, else undefined. */
function parseStatus(raw: string): number | undefined {
  const n = raw.length;
  if (n === 0 || n > 3) return undefined;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c < CH_0 || c > CH_9) return undefined;
    v = v * 10 + (c - CH_0);
  }
  return v;
}

/** Metric names by their (interned) logfmt key: see {@link metricName}. */
const nameCache = new Map<string, string>();
const NAME_CACHE_MAX = 4096;

/**
 * The metric name of an l2met key (`sample#memory_rss` → `memory_rss`): one string per key,
 * reused line after line, rather than a fresh slice per line. The keys come interned from the
 * logfmt scanner, so the lookup hashes nothing; and a reused name keeps its hash, so the metrics
 * stage's lookups by name (a map per app) do not hash it again for every line.
 */
function metricName(key: string, prefix: number): string {
  let name = nameCache.get(key);
  if (name === undefined) {
    name = key.slice(prefix);
    if (nameCache.size >= NAME_CACHE_MAX) nameCache.clear();
    nameCache.set(key, name);
  }
  return name;
}

/**
 * Pulls metrics out of a scanned logfmt line into `out` (overwritten) and returns it.
 *
 * - l2met keys anywhere in the line (also inside prose): `count#`, `sample#`, `measure#`,
 *   legacy `measure.`. A key with an empty name (`count#=1`) is skipped. A bare key
 *   (`count#hit`) is an empty value, so 1.
 * - The line's first `source=` (when not empty) is attached to every metric.
 * - When `router` is true (see {@link isRouterLine}): `connect`/`service` → measures
 *   `router.connect`/`router.service` (unit `ms` unless one is written), `bytes` → measure
 *   `router.bytes` (unit `bytes`), and `status` → `out.status`.
 */
export function extractMetrics(t: LogfmtTokens, router: boolean, out: MetricsResult): MetricsResult {
  out.metrics = undefined;
  out.status = undefined;
  out.invalid = false;
  if (!router && (t.mask & L2MET_MASK) === 0) return out;
  let metrics: Metric[] | undefined;
  let status: number | undefined;
  let invalid = false;
  const s = findPair(t, KEY_SOURCE);
  const source = s >= 0 && t.values[s] !== '' ? t.values[s] : undefined;
  const n = t.length;
  for (let k = 0; k < n; k++) {
    const cls = t.classes[k]!;
    let m: Metric | null = null;
    if (isL2metClass(cls)) {
      const key = t.keys[k]!;
      const prefix = L2MET_PREFIX_LENGTH[cls]!;
      if (key.length === prefix) continue;
      m = makeMetric(KIND[cls]!, metricName(key, prefix), t.values[k]!, source);
      if (m.value === null) invalid = true;
    } else if (router && t.kinds[k] !== LOGFMT_BARE) {
      switch (cls) {
        case KEY_CONNECT:
          m = routerMeasure('router.connect', t.values[k]!, 'ms', source);
          break;
        case KEY_SERVICE:
          m = routerMeasure('router.service', t.values[k]!, 'ms', source);
          break;
        case KEY_BYTES:
          m = routerMeasure('router.bytes', t.values[k]!, 'bytes', source);
          break;
        case KEY_STATUS:
          if (status === undefined) status = parseStatus(t.values[k]!);
          break;
      }
    }
    if (m !== null) (metrics ??= []).push(m);
  }
  out.metrics = metrics;
  out.status = status;
  out.invalid = invalid;
  return out;
}

/** Metric name of the dropped count of Logplex's `Error L10` (drain buffer overflow) lines. */
export const LOGPLEX_L10_DROPPED = 'logplex.l10.dropped';
/** Metric name of the dropped count of Logplex's `Error L11` (tail buffer overflow) lines. */
export const LOGPLEX_L11_DROPPED = 'logplex.l11.dropped';

/**
 * Cheap test for the start of a Logplex drop line (`Error L10 `, `Error L11 `): one char
 * compare for nearly every message. Call {@link logplexDropMetric} only when it is true.
 */
export function mayBeLogplexDropLine(message: string): boolean {
  return message.charCodeAt(0) === 0x45 /* E */ && message.startsWith('Error L1');
}

/**
 * The dropped count of a Logplex overflow line as a metric, as l2met makes one, or null:
 * - `Error L10 (output buffer overflow): 5 messages dropped since 2024-06-01T12:00:00+00:00.`
 * - `Error L10 (output buffer overflow): drain 'd.5f2c…' dropped 12 messages`
 * - `Error L11 (Tail buffer overflow) -> This tail session dropped 3 messages since TS.`
 *
 * → `{ kind: 'count', name: 'logplex.l10.dropped' | 'logplex.l11.dropped', value: N, unit: 'messages' }`.
 * Whatever the line's APP-NAME and PROCID (Logplex sends `heroku logplex`; relays differ). The
 * count is the integer next to `dropped`: `N message(s) dropped` or `dropped N message(s)`.
 */
export function logplexDropMetric(message: string): Metric | null {
  if (!mayBeLogplexDropLine(message) || message.charCodeAt(9) !== CH_SPACE) return null;
  const code = message.charCodeAt(8);
  const name = code === 0x30 ? LOGPLEX_L10_DROPPED : code === 0x31 ? LOGPLEX_L11_DROPPED : null;
  if (name === null) return null;
  const d = message.indexOf(' dropped', 10);
  if (d < 0) return null;
  let value = -1;
  // `dropped N message(s)`
  let i = d + 8;
  if (message.charCodeAt(i) === CH_SPACE) {
    const start = ++i;
    while (i < message.length && isDigit(message.charCodeAt(i))) i++;
    if (i > start && i - start <= 15 && message.startsWith(' message', i)) value = Number(message.slice(start, i));
  }
  // `N message(s) dropped`
  if (value < 0) {
    const end = message.endsWith(' messages', d) ? d - 9 : message.endsWith(' message', d) ? d - 8 : -1;
    if (end < 0) return null;
    let start = end;
    while (start > 10 && isDigit(message.charCodeAt(start - 1))) start--;
    if (start === end || end - start > 15 || message.charCodeAt(start - 1) !== CH_SPACE) return null;
    value = Number(message.slice(start, end));
  }
  return { kind: 'count', name, value, unit: 'messages' };
}

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

const scratchTokens = createLogfmtTokens();

/**
 * Metrics of a message (allocating convenience over {@link extractMetrics}, plus the dropped
 * count of a Logplex L10/L11 line, {@link logplexDropMetric}), as the normalisers find them.
 * `proc` is the syslog PROCID, used to recognise router lines.
 *
 * @example
 * metricsFromMessage('count#signups=1 measure#signup-controller=50ms').metrics
 * // [{kind:'count',name:'signups',value:1},{kind:'measure',name:'signup-controller',value:50,unit:'ms'}]
 */
export function metricsFromMessage(message: string, proc?: string | null): MetricsResult {
  const t = scanLogfmt(message, scratchTokens);
  const out = extractMetrics(t, isRouterLine(t, proc), createMetricsResult());
  const dropped = logplexDropMetric(message);
  if (dropped !== null) (out.metrics ??= []).push(dropped);
  return out;
}
