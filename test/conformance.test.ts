import { beforeAll, describe, expect, it } from 'vitest';
import { check, type CheckInput, type Scenario, type StoredEntry } from '../clients/conformance/checks.js';
import { formatTable, loadScenarios, runConformance, type LanguageResult } from '../clients/conformance/driver.js';
import { LANGUAGES } from '../clients/conformance/languages.js';
import type { RecordedRequest } from '../clients/conformance/proxy.js';

/**
 * The client libraries' conformance suite (clients/conformance/): every language whose program
 * has landed, through every scenario of scenarios.json, against the real gateway behind the
 * fault-injecting proxy. Languages run two at a time (2 cores), the scenarios of one in
 * sequence; the table scenario × language is printed. Under CI a missing toolchain fails (.ci/run
 * installs them); a library whose program has not landed yet is skipped, saying so.
 */

/** No scenario starts after this long; the hook's own timeout leaves room for the last ones and the gateways' stop. */
const SUITE_BUDGET_MS = 150_000;

const results = new Map<string, LanguageResult>();

describe('client library conformance', () => {
  beforeAll(async () => {
    const all = await runConformance({
      deadline: performance.now() + SUITE_BUDGET_MS,
      log: (line) => process.stderr.write(`conformance: ${line}\n`),
    });
    for (const r of all) results.set(r.language, r);
    console.log(`\nclient library conformance (scenario × language):\n${formatTable(all)}\n`);
  }, SUITE_BUDGET_MS + 120_000);

  for (const lang of LANGUAGES) {
    it(`${lang.name}: every scenario passes`, (ctx) => {
      const r = results.get(lang.name);
      expect(r, 'the driver returned no result').toBeDefined();
      if (r!.skipped) ctx.skip(`${lang.name}: ${r!.skipped}`);
      const failed = r!.results.filter((x) => x.status === 'fail').map((x) => `${x.scenario}: ${x.reasons.join('; ')}`);
      expect(failed, `${lang.name} failed scenarios`).toEqual([]);
      expect(r!.results.length).toBe(loadScenarios().length);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// The checks themselves: a run that conforms passes, and each kind of breach is caught.
// ---------------------------------------------------------------------------------------------

const SCENARIOS = new Map(loadScenarios().map((s) => [s.name, s]));
const scenario = (name: string): Scenario => structuredClone(SCENARIOS.get(name)!);
const UA = 'sluice-test/1.2.3 (testrt 9.9)';

/** What a conforming library's run of `s` looks like: batches of batch_size per logger, each answered 201. */
function conforming(s: Scenario): CheckInput {
  const { run } = s;
  const stored: StoredEntry[] = [];
  const requests: RecordedRequest[] = [];
  let t = 10;
  for (let l = 0; l < run.loggers; l++) {
    for (let from = 0; from < run.entries; from += run.batch_size) {
      const n = requests.length + 1;
      requests.push({ n, at: t, answeredAt: t + 5, method: 'POST', path: '/api/logs', status: 201, userAgent: UA, batchId: `b-${l}-${from}`, entries: run.batch_size });
      t += 10;
      for (let i = from; i < Math.min(run.entries, from + run.batch_size); i++) {
        stored.push({ level: 'INFO', message: `conformance ${l} ${i}`, app_id: 'app', source: `logger-${l}`, timestamp: new Date().toISOString(), context: { logger: l, seq: i } });
      }
    }
  }
  return {
    language: 'test',
    scenario: s,
    appId: 'app',
    report: {
      language: 'test',
      library: 'sluice-test/1.2.3',
      loggers: Array.from({ length: run.loggers }, () => ({ sent: run.entries, failed: 0, dropped: 0, buffered: 0, retries: 0, state: 'stopped' })),
      call_us: { p50: 2, p99: 10, max: 200 },
      elapsed_ms: 100,
    },
    requests,
    stored,
  };
}

describe('conformance checks', () => {
  it('a conforming run passes', () => {
    expect(check(conforming(scenario('normal')))).toEqual([]);
    expect(check(conforming(scenario('stop-pending')))).toEqual([]);
  });

  it('catch a lost, a duplicated and a reordered entry', () => {
    const lost = conforming(scenario('normal'));
    lost.stored.splice(7, 1);
    lost.report.loggers[0]!.sent--;
    expect(check(lost).join()).toContain('logger 0: 1 of 500 not stored (7)');
    const dup = conforming(scenario('normal'));
    dup.stored.push(dup.stored[3]!);
    expect(check(dup).join()).toContain('stored twice');
    const swapped = conforming(scenario('normal'));
    [swapped.stored[1], swapped.stored[2]] = [swapped.stored[2]!, swapped.stored[1]!];
    expect(check(swapped).join()).toContain('out of order');
  });

  it('catch wrong fields, a wrong User-Agent and stats that do not match', () => {
    const field = conforming(scenario('normal'));
    field.stored[0]!.source = 'other';
    expect(check(field).join()).toContain('stored source "other"');
    const ua = conforming(scenario('normal'));
    ua.requests[1]!.userAgent = 'python-requests/2.31';
    expect(check(ua).join()).toContain('User-Agent "python-requests/2.31"');
    const stats = conforming(scenario('normal'));
    stats.report.loggers[1]!.state = 'failed';
    stats.report.loggers[1]!.buffered = 3;
    expect(check(stats)).toEqual(expect.arrayContaining(['logger 1 state "failed" after stop', 'logger 1 still buffers 3 after stop']));
  });

  it('catch a retry before Retry-After, and one that never comes', () => {
    const s = scenario('503-retry-after');
    const early = conforming(s);
    const first = early.requests[0]!;
    early.requests.unshift({ ...first, n: 0, at: 0, answeredAt: 2, status: 503, retryAfter: 2, fault: 'status' });
    first.at = 2 + 1500;
    expect(check(early).join()).toContain('retry 1500 ms after a 503 with Retry-After 2');
    const never = conforming(s);
    never.requests.unshift({ ...never.requests[0]!, batchId: 'gone', status: 503, retryAfter: 2, fault: 'status' });
    expect(check(never).join()).toContain('was never retried with its batch_id');
    expect(check(conforming(s)).join()).toContain('no request met the status fault');
  });

  it('catch a refused batch that is resent, or more than one batch lost', () => {
    const s = scenario('400-one-batch');
    const input = conforming(s);
    input.requests[1] = { ...input.requests[1]!, status: 400, fault: 'status' };
    input.stored = input.stored.filter((e) => !((e.context!.seq as number) >= 100 && (e.context!.seq as number) < 200));
    input.report.loggers[0] = { ...input.report.loggers[0]!, sent: 200, failed: 100 };
    expect(check(input)).toEqual([]);
    const resent = structuredClone(input);
    resent.requests.push({ ...resent.requests[1]!, n: 9, status: 201, fault: undefined });
    expect(check(resent).join()).toContain('the batch answered 400 was sent 1 more time');
    const two = structuredClone(input);
    two.stored.pop();
    two.report.loggers[0]!.sent--;
    expect(check(two).join()).toContain('101 not stored');
  });

  it('catch an overflow whose count, range or WARN entry is off', () => {
    const s = scenario('overflow');
    const good = conforming(s);
    good.requests.unshift({ n: 0, at: 1, answeredAt: 1, method: '', path: '', status: 0, fault: 'down' });
    good.stored = good.stored.filter((e) => (e.context!.seq as number) < 50 || (e.context!.seq as number) >= 250);
    good.stored.push({ level: 'WARN', message: 'lost', app_id: 'app', source: 'logger-0', category: 'sluice.client', timestamp: new Date().toISOString(), context: { dropped: 200, since: 'x' } });
    good.report.loggers[0] = { ...good.report.loggers[0]!, sent: 101, dropped: 200 };
    expect(check(good)).toEqual([]);
    const miscount = structuredClone(good);
    miscount.stored.at(-1)!.context!.dropped = 199;
    expect(check(miscount).join()).toContain('the WARN entry says 199 dropped, stats.dropped 200');
    const holes = structuredClone(good);
    holes.stored.splice(60, 1);
    holes.report.loggers[0]!.sent--;
    expect(check(holes).join()).toContain('not one contiguous range');
    const noWarn = structuredClone(good);
    noWarn.stored.pop();
    noWarn.report.loggers[0]!.sent--;
    expect(check(noWarn).join()).toContain('0 loss reports stored, expected 1');
  });

  it('catch a blocking log call', () => {
    const s = scenario('slow-gateway');
    const input = conforming(s);
    input.requests[0]!.fault = 'delay';
    input.report.call_us.max = 80_000;
    expect(check(input)).toEqual(['slowest log call 80.0 ms (bound 50 ms)']);
  });
});
