import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BARE_METRIC_CASES, LOGPLEX_DROP_CASES } from '../../test/support/metric-cases.js';
import { MetricSchema } from './entry.js';
import { createLogfmtTokens, scanLogfmt } from './logfmt.js';
import {
  hasL2metKeys,
  isMetricKey,
  isRouterLine,
  logplexDropMetric,
  mayBeLogplexDropLine,
  mayHoldL2metKey,
  metricsFromMessage,
  parseMetricValue,
} from './metrics.js';

describe('parseMetricValue', () => {
  it.each([
    ['10ms', 10, 'ms'],
    ['21.00MB', 21, 'MB'],
    ['348836pages', 348836, 'pages'],
    ['4347350804bytes', 4347350804, 'bytes'],
    ['72.94', 72.94, undefined],
    ['103.3%', 103.3, '%'],
    ['-3', -3, undefined],
    ['+7s', 7, 's'],
    ['1e3', 1000, undefined],
    ['2.5E-2', 0.025, undefined],
    ['1E+2ms', 100, 'ms'],
    ['.5', 0.5, undefined],
    ['5.', 5, undefined],
    ['-0.25s', -0.25, 's'],
    ['5events', 5, 'events'],
    ['12µs', 12, 'µs'],
    ['0.1', 0.1, undefined],
    ['123456789012345678', 123456789012345678, undefined],
    ['0.30000000000000004', 0.30000000000000004, undefined],
  ])('reads %s as %s with unit %s', (raw, value, unit) => {
    expect(parseMetricValue(raw)).toEqual(unit === undefined ? { value } : { value, unit });
  });

  it.each(['', '-', '+', '.', 'fast', 'ms10', '10 ms', '1028MB(103.3%)', '1.2.3', '0x10', 'NaN', 'Infinity', '1e999', '10m/s'])(
    'rejects %j',
    (raw) => {
      expect(parseMetricValue(raw)).toBeNull();
    },
  );

  it('agrees with Number() on every decimal it accepts', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => {
        const s = String(d);
        const r = parseMetricValue(s);
        expect(r).not.toBeNull();
        expect(Object.is(r!.value, Number(s))).toBe(true);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 9 }), fc.integer({ min: 0, max: 9 }), (n, scale) => {
        const s = (n / 10 ** scale).toFixed(scale);
        expect(parseMetricValue(s)!.value).toBe(Number(s));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('isMetricKey', () => {
  it('knows the l2met prefixes, the legacy measure. form included', () => {
    expect(isMetricKey('count#a')).toBe(true);
    expect(isMetricKey('sample#a')).toBe(true);
    expect(isMetricKey('measure#a')).toBe(true);
    expect(isMetricKey('measure.a')).toBe(true);
    expect(isMetricKey('measures')).toBe(false);
    expect(isMetricKey('source')).toBe(false);
  });
});

describe('metricsFromMessage', () => {
  it('reads the three l2met kinds from one line', () => {
    const r = metricsFromMessage('count#signups=1 measure#signup-controller=50ms sample#queue.length=99');
    expect(r.metrics).toEqual([
      { kind: 'count', name: 'signups', value: 1 },
      { kind: 'measure', name: 'signup-controller', value: 50, unit: 'ms' },
      { kind: 'sample', name: 'queue.length', value: 99 },
    ]);
    expect(r.invalid).toBe(false);
    expect(r.status).toBeUndefined();
  });

  it('reads the legacy measure.name form', () => {
    expect(metricsFromMessage('measure.db.query=12ms').metrics).toEqual([
      { kind: 'measure', name: 'db.query', value: 12, unit: 'ms' },
    ]);
  });

  it('attaches the line source to every metric, even when source comes last', () => {
    expect(metricsFromMessage('measure#elb.latency.sample_count=67448s source=elb012345.us-east-1d').metrics).toEqual([
      { kind: 'measure', name: 'elb.latency.sample_count', value: 67448, unit: 's', source: 'elb012345.us-east-1d' },
    ]);
  });

  it('counts an empty value and a bare key as 1', () => {
    expect(metricsFromMessage('count#hits= count#misses').metrics).toEqual([
      { kind: 'count', name: 'hits', value: 1 },
      { kind: 'count', name: 'misses', value: 1 },
    ]);
  });

  it('unquotes quoted values', () => {
    expect(metricsFromMessage('measure#q="10ms" sample#s=""').metrics).toEqual([
      { kind: 'measure', name: 'q', value: 10, unit: 'ms' },
      { kind: 'sample', name: 's', value: 1 },
    ]);
  });

  it('parses signs and exponents that l2met gets wrong', () => {
    expect(metricsFromMessage('sample#temp=-3 count#big=1e3 sample#ratio=2.5E-2').metrics).toEqual([
      { kind: 'sample', name: 'temp', value: -3 },
      { kind: 'count', name: 'big', value: 1000 },
      { kind: 'sample', name: 'ratio', value: 0.025 },
    ]);
  });

  it('keeps a non-numeric value with value null and raw, and reports it', () => {
    const r = metricsFromMessage('source=web.1 measure#q=fast count#ok=2');
    expect(r.metrics).toEqual([
      { kind: 'measure', name: 'q', value: null, source: 'web.1', raw: 'fast' },
      { kind: 'count', name: 'ok', value: 2, source: 'web.1' },
    ]);
    expect(r.invalid).toBe(true);
  });

  it('skips keys with an empty metric name', () => {
    expect(metricsFromMessage('count#=3 measure#=1').metrics).toBeUndefined();
  });

  it('finds l2met keys inside prose', () => {
    expect(metricsFromMessage('Finished job count#jobs.done=1').metrics).toEqual([
      { kind: 'count', name: 'jobs.done', value: 1 },
    ]);
  });

  it('gives no metrics for prose and for ordinary fields with units', () => {
    expect(metricsFromMessage('Process running mem=1028MB(103.3%)').metrics).toBeUndefined();
    expect(metricsFromMessage('Release v138 created by user foo@bar').metrics).toBeUndefined();
  });

  it('turns a router line into implicit measures and a status', () => {
    const r = metricsFromMessage(
      'at=info method=GET path="/cart_link" host=x request_id=05726858 fwd="73.75.38.87" dyno=web.1 connect=1ms service=22ms status=304 bytes=656 protocol=http',
      'router',
    );
    expect(r.metrics).toEqual([
      { kind: 'measure', name: 'router.connect', value: 1, unit: 'ms' },
      { kind: 'measure', name: 'router.service', value: 22, unit: 'ms' },
      { kind: 'measure', name: 'router.bytes', value: 656, unit: 'bytes' },
    ]);
    expect(r.status).toBe(304);
    expect(r.invalid).toBe(false);
  });

  it('recognises a router line by its content when the proc is unknown', () => {
    const r = metricsFromMessage(
      'at=error code=H12 desc="Request timeout" method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno=web.1 connect=6ms service=30001ms status=503 bytes=0',
    );
    expect(r.metrics).toEqual([
      { kind: 'measure', name: 'router.connect', value: 6, unit: 'ms' },
      { kind: 'measure', name: 'router.service', value: 30001, unit: 'ms' },
      { kind: 'measure', name: 'router.bytes', value: 0, unit: 'bytes' },
    ]);
    expect(r.status).toBe(503);
  });

  it('gives no connect/service/bytes measures for the empty values of an H10 line', () => {
    const r = metricsFromMessage(
      'at=error code=H10 desc="App crashed" method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno= connect= service= status=503 bytes=',
    );
    expect(r.metrics).toBeUndefined();
    expect(r.status).toBe(503);
    expect(r.invalid).toBe(false);
  });

  it('does not read connect/service/status of a line that is not a router line', () => {
    const r = metricsFromMessage('at=info connect=5ms status=200');
    expect(r.metrics).toBeUndefined();
    expect(r.status).toBeUndefined();
  });

  it('produces metrics that pass the schema', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (tail) => {
        const r = metricsFromMessage(`measure#a=${tail} count#b=${tail} sample#c="${tail}"`);
        for (const m of r.metrics ?? []) MetricSchema.parse(m);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('isRouterLine', () => {
  const router = (s: string, proc?: string) => isRouterLine(scanLogfmt(s, createLogfmtTokens()), proc);

  it('needs at=info|error|warning first and method, path and status', () => {
    expect(router('at=info method=GET path=/ status=200')).toBe(true);
    expect(router('at=warning method=GET path=/ status=200')).toBe(true);
    expect(router('at=info method=GET status=200')).toBe(false);
    expect(router('at=start method=GET path=/ status=200')).toBe(false);
    expect(router('x=1 at=info method=GET path=/ status=200')).toBe(false);
    expect(router('anything', 'router')).toBe(true);
  });
});

describe('bare and empty-valued l2met keys', () => {
  it.each(BARE_METRIC_CASES)('%j gives %j', (message, want) => {
    const r = metricsFromMessage(message);
    expect(r.metrics ?? []).toEqual(want);
    expect(r.invalid).toBe(false);
  });

  it.each(BARE_METRIC_CASES)('the gate lets %j through whenever it holds a metric', (message, want) => {
    const t = scanLogfmt(message, createLogfmtTokens());
    if (want.length > 0) {
      expect(mayHoldL2metKey(message)).toBe(true);
      expect(hasL2metKeys(t)).toBe(true);
    }
    if (!mayHoldL2metKey(message)) expect(hasL2metKeys(t)).toBe(false);
  });

  it('never lets the gate refuse a message that holds an l2met key', () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.constantFrom(' ', '=', '#', '"', 'count', 'sample', 'measure', 'count#', 'sample#x', 'measure#y', 'measure.z', '\n'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
        const s = parts.join('');
        if (hasL2metKeys(scanLogfmt(s, createLogfmtTokens()))) expect(mayHoldL2metKey(s)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('logplexDropMetric', () => {
  it.each(LOGPLEX_DROP_CASES)('%j gives %j', (message, want) => {
    expect(logplexDropMetric(message)).toEqual(want);
    if (want !== null) {
      MetricSchema.parse(want);
      expect(mayBeLogplexDropLine(message)).toBe(true);
      expect(metricsFromMessage(message).metrics).toEqual([want]);
    }
  });

  it('gates on one char for nearly every message', () => {
    expect(mayBeLogplexDropLine('at=info method=GET')).toBe(false);
    expect(mayBeLogplexDropLine('Error R14 (Memory quota exceeded)')).toBe(false);
    expect(mayBeLogplexDropLine('Error L10 (output buffer overflow)')).toBe(true);
  });
});
