import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { nowMicros } from '../decode/timestamp.js';
import { decodeLogplexBody, syslogBatchOf } from '../ingest/logplex-body.js';
import { DEFAULT_ENTRY_LIMITS } from '../normalize/bounds.js';
import { receivedAtDate } from '../normalize/syslog-batch.js';
import { syslogBlockHeader } from '../store/block.js';
import { createMemoryMetricsBackend } from './memory-backend.js';
import { MetricsOffload } from './offload.js';

const retention = { 10: 3600, 60: 86_400 };
/**
 * A drain request's stored block (what the Redis store keeps): one frame per value, each line
 * `count#jobs=<value>`, stamped now.
 */
function block(...values: number[]) {
  const receivedAt = nowMicros();
  const stamp = new Date().toISOString().replace('Z', '+00:00');
  const body = Buffer.from(
    values
      .map((v) => {
        const msg = `<190>1 ${stamp} host app web.1 - count#jobs=${v}\n`;
        return `${Buffer.byteLength(msg)} ${msg}`;
      })
      .join(''),
  );
  const decoded = decodeLogplexBody(body, { mode: 'drain', maxFrameBytes: 10_000, receivedAt: receivedAtDate(receivedAt) });
  const batch = syslogBatchOf(body, decoded, { appId: 'a', mode: 'drain', receivedAt, frameId: undefined, drainToken: undefined, userAgent: undefined, tags: undefined });
  return [[syslogBlockHeader(batch), batch.frames], batch.count] as const;
}

let open: MetricsOffload | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

function start(maxQueuedEntries: number, flushMs = 60_000) {
  const backend = createMemoryMetricsBackend(retention);
  const offload = new MetricsOffload({ retention, flushMs, maxSkewSec: 300, maxSeriesPerApp: 100, maxQueuedEntries, nice: 10, entryLimits: { ...DEFAULT_ENTRY_LIMITS } }, backend);
  open = offload;
  return { backend, offload };
}

const sumOf = async (backend: ReturnType<typeof createMemoryMetricsBackend>) => {
  const r = await backend.read('a', 'jobs', undefined, 0, Date.now() / 1000 + 10, 60);
  return r.points!.reduce((s, p) => s + (p.sum ?? 0), 0);
};

describe('MetricsOffload (the metrics worker thread)', () => {
  it('decodes and derives the stored blocks in the thread; flush resolves once their deltas are in the backend', async () => {
    const { backend, offload } = start(1000);
    offload.addBlock(...block(1, 2));
    offload.addBlock(...block(3));
    await offload.flush();
    expect(await sumOf(backend)).toBe(6);
    // jobs, log.lines.info and producer.lines (no User-Agent: family "-"): the thread's own counts.
    expect(offload.stats()).toMatchObject({ series: 3, droppedEntries: 0 });
  });

  it('drops (and counts) what would pass the in-flight bound, never more', async () => {
    const { backend, offload } = start(4);
    offload.addBlock(...block(1, 2, 3));
    offload.addBlock(...block(10, 20)); // 5 > 4: dropped from the metrics
    offload.addBlock(...block(4)); // 4: fits
    await offload.flush();
    expect(await sumOf(backend)).toBe(10);
    expect(offload.stats().droppedEntries).toBe(2);
    // Counted lines leave the bound: room again.
    offload.addBlock(...block(5, 5, 5));
    await offload.flush();
    expect(await sumOf(backend)).toBe(25);
  });

  it('starts a new thread when its thread dies, and sends it what was queued meanwhile', async () => {
    const { backend, offload } = start(1000, 100);
    offload.addBlock(...block(1));
    await offload.flush();
    expect(await sumOf(backend)).toBe(1);
    // The thread dies (a crash, an out-of-memory kill of the thread).
    await (offload as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    offload.addBlock(...block(2, 3)); // no thread now: queued
    // Restarted after a second; the queued lines reach the new thread and its own flush (every
    // 100 ms here) without another append or flush call.
    await expect.poll(() => sumOf(backend), { timeout: 4000, interval: 100 }).toBe(6);
    expect(offload.stats().droppedEntries).toBe(0);
  });

  it.runIf(process.platform === 'linux')('runs its thread niced, so ingest gets the CPU first', async () => {
    const niceOf = () =>
      readdirSync('/proc/self/task').map((tid) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      });
    const base = getPriority();
    expect(niceOf().filter((n) => n === base + 10)).toHaveLength(0);
    const { offload } = start(1000);
    await offload.flush(); // the thread is up
    expect(niceOf().filter((n) => n === Math.min(19, base + 10))).toHaveLength(1);
    expect(niceOf()).toContain(base);
  });
});
