import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../normalize/entry.js';
import { openStream, type StreamFormat } from './stream-sink.js';
import { Chunk } from './subscriber.js';

/** Just enough of a ServerResponse for openStream: what was written, as text. */
function fakeResponse(): ServerResponse & { text: () => string } {
  const res = new EventEmitter() as unknown as ServerResponse & { text: () => string };
  const written: string[] = [];
  Object.assign(res, {
    writableEnded: false,
    destroyed: false,
    writableLength: 0,
    writeHead: () => res,
    flushHeaders: () => {},
    write: (chunk: string | Buffer) => written.push(chunk.toString()) > 0,
    end: () => {},
    text: () => written.join(''),
  });
  return res;
}

const entry = (n: number): Entry => ({ id: `id-${n}`, timestamp: '', received_at: '', level: 'INFO', app_id: 'a', message: `m${n}` });

describe('text streams (SSE, Logplex sessions)', () => {
  it('render a live batch once per delivery chunk for every stream writing the same entries', () => {
    let rendered = 0;
    const format: StreamFormat = {
      contentType: 'text/plain',
      entries: (jsons) => {
        rendered++;
        return jsons.join('\n') + '\n';
      },
      live: () => '',
      gap: () => '',
      error: () => '',
      heartbeat: () => '',
    };
    const responses = Array.from({ length: 5 }, fakeResponse);
    const sinks = responses.map((r) => openStream(r, format, 60_000, () => {}));
    const entries = [entry(1), entry(2), entry(3)];
    const jsons = entries.map((e) => JSON.stringify(e));
    const chunk = new Chunk();
    for (const s of sinks) s.writeEntries(jsons, entries, chunk);
    expect(rendered).toBe(1);
    for (const r of responses) expect(r.text()).toBe(jsons.join('\n') + '\n');
    // Other entries of the chunk, or history (no chunk), are rendered for themselves.
    sinks[0]!.writeEntries(jsons.slice(1), entries.slice(1), chunk);
    sinks[1]!.writeEntries(jsons, entries);
    expect(rendered).toBe(3);
    for (const s of sinks) s.close(1000, 'done');
  });
});
