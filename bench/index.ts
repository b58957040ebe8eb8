/**
 * `npm run bench` (`npm run bench -- --quick` for a shorter run; `--only=decode` / `--only=http`).
 *
 * Prints decode throughput (lines/s, MB/s) on 100-line and ~1 MB bodies and HTTP ingest lines/s
 * on `POST /drain`, each beside a bare `node:http` server and npm `logfmt` measured in the same
 * run, plus the targets. Figures only: nothing here passes or fails.
 */
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { generateIngestToken } from '../src/apps/tokens.js';
import { buildBodies, buildMultilineBody } from './bodies.js';
import { DECODE_CASES, framingHeader, runDecode, type DecodeResults } from './decode.js';
import { httpTargets, runHttp, type HttpResult } from './http-ingest.js';
import { mbps, ratio, si, table } from './measure.js';
import { bodyParser, splitRegexLogfmt } from './peers/logfmt.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice(7);
/** `--profile`: the server children run with `--cpu-prof`, profiles land in bench/profiles/. */
const profileDir = args.includes('--profile') ? fileURLToPath(new URL('profiles/', import.meta.url)) : undefined;
/** `--server-flags="--max-semi-space-size=64 …"`: extra node flags for the server children. */
const serverFlags = (args.find((a) => a.startsWith('--server-flags='))?.slice(15) ?? '').split(' ').filter(Boolean);
/** `--inflight=N`: requests in flight (default 2, one per connection). */
const inflight = Number(args.find((a) => a.startsWith('--inflight='))?.slice(11) ?? 2);

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
  dSmall = runDecode(small, decodeOpts);
  const dLarge = runDecode(large, decodeOpts);
  const rows = [['', '100-line lines/s', 'MB/s', '1 MB lines/s', 'MB/s', 'out/line']];
  for (const c of DECODE_CASES) {
    const s = dSmall[c.key];
    const l = dLarge[c.key];
    rows.push([c.label, si(s.linesPerSec), mbps(s.bytesPerSec), si(l.linesPerSec), mbps(l.bytesPerSec), s.outputPerLine.toFixed(2)]);
  }
  console.log(table(rows));
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
if (only === undefined || only === 'http') {
  console.log(
    `\n== HTTP ingest: server in a child process, undici client here; ${httpOpts.connections} keep-alive connections, ` +
      `pipelining 1, ${httpOpts.inflight} in flight, 100-line bodies, ${httpOpts.durationMs / 1000} s after ${httpOpts.warmupMs / 1000} s warm-up`,
  );
  const token = generateIngestToken();
  for (const t of httpTargets(token)) http.push(await runHttp(t, small, httpOpts));
  console.log(table([
    ['server', 'req/s', 'lines/s', 'ok', 'failures', 'server CPU', 'client CPU'],
    ...http.map((h) => [h.name, si(h.reqPerSec), si(h.linesPerSec), String(h.ok), String(h.failures), `${h.serverCpu.toFixed(0)}%`, `${h.clientCpu.toFixed(0)}%`]),
  ]));
  for (const h of http) if (h.failureReasons.length) console.log(`  ${h.name} failures: ${h.failureReasons.join('; ')}`);
  const [bare, peer, sluice] = http as [HttpResult, HttpResult, HttpResult];
  console.log('\nratios:');
  console.log(table([
    ['sluice / bare node:http', ratio(sluice.linesPerSec, bare.linesPerSec)],
    ['sluice / peer logfmt.bodyParser', ratio(sluice.linesPerSec, peer.linesPerSec)],
    ...(dSmall ? [['sluice HTTP / full normalisation in-process (100-line)', ratio(sluice.linesPerSec, dSmall.full.linesPerSec)]] : []),
  ]));
}

console.log('\n== targets (this machine)');
const rows = [['target', 'measured', '']];
const verdict = (v: number, min: number) => (v >= min ? 'met' : 'MISSED');
if (dSmall) {
  const h = dSmall.header.linesPerSec;
  rows.push(['framing + RFC 5424 header + µs ts ≥ 1.5M lines/s (100-line)', si(h), verdict(h, 1.5e6)]);
  rows.push(['full normalisation ≥ 500k lines/s (100-line)', si(dSmall.full.linesPerSec), verdict(dSmall.full.linesPerSec, 5e5)]);
}
if (http.length) {
  const s = http[2]!.linesPerSec;
  rows.push(['POST /drain ≥ 200k lines/s (2 conns, 100-line)', si(s), verdict(s, 2e5)]);
  if (dSmall) {
    const share = s / dSmall.full.linesPerSec;
    rows.push(['POST /drain ≥ 50% of full normalisation', `${(share * 100).toFixed(0)}%`, verdict(share, 0.5)]);
  }
}
console.log(table(rows));
console.log(`\n(total ${((performance.now() - started) / 1000).toFixed(0)} s)`);
