/**
 * `npm run bench` (`npm run bench -- --quick` for a shorter run; `--only=decode` / `--only=http`
 * / `--only=redis` / `--only=fanout` / `--only=syslog` / `--only=ws` / `--only=client` / `--only=clients`
 * (with `--lang=python,go` to pick languages) / `--only=metrics` / `--only=sizes`; `--no-redis`,
 * `--no-fanout`, `--no-syslog`, `--no-ws`, `--no-client`, `--no-clients`, `--no-metrics`, `--no-sizes`).
 *
 * Prints decode throughput (lines/s, MB/s) on 100-line and ~1 MB bodies and HTTP ingest lines/s
 * on `POST /drain`, each beside a bare `node:http` server and npm `logfmt` measured in the same
 * run; then `POST /drain` with the Redis store beside the memory store and `redis-benchmark`'s
 * XADD rate on our own redis-server; plus the targets. Figures only: nothing here passes or fails.
 */
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { generateIngestToken } from '../src/apps/tokens.js';
import { loadConfig } from '../src/config.js';
import { buildBodies, buildMultilineBody } from './bodies.js';
import { DECODE_CASES, framingHeader, runDecode, type DecodeResults } from './decode.js';
import { httpTargets, machineJiffies, redisTarget, runHttp, type HttpResult } from './http-ingest.js';
import { mbps, ratio, si, table } from './measure.js';
import { bodyParser, splitRegexLogfmt } from './peers/logfmt.js';
import {
  benchPrefix,
  checkStored,
  flushOwn,
  redisBenchmarkXadd,
  redisMissing,
  redisWindowHooks,
  representativeEntry,
  startBenchRedis,
  type CommandStat,
  type StoredCheck,
  type XaddRate,
} from './redis.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice(7);
/** `--profile`: the server children run with `--cpu-prof`, profiles land in bench/profiles/. */
const profileDir = args.includes('--profile') ? fileURLToPath(new URL('profiles/', import.meta.url)) : undefined;
/** `--server-flags="--max-semi-space-size=64 …"`: extra node flags for the server children. */
const serverFlags = (args.find((a) => a.startsWith('--server-flags='))?.slice(15) ?? '').split(' ').filter(Boolean);
/** `--inflight=N`: requests in flight (default 2, one per connection). */
const inflight = Number(args.find((a) => a.startsWith('--inflight='))?.slice(11) ?? 2);
/** `--no-redis`: skip the Redis part (it also skips itself when redis-server is not on PATH). */
const noRedis = args.includes('--no-redis');

const decodeOpts = quick ? { warmupMs: 200, rounds: 3, roundMs: 250 } : { warmupMs: 500, rounds: 5, roundMs: 400 };
const httpOpts = {
  connections: 2,
  inflight,
  ...(quick ? { warmupMs: 1500, durationMs: 2500 } : { warmupMs: 2000, durationMs: 5000 }),
  serverNodeArgs: [...serverFlags, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
};

const started = performance.now();
console.log(`sluice bench${quick ? ' (--quick)' : ''}: node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'})`);

const small = buildBodies({ count: 64, lines: 100, seed: 1 });
const large = buildBodies({ count: 4, targetBytes: 1_000_000, seed: 2 });
const avg = (xs: { bytes: Buffer }[]) => xs.reduce((s, b) => s + b.bytes.length, 0) / xs.length;
console.log(
  `bodies: 64 × 100 lines (avg ${(avg(small) / 1000).toFixed(1)} kB), 4 × ~1 MB (${large[0]!.lines} lines, ${(avg(large) / 1e6).toFixed(2)} MB); MB = 10^6 bytes`,
);

let dSmall: DecodeResults | undefined;
if (only === undefined || only === 'decode') {
  // Correctness first: the peers split on LF, so a frame holding a line feed becomes several lines.
  const ml = buildMultilineBody(3);
  console.log(
    `\ncorrectness, 100 frames of which 1 holds 2 LFs: sluice ${framingHeader(ml.bytes)} records; ` +
      `logfmt.bodyParser ${bodyParser(ml.bytes)} lines; split LF + regex ${splitRegexLogfmt(ml.bytes)} lines ` +
      `(of ${ml.bytes.toString('utf8').trim().split('\n').length} LF pieces: the 2 continuation lines are dropped)`,
  );

  console.log(`\n== decode, in-process, one core (median of ${decodeOpts.rounds} × ${decodeOpts.roundMs} ms after ${decodeOpts.warmupMs} ms warm-up)`);
  const m0 = machineJiffies();
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  dSmall = runDecode(small, decodeOpts);
  const dLarge = runDecode(large, decodeOpts);
  const m1 = machineJiffies();
  const ownUs = process.cpuUsage(own0);
  // Other sessions on a shared VM: cores the machine kept busy beyond this process.
  const machineCores = ((m1.busy - m0.busy) / (m1.total - m0.total)) * availableParallelism();
  const ownCores = (ownUs.user + ownUs.system) / 1000 / (performance.now() - t0);
  const otherDecode = (machineCores - ownCores) * 100;
  const rows = [['', '100-line lines/s', 'MB/s', '1 MB lines/s', 'MB/s', 'out/line']];
  for (const c of DECODE_CASES) {
    const s = dSmall[c.key];
    const l = dLarge[c.key];
    rows.push([c.label, si(s.linesPerSec), mbps(s.bytesPerSec), si(l.linesPerSec), mbps(l.bytesPerSec), s.outputPerLine.toFixed(2)]);
  }
  console.log(table(rows));
  if (otherDecode > 20) console.log(`  WARNING: ${otherDecode.toFixed(0)}% of a core went to other processes during the decode rounds (other load?): these figures are disturbed, run again`);
  const r = (a: keyof DecodeResults, b: keyof DecodeResults) =>
    `${ratio(dSmall![a].linesPerSec, dSmall![b].linesPerSec)} / ${ratio(dLarge[a].linesPerSec, dLarge[b].linesPerSec)}`;
  console.log('\nratios (100-line / 1 MB):');
  console.log(table([
    ['header path / peer split LF + header regex', r('header', 'peerRegex')],
    ['full normalisation / peer split LF + regex + logfmt.parse', r('full', 'peerRegexLogfmt')],
    ['full normalisation / peer logfmt.bodyParser', r('full', 'peerBodyParser')],
  ]));
}

let http: HttpResult[] = [];
let memoryDrain: HttpResult | undefined;
const httpHeader = () =>
  console.log(
    `\n== HTTP ingest: server in a child process, undici client here; ${httpOpts.connections} keep-alive connections, ` +
      `pipelining 1, ${httpOpts.inflight} in flight, 100-line bodies, ${httpOpts.durationMs / 1000} s after ${httpOpts.warmupMs / 1000} s warm-up`,
  );
const token = generateIngestToken();
if (only === undefined || only === 'http') {
  httpHeader();
  for (const t of httpTargets(token)) http.push(await runHttp(t, small, httpOpts));
  console.log(table([
    ['server', 'req/s', 'lines/s', 'ok', 'failures', 'server CPU', 'client CPU'],
    ...http.map((h) => [h.name, si(h.reqPerSec), si(h.linesPerSec), String(h.ok), String(h.failures), `${h.serverCpu.toFixed(0)}%`, `${h.clientCpu.toFixed(0)}%`]),
  ]));
  for (const h of http) if (h.failureReasons.length) console.log(`  ${h.name} failures: ${h.failureReasons.join('; ')}`);
  const [bare, peer, sluice] = http as [HttpResult, HttpResult, HttpResult];
  memoryDrain = sluice;
  console.log('\nratios:');
  console.log(table([
    ['sluice / bare node:http', ratio(sluice.linesPerSec, bare.linesPerSec)],
    ['sluice / peer logfmt.bodyParser', ratio(sluice.linesPerSec, peer.linesPerSec)],
    ...(dSmall ? [['sluice HTTP / full normalisation in-process (100-line)', ratio(sluice.linesPerSec, dSmall.full.linesPerSec)]] : []),
  ]));
}

/** One Redis-store run: the gateway's figures, what Redis did in its window, what Redis holds after. */
interface RedisRun {
  label: string;
  http: HttpResult;
  commands: Record<string, CommandStat>;
  stored: StoredCheck;
}

// Two gateways on the Redis store, one after the other on the same redis-server, each with its
// own REDIS_PREFIX: the default roles (ingest + fanout: the hub follows the firehose, as
// `npm start` runs), and SLUICE_ROLES=ingest (an ingest-only process: no firehose reader).
const REDIS_VARIANTS = [
  { label: 'default roles', roles: undefined },
  { label: 'SLUICE_ROLES=ingest', roles: 'ingest' },
] as const;
const redisRuns: RedisRun[] = [];
const xadd: XaddRate[] = [];
if (!noRedis && (only === undefined || only === 'http' || only === 'redis')) {
  const missing = redisMissing();
  if (missing) {
    console.log(`\n== Redis: skipped (${missing})`);
  } else {
    if (only === 'redis') {
      // The memory store's figure is the reference of the ratio: measured in this run too.
      httpHeader();
      memoryDrain = await runHttp(httpTargets(token)[2]!, small, httpOpts);
    }
    const redis = await startBenchRedis();
    try {
      const entry = representativeEntry(small);
      const defaults = loadConfig({ REDIS_URL: redis.url });
      console.log(
        `\n== Redis: our own redis-server ${redis.port} (--save "" --appendonly no), store defaults ` +
          `(HISTORY_PER_APP ${defaults.historyPerApp}, REDIS_SHARDS ${defaults.redis!.shards}, ` +
          `REDIS_FIREHOSE_MAXLEN ${defaults.redis!.firehoseMaxLen}), a fresh REDIS_PREFIX per run; ` +
          `entry JSON ${entry.medianBytes} B median, ${entry.meanBytes.toFixed(0)} B mean`,
      );
      for (const v of REDIS_VARIANTS) {
        const prefix = benchPrefix();
        const hooks = redisWindowHooks(redis);
        try {
          const http = await runHttp(redisTarget(token, redis.url, prefix, v.roles), small, {
            ...httpOpts,
            sideProcesses: [{ name: 'redis', pid: redis.pid()! }],
            onWindowStart: hooks.start,
            onWindowEnd: hooks.end,
          });
          redisRuns.push({ label: v.label, http, commands: hooks.result().commands, stored: await checkStored(redis, prefix, 'bench') });
        } finally {
          hooks.close();
        }
        await flushOwn(redis); // each run (and redis-benchmark) starts on an empty server
      }
      // redis-benchmark after the gateway runs, on the same server: one field `e` holding the
      // median entry JSON, as the store's history XADD writes it.
      const n = quick ? 100_000 : 500_000;
      for (const o of [
        { label: 'XADD, 1 client × pipeline 128', clients: 1, pipeline: 128 },
        { label: 'XADD, 50 clients × pipeline 128', clients: 50, pipeline: 128 },
        { label: 'XADD MAXLEN ~ 1500, 1 client × pipeline 128', clients: 1, pipeline: 128, maxlen: 1500 },
      ]) {
        xadd.push(await redisBenchmarkXadd(redis, entry.json, { ...o, requests: n }));
      }
      printRedis(memoryDrain, redisRuns, xadd);
    } finally {
      await redis.stop();
    }
  }
}

/** The Redis section: the /drain rows, what Redis did, the stored-count checks, redis-benchmark, ratios. */
function printRedis(mem: HttpResult | undefined, runs: RedisRun[], rates: XaddRate[]): void {
  const cores = availableParallelism();
  const redisCpu = (h: HttpResult) => h.sideCpu.redis ?? Number.NaN;
  const row = (h: HttpResult, rc: string) =>
    [h.name, si(h.reqPerSec), si(h.linesPerSec), String(h.ok), String(h.failures), `${h.serverCpu.toFixed(0)}%`, rc, `${h.clientCpu.toFixed(0)}%`, `${h.machineCpu.toFixed(0)}%`];
  console.log(table([
    ['server', 'req/s', 'lines/s', 'ok', 'failures', 'server CPU', 'redis CPU', 'client CPU', 'machine CPU'],
    ...(mem ? [row(mem, '')] : []),
    ...runs.map((r) => row(r.http, `${redisCpu(r.http).toFixed(0)}%`)),
  ]));
  console.log(`  (machine CPU: all processes on all ${cores} cores, out of ${cores * 100}%; what the three columns before it leave out is other load and kernel work)`);
  // Other sessions' processes on a shared VM show up here: such a window is not comparable.
  const own: [HttpResult, number][] = [
    ...(mem ? [[mem, mem.serverCpu + mem.clientCpu] as [HttpResult, number]] : []),
    ...runs.map((r) => [r.http, r.http.serverCpu + redisCpu(r.http) + r.http.clientCpu] as [HttpResult, number]),
  ];
  for (const [h, mine] of own) {
    const other = h.machineCpu - mine;
    if (other > 20) console.log(`  WARNING: ${other.toFixed(0)}% of CPU went elsewhere during the "${h.name}" window (other load?): its figures are disturbed, run again`);
  }
  for (const { http: h, commands, stored } of runs) {
    console.log(`\n${h.name}:`);
    if (h.failureReasons.length) console.log(`  failures: ${h.failureReasons.join('; ')}`);
    const cmd = (name: string) => {
      const c = commands[name];
      return c ? `${name} ${c.calls} × ${c.usecPerCall.toFixed(1)} µs` : `${name} 0`;
    };
    const perReq = (cpu: number) => (h.reqPerSec > 0 ? ((cpu / 100) * 1e6) / h.reqPerSec : Number.NaN).toFixed(0);
    console.log(
      `  per request: ${perReq(h.serverCpu)} µs of gateway CPU, ${perReq(redisCpu(h))} µs of redis CPU; ` +
        `INFO commandstats in the window (calls × wall µs inside Redis): ${['evalsha', 'xadd', 'xtrim', 'set', 'xread'].map(cmd).join(', ')}`,
    );
    // Every acknowledged line must be in Redis. XLEN is bounded by the trims, so count with
    // XINFO STREAM's entries-added (every XADD ever, trims do not lower it) over the whole run.
    const exact = h.totalFailures === 0;
    const verdict = (got: number, want: number) => (got === want ? 'match' : exact ? 'MISMATCH' : 'differs (failures occurred)');
    console.log(
      `  stored check (whole run, warm-up included: ${h.totalOk} responses 200 + Sluice-Accepted: 100, ${h.totalFailures} failures):\n` +
        `    history stream: entries-added ${stored.historyAdded} vs ${h.totalOk} requests acknowledged: ${verdict(stored.historyAdded, h.totalOk)}; ` +
        `line counter ${stored.historyLines} vs ${h.totalOkLines} lines acknowledged: ${verdict(stored.historyLines, h.totalOkLines)}; ` +
        `holds ${stored.historyLen} lines (HISTORY_PER_APP ${stored.historyMax}, MINID ~) in ${(stored.historyBytes / 1e3).toFixed(0)} kB ` +
        `(${((stored.historyBytes / Math.max(1, stored.historyLen)) * 1000 / 1e6).toFixed(2)} MB per 1000 lines); newest entry app_id ${stored.lastAppId}\n` +
        `    firehose shard: entries-added ${stored.firehoseAdded} vs ${h.totalOk} requests acknowledged: ${verdict(stored.firehoseAdded, h.totalOk)}; ` +
        `XLEN ${stored.firehoseLen} (REDIS_FIREHOSE_MAXLEN ${stored.firehoseMax}), ${(stored.firehoseBytes / 1e6).toFixed(0)} MB; ` +
        `newest holds ${stored.lastBatchSize} entries; redis used_memory ${stored.usedMemory}`,
    );
  }
  console.log('\nredis-benchmark on the same server (-q -P 128), one field `e` = the median entry JSON:');
  console.log(table([['command', 'entries/s'], ...rates.map((r) => [r.label, si(r.rps)])]));
  console.log('\nratios:');
  console.log(table(runs.flatMap((r) => [
    ...(mem ? [[`Redis store (${r.label}) / memory store`, ratio(r.http.linesPerSec, mem.linesPerSec)]] : []),
    ...rates.slice(0, 2).map((x) => [`Redis store (${r.label}) / redis-benchmark ${x.label}`, ratio(r.http.linesPerSec, x.rps)]),
  ])));
}

console.log('\n== targets (this machine)');
const rows = [['target', 'measured', '']];
const verdict = (v: number, min: number) => (v >= min ? 'met' : 'MISSED');
if (dSmall) {
  const h = dSmall.header.linesPerSec;
  rows.push(['framing + RFC 5424 header + µs ts ≥ 1.5M lines/s (100-line)', si(h), verdict(h, 1.5e6)]);
  rows.push(['full normalisation ≥ 500k lines/s (100-line)', si(dSmall.full.linesPerSec), verdict(dSmall.full.linesPerSec, 5e5)]);
}
if (memoryDrain) {
  const s = memoryDrain.linesPerSec;
  rows.push(['POST /drain ≥ 200k lines/s (2 conns, 100-line)', si(s), verdict(s, 2e5)]);
  if (dSmall) {
    const share = s / dSmall.full.linesPerSec;
    rows.push(['POST /drain ≥ 50% of full normalisation', `${(share * 100).toFixed(0)}%`, verdict(share, 0.5)]);
  }
}
for (const r of redisRuns) {
  const s = r.http.linesPerSec;
  rows.push([`POST /drain with Redis (${r.label}) ≥ 100k lines/s`, si(s), verdict(s, 1e5)]);
  if (memoryDrain) {
    const share = s / memoryDrain.linesPerSec;
    rows.push([`POST /drain with Redis (${r.label}) ≥ 50% of memory store`, `${(share * 100).toFixed(0)}%`, verdict(share, 0.5)]);
  }
}
console.log(table(rows));

// Syslog over TCP (bench/syslog.ts) beside POST /api/logs for the same lines and rsyslogd: its own tables and targets.
if (!args.includes('--no-syslog') && (only === undefined || only === 'syslog')) {
  const { runSyslogBench } = await import('./syslog.js');
  await runSyslogBench({ bodies: small, token, connections: 2, warmupMs: httpOpts.warmupMs, durationMs: httpOpts.durationMs, serverNodeArgs: httpOpts.serverNodeArgs });
}

// WebSocket ingest (bench/ws-ingest.ts, `--only=ws`, skipped with `--no-ws`) beside POST /api/logs for the same entries.
if (!args.includes('--no-ws') && (only === undefined || only === 'ws')) {
  const { printWsIngest, runWsIngestBench } = await import('./ws-ingest.js');
  printWsIngest(await runWsIngestBench({ quick, serverNodeArgs: httpOpts.serverNodeArgs }));
}

// The client library (bench/client.ts, `--only=client`, skipped with `--no-client`): log call cost, delivered entries/s, full-buffer RSS, a 5 s outage.
if (!args.includes('--no-client') && (only === undefined || only === 'client')) {
  const { printClientBench, runClientBench } = await import('./client.js');
  printClientBench(await runClientBench({ quick, serverNodeArgs: httpOpts.serverNodeArgs, profileDir }));
}

// Every client library's conformance program with a big run (bench/clients.ts, `--only=clients`, skipped with `--no-clients`): log call cost, entries/s delivered, peak RSS, against Node's.
if (!args.includes('--no-clients') && (only === undefined || only === 'clients')) {
  const { printClientsBench, runClientsBench } = await import('./clients.js');
  const languages = args.find((a) => a.startsWith('--lang='))?.slice(7).split(',').filter(Boolean);
  printClientsBench(await runClientsBench({ quick, serverNodeArgs: httpOpts.serverNodeArgs, languages }), quick);
}

// Ingest cost by body size (bench/small-bodies.ts, `--only=sizes`, skipped with `--no-sizes`): 1/10/100-line /drain bodies, memory and Redis, beside bare node:http and a raw-LPUSH floor.
if (!args.includes('--no-sizes') && (only === undefined || only === 'sizes')) {
  const { printSizesBench, runSizesBench } = await import('./small-bodies.js');
  console.log(
    `\n== Ingest by body size: POST /drain with 1-, 10- and 100-line bodies (64 distinct each), ${httpOpts.connections} keep-alive connections, ` +
      `${httpOpts.inflight} in flight, ${httpOpts.durationMs / 1000} s after ${httpOpts.warmupMs / 1000} s warm-up; Redis rows on our own redis-server`,
  );
  printSizesBench(await runSizesBench({ http: httpOpts, token }));
}

// Metrics from logs (bench/metrics.ts, `--only=metrics`, skipped with `--no-metrics`): POST /drain with the aggregation on and off, GET /api/metrics over 24 h.
if (!args.includes('--no-metrics') && (only === undefined || only === 'metrics')) {
  const { printMetricsBench, runMetricsBench } = await import('./metrics.js');
  console.log(`\n== Metrics from logs: POST /drain with the aggregation off and on (alternating, best of 2 each), then GET /api/metrics after a 24 h backfill`);
  printMetricsBench(await runMetricsBench(small, { quick, http: httpOpts, token, noRedis }));
}

// The fan-out benchmark (bench/fanout.ts) prints its own tables and targets.
if (!args.includes('--no-fanout') && (only === undefined || only === 'fanout')) {
  const { runFanoutBench } = await import('./fanout.js');
  await runFanoutBench({ quick: args.includes('--quick') });
}
console.log(`\n(total ${((performance.now() - started) / 1000).toFixed(0)} s)`);
