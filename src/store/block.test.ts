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
