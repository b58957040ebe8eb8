#!/usr/bin/env node
// The Node library's conformance program (clients/conformance/PROGRAM.md): logs what the
// scenario in CONFORMANCE asks through the public API, stops, prints its stats as one JSON line.
import { DistributedLogger, VERSION } from '@sluice/client';

const run = JSON.parse(process.env.CONFORMANCE ?? '{}');
const loggers = [];
for (let l = 0; l < run.loggers; l++) {
  loggers.push(
    new DistributedLogger({
      endpoint: process.env.SLUICE_URL,
      serviceName: process.env.SLUICE_SERVICE,
      componentName: `logger-${l}`,
      apiKey: process.env.SLUICE_TOKEN,
      batchSize: run.batch_size,
      flushIntervalMs: run.flush_interval_ms,
      maxBufferEntries: run.max_buffer_entries,
      maxRetries: run.max_retries,
      stopTimeoutMs: run.stop_timeout_ms,
      requestTimeoutMs: run.request_timeout_ms,
      handleExit: false,
      // The suite speaks HTTP (the proxy forwards POST /api/logs), whatever SLUICE_TRANSPORT says.
      transport: 'http',
    }).start(),
  );
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const calls = new Float64Array(run.entries * run.loggers);
let n = 0;
const began = performance.now();
for (let i = 0; i < run.entries; i++) {
  for (let l = 0; l < loggers.length; l++) {
    const t0 = process.hrtime.bigint();
    loggers[l].info(`conformance ${l} ${i}`, { logger: l, seq: i });
    calls[n++] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  if (run.log_gap_ms > 0) await sleep(run.log_gap_ms);
}
await Promise.all(loggers.map((lg) => lg.stop()));
const elapsedMs = performance.now() - began;

calls.sort();
const at = (q) => (n ? calls[Math.min(n - 1, Math.floor(q * n))] : 0);
process.stdout.write(
  `${JSON.stringify({
    language: 'node',
    library: `sluice-node/${VERSION}`,
    loggers: loggers.map((lg) => lg.stats()),
    call_us: { p50: at(0.5), p99: at(0.99), max: n ? calls[n - 1] : 0 },
    elapsed_ms: elapsedMs,
  })}\n`,
);
