/**
 * Stored blocks: how the Redis store keeps one ingest request's entries of one app, as one stream
 * entry (history and firehose alike). Two kinds, told apart by the first byte:
 *
 * ```
 * S{"app":…,"mode":"drain","rt":…,"id":…,"n":…,…}\n<frames>   a drain request: its accepted
 *     frames, octet-counted, as received; entries are rebuilt on read by syslogBatchEntries
 * J[<entry JSON>,…]                                           any other request: its entries
 * ```
 *
 * A block written by the store before blocks existed (a bare JSON array, on the firehose) is read
 * as a `J` block.
 */
import type { Entry } from '../normalize/entry.js';
import { syslogBatchEntries, type SyslogBatch } from '../normalize/syslog-batch.js';

const KIND_SYSLOG = 0x53; // 'S'
const KIND_JSON = 0x4a; // 'J'
const LF = 0x0a;

/** The header of an `S` block: the batch's facts, short keys (it is stored once per request). */
interface SyslogHeader {
  app: string;
  mode: SyslogBatch['mode'];
  rt: string;
  id: string;
  n: number;
  fid?: string;
  dt?: string;
  ua?: string;
  tags?: string[];
  /** SyslogBatch.repaired */
  rp?: number[];
}

/** A drain request's block: one small JSON header, then the frame bytes (copied once, here). */
export function encodeSyslogBlock(batch: SyslogBatch): Buffer {
  return Buffer.concat([syslogBlockHeader(batch), batch.frames]);
}

/** Headers already built, by batch: the store and the metrics stage both send a drain block. */
const headers = new WeakMap<SyslogBatch, Buffer>();

/** The first part of a drain request's block, before its frames: `S<header JSON>\n`. */
export function syslogBlockHeader(batch: SyslogBatch): Buffer {
  let built = headers.get(batch);
  if (built === undefined) headers.set(batch, (built = buildHeader(batch)));
  return built;
}

function buildHeader(batch: SyslogBatch): Buffer {
  const header: SyslogHeader = { app: batch.appId, mode: batch.mode, rt: batch.receivedAt, id: batch.firstId, n: batch.count };
  if (batch.frameId !== undefined) header.fid = batch.frameId;
  if (batch.drainToken !== undefined) header.dt = batch.drainToken;
  if (batch.userAgent !== undefined) header.ua = batch.userAgent;
  if (batch.tags !== undefined) header.tags = batch.tags;
  if (batch.repaired !== undefined) header.rp = batch.repaired;
  // JSON.stringify escapes every control character, so the header holds no LF of its own.
  return Buffer.from(`S${JSON.stringify(header)}\n`);
}

/** Entries of any request as a `J` block (one `JSON.stringify` for the whole array). */
export function encodeEntriesBlock(entries: Entry[]): string {
  return `J${JSON.stringify(entries)}`;
}

/** The entries of a stored block, in the order they were appended. Throws on a block it cannot read. */
export function decodeBlock(block: Buffer): Entry[] {
  const kind = block[0];
  if (kind === KIND_SYSLOG) {
    const nl = block.indexOf(LF);
    if (nl < 0) throw new Error('syslog block without a header line');
    const h = JSON.parse(block.toString('utf8', 1, nl)) as SyslogHeader;
    return syslogBatchEntries({
      appId: h.app,
      mode: h.mode,
      receivedAt: h.rt,
      firstId: h.id,
      count: h.n,
      frames: block.subarray(nl + 1),
      frameId: h.fid,
      drainToken: h.dt,
      userAgent: h.ua,
      tags: h.tags,
      repaired: h.rp,
    });
  }
  if (kind === KIND_JSON) return JSON.parse(block.toString('utf8', 1)) as Entry[];
  if (kind === 0x5b) return JSON.parse(block.toString('utf8')) as Entry[]; // '[': before blocks
  throw new Error(`unknown block kind ${kind === undefined ? '(empty)' : `0x${kind.toString(16)}`}`);
}
