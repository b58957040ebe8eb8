/**
 * The client libraries' conformance driver. For each language (languages.ts) whose program has
 * landed: builds it, starts the real gateway (src/main.ts, memory store) and, per scenario
 * (scenarios.json), a fresh app and a fault-injecting proxy (proxy.ts) in front of the gateway;
 * runs the program (PROGRAM.md) against the proxy, then checks (checks.ts) what the gateway
 * stored, what the proxy saw and what the program reported. Prints a table scenario × language.
 *
 * By hand: `npx tsx clients/conformance/driver.ts [--lang=python,go] [--scenario=normal,overflow]`
 * (exit 1 when a scenario failed). `npm test` runs it through test/conformance.test.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveApp, writeAppsConfig, type LiveApp } from '../../test/support/live.js';
import { startGatewayProcess, type GatewayProcess } from '../../test/support/process.js';
import { check, type ProgramReport, type Scenario, type StoredEntry } from './checks.js';
import { LANGUAGES, ROOT, missingTool, programLanded, type Command, type Language, type LanguageContext } from './languages.js';
import { startProxy } from './proxy.js';

/** The scenarios of scenarios.json, in order. */
export function loadScenarios(): Scenario[] {
  const file = join(ROOT, 'clients/conformance/scenarios.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { scenarios: Scenario[] }).scenarios;
}

/** One cell of the table. */
export interface ScenarioResult {
  scenario: string;
  status: 'pass' | 'fail' | 'skip';
  /** Why it failed (every failed check) or was skipped; empty when it passed. */
  reasons: string[];
  ms: number;
}

/** One column of the table. */
export interface LanguageResult {
  language: string;
  /** Set when the whole language was skipped: why. */
  skipped?: string;
  results: ScenarioResult[];
}

export interface RunOptions {
  /** Language names (default: all of languages.ts). */
  languages?: string[];
  /** Scenario names (default: all of scenarios.json). */
  scenarios?: string[];
  /** Languages run at once (default: the cores, at most 2); scenarios of one language always run in sequence. */
  concurrency?: number;
  /** Progress lines (one per build and scenario). */
  log?: (line: string) => void;
  /** Under CI a missing toolchain fails instead of skipping (default: `process.env.CI` is set). */
  ci?: boolean;
  /**
   * `performance.now()` after which no scenario starts: those left fail as not run, so a hung
   * library cannot stretch the suite past its bound (a running program still has its own 60 s).
   */
  deadline?: number;
}

const PROGRAM_TIMEOUT_MS = 60_000;
const BUILD_TIMEOUT_MS = 180_000;

/** The output of one child process. */
export interface ProcessOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The deadline it ran under. */
  timeoutMs: number;
  /** Peak RSS in MiB, when `measureMemory` was asked. */
  peakRssMiB?: number;
}

/** The environment a command runs in: ours, without the variables the program reads, plus `extra`. */
function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLUICE_') && k !== 'CONFORMANCE') env[k] = v;
  return { ...env, ...extra };
}

function vmHwmMiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** GNU time, whose `%M` is the peak RSS the kernel kept for the process (wait4's ru_maxrss): exact even for a short run. */
const GNU_TIME = '/usr/bin/time';

/**
 * Runs `c` to its end (killed after `timeoutMs`). `measureMemory`: its peak RSS, from GNU time
 * where installed (Debian's `time`), else by polling VmHWM every 20 ms (which can miss a run
 * shorter than that).
 */
export function runCommand(
  c: Command,
  extraEnv: Record<string, string> = {},
  timeoutMs = PROGRAM_TIMEOUT_MS,
  measureMemory = false,
): Promise<ProcessOutcome> {
  const timeFile = measureMemory && existsSync(GNU_TIME) ? join(mkdtempSync(join(tmpdir(), 'sluice-time-')), 'rss') : undefined;
  const sampleMemory = measureMemory && !timeFile;
  const [cmd, args] = timeFile ? [GNU_TIME, ['-f', '%M', '-o', timeFile, c.cmd, ...c.args]] : [c.cmd, c.args];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: c.cwd ? join(ROOT, c.cwd) : ROOT,
      env: childEnv({ ...c.env, ...extraEnv }),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Under GNU time the program is a grandchild: its own process group, so a timeout ends both
      // (killing time alone would leave the program running, holding the pipes open).
      detached: Boolean(timeFile),
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let peak: number | undefined;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    // Only the tail matters for a reason; a chatty program must not fill memory.
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8_000)));
    const sample = () => {
      const v = child.pid ? vmHwmMiB(child.pid) : undefined;
      if (v !== undefined) peak = Math.max(peak ?? 0, v);
    };
    const sampler = sampleMemory ? setInterval(sample, 20) : undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      if (timeFile && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      } else child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      stderr += `\n${err.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (sampler) clearInterval(sampler);
      if (timeFile) {
        try {
          const kb = Number(readFileSync(timeFile, 'utf8').trim().split('\n').at(-1));
          if (kb > 0) peak = kb / 1024;
        } catch {
          // no figure: GNU time could not write it
        }
        rmSync(join(timeFile, '..'), { recursive: true, force: true });
      }
      resolve({ code, signal, stdout, stderr, timedOut, timeoutMs, peakRssMiB: peak });
    });
    if (sampleMemory) child.on('spawn', sample);
  });
}

/** The last lines of a process's output, for a failure reason. */
function tail(text: string, lines = 3): string {
  return text.trim().split('\n').slice(-lines).join(' | ').slice(0, 400);
}

/** Parses the program's one JSON line (PROGRAM.md). */
export function parseReport(out: ProcessOutcome): { report?: ProgramReport; error?: string } {
  if (out.timedOut) return { error: `timed out after ${out.timeoutMs / 1000} s: ${tail(out.stderr)}` };
  if (out.code !== 0) return { error: `exit ${out.code ?? out.signal}: ${tail(out.stderr)}` };
  const lines = out.stdout.split('\n').filter((l) => l.trim());
  if (lines.length !== 1) return { error: `stdout has ${lines.length} lines, not one JSON line: ${tail(out.stdout)}` };
  try {
    return { report: JSON.parse(lines[0]!) as ProgramReport };
  } catch (err) {
    return { error: `stdout is not JSON: ${(err as Error).message}` };
  }
}

/** Runs the build steps of `lang`; throws with the output's tail when one fails. */
export async function buildLanguage(lang: Language, ctx: LanguageContext): Promise<void> {
  for (const step of lang.build(ctx)) {
    if (typeof step === 'function') {
      await step();
      continue;
    }
    const out = await runCommand(step, {}, BUILD_TIMEOUT_MS);
    if (out.code !== 0) throw new Error(`${[step.cmd, ...step.args].join(' ')}: exit ${out.code ?? out.signal}${out.timedOut ? ' (timed out)' : ''}: ${tail(out.stderr + out.stdout, 6)}`);
  }
}

/** Why `lang` cannot run here, if it cannot: its program has not landed, or a tool is missing. */
export function unavailable(lang: Language): { reason: string; toolchain: boolean } | undefined {
  if (!programLanded(lang)) return { reason: `its program (${lang.program}) has not landed yet`, toolchain: false };
  const tool = missingTool(lang.toolchain);
  if (tool) return { reason: `${tool} not on PATH`, toolchain: true };
  return undefined;
}

/** Every stored entry of `app`, oldest first (the history API pages newest first). */
export async function storedEntries(gatewayUrl: string, app: LiveApp): Promise<StoredEntry[]> {
  const entries: StoredEntry[] = [];
  for (let offset = 0; ; offset += 1000) {
    const res = await fetch(`${gatewayUrl}/api/logs?limit=1000&offset=${offset}`, { headers: { Authorization: `Bearer ${app.read}` } });
    if (res.status !== 200) throw new Error(`GET /api/logs: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { entries: StoredEntry[] };
    entries.push(...page.entries);
    if (page.entries.length < 1000) break;
  }
  return entries.reverse();
}

/** The gateway the suite and the benchmark run against: memory store, rate limit off, history for every entry. */
export function startSuiteGateway(apps: LiveApp[], env: Record<string, string> = {}): Promise<GatewayProcess> {
  return startGatewayProcess({
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_LINES_PER_SEC: '0',
    HISTORY_PER_APP: '100000',
    HISTORY_BYTES_PER_APP: String(256 * 1024 * 1024),
    SLUICE_CONFIG: writeAppsConfig(apps),
    ...env,
  });
}

/** An app of its own for each language × scenario, so no count mixes with another run's. */
export function appFor(language: string, scenario: string): LiveApp {
  return liveApp(`conformance-${language}-${scenario}`);
}

async function runScenario(lang: Language, ctx: LanguageContext, gw: GatewayProcess, scenario: Scenario): Promise<ScenarioResult> {
  const t0 = performance.now();
  const app = appFor(lang.name, scenario.name);
  const proxy = await startProxy(gw.url);
  try {
    proxy.arm(scenario.faults);
    const out = await runCommand(lang.run(ctx), {
      SLUICE_URL: proxy.url,
      SLUICE_TOKEN: app.ingest,
      SLUICE_SERVICE: app.id,
      CONFORMANCE: JSON.stringify(scenario.run),
    });
    const { report, error } = parseReport(out);
    const ms = performance.now() - t0;
    if (!report) return { scenario: scenario.name, status: 'fail', reasons: [error!], ms };
    const stored = await storedEntries(gw.url, app);
    const reasons = check({ language: lang.name, scenario, appId: app.id, report, requests: [...proxy.requests], stored });
    return { scenario: scenario.name, status: reasons.length ? 'fail' : 'pass', reasons, ms };
  } catch (err) {
    return { scenario: scenario.name, status: 'fail', reasons: [`driver: ${(err as Error).message}`], ms: performance.now() - t0 };
  } finally {
    await proxy.close();
  }
}

/** Builds and runs one language through `scenarios`, one after the other, on a gateway of its own. */
export async function runLanguage(lang: Language, scenarios: Scenario[], opts: Pick<RunOptions, 'log' | 'ci' | 'deadline'> = {}): Promise<LanguageResult> {
  const log = opts.log ?? (() => {});
  const ci = opts.ci ?? Boolean(process.env.CI);
  const all = (status: ScenarioResult['status'], reason: string): LanguageResult => ({
    language: lang.name,
    skipped: status === 'skip' ? reason : undefined,
    results: scenarios.map((s) => ({ scenario: s.name, status, reasons: [reason], ms: 0 })),
  });
  const missing = unavailable(lang);
  if (missing) {
    // CI installs every toolchain (.ci/run): one missing there is a broken install, not a skip.
    if (missing.toolchain && ci) return all('fail', `${missing.reason} (CI must install it: .ci/run)`);
    log(`${lang.name}: skipped (${missing.reason})`);
    return all('skip', missing.reason);
  }
  const tmp = mkdtempSync(join(tmpdir(), `sluice-conformance-${lang.name}-`));
  const ctx: LanguageContext = { tmp };
  let gw: GatewayProcess | undefined;
  try {
    const b0 = performance.now();
    try {
      await buildLanguage(lang, ctx);
    } catch (err) {
      return all('fail', `build: ${(err as Error).message}`);
    }
    log(`${lang.name}: built in ${((performance.now() - b0) / 1000).toFixed(1)} s`);
    gw = await startSuiteGateway(scenarios.map((s) => appFor(lang.name, s.name)));
    const results: ScenarioResult[] = [];
    for (const s of scenarios) {
      const r =
        opts.deadline !== undefined && performance.now() > opts.deadline
          ? { scenario: s.name, status: 'fail' as const, reasons: ['not run: the suite ran out of time'], ms: 0 }
          : await runScenario(lang, ctx, gw, s);
      log(`${lang.name} ${s.name}: ${r.status === 'pass' ? '✓' : `✗ ${r.reasons.join('; ')}`} (${(r.ms / 1000).toFixed(1)} s)`);
      results.push(r);
    }
    return { language: lang.name, results };
  } finally {
    if (gw) {
      const stopped = gw.stop();
      const killer = setTimeout(() => gw!.child.kill('SIGKILL'), 5_000);
      await stopped;
      clearTimeout(killer);
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Runs the suite: the chosen languages, up to `concurrency` at once, each through the chosen scenarios. */
export async function runConformance(opts: RunOptions = {}): Promise<LanguageResult[]> {
  const scenarios = loadScenarios().filter((s) => !opts.scenarios || opts.scenarios.includes(s.name));
  const unknownScenario = opts.scenarios?.find((n) => !scenarios.some((s) => s.name === n));
  if (unknownScenario) throw new Error(`no scenario ${unknownScenario} in scenarios.json`);
  const langs = LANGUAGES.filter((l) => !opts.languages || opts.languages.includes(l.name));
  const unknownLang = opts.languages?.find((n) => !LANGUAGES.some((l) => l.name === n));
  if (unknownLang) throw new Error(`no language ${unknownLang} in languages.ts`);
  const results: LanguageResult[] = new Array(langs.length);
  let next = 0;
  const worker = async () => {
    while (next < langs.length) {
      const i = next++;
      results[i] = await runLanguage(langs[i]!, scenarios, opts);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? Math.min(2, availableParallelism()), langs.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}

/** A cell: ✓, ✗ with the first reason cut short, or skipped. */
function cell(r: ScenarioResult | undefined): string {
  if (!r) return '';
  if (r.status === 'pass') return `✓ ${(r.ms / 1000).toFixed(1)}s`;
  if (r.status === 'skip') return 'skipped';
  const first = r.reasons[0] ?? '';
  return `✗ ${first.length > 38 ? `${first.slice(0, 37)}…` : first}`;
}

/** The table scenario × language, then every failure's reasons in full and why languages were skipped. */
export function formatTable(results: LanguageResult[]): string {
  const scenarios = [...new Set(results.flatMap((l) => l.results.map((r) => r.scenario)))];
  const rows = [['scenario', ...results.map((l) => l.language)]];
  for (const s of scenarios) rows.push([s, ...results.map((l) => cell(l.results.find((r) => r.scenario === s)))]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => [...(r[c] ?? '')].length)));
  const lines = rows.map((r) => r.map((v, c) => v + ' '.repeat(widths[c]! - [...v].length)).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of results) {
    if (l.skipped) lines.push(`${l.language}: skipped (${l.skipped})`);
    for (const r of l.results) if (r.status === 'fail') lines.push(`${l.language} ${r.scenario}: ${r.reasons.join('; ')}`);
  }
  return lines.join('\n');
}

/** Did every scenario that ran pass (skips allowed)? */
export function allPassed(results: LanguageResult[]): boolean {
  return results.every((l) => l.results.every((r) => r.status !== 'fail'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3).split(',').filter(Boolean);
  const results = await runConformance({ languages: arg('lang'), scenarios: arg('scenario'), log: (l) => console.error(l) });
  console.log(formatTable(results));
  process.exitCode = allPassed(results) ? 0 : 1;
}
