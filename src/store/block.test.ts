import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntrySchema } from '../normalize/entry.js';
import { syslogBatchEntries } from '../normalize/syslog-batch.js';
import { decodeBlock, encodeEntriesBlock, encodeSyslogBlock } from './block.js';
import { createEntryFactory, drainBatch, frameBytes, herokuVectorBody } from './store.contract.js';

describe('stored blocks', () => {
  it('round-trips a drain batch to the very entries ingest built, request facts included', () => {
    const batch = drainBatch('shop', herokuVectorBody(), {
      frameId: 'f-1',
      drainToken: 'd.01234567-89ab-cdef-0123-456789abcdef',
      userAgent: 'Logplex/v123 "quoted"\nnewline',
      tags: ['env=prod', 'canary'],
    });
    const want = syslogBatchEntries(batch);
    const block = encodeSyslogBlock(batch);
    expect(decodeBlock(block)).toEqual(want);
    for (const e of decodeBlock(block)) EntrySchema.parse(e);
    // The frames are kept as received: the block is the body plus one short header line.
    expect(block.length - batch.frames.length).toBeLessThan(300);
  });

  it('round-trips entries as JSON, and reads a bare JSON array written before blocks existed', () => {
    const make = createEntryFactory();
    const entries = [make.entry('a', { message: 'é 日本語 🎉' }), make.entry('a')];
    expect(decodeBlock(Buffer.from(encodeEntriesBlock(entries)))).toEqual(entries);
    expect(decodeBlock(Buffer.from(JSON.stringify(entries)))).toEqual(entries);
  });

  it('refuses a block it cannot read instead of inventing entries', () => {
    expect(() => decodeBlock(Buffer.from('X{}'))).toThrow(/unknown block kind/);
    expect(() => decodeBlock(Buffer.alloc(0))).toThrow(/empty/);
    expect(() => decodeBlock(Buffer.concat([Buffer.from('S{}'), frameBytes('<13>1 - - - - - x')]))).toThrow();
  });
});

describe('stored blocks, for any body', () => {
  // Pieces that make real and broken Logplex bodies: good RFC 5424 frames of many shapes (logfmt,
  // JSON, metrics, LF inside, bad UTF-8, BSD syslog), broken frames, stray bytes, padding.
  const header = fc.constantFrom(
    '<190>1 2025-01-15T14:22:00.123456+00:00 host app web.1 - ',
    '<158>1 2025-01-15T14:22:00.5+01:00 host heroku router - ',
    '<45>1 2025-01-15T14:22:00Z host heroku web.2 - ',
    '<13>1 - - - - - ',
    '<134>1 bad-time host app worker.1 - ',
  );
  const message = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.constantFrom(
      'at=info method=GET path="/" status=200 bytes=12 connect=1ms service=3ms',
      'sample#memory_total=21.00MB count#hits=3 measure#db.latency=4.5ms source=web.1',
      '{"level":"error","msg":"boom","trace_id":"t-1","user":{"id":7}}',
      'Error R14 (Memory quota exceeded)\n  at line 2\n  at line 3',
    ),
  );
  const goodFrame = fc.oneof(
    fc.tuple(header, message).map(([h, m]) => Buffer.from(h + m)),
    fc.tuple(header, fc.uint8Array({ maxLength: 30 })).map(([h, b]) => Buffer.concat([Buffer.from(h), b])),
    fc.constant(Buffer.from('<13>Jan 15 14:22:02 myhost myapp[42]: a BSD line')),
  );
  const piece = fc.oneof(
    { weight: 6, arbitrary: goodFrame.map((f) => frameBytes(f)) },
    { weight: 1, arbitrary: fc.constantFrom('<999>1 nonsense', '1x3 <13>1 x', 'junk ', '  \n', '99999 <13>1 truncated').map((s) => Buffer.from(s)) },
  );

  it('gives back the entries ingest built, whatever was accepted or rejected', () => {
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 12 }), (pieces) => {
        const batch = drainBatch('prop', Buffer.concat(pieces), { tags: ['t=1'], frameId: 'f' });
        if (batch.count === 0) return;
        expect(decodeBlock(encodeSyslogBlock(batch))).toEqual(syslogBatchEntries(batch));
      }),
      { numRuns: 300 },
    );
  });
});
