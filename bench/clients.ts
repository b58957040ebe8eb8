/**
 * The client libraries side by side (`npm run bench -- --only=clients`): each language's
 * conformance program (clients/conformance/PROGRAM.md, built and started as
 * clients/conformance/languages.ts says) with one big run — one logger, RUN.entries entries
 * logged back to back, the default batch size 100 — straight to the real gateway (`src/main.ts`
 * as `npm start` runs it, memory store, rate limit off) in a child process, no proxy. Per
 * language, the median of the runs:
 *
 * - the cost of one log call (the program times each; p50, p99, max);
 * - entries/s delivered: entries the gateway stored (`sluice_ingest_lines_total`) divided
 *   by the program's elapsed_ms (first log call to every logger's stop() returned);
 * - the program's peak RSS (GNU time's %M where /usr/bin/time is installed, else VmHWM of
 *   /proc/<pid>/status sampled every 20 ms), the whole process,
 *   in those runs; and what buffering costs: the peak RSS of a 10,000-entry run at the default
 *   buffer bound less that of a one-entry run (the runtime and the library loaded);
 * - CPU of the program, the gateway and everything else over the run: when other processes took
 *   more than 20 % of a core, the run is marked disturbed.
 *
 * Each against the seed's figures (1,000 logs/s, < 1 ms per call, < 50 MB) and as a ratio to
 * Node's delivered rate (the aim: within 3×). A language whose program has not landed, or whose
 * toolchain is missing, is listed as skipped. Figures only: nothing here passes or fails.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAppsConfig } from '../test/support/live.js';
import { appFor, buildLanguage, parseReport, runCommand, unavailable, type ProcessOutcome } from '../clients/conformance/driver.js';
import type { ProgramReport, RunSettings } from '../clients/conformance/checks.js';
import { LANGUAGES, type Language } from '../clients/conformance/languages.js';
import { startGateway, type Gateway } from './client.js';
import { machineJiffies, stopServer } from './http-ingest.js';
import { median, ratio, si, table } from './measure.js';

/**
 * The big run. 30,000 entries, not more: every entry is logged before most are delivered (the
 * programs log back to back, far faster than one logger delivers), and the whole run must fit
 * the buffer's bounds so nothing is dropped — Node's byte bound is 8 MiB and an entry is ~220 B
 * of JSON. The entry bound is raised to match.
 */
export const RUN: RunSettings = {
  loggers: 1,
  entries: 30_000,
  batch_size: 100,
  flush_interval_ms: 200,
  max_buffer_entries: 30_000,
  max_retries: 5,
  stop_timeout_ms: 60_000,
  request_timeout_ms: 10_000,
  log_gap_ms: 0,
};

/**
 * The memory run, for the seed's "< 50 MB": 10,000 entries back to back with the default buffer
 * bound (10,000), so at worst a full default buffer. Its peak RSS less the baseline run's (one
 * entry: the runtime and the library loaded) is what the library's buffering costs.
 */
export const MEMORY_RUN: RunSettings = { ...RUN, entries: 10_000, max_buffer_entries: 10_000 };
const BASELINE_RUN: RunSettings = { ...RUN, entries: 1 };

const CLK_TCK = 100;
const DISTURBED_PCT = 20;

export interface ClientsBenchOptions {
  quick: boolean;
  /** Extra node flags for the gateway child. */
  serverNodeArgs?: string[];
  /** Language names (default: every one of languages.ts). */
  languages?: string[];
}

/** One run of one program. */
interface Run {
  report: ProgramReport;
  stored: number;
  entriesPerSec: number;
  peakRssMiB?: number;
  /** % of one core over the run. */
  cpu: { program: number; gateway: number; other: number };
}

/** One language's row. */
export interface LanguageFigures {
  language: string;
  skipped?: string;
  /** Why a run broke (a program that failed is no figure). */
  error?: string;
  library?: string;
  runs: Run[];
  p50Us?: number;
  p99Us?: number;
  maxUs?: number;
  entriesPerSec?: number;
  stored?: number;
  dropped?: number;
  failed?: number;
  peakRssMiB?: number;
  /** Peak RSS of the one-entry run: the runtime with the library loaded. */
  baselineRssMiB?: number;
  /** Peak RSS of the memory run less the baseline. */
  growthMiB?: number;
  disturbed?: boolean;
}

function procCpuSec(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** CPU of this process's exited (and reaped) children: the program once it has ended. */
function exitedChildrenCpuSec(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
}

/**
 * Lines the gateway stored since it started (`sluice_ingest_lines_total`, every route and
 * status). Counted there rather than in the history, which keeps its default size: a history
 * holding every run would grow the gateway's heap from run to run and slow the later ones.
 */
async function ingestedLines(gw: Gateway): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith('sluice_ingest_lines_total{')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}

async function runOnce(lang: Language, tmp: string, gw: Gateway, app: ReturnType<typeof appFor>, settings: RunSettings = RUN): Promise<Run> {
  const lines0 = await ingestedLines(gw);
  const g0 = procCpuSec(gw.child.pid!);
  const c0 = exitedChildrenCpuSec();
  const s0 = process.cpuUsage();
  const m0 = machineJiffies();
  const t0 = performance.now();
  const out: ProcessOutcome = await runCommand(
    lang.run({ tmp }),
    { SLUICE_URL: gw.url, SLUICE_TOKEN: app.ingest, SLUICE_SERVICE: app.id, CONFORMANCE: JSON.stringify(settings) },
    180_000,
    true,
  );
  const secs = (performance.now() - t0) / 1000;
  const m1 = machineJiffies();
  const { report, error } = parseReport(out);
  if (!report) throw new Error(error);
  const program = ((exitedChildrenCpuSec() - c0) / secs) * 100;
  const gateway = ((procCpuSec(gw.child.pid!) - g0) / secs) * 100;
  const su = process.cpuUsage(s0);
  const self = ((su.user + su.system) / 1e6 / secs) * 100;
  const machine = ((m1.busy - m0.busy) / (m1.total - m0.total)) * availableParallelism() * 100;
  const stored = (await ingestedLines(gw)) - lines0;
  return {
    report,
    stored,
    entriesPerSec: stored / (report.elapsed_ms / 1000),
    peakRssMiB: out.peakRssMiB,
    cpu: { program, gateway, other: Math.max(0, machine - program - gateway - self) },
  };
}

async function benchLanguage(lang: Language, runs: number, serverNodeArgs: string[]): Promise<LanguageFigures> {
  const missing = unavailable(lang);
  if (missing) return { language: lang.name, skipped: missing.reason, runs: [] };
  const tmp = mkdtempSync(join(tmpdir(), `sluice-bench-clients-${lang.name}-`));
  const apps = Array.from({ length: runs + 3 }, (_, i) => appFor(lang.name, `bench-${i}`));
  let gw: Gateway | undefined;
  const fig: LanguageFigures = { language: lang.name, runs: [] };
  try {
    await buildLanguage(lang, { tmp });
    gw = await startGateway({
      nodeArgs: serverNodeArgs,
      env: { SLUICE_CONFIG: writeAppsConfig(apps) },
    });
    // Run 0 warms the gateway (and the JIT of the JVM and of Node's library) and is not counted.
    for (let i = 0; i <= runs; i++) {
      const r = await runOnce(lang, tmp, gw, apps[i]!);
      if (i > 0) fig.runs.push(r);
    }
    const baseline = (await runOnce(lang, tmp, gw, apps[runs + 1]!, BASELINE_RUN)).peakRssMiB;
    const full = (await runOnce(lang, tmp, gw, apps[runs + 2]!, MEMORY_RUN)).peakRssMiB;
    fig.baselineRssMiB = baseline;
    if (baseline !== undefined && full !== undefined) fig.growthMiB = full - baseline;
  } catch (err) {
    fig.error = (err as Error).message.slice(0, 300);
  } finally {
    if (gw) await stopServer(gw.child);
    rmSync(tmp, { recursive: true, force: true });
  }
  if (fig.runs.length) {
    const rs = fig.runs;
    fig.library = rs[0]!.report.library;
    fig.p50Us = median(rs.map((r) => r.report.call_us.p50));
    fig.p99Us = median(rs.map((r) => r.report.call_us.p99));
    fig.maxUs = Math.max(...rs.map((r) => r.report.call_us.max));
    fig.entriesPerSec = median(rs.map((r) => r.entriesPerSec));
    fig.stored = Math.min(...rs.map((r) => r.stored));
    fig.dropped = Math.max(...rs.map((r) => r.report.loggers.reduce((a, l) => a + l.dropped, 0)));
    fig.failed = Math.max(...rs.map((r) => r.report.loggers.reduce((a, l) => a + l.failed, 0)));
    const peaks = rs.map((r) => r.peakRssMiB).filter((v): v is number => v !== undefined);
    fig.peakRssMiB = peaks.length ? Math.max(...peaks) : undefined;
    fig.disturbed = rs.some((r) => r.cpu.other > DISTURBED_PCT);
  }
  return fig;
}

/** Runs every language in turn (one at a time: each has the machine to itself). */
export async function runClientsBench(opts: ClientsBenchOptions): Promise<LanguageFigures[]> {
  const runs = opts.quick ? 1 : 3;
  const out: LanguageFigures[] = [];
  for (const lang of LANGUAGES.filter((l) => !opts.languages || opts.languages.includes(l.name))) {
    out.push(await benchLanguage(lang, runs, opts.serverNodeArgs ?? []));
  }
  return out;
}

const f1 = (n: number | undefined) => (n === undefined ? '?' : n.toFixed(1));
const pct = (n: number) => `${n.toFixed(0)}%`;

/** Prints the table, the targets and the disturbed warnings. */
export function printClientsBench(figs: LanguageFigures[], quick: boolean): void {
  console.log(
    `\n== Client libraries (all languages): each library's conformance program, ${RUN.entries.toLocaleString('en')} entries from 1 logger logged back to back ` +
      `(batch_size ${RUN.batch_size}, flush ${RUN.flush_interval_ms} ms, buffer bound ${RUN.max_buffer_entries.toLocaleString('en')}), ` +
      `straight to the gateway (child, memory store, rate limit off); median of ${quick ? 1 : 3} runs after a warm-up run`,
  );
  const rows = [['language', 'library', 'call p50', 'p99', 'max', 'delivered/s', 'stored', 'dropped', 'peak RSS', 'baseline', '+10k', 'program CPU', 'gateway CPU', 'other CPU']];
  const notes: string[] = [];
  for (const f of figs) {
    if (f.skipped || f.error || !f.runs.length) {
      notes.push(`  ${f.language}: ${f.skipped ? `skipped (${f.skipped})` : `broke: ${f.error ?? 'no run'}`}`);
      continue;
    }
    const cpu = (k: 'program' | 'gateway' | 'other') => pct(median(f.runs.map((r) => r.cpu[k])));
    rows.push([
      f.language + (f.disturbed ? ' (disturbed)' : ''),
      f.library!,
      `${f1(f.p50Us)} µs`,
      `${f1(f.p99Us)} µs`,
      `${(f.maxUs! / 1000).toFixed(1)} ms`,
      f.runs.length > 1 ? `${si(f.entriesPerSec!)} (${si(Math.min(...f.runs.map((r) => r.entriesPerSec)))}–${si(Math.max(...f.runs.map((r) => r.entriesPerSec)))})` : si(f.entriesPerSec!),
      `${f.stored} of ${RUN.entries}`,
      String(f.dropped),
      f.peakRssMiB === undefined ? '?' : `${f1(f.peakRssMiB)} MB`,
      f.baselineRssMiB === undefined ? '?' : `${f1(f.baselineRssMiB)} MB`,
      f.growthMiB === undefined ? '?' : `+${f1(f.growthMiB)} MB`,
      cpu('program'),
      cpu('gateway'),
      cpu('other'),
    ]);
  }
  if (rows.length > 1) console.log(table(rows));
  for (const n of notes) console.log(n);
  console.log(
    '  (call: each log call timed by the program with its monotonic clock; delivered/s: stored ÷ elapsed_ms, first call to stop() returned; ' +
      `peak RSS: the whole process (GNU time's %M, else VmHWM) in the ${RUN.entries.toLocaleString('en')}-entry runs, holding what it buffered; baseline: peak RSS of a one-entry run; ` +
      `+10k: peak RSS of ${MEMORY_RUN.entries.toLocaleString('en')} entries back to back at the default bound of ${MEMORY_RUN.max_buffer_entries.toLocaleString('en')}, less the baseline; ` +
      'CPU in % of one core over a run; MB = MiB here)',
  );

  const node = figs.find((f) => f.language === 'node' && f.entriesPerSec !== undefined);
  const met = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const targets = [['target', 'language', 'measured', 'measured / target', '']];
  for (const f of figs) {
    if (f.entriesPerSec === undefined) continue;
    targets.push(['seed: ≥ 1,000 logs/s delivered', f.language, si(f.entriesPerSec), ratio(f.entriesPerSec, 1000), met(f.entriesPerSec >= 1000)]);
    targets.push(['seed: < 1 ms per log call (p99)', f.language, `${f1(f.p99Us)} µs`, ratio(f.p99Us!, 1000), met(f.p99Us! < 1000)]);
    if (f.growthMiB !== undefined) targets.push(['seed: < 50 MB (RSS growth, a default buffer of 10k)', f.language, `+${f1(f.growthMiB)} MB`, ratio(f.growthMiB, 50), met(f.growthMiB < 50)]);
    if (node && f.language !== 'node') {
      // Within 3×: at least a third of Node's delivered rate.
      const third = node.entriesPerSec! / 3;
      targets.push(["aim: delivered within 3× of Node's", f.language, `${ratio(f.entriesPerSec, node.entriesPerSec!)} Node's`, ratio(f.entriesPerSec, third), met(f.entriesPerSec >= third)]);
    }
  }
  console.log(`\ntargets:\n${table(targets)}`);
  for (const f of figs) {
    if (f.disturbed) console.log(`  WARNING: more than ${DISTURBED_PCT}% of a core went to other processes during a ${f.language} run: its figures are disturbed, run again`);
    if (f.dropped || f.failed || (f.stored !== undefined && f.stored < RUN.entries)) {
      console.log(`  NOTE: ${f.language} stored ${f.stored} of ${RUN.entries} (dropped ${f.dropped}, failed ${f.failed}): its delivered rate counts only what was stored`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const languages = process.argv.find((a) => a.startsWith('--lang='))?.slice(7).split(',');
  printClientsBench(await runClientsBench({ quick, languages }), quick);
}
