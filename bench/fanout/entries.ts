/**
 * What the fan-out benchmark sends: the entries of the bench bodies (bodies.ts) as the gateway
 * stores and relays them, and the same bodies with a send-time stamp in every line for the
 * latency case.
 *
 * The stamp is `bench_t=<16 digits>` (µs since the epoch, `performance.timeOrigin +
 * performance.now()`), appended to the MSG of logfmt/prose lines and put first in the object of
 * JSON lines (so they stay JSON). It is written into a copy of a template body at send time, at
 * offsets known in advance, so the frame lengths never change.
 */
import { nowMicros } from '../../src/decode/timestamp.js';
import { decodeLogplexBody } from '../../src/ingest/logplex-body.js';
import { syslogToEntry } from '../../src/normalize/from-syslog.js';
import { buildBodies, frame, type Body } from '../bodies.js';

/**
 * Which lines the bodies hold:
 * - `app`: the lines of the bench mix without the router lines and runtime-metric samples (app
 *   output: logfmt with l2met, JSON, Rails-style and prose lines; dyno state and api lines), whose
 *   gateway entries are 380–800 B of JSON (mean ~540 B);
 * - `heroku`: the full mix of the HTTP benchmark (40 % router lines, 10 % metric samples), whose
 *   entries are 380–1300 B (mean ~821 B: a router line becomes a ~1.1 kB entry, its logfmt
 *   pairs repeated in `context` and `metrics`).
 */
export type Mix = 'app' | 'heroku';

/** 100-line bodies of the fan-out benchmark (seed 1, as the HTTP benchmark's). */
export function fanoutBodies(mix: Mix = 'app'): Body[] {
  if (mix === 'heroku') return buildBodies({ count: 64, lines: 100, seed: 1 });
  const msgs = buildBodies({ count: 128, lines: 100, seed: 1 })
    .flatMap((b) => framesOf(b.bytes))
    .filter((m) => !m.includes(' heroku router - ') && !m.includes('sample#'));
  const out: Body[] = [];
  for (let i = 0; i + 100 <= msgs.length; i += 100) out.push({ bytes: Buffer.from(msgs.slice(i, i + 100).map(frame).join(''), 'utf8'), lines: 100 });
  return out;
}

/** The entry JSONs (`JSON.stringify(entry)` as the hub makes them) of the lines of `bodies`. */
export function entryJsons(bodies: readonly Body[]): string[] {
  const out: string[] = [];
  for (const b of bodies) {
    const decoded = decodeLogplexBody(b.bytes, { mode: 'drain', maxFrameBytes: 10240, receivedAt: new Date() });
    const receivedAt = nowMicros();
    for (const r of decoded.records) {
      out.push(
        JSON.stringify(
          syslogToEntry(r, {
            appId: 'bench',
            receivedAt,
            frameId: '0a1b2c3d-12345',
            drainToken: 'd.4a5ea1a2-8d3c-4b3b-9d4e-2f1e4a1b2c3d',
            userAgent: 'Logplex/v123',
          }),
        ),
      );
    }
  }
  return out;
}

/** The key of the send-time stamp in a line. */
export const STAMP_KEY = 'bench_t';
/** Its placeholder value: 16 digits (µs since the epoch have 16 digits until 2286). */
export const STAMP_PLACEHOLDER = '0000000000000000';

/** A body whose lines carry the stamp placeholder, and where the placeholders are. */
export interface StampedTemplate {
  bytes: Buffer;
  lines: number;
  offsets: number[];
}

/** µs since the epoch on the clock every benchmark process shares (wall clock, sub-ms). */
export function epochMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Splits a Logplex body into the MSGs of its frames (`LEN SP MSG LF`). */
function framesOf(body: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < body.length) {
    const sp = body.indexOf(0x20, at);
    const len = Number(body.toString('latin1', at, sp));
    out.push(body.toString('utf8', sp + 1, sp + 1 + len - 1)); // without the LF
    at = sp + 1 + len;
  }
  return out;
}

/** Puts the stamp placeholder into one MSG (drain mode: the message follows 6 header fields). */
function stampLine(msg: string): string {
  let at = -1;
  for (let i = 0; i < 6; i++) at = msg.indexOf(' ', at + 1);
  const head = msg.slice(0, at + 1);
  const text = msg.slice(at + 1);
  return text.startsWith('{')
    ? `${head}{"${STAMP_KEY}":"${STAMP_PLACEHOLDER}",${text.slice(1)}`
    : `${head}${text} ${STAMP_KEY}=${STAMP_PLACEHOLDER}`;
}

/** The bodies again, each line carrying a stamp placeholder. */
export function stampedTemplates(bodies: readonly Body[]): StampedTemplate[] {
  return bodies.map((b) => {
    const msgs = framesOf(b.bytes).map(stampLine);
    const bytes = Buffer.from(msgs.map(frame).join(''), 'utf8');
    const offsets: number[] = [];
    const needle = Buffer.from(STAMP_PLACEHOLDER);
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + needle.length)) offsets.push(at);
    if (offsets.length !== b.lines) throw new Error(`stamped template: ${offsets.length} stamps for ${b.lines} lines`);
    return { bytes, lines: b.lines, offsets };
  });
}

/** A copy of `t` with every placeholder replaced by `us` (16 digits). */
export function stamp(t: StampedTemplate, us: number): Buffer {
  const out = Buffer.from(t.bytes);
  const digits = String(us).padStart(16, '0');
  for (const o of t.offsets) out.write(digits, o, 'latin1');
  return out;
}
