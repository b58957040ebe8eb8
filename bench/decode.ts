/**
 * In-process decode benchmarks (one core): Sluice's decode stages against npm `logfmt` on the
 * same bodies.
 */
import { nowMicros } from '../src/decode/timestamp.js';
import { splitFrames } from '../src/decode/octet-frames.js';
import { parseSyslogFrame } from '../src/decode/syslog.js';
import { decodeLogplexBody } from '../src/ingest/logplex-body.js';
import type { Entry } from '../src/normalize/entry.js';
import { syslogToEntry } from '../src/normalize/from-syslog.js';
import { createMemoryStore } from '../src/store/memory.js';
import type { Body } from './bodies.js';
import { measure, type Rate, type RunOptions } from './measure.js';
import { bodyParser, splitRegex, splitRegexLogfmt } from './peers/logfmt.js';

const MAX_FRAME = 10240;

/** Framing alone: octet counting (RFC 6587 §3.4.1). */
export function framingOnly(body: Buffer): number {
  return splitFrames(body, { maxFrameBytes: MAX_FRAME }).frames.length;
}

/** Framing + RFC 5424 header + µs timestamp (and MSG decoded to a string): records. */
export function framingHeader(body: Buffer): number {
  const receivedAt = new Date();
  const { frames } = splitFrames(body, { maxFrameBytes: MAX_FRAME });
  let n = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    if (parseSyslogFrame(body, f.msgStart, f.msgEnd, 'drain', receivedAt).ok) n++;
  }
  return n;
}

let frameSeq = 0;

/** decodeLogplexBody, then syslogToEntry for every record, as `POST /drain` does. */
function normalise(body: Buffer, frameId: string): Entry[] {
  const decoded = decodeLogplexBody(body, { mode: 'drain', maxFrameBytes: MAX_FRAME, receivedAt: new Date() });
  const receivedAt = nowMicros();
  const records = decoded.records;
  const entries: Entry[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    entries[i] = syslogToEntry(records[i]!, {
      appId: 'bench',
      receivedAt,
      frameId,
      drainToken: 'd.4a5ea1a2-8d3c-4b3b-9d4e-2f1e4a1b2c3d',
      userAgent: 'Logplex/v123',
    });
  }
  return entries;
}

/**
 * Everything `POST /drain` does to a body between reading it and storing it: decodeLogplexBody,
 * then syslogToEntry (logfmt, l2met metrics, level inference, ULID) for every record.
 */
export function fullNormalisation(body: Buffer): number {
  return normalise(body, `bench-${++frameSeq}`).length;
}

// Defaults of the gateway: 1500 entries per app, 100 000 dedupe keys.
const store = createMemoryStore();

/**
 * Full normalisation, then `store.append` into the memory store with a dedupe key, as the drain
 * route does. The store keeps the last 1500 entries, so entries now outlive a young-generation
 * GC and are copied (and promoted) before they die: the cost of retention shows here.
 */
export function normaliseAndStore(body: Buffer): number {
  const frameId = `bench-${++frameSeq}`;
  const entries = normalise(body, frameId);
  // Synchronous inside (see store/memory.ts); the promise only carries the result.
  void store.append({ entries, dedupeKey: `frame:bench:${frameId}`, dedupeTtlMs: 900_000 });
  return entries.length;
}

/** One row of the decode table. */
export interface DecodeCase {
  key: 'framing' | 'header' | 'full' | 'stored' | 'peerRegex' | 'peerRegexLogfmt' | 'peerBodyParser';
  label: string;
  fn: (body: Buffer) => number;
}

export const DECODE_CASES: readonly DecodeCase[] = [
  { key: 'framing', label: 'framing only (splitFrames)', fn: framingOnly },
  { key: 'header', label: 'framing + RFC 5424 header + µs timestamp', fn: framingHeader },
  { key: 'full', label: 'full normalisation (decode + syslogToEntry)', fn: fullNormalisation },
  { key: 'stored', label: 'full normalisation + memory store append', fn: normaliseAndStore },
  { key: 'peerRegex', label: 'peer: split LF + header regex', fn: splitRegex },
  { key: 'peerRegexLogfmt', label: 'peer: split LF + regex + logfmt.parse(msg)', fn: splitRegexLogfmt },
  { key: 'peerBodyParser', label: 'peer: logfmt.bodyParser (in-process)', fn: bodyParser },
];

export type DecodeResults = Record<DecodeCase['key'], Rate>;

/** Runs every case over `bodies`. */
export function runDecode(bodies: readonly Body[], opts: RunOptions): DecodeResults {
  const out = {} as DecodeResults;
  for (const c of DECODE_CASES) out[c.key] = measure(bodies, c.fn, opts);
  return out;
}
