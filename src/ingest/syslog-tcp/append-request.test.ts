import { describe, expect, it } from 'vitest';
import { parseSyslogFrame } from '../../decode/syslog.js';
import { nowMicros } from '../../decode/timestamp.js';
import { receivedAtDate, syslogBatchEntries } from '../../normalize/syslog-batch.js';
import { appendRequest, type Batch } from './listener.js';
import { takeSdToken } from './resolve-app.js';
import type { StreamFrame } from './stream-framer.js';

const MSGS = [
  '<158>1 2025-01-15T14:22:00.123456+00:00 host heroku router - - at=info method=GET path="/" status=200 bytes=1234',
  '<190>1 2025-01-15T14:22:00.123457+00:00 host app web.1 - [meta seq="1"] {"level":"warn","message":"hi"}',
  '<13>Jan 15 14:22:00 host tag: bsd line 42',
];

function batchOf(msgs: string[], tokens: boolean): Batch {
  const receivedAt = nowMicros();
  const frames: StreamFrame[] = msgs.map((m) => {
    const buf = Buffer.from(`xx${m}`);
    return { buf, start: 2, end: buf.length, framing: 'octet' };
  });
  const records = frames.map((f) => {
    const r = parseSyslogFrame(f.buf, f.start, f.end, 'input', receivedAtDate(receivedAt));
    if (!r.ok) throw new Error(r.reason);
    takeSdToken(r.record);
    return r.record;
  });
  return { appId: 'shop', receivedAt, records, frames: tokens ? undefined : frames, overrides: tokens ? records.map((r) => (r.appName?.startsWith('t.') ? 'shop' : undefined)) : [], bytes: 0 };
}

describe('appendRequest (syslog TCP batch → store request)', () => {
  it('gives a store that keeps bytes a SyslogBatch whose bytes read back as the entries the records give', () => {
    const req = appendRequest(batchOf(MSGS, false), true);
    expect(req.syslog).toBeDefined();
    const fromRecords = syslogBatchEntries(req.syslog!);
    // As the Redis store reads it back: the bytes alone, parsed again.
    const fromBytes = syslogBatchEntries({ ...req.syslog!, records: undefined });
    expect(fromBytes).toEqual(fromRecords);
    expect(fromRecords.map((e) => e.message)).toEqual(['at=info method=GET path="/" status=200 bytes=1234', 'hi', 'bsd line 42']);
    expect(new Set(fromRecords.map((e) => e.id)).size).toBe(3);
    expect([...fromRecords.map((e) => e.id)].sort()).toEqual(fromRecords.map((e) => e.id));
  });

  it('gives the memory store the same entries, built at once', () => {
    const b = batchOf(MSGS, false);
    const asBatch = syslogBatchEntries(appendRequest(b, true).syslog!);
    const asEntries = appendRequest(b, false).entries!;
    const noId = (es: { id: string }[]) => es.map(({ id: _, ...rest }) => rest);
    expect(noId(asEntries)).toEqual(noId(asBatch));
  });

  it('never hands over the bytes of frames that carried a token', () => {
    const msgs = ['<13>1 - host t.secret web.1 - - hello', '<13>1 - host app web.1 - [x token="t.secret" a="1"] there'];
    const req = appendRequest(batchOf(msgs, true), true);
    expect(req.syslog).toBeUndefined();
    expect(JSON.stringify(req.entries)).not.toContain('t.secret');
    expect(req.entries!.map((e) => [e.source, e.context])).toEqual([
      ['shop', undefined],
      ['app', { x: { a: '1' } }],
    ]);
  });
});
