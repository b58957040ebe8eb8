/**
 * What the conformance driver checks after one program run (scenarios.json's `expect`, plus
 * what holds in every scenario): the program's own report, the requests the proxy saw, and the
 * entries the gateway stored. Each check that fails adds one short reason.
 */
import type { Fault, RecordedRequest } from './proxy.js';

/** A scenario's `run` (the program's CONFORMANCE, PROGRAM.md). */
export interface RunSettings {
  loggers: number;
  entries: number;
  batch_size: number;
  flush_interval_ms: number;
  max_buffer_entries: number;
  max_retries: number;
  stop_timeout_ms: number;
  request_timeout_ms: number;
  log_gap_ms: number;
}

/** A scenario's `expect`. */
export interface Expectations {
  /**
   * `all`: every seq of every logger stored exactly once, in order per logger.
   * `all_but_one_batch`: exactly batch_size entries of one logger missing, one contiguous
   * range; the rest once and in order. `overflow`: the dropped entries are one contiguous range
   * per logger, stats.dropped = the stored WARN entry's context.dropped = what is missing.
   */
  stored: 'all' | 'all_but_one_batch' | 'overflow';
  /** The sum of the loggers' stats.failed: a number, or `batch_size`. */
  failed?: number | 'batch_size';
  /** The sum of the loggers' stats.dropped. */
  dropped?: number;
  /** At least one request (or connection) was met by a fault of this kind: the scenario really happened. */
  faulted?: Fault['kind'];
  /**
   * After each answer with Retry-After R: no request at all for R s (− slack_ms), and the same
   * batch_id sent again within R s + late_ms.
   */
  retry_after?: { slack_ms: number; late_ms: number };
  /** A batch answered with a fault's 4xx is never sent again. */
  not_resent?: boolean;
  /** The batch whose answer was cut is sent again with the same batch_id and acknowledged. */
  resent_same_batch_id?: boolean;
  /** The slowest log call, in ms, stays under this. */
  max_call_ms?: number;
  /** The program's elapsed_ms stays under this. */
  elapsed_below_ms?: number;
}

export interface Scenario {
  name: string;
  description: string;
  run: RunSettings;
  faults: Fault[];
  expect: Expectations;
}

/** The program's JSON line (PROGRAM.md). */
export interface ProgramReport {
  language: string;
  library: string;
  loggers: Array<{ sent: number; failed: number; dropped: number; buffered: number; retries: number; state: string }>;
  call_us: { p50: number; p99: number; max: number };
  elapsed_ms: number;
}

/** A stored entry as `GET /api/logs` returns it (the fields checked). */
export interface StoredEntry {
  level?: string;
  message?: string;
  app_id?: string;
  source?: string;
  category?: string;
  tags?: string[];
  timestamp?: string;
  context?: Record<string, unknown>;
}

export interface CheckInput {
  language: string;
  scenario: Scenario;
  appId: string;
  report: ProgramReport;
  requests: RecordedRequest[];
  /** The app's stored entries, oldest first. */
  stored: StoredEntry[];
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The ranges of `missing` (sorted) as `a-b` pieces, for reasons. */
function ranges(missing: number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < missing.length; ) {
    let j = i;
    while (j + 1 < missing.length && missing[j + 1] === missing[j]! + 1) j++;
    out.push(i === j ? `${missing[i]}` : `${missing[i]}-${missing[j]}`);
    i = j + 1;
  }
  return out;
}

/** Per logger: seqs stored in storage order, and how they compare with 0…entries-1. */
interface LoggerSeqs {
  seqs: number[];
  missing: number[];
  duplicates: number;
  outOfOrder: number;
  /** seqs that were never logged (not an integer in 0…entries-1). */
  outside: number;
}

function analyse(seqs: number[], entries: number): LoggerSeqs {
  const count = new Map<number, number>();
  for (const s of seqs) count.set(s, (count.get(s) ?? 0) + 1);
  const missing: number[] = [];
  let duplicates = 0;
  for (let s = 0; s < entries; s++) {
    const n = count.get(s) ?? 0;
    if (n === 0) missing.push(s);
    else duplicates += n - 1;
  }
  let outside = 0;
  for (const s of seqs) if (s < 0 || s >= entries || !Number.isInteger(s)) outside++;
  let outOfOrder = 0;
  for (let k = 1; k < seqs.length; k++) if (seqs[k]! <= seqs[k - 1]!) outOfOrder++;
  return { seqs, missing, duplicates, outOfOrder, outside };
}

/** Is `e` the loss report a full buffer leaves (README "Delivery": WARN, context.dropped)? */
export function isLossReport(e: StoredEntry): boolean {
  return e.level === 'WARN' && typeof e.context?.dropped === 'number' && e.context?.seq === undefined;
}

/** Runs every check; returns the reasons of those that failed (empty: passed). */
export function check(input: CheckInput): string[] {
  const { language, scenario, appId, report, requests, stored } = input;
  const { run, expect } = scenario;
  const fail: string[] = [];

  // --- the program's report ---
  if (report.language !== language) fail.push(`report.language ${JSON.stringify(report.language)}`);
  const libRe = new RegExp(`^sluice-${language}/\\d+\\.\\d+\\.\\d+\\S*$`);
  if (typeof report.library !== 'string' || !libRe.test(report.library)) fail.push(`report.library ${JSON.stringify(report.library)} is not sluice-${language}/<semver>`);
  if (!Array.isArray(report.loggers) || report.loggers.length !== run.loggers) {
    fail.push(`report.loggers: ${Array.isArray(report.loggers) ? report.loggers.length : 'none'} of ${run.loggers}`);
    return fail;
  }
  for (const [l, s] of report.loggers.entries()) {
    if (s.state !== 'stopped') fail.push(`logger ${l} state ${JSON.stringify(s.state)} after stop`);
    if (s.buffered !== 0) fail.push(`logger ${l} still buffers ${s.buffered} after stop`);
    for (const k of ['sent', 'failed', 'dropped', 'buffered', 'retries'] as const) {
      if (typeof s[k] !== 'number') fail.push(`logger ${l} stats.${k} missing`);
    }
  }
  const cu = report.call_us;
  if (!cu || ![cu.p50, cu.p99, cu.max].every((v) => typeof v === 'number' && v >= 0)) fail.push('call_us missing');
  if (typeof report.elapsed_ms !== 'number' || !(report.elapsed_ms > 0)) fail.push('elapsed_ms missing');

  // --- requests: method, path, User-Agent ---
  const reached = requests.filter((r) => r.n > 0);
  if (reached.length === 0) fail.push('no request reached the proxy');
  const uaRe = /^sluice-[a-z]+\/\S+ \([A-Za-z][\w.+-]* [^()]+\)$/;
  const badUa = reached.find((r) => !r.userAgent || !uaRe.test(r.userAgent) || !r.userAgent.startsWith(`${report.library} (`));
  if (badUa) fail.push(`User-Agent ${JSON.stringify(badUa.userAgent)} is not "${report.library} (<runtime> <version>)", the runtime's name and version apart as in "(node 20.18.0)"`);
  const badReq = reached.find((r) => r.method !== 'POST' || !/^\/api\/logs(\?|$)/.test(r.path));
  if (badReq) fail.push(`request ${badReq.method} ${badReq.path}`);
  const noBatch = reached.find((r) => !r.error && r.batchId === undefined);
  if (noBatch) fail.push(`a request without batch_id (${noBatch.error ?? 'body has none'})`);
  const badBody = reached.find((r) => r.error?.startsWith('body:'));
  if (badBody) fail.push(`unreadable body (Content-Encoding ${badBody.contentEncoding ?? 'none'}): ${badBody.error}`);

  // --- stored entries: fields ---
  const perLogger: number[][] = Array.from({ length: run.loggers }, () => []);
  const reports: StoredEntry[] = [];
  let badField: string | undefined;
  let strangers = 0;
  for (const e of stored) {
    const seq = e.context?.seq;
    const lg = e.context?.logger;
    if (typeof seq !== 'number' || typeof lg !== 'number') {
      if (isLossReport(e)) reports.push(e);
      else strangers++;
      continue;
    }
    if (!Number.isInteger(lg) || lg < 0 || lg >= run.loggers) {
      strangers++;
      continue;
    }
    perLogger[lg]!.push(seq);
    if (badField) continue;
    if (e.level !== 'INFO') badField = `level ${JSON.stringify(e.level)}`;
    else if (e.message !== `conformance ${lg} ${seq}`) badField = `message ${JSON.stringify(e.message)}`;
    else if (e.source !== `logger-${lg}`) badField = `source ${JSON.stringify(e.source)} for logger ${lg}`;
    else if (e.app_id !== appId) badField = `app_id ${JSON.stringify(e.app_id)}`;
    else if (typeof e.timestamp !== 'string' || Number.isNaN(Date.parse(e.timestamp))) badField = `timestamp ${JSON.stringify(e.timestamp)}`;
    if (badField) badField += ` (entry ${lg}/${seq})`;
  }
  if (badField) fail.push(`stored ${badField}`);
  if (strangers) fail.push(`${strangers} stored entries that are no logged entry`);

  // --- stored entries: counts and order ---
  const seqs = perLogger.map((s) => analyse(s, run.entries));
  const storedCount = sum(seqs.map((s) => s.seqs.length));
  const totals = {
    sent: sum(report.loggers.map((s) => s.sent)),
    failed: sum(report.loggers.map((s) => s.failed)),
    dropped: sum(report.loggers.map((s) => s.dropped)),
  };
  for (const [l, s] of seqs.entries()) {
    if (s.duplicates) fail.push(`logger ${l}: ${s.duplicates} stored twice`);
    if (s.outOfOrder) fail.push(`logger ${l}: ${s.outOfOrder} out of order`);
    if (s.outside) fail.push(`logger ${l}: ${s.outside} stored seqs that were never logged`);
  }
  if (expect.stored === 'all') {
    for (const [l, s] of seqs.entries()) {
      if (s.missing.length) fail.push(`logger ${l}: ${s.missing.length} of ${run.entries} not stored (${ranges(s.missing).slice(0, 3).join(', ')})`);
    }
    if (reports.length) fail.push(`${reports.length} loss report(s) stored where nothing was lost`);
  } else if (expect.stored === 'all_but_one_batch') {
    const lost = seqs.filter((s) => s.missing.length > 0);
    const missing = sum(seqs.map((s) => s.missing.length));
    if (missing !== run.batch_size || lost.length !== 1) fail.push(`${missing} not stored (${lost.length} loggers), expected exactly one batch of ${run.batch_size}`);
    else if (ranges(lost[0]!.missing).length !== 1) fail.push(`the missing entries are not one batch: ${ranges(lost[0]!.missing).join(', ')}`);
  } else if (expect.stored === 'overflow') {
    const missing = sum(seqs.map((s) => s.missing.length));
    if (missing === 0) fail.push('nothing was dropped: the scenario did not overflow the buffer');
    for (const [l, s] of seqs.entries()) {
      if (s.missing.length && ranges(s.missing).length !== 1) fail.push(`logger ${l}: the dropped entries are not one contiguous range: ${ranges(s.missing).slice(0, 4).join(', ')}`);
    }
    if (totals.dropped !== missing) fail.push(`stats.dropped ${totals.dropped} but ${missing} not stored`);
    if (reports.length !== 1) fail.push(`${reports.length} loss reports stored, expected 1`);
    else {
      const r = reports[0]!;
      const reported = r.context!.dropped as number;
      if (reported !== totals.dropped) fail.push(`the WARN entry says ${reported} dropped, stats.dropped ${totals.dropped}`);
      if (r.category !== 'sluice.client') fail.push(`the WARN entry's category ${JSON.stringify(r.category)}, not "sluice.client"`);
      if (typeof r.context!.since !== 'string') fail.push("the WARN entry has no context.since");
    }
  }
  // What the loggers say they delivered is what the gateway holds (the loss report counts for Node; either way is fine).
  if (totals.sent !== storedCount && totals.sent !== storedCount + reports.length) {
    fail.push(`stats.sent ${totals.sent}, stored ${storedCount}${reports.length ? ` + ${reports.length} WARN` : ''}`);
  }
  if (expect.failed !== undefined) {
    const want = expect.failed === 'batch_size' ? run.batch_size : expect.failed;
    if (totals.failed !== want) fail.push(`stats.failed ${totals.failed}, expected ${want}`);
  }
  if (expect.dropped !== undefined && totals.dropped !== expect.dropped) fail.push(`stats.dropped ${totals.dropped}, expected ${expect.dropped}`);

  // --- the faults happened, and the library answered them as it should ---
  if (expect.faulted && !requests.some((r) => r.fault === expect.faulted)) fail.push(`no request met the ${expect.faulted} fault`);
  if (expect.retry_after) {
    const { slack_ms, late_ms } = expect.retry_after;
    for (const [i, r] of requests.entries()) {
      if (r.retryAfter === undefined) continue;
      const next = requests.slice(i + 1).find((q) => q.n > 0 && q.batchId === r.batchId);
      const wait = r.retryAfter * 1000;
      if (!next) {
        fail.push(`request ${r.n} (${r.status}, Retry-After ${r.retryAfter}) was never retried with its batch_id`);
        continue;
      }
      // Retry-After is about the client, not the batch: no request at all before it has passed.
      const early = requests.slice(i + 1).find((q) => q.n > 0 && q !== next && q.at - r.answeredAt < wait - slack_ms);
      if (early) fail.push(`request ${early.n} sent ${(early.at - r.answeredAt).toFixed(0)} ms after a ${r.status} with Retry-After ${r.retryAfter}`);
      const gap = next.at - r.answeredAt;
      if (gap < wait - slack_ms) fail.push(`retry ${gap.toFixed(0)} ms after a ${r.status} with Retry-After ${r.retryAfter}`);
      else if (gap > wait + late_ms) fail.push(`retry ${gap.toFixed(0)} ms after a ${r.status} with Retry-After ${r.retryAfter} (more than ${late_ms} ms late)`);
    }
  }
  if (expect.not_resent) {
    for (const r of requests) {
      if (r.fault !== 'status' || r.status < 400 || r.status >= 500 || r.status === 408 || r.status === 429) continue;
      const again = requests.filter((q) => q !== r && q.batchId === r.batchId).length;
      if (again) fail.push(`the batch answered ${r.status} was sent ${again} more time(s)`);
    }
  }
  if (expect.resent_same_batch_id) {
    for (const [i, r] of requests.entries()) {
      if (r.fault !== 'drop_after_store') continue;
      const next = requests.slice(i + 1).find((q) => q.batchId === r.batchId && q.status >= 200 && q.status < 300);
      if (!next) fail.push('the batch whose answer was lost was not acknowledged on a retry with the same batch_id');
      else if (next.status !== 200) fail.push(`the retry of a stored batch was answered ${next.status}, not 200 duplicate`);
    }
  }
  if (expect.max_call_ms !== undefined && cu && cu.max / 1000 >= expect.max_call_ms) {
    fail.push(`slowest log call ${(cu.max / 1000).toFixed(1)} ms (bound ${expect.max_call_ms} ms)`);
  }
  if (expect.elapsed_below_ms !== undefined && report.elapsed_ms >= expect.elapsed_below_ms) {
    fail.push(`elapsed ${report.elapsed_ms.toFixed(0)} ms (bound ${expect.elapsed_below_ms} ms)`);
  }
  return fail;
}
