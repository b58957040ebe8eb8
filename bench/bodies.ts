/**
 * Realistic `application/logplex-1` bodies for the benchmarks: a mix of Heroku router lines,
 * runtime-metric samples, app lines (logfmt, prose, JSON, Rails-style), dyno state lines and
 * api lines, modelled on `protocol/vectors/heroku-lines.txt` and `message-bodies.txt`.
 *
 * Every line gets its own timestamp (µs, advancing), request id, path, timings…, so no two lines
 * of a body are equal and nothing downstream is trivially cached. Frames are octet-counted the
 * way Logplex does it: `LEN SP MSG LF` with LEN = Buffer.byteLength(MSG + LF).
 *
 * Deterministic (seeded PRNG): the same seed gives the same bytes in every run.
 */

/** mulberry32: a tiny seeded PRNG, enough to vary fields reproducibly. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;

const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const hex = (r: Rand, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(r() * 16)];
  return s;
};
const uuid = (r: Rand): string => `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-${pick(r, ['8', '9', 'a', 'b'])}${hex(r, 3)}-${hex(r, 12)}`;
const ip = (r: Rand): string => `${int(r, 1, 223)}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}`;

const PATHS = ['/', '/cart_link', '/users', '/api/v1/orders', '/products/42', '/assets/app.css', '/login', '/search?q=boots'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const STATUSES = [200, 200, 200, 200, 201, 204, 301, 304, 404, 500];
const APP_MSGS = [
  'Completed 200 OK in 12ms (Views: 3.2ms | ActiveRecord: 1.1ms)',
  'Processing by OrdersController#create as JSON',
  'Connection pool reaped 1 idle connection',
  '[ERROR] payment gateway timeout after 30000ms',
  'WARN: retrying job 8812 (attempt 2 of 5)',
  'Error R14 (Memory quota exceeded)',
  'Process running mem=1028MB(103.3%)',
];

/** The syslog header up to and including the SP before MSG (drain mode: no STRUCTURED-DATA). */
function header(pri: number, ts: string, app: string, proc: string): string {
  return `<${pri}>1 ${ts} host ${app} ${proc} - `;
}

/** One random Heroku line (the MSG of a frame, without LF), drawn from a realistic mix. */
function line(r: Rand, ts: string, dynoId: string): string {
  const x = r();
  const dyno = `web.${int(r, 1, 4)}`;
  if (x < 0.4) {
    // Router: ~40% of a busy web app's drain.
    const status = pick(r, STATUSES);
    const err = status === 500 && r() < 0.5;
    return (
      header(158, ts, 'heroku', 'router') +
      (err ? 'at=error code=H12 desc="Request timeout" ' : 'at=info ') +
      `method=${pick(r, METHODS)} path="${pick(r, PATHS)}" host=myapp.herokuapp.com request_id=${uuid(r)} ` +
      `fwd="${ip(r)}" dyno=${dyno} connect=${int(r, 0, 3)}ms service=${int(r, 1, 3000)}ms status=${status} ` +
      `bytes=${int(r, 0, 90000)} protocol=https`
    );
  }
  if (x < 0.5) {
    // Runtime metrics (log-runtime-metrics): load and memory samples.
    const src = `source=${dyno} dyno=heroku.${dynoId}`;
    return r() < 0.5
      ? header(45, ts, 'heroku', dyno) +
          `${src} sample#load_avg_1m=${(r() * 2).toFixed(2)} sample#load_avg_5m=${(r() * 2).toFixed(2)} sample#load_avg_15m=${(r() * 2).toFixed(2)}`
      : header(45, ts, 'heroku', dyno) +
          `${src} sample#memory_total=${(r() * 512).toFixed(2)}MB sample#memory_rss=${(r() * 512).toFixed(2)}MB ` +
          `sample#memory_cache=${(r() * 8).toFixed(2)}MB sample#memory_swap=0.00MB sample#memory_pgpgin=${int(r, 1e5, 9e5)}pages ` +
          `sample#memory_pgpgout=${int(r, 1e5, 9e5)}pages sample#memory_quota=512.00MB`;
  }
  if (x < 0.9) {
    // The app's own output: logfmt with l2met measures, prose, JSON, Rails-ish lines.
    const y = r();
    const h = header(190, ts, 'app', dyno);
    if (y < 0.4) {
      return (
        h +
        `level=${pick(r, ['info', 'info', 'debug', 'warn', 'error'])} msg="order ${int(r, 1, 99999)} placed" ` +
        `request_id=${uuid(r)} user_id=${int(r, 1, 1e6)} measure#db.query=${int(r, 1, 400)}ms count#orders.placed=1`
      );
    }
    if (y < 0.55) {
      return (
        h +
        `{"level":"${pick(r, ['info', 'warn', 'error'])}","message":"cache miss for user ${int(r, 1, 1e6)}",` +
        `"request_id":"${uuid(r)}","duration_ms":${int(r, 1, 900)}}`
      );
    }
    if (y < 0.7) {
      return h + `Started ${pick(r, METHODS)} "${pick(r, PATHS)}" for ${ip(r)} at ${ts.slice(0, 19).replace('T', ' ')} +0000`;
    }
    return h + pick(r, APP_MSGS);
  }
  if (x < 0.97) {
    // Dyno manager lines.
    return header(45, ts, 'heroku', dyno) + pick(r, ['State changed from starting to up', 'Stopping all processes with SIGTERM', 'Process exited with status 0', `Starting process with command \`bundle exec puma -p ${int(r, 10000, 60000)}\``]);
  }
  // Platform api lines.
  return header(134, ts, 'app', 'api') + pick(r, [`Release v${int(r, 100, 999)} created by user foo@bar.com`, `Deploy ${hex(r, 7)} by user someuser@gmail.com`, 'Scaled to web@3:Performance-L worker@5:Standard-2X by user someuser@gmail.com']);
}

/** `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` for epoch µs, the form Heroku sends. */
function herokuTimestamp(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 23)}${String(us % 1000).padStart(3, '0')}+00:00`;
}

/** Frames one MSG as Logplex does: LEN counts the bytes of MSG and its trailing LF. */
export function frame(msg: string): string {
  const withLf = `${msg}\n`;
  return `${Buffer.byteLength(withLf)} ${withLf}`;
}

/** A body and what it holds. */
export interface Body {
  bytes: Buffer;
  lines: number;
}

/** Options of {@link buildBodies}. */
export interface BodyOptions {
  /** How many distinct bodies. */
  count: number;
  /** Lines per body (exact), or… */
  lines?: number;
  /** …bytes per body (lines are added until the body reaches this size). */
  targetBytes?: number;
  seed: number;
}

/** Distinct bodies of realistic Heroku lines, timestamps advancing across bodies. */
export function buildBodies(opts: BodyOptions): Body[] {
  const r = createRandom(opts.seed);
  let us = Date.UTC(2025, 0, 15, 14, 22, 0) * 1000 + opts.seed * 1_000_000;
  const dynoId = `${int(r, 1e7, 9e7)}.${uuid(r)}`;
  const out: Body[] = [];
  for (let b = 0; b < opts.count; b++) {
    const parts: string[] = [];
    let bytes = 0;
    while (opts.lines !== undefined ? parts.length < opts.lines : bytes < (opts.targetBytes ?? 0)) {
      us += int(r, 1, 5000);
      const f = frame(line(r, herokuTimestamp(us), dynoId));
      parts.push(f);
      bytes += Buffer.byteLength(f);
    }
    out.push({ bytes: Buffer.from(parts.join(''), 'utf8'), lines: parts.length });
  }
  return out;
}

/**
 * A 100-line body whose first frame's MSG holds line feeds (a stack trace), for the correctness
 * check: an LF splitter reads it as more lines than there are frames.
 */
export function buildMultilineBody(seed: number): Body {
  const [base] = buildBodies({ count: 1, lines: 99, seed });
  const trace = frame(
    '<190>1 2025-01-15T14:22:00.123456+00:00 host app web.1 - level=error msg="boom" error="Traceback (most recent call last):\n  File \\"app.py\\", line 1\nZeroDivisionError: division by zero"',
  );
  return { bytes: Buffer.concat([Buffer.from(trace), base!.bytes]), lines: 100 };
}
