/**
 * A drain request in its compact form: the accepted frames, still octet-counted bytes, plus the
 * facts of the request that every entry shares. {@link syslogBatchEntries} turns it into the
 * request's entries; the same function runs at ingest (memory store) and when a store that kept
 * the bytes reads them back (Redis store), so both give the same entries by construction.
 *
 * Why keep bytes: a Heroku frame is ~210 bytes and its entry ~820 bytes of JSON (context and
 * metrics are derived from the message, and drain token, user agent and frame id repeat on every
 * line). Serialising entries was a third of the gateway's CPU on the Redis ingest path; the frames
 * are already in the body buffer and cost nothing to keep (bench/README.md, "The Redis store").
 */
import { splitFrames } from '../decode/octet-frames.js';
import { parseSyslogFrame } from '../decode/syslog.js';
import type { Frame, SyslogMode, SyslogRecord } from '../decode/types.js';
import type { Entry } from './entry.js';
import { syslogToEntry, type SyslogEntryContext } from './from-syslog.js';
import { ulidAt } from './ulid.js';

/** The framer's hard ceiling: frames kept were accepted under a limit at most this big. */
export const READ_MAX_FRAME_BYTES = 65536;

/** A request's accepted syslog frames and the facts its entries share. */
export interface SyslogBatch {
  /** The Sluice app of every entry. */
  appId: string;
  /** How the frames were parsed (`drain`: no STRUCTURED-DATA). */
  mode: SyslogMode;
  /** Receive time, the 27-char µs form: every entry's `received_at`, and the RFC 3164 year anchor. */
  receivedAt: string;
  /** Id of the first entry, from `ulidRun(count)`: entry k has `ulidAt(firstId, k)`. */
  firstId: string;
  /** Number of entries (accepted frames). */
  count: number;
  /** The accepted frames, octet-counted (`LEN SP MSG` …), in order and nothing else. */
  frames: Buffer;
  frameId?: string;
  drainToken?: string;
  userAgent?: string;
  /** Tags of every entry (the drain URL's query). */
  tags?: string[];
  /** Indices (in `frames`) of the frames whose LEN was repaired: their entries get `length_mismatch`. */
  repaired?: number[];
  /**
   * The records decoded from `frames` at ingest, when at hand: saves parsing them again. Never
   * stored; `syslogBatchEntries` parses `frames` when absent.
   */
  records?: SyslogRecord[];
}

/**
 * The accepted frames of a body as one buffer: the body itself when every frame was accepted (it
 * splits into exactly those frames again), else the accepted frames re-framed, in order, each with
 * all the bytes its LEN counted: the framer strips one trailing LF from what LEN counts, so
 * re-framing the stripped MSG would lose one more LF when read back (a property test found it).
 */
export function packFrames(body: Buffer, accepted: Frame[], everyFrameAccepted: boolean): Buffer {
  if (everyFrameAccepted) return body;
  const parts: Buffer[] = [];
  for (const f of accepted) {
    parts.push(Buffer.from(`${f.dataEnd - f.msgStart} `, 'latin1'), body.subarray(f.msgStart, f.dataEnd));
  }
  return Buffer.concat(parts);
}

/** The Date of a 27-char µs timestamp (ms precision): the RFC 3164 fallback's year anchor. */
export function receivedAtDate(receivedAt: string): Date {
  return new Date(Date.parse(receivedAt.slice(0, 23) + 'Z'));
}

/**
 * The batch's entries, in frame order. Pure: the same batch always gives the same entries (ids
 * included). A frame that no longer parses (only possible when the parser changed since it was
 * accepted) still gives an entry, its MSG as the message, rather than being lost.
 */
export function syslogBatchEntries(batch: SyslogBatch): Entry[] {
  const records = batch.records ?? parseFrames(batch);
  if (batch.repaired !== undefined) {
    for (const k of batch.repaired) {
      const rec = records[k];
      if (rec !== undefined) rec.lengthMismatch = true;
    }
  }
  const ctx: SyslogEntryContext = {
    appId: batch.appId,
    receivedAt: batch.receivedAt,
    id: batch.firstId,
    frameId: batch.frameId,
    drainToken: batch.drainToken,
    userAgent: batch.userAgent,
    tags: batch.tags,
  };
  const entries: Entry[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    ctx.id = ulidAt(batch.firstId, i);
    entries[i] = syslogToEntry(records[i]!, ctx);
  }
  return entries;
}

function parseFrames(batch: SyslogBatch): SyslogRecord[] {
  const { frames } = splitFrames(batch.frames, { maxFrameBytes: READ_MAX_FRAME_BYTES });
  const at = receivedAtDate(batch.receivedAt);
  const records: SyslogRecord[] = new Array(frames.length);
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    const res = parseSyslogFrame(batch.frames, f.msgStart, f.msgEnd, batch.mode, at);
    records[i] = res.ok ? res.record : unparsedRecord(batch.frames.toString('utf8', f.msgStart, f.msgEnd));
  }
  return records;
}

/** A stand-in record for a kept frame the current parser rejects: user.info, the MSG as text. */
function unparsedRecord(message: string): SyslogRecord {
  return {
    facility: 1,
    severity: 6,
    timestamp: null,
    invalidTimestamp: true,
    hostname: null,
    appName: null,
    procId: null,
    msgId: null,
    structuredData: null,
    message,
    invalidUtf8: false,
    format: 'rfc5424',
  };
}
