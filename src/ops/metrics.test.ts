import { describe, expect, it } from 'vitest';
import { sample } from '../../test/support/metrics.js';
import { createMemoryStore } from '../store/memory.js';
import { createEntryFactory } from '../store/store.contract.js';
import type { StoreHealth } from '../store/types.js';
import { createGatewayMetrics, timedStore } from './metrics.js';

describe('createGatewayMetrics', () => {
  it('counts requests, lines, rejects, duplicates and auth failures with bounded labels', async () => {
    const m = createGatewayMetrics({ defaultMetrics: false });
    m.requests('POST', '/drain', 200);
    m.requests('POST', '/drain', 200);
    m.requests('BREW', 'unmatched', 404);
    m.lines('/drain', 200, 100);
    m.lines('/drain', 200, 0); // no series for nothing
    m.lines('/api/logs', 201, 3);
    m.rejectedLines('/drain', 'truncated', 2);
    m.rejectedRequest('/drain', 'rate_limited');
    m.duplicate('/drain');
    m.authFailures('/api/logs', 'unauthorized');
    const text = await m.text();
    expect(sample(text, 'sluice_http_requests_total', { method: 'POST', route: '/drain', status: '200' })).toBe(2);
    expect(sample(text, 'sluice_http_requests_total', { method: 'other', route: 'unmatched', status: '404' })).toBe(1);
    expect(sample(text, 'sluice_ingest_lines_total', { route: '/drain', status: '200' })).toBe(100);
    expect(sample(text, 'sluice_ingest_lines_total', { route: '/api/logs', status: '201' })).toBe(3);
    expect(sample(text, 'sluice_ingest_rejected_lines_total', { route: '/drain', reason: 'truncated' })).toBe(2);
    expect(sample(text, 'sluice_ingest_rejected_requests_total', { route: '/drain', reason: 'rate_limited' })).toBe(1);
    expect(sample(text, 'sluice_ingest_duplicate_requests_total', { route: '/drain' })).toBe(1);
    expect(sample(text, 'sluice_auth_failures_total', { route: '/api/logs', reason: 'unauthorized' })).toBe(1);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('keeps histograms of store write latency by result and of body sizes', async () => {
    const m = createGatewayMetrics({ defaultMetrics: false });
    m.storeWrite(0.0003, true);
    m.storeWrite(0.002, true);
    m.storeWrite(3, false);
    m.bodyBytes('/drain', 300);
    const text = await m.text();
    const w = 'sluice_store_write_duration_seconds';
    expect(sample(text, `${w}_count`, { result: 'ok' })).toBe(2);
    expect(sample(text, `${w}_bucket`, { result: 'ok', le: '0.0005' })).toBe(1);
    expect(sample(text, `${w}_bucket`, { result: 'ok', le: '0.0025' })).toBe(2);
    expect(sample(text, `${w}_sum`, { result: 'ok' })).toBeCloseTo(0.0023, 6);
    expect(sample(text, `${w}_count`, { result: 'error' })).toBe(1);
    expect(sample(text, `${w}_bucket`, { result: 'error', le: '2.5' })).toBe(0);
    expect(sample(text, 'sluice_ingest_body_bytes_bucket', { route: '/drain', le: '256' })).toBe(0);
    expect(sample(text, 'sluice_ingest_body_bytes_bucket', { route: '/drain', le: '1024' })).toBe(1);
    expect(sample(text, 'sluice_ingest_body_bytes_sum', { route: '/drain' })).toBe(300);
  });

  it('reads Redis health, subscribers, queued, sent and dropped entries and connections at scrape time', async () => {
    let health: StoreHealth = { kind: 'redis', ok: true };
    const fanout = { subscribed: 3, queued: 40, sent: 1000, dropped: 7 };
    const m = createGatewayMetrics({
      defaultMetrics: false,
      store: { kind: 'redis', health: async () => health },
      fanout: { stats: () => fanout, totals: () => fanout },
      connections: () => 2,
    });
    let text = await m.text();
    expect(sample(text, 'sluice_redis_up')).toBe(1);
    expect(sample(text, 'sluice_fanout_subscribers')).toBe(3);
    expect(sample(text, 'sluice_fanout_queued_entries')).toBe(40);
    expect(sample(text, 'sluice_fanout_sent_entries_total')).toBe(1000);
    expect(sample(text, 'sluice_fanout_dropped_entries_total')).toBe(7);
    expect(sample(text, 'sluice_websocket_connections')).toBe(2);
    expect(text).toMatch(/^# TYPE sluice_fanout_dropped_entries_total counter$/m);

    health = { kind: 'redis', ok: false, detail: 'redis reconnecting' };
    fanout.dropped = 9;
    text = await m.text();
    expect(sample(text, 'sluice_redis_up')).toBe(0);
    expect(sample(text, 'sluice_fanout_dropped_entries_total')).toBe(9);
  });

  it('has no Redis or fan-out gauges without them, and the default process metrics unless turned off', async () => {
    const bare = await createGatewayMetrics({ defaultMetrics: false, store: createMemoryStore() }).text();
    expect(bare).not.toMatch(/sluice_redis_up|sluice_fanout_|sluice_websocket_/);
    expect(bare).not.toMatch(/^process_|^nodejs_/m);
    const full = await createGatewayMetrics().text();
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(full).toMatch(new RegExp(`^${name} `, 'm'));
    }
  });

  it('gives every gateway its own registry', async () => {
    const a = createGatewayMetrics({ defaultMetrics: false });
    const b = createGatewayMetrics({ defaultMetrics: false });
    a.requests('GET', '/health', 200);
    expect(sample(await a.text(), 'sluice_http_requests_total', { method: 'GET', route: '/health', status: '200' })).toBe(1);
    expect(sample(await b.text(), 'sluice_http_requests_total', { method: 'GET', route: '/health', status: '200' })).toBeUndefined();
  });
});

describe('timedStore', () => {
  it('times every append, ok or failed, and passes everything else through', async () => {
    const m = createGatewayMetrics({ defaultMetrics: false });
    const inner = createMemoryStore();
    const store = timedStore(inner, m);
    const make = createEntryFactory();
    const app = make.appId('timed');
    expect(store.kind).toBe('memory');
    expect(await store.append({ entries: [make.entry(app), make.entry(app)] })).toEqual({ stored: 2, duplicate: false });
    expect((await store.recent(app, 10)).length).toBe(2);
    expect((await store.query({ appIds: [app], limit: 10, offset: 0 })).total).toBe(2);

    const failing = timedStore({ ...inner, append: async () => Promise.reject(new Error('down')) }, m);
    await expect(failing.append({ entries: [make.entry(app)] })).rejects.toThrow('down');
    const text = await m.text();
    expect(sample(text, 'sluice_store_write_duration_seconds_count', { result: 'ok' })).toBe(1);
    expect(sample(text, 'sluice_store_write_duration_seconds_count', { result: 'error' })).toBe(1);
  });
});
