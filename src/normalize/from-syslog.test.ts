import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SyslogRecord } from '../decode/types.js';
import { BARE_METRIC_CASES, LOGPLEX_DROP_CASES } from '../../test/support/metric-cases.js';
import { EntrySchema, type Entry } from './entry.js';
import { syslogToEntry, type SyslogEntryContext } from './from-syslog.js';

const RECEIVED = '2024-05-01T12:00:00.123456Z';
const CTX: SyslogEntryContext = { appId: 'shop', receivedAt: RECEIVED, id: '01HZZZZZZZZZZZZZZZZZZZZZZZ' };

/** A record as the decoder makes it for a drain line: `<190>1 TS host app web.1 - MSG`. */
function rec(message: string, over: Partial<SyslogRecord> = {}): SyslogRecord {
  return {
    facility: 23,
    severity: 6,
    timestamp: '2024-05-01T11:59:59.000001Z',
    invalidTimestamp: false,
    hostname: 'host',
    appName: 'app',
    procId: 'web.1',
    msgId: null,
    structuredData: null,
    message,
    invalidUtf8: false,
    format: 'rfc5424',
    ...over,
  };
}

function entryOf(message: string, over: Partial<SyslogRecord> = {}, ctx: SyslogEntryContext = CTX): Entry {
  const e = syslogToEntry(rec(message, over), ctx);
  EntrySchema.parse(e);
  return e;
}

const BODIES = readFileSync(new URL('../../protocol/vectors/message-bodies.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.length > 0);

describe('syslogToEntry on protocol/vectors/message-bodies.txt', () => {
  /** Expected level, metrics, context, status for each line (all as local7.info from web.1). */
  const expected: Record<string, Partial<Entry>> = {
    'source=web.1 dyno=heroku.2808254.d97d0ea7-cf3d-411b-b453-d2943a50b456 sample#memory_total=21.00MB sample#memory_rss=21.22MB sample#memory_cache=0.00MB sample#memory_swap=0.00MB sample#memory_pgpgin=348836pages sample#memory_pgpgout=343403pages':
      {
        level: 'INFO',
        context: { source: 'web.1', dyno: 'heroku.2808254.d97d0ea7-cf3d-411b-b453-d2943a50b456' },
        metrics: [
          { kind: 'sample', name: 'memory_total', value: 21, unit: 'MB', source: 'web.1' },
          { kind: 'sample', name: 'memory_rss', value: 21.22, unit: 'MB', source: 'web.1' },
          { kind: 'sample', name: 'memory_cache', value: 0, unit: 'MB', source: 'web.1' },
          { kind: 'sample', name: 'memory_swap', value: 0, unit: 'MB', source: 'web.1' },
          { kind: 'sample', name: 'memory_pgpgin', value: 348836, unit: 'pages', source: 'web.1' },
          { kind: 'sample', name: 'memory_pgpgout', value: 343403, unit: 'pages', source: 'web.1' },
        ],
      },
    'at=error code=H12 desc="Request timeout" method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno=web.1 connect=6ms service=30001ms status=503 bytes=0':
      {
        level: 'ERROR',
        status: 503,
        context: {
          at: 'error',
          code: 'H12',
          desc: 'Request timeout',
          method: 'GET',
          path: '/',
          host: 'myapp.herokuapp.com',
          fwd: '17.17.17.17',
          dyno: 'web.1',
          connect: '6ms',
          service: '30001ms',
          status: '503',
          bytes: '0',
        },
        metrics: [
          { kind: 'measure', name: 'router.connect', value: 6, unit: 'ms' },
          { kind: 'measure', name: 'router.service', value: 30001, unit: 'ms' },
          { kind: 'measure', name: 'router.bytes', value: 0, unit: 'bytes' },
        ],
      },
    'at=error code=H10 desc="App crashed" method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno= connect= service= status=503 bytes=':
      {
        level: 'ERROR',
        status: 503,
        context: {
          at: 'error',
          code: 'H10',
          desc: 'App crashed',
          method: 'GET',
          path: '/',
          host: 'myapp.herokuapp.com',
          fwd: '17.17.17.17',
          dyno: '',
          connect: '',
          service: '',
          status: '503',
          bytes: '',
        },
        metrics: undefined,
      },
    // Not an l2met key, so no metric; prose words are not context; the line states no level.
    'Process running mem=1028MB(103.3%)': { level: 'INFO', context: { mem: '1028MB(103.3%)' }, metrics: undefined },
    'Error R14 (Memory quota exceeded)': { level: 'ERROR', context: undefined, metrics: undefined },
    'measure#elb.latency.sample_count=67448s source=elb012345.us-east-1d': {
      level: 'INFO',
      context: { source: 'elb012345.us-east-1d' },
      metrics: [
        { kind: 'measure', name: 'elb.latency.sample_count', value: 67448, unit: 's', source: 'elb012345.us-east-1d' },
      ],
    },
    'sample#tables=30 sample#active-connections=3 sample#cache-usage=72.94 sample#cache-keys=1073002': {
      level: 'INFO',
      context: undefined,
      metrics: [
        { kind: 'sample', name: 'tables', value: 30 },
        { kind: 'sample', name: 'active-connections', value: 3 },
        { kind: 'sample', name: 'cache-usage', value: 72.94 },
        { kind: 'sample', name: 'cache-keys', value: 1073002 },
      ],
    },
    'count#signups=1 measure#signup-controller=50ms sample#queue.length=99': {
      level: 'INFO',
      context: undefined,
      metrics: [
        { kind: 'count', name: 'signups', value: 1 },
        { kind: 'measure', name: 'signup-controller', value: 50, unit: 'ms' },
        { kind: 'sample', name: 'queue.length', value: 99 },
      ],
    },
    // l2met: a bare key or an empty value counts as 1, alone, among pairs and in prose.
    'measure#a': { level: 'INFO', context: undefined, metrics: [{ kind: 'measure', name: 'a', value: 1 }] },
    'count#jobs.done=': { level: 'INFO', context: undefined, metrics: [{ kind: 'count', name: 'jobs.done', value: 1 }] },
    'run=x sample#queue.ready': {
      level: 'INFO',
      context: { run: 'x' },
      metrics: [{ kind: 'sample', name: 'queue.ready', value: 1 }],
    },
    'Finished job count#jobs.done': {
      level: 'INFO',
      context: undefined,
      metrics: [{ kind: 'count', name: 'jobs.done', value: 1 }],
    },
    // Logplex's overflow lines: the dropped count as a metric, the level ERROR.
    'Error L10 (output buffer overflow): 5 messages dropped since 2024-06-01T12:00:00+00:00.': {
      level: 'ERROR',
      context: undefined,
      metrics: [{ kind: 'count', name: 'logplex.l10.dropped', value: 5, unit: 'messages' }],
    },
    "Error L10 (output buffer overflow): drain 'd.5f2c1e7a-3b4d-4c8e-9a6f-0b1d2e3f4a5b' dropped 12 messages": {
      level: 'ERROR',
      context: undefined,
      metrics: [{ kind: 'count', name: 'logplex.l10.dropped', value: 12, unit: 'messages' }],
    },
    'Error L11 (Tail buffer overflow) -> This tail session dropped 3 messages since 2024-06-01T12:00:00+00:00.': {
      level: 'ERROR',
      context: undefined,
      metrics: [{ kind: 'count', name: 'logplex.l11.dropped', value: 3, unit: 'messages' }],
    },
  };

  it('covers every line of the vector file', () => {
    expect(BODIES.length).toBe(Object.keys(expected).length);
    for (const line of BODIES) expect(expected).toHaveProperty([line]);
  });

  it.each(BODIES)('normalises %s', (line) => {
    const want = expected[line]!;
    const e = entryOf(line);
    expect(e.message).toBe(line);
    expect(e.level).toBe(want.level);
    expect(e.metrics).toEqual(want.metrics);
    expect(e.context).toEqual(want.context);
    expect(e.status).toBe(want.status);
    expect(e.flags).toBeUndefined();
  });
});

describe('syslogToEntry on Heroku drain lines', () => {
  it('builds the full entry of a router line, keys in schema order and nothing undefined', () => {
    const msg =
      'at=info method=GET path="/cart_link" host=lumberjack-store.timber.io request_id=05726858-c44e-4f94-9a20-37df73be9006 fwd="73.75.38.87" dyno=web.1 connect=1ms service=22ms status=304 bytes=656 protocol=http';
    const e = syslogToEntry(
      rec(msg, { facility: 19, severity: 6, timestamp: '2020-01-08T22:33:57.353034Z', appName: 'heroku', procId: 'router' }),
      { ...CTX, frameId: 'f'.repeat(32), drainToken: 'd.0123', userAgent: 'Logplex/v72', tags: ['env=prod'] },
    );
    const want = {
      id: CTX.id,
      timestamp: '2020-01-08T22:33:57.353034Z',
      received_at: RECEIVED,
      level: 'INFO',
      app_id: 'shop',
      message: msg,
      source: 'heroku',
      proc: 'router',
      host: 'host',
      context: {
        at: 'info',
        method: 'GET',
        path: '/cart_link',
        host: 'lumberjack-store.timber.io',
        request_id: '05726858-c44e-4f94-9a20-37df73be9006',
        fwd: '73.75.38.87',
        dyno: 'web.1',
        connect: '1ms',
        service: '22ms',
        status: '304',
        bytes: '656',
        protocol: 'http',
      },
      metrics: [
        { kind: 'measure', name: 'router.connect', value: 1, unit: 'ms' },
        { kind: 'measure', name: 'router.service', value: 22, unit: 'ms' },
        { kind: 'measure', name: 'router.bytes', value: 656, unit: 'bytes' },
      ],
      tags: ['env=prod'],
      trace_id: '05726858-c44e-4f94-9a20-37df73be9006',
      user_agent: 'Logplex/v72',
      facility: 19,
      severity: 6,
      frame_id: 'f'.repeat(32),
      drain_token: 'd.0123',
      status: 304,
    };
    expect(JSON.stringify(e)).toBe(JSON.stringify(want));
    expect(EntrySchema.parse(e)).toEqual(want);
  });

  it('omits absent fields instead of setting them to undefined', () => {
    const e = syslogToEntry(rec('hello', { hostname: null, appName: null, procId: null }), {
      appId: 'a',
      receivedAt: RECEIVED,
      frameId: undefined,
      drainToken: undefined,
      userAgent: undefined,
      tags: undefined,
      appNameOverride: undefined,
    });
    expect(Object.keys(e)).toEqual(['id', 'timestamp', 'received_at', 'level', 'app_id', 'message', 'facility', 'severity']);
    expect(Object.values(e)).not.toContain(undefined);
    expect(e.id).toHaveLength(26);
  });

  it('keeps prose out of the context', () => {
    for (const m of [
      'Release v138 created by user foo@bar',
      'Deploy b400183 by user someuser@gmail.com',
      'Scaled to web@3:Performance-L worker@5:Standard-2X by user someuser@gmail.com',
      'State changed from starting to up',
      'Starting process with command `bundle exec rackup config.ru -p 24405`',
    ]) {
      const e = entryOf(m, { appName: 'app', procId: 'api' });
      expect(e.context).toBeUndefined();
      expect(e.metrics).toBeUndefined();
      expect(e.level).toBe('INFO');
    }
  });

  it('keeps only plain keys from pairs inside prose', () => {
    expect(entryOf('Redirected to https://x.example/?page=2 user_id=7').context).toEqual({ user_id: '7' });
    expect(entryOf('Started GET "/?a=1" for 1.2.3.4').context).toBeUndefined();
  });

  it('reads an unterminated quote without throwing', () => {
    const e = entryOf('this_is="broken', { appName: 'heroku', procId: 'api' });
    expect(e.context).toEqual({ this_is: 'broken' });
    expect(e.message).toBe('this_is="broken');
  });

  it('keeps bare keys of a line that reads as logfmt', () => {
    expect(entryOf('at=info tls user=7').context).toEqual({ at: 'info', tls: true, user: '7' });
  });

  it('raises the L10 overflow line from warning to ERROR, with its dropped count as a metric', () => {
    const e = entryOf('Error L10 (output buffer overflow): 1 messages dropped since 2014-11-07T23:29:45+00:00.', {
      facility: 21,
      severity: 4,
      appName: 'heroku',
      procId: 'logplex',
    });
    expect(e.level).toBe('ERROR');
    expect(e.severity).toBe(4);
    expect(e.metrics).toEqual([{ kind: 'count', name: 'logplex.l10.dropped', value: 1, unit: 'messages' }]);
  });

  it('keeps a severity the sender chose over a lower content level', () => {
    expect(entryOf('State changed from starting to up', { facility: 5, severity: 0 }).level).toBe('FATAL');
    expect(entryOf('level=debug x=1', { severity: 3 }).level).toBe('ERROR');
    expect(entryOf('level=error x=1', { severity: 4 }).level).toBe('ERROR');
  });

  it('lets the content lower the default info severity to DEBUG', () => {
    expect(entryOf('level=debug msg="cache hit"').level).toBe('DEBUG');
    expect(entryOf('[DEBUG] cache hit').level).toBe('DEBUG');
    expect(entryOf('plain words', { severity: 7 }).level).toBe('DEBUG');
  });

  it('reads the l2met line of the test sender', () => {
    const e = entryOf('measure#hello=1 measure#world=1ms', { facility: 21, severity: 6, appName: 'name', procId: 'test' });
    expect(e.metrics).toEqual([
      { kind: 'measure', name: 'hello', value: 1 },
      { kind: 'measure', name: 'world', value: 1, unit: 'ms' },
    ]);
    expect(e.context).toBeUndefined();
  });

  it('flags a non-numeric l2met value and keeps it raw', () => {
    const e = entryOf('measure#q=fast count#n=2');
    expect(e.flags).toEqual(['invalid_metric']);
    expect(e.metrics![0]).toEqual({ kind: 'measure', name: 'q', value: null, raw: 'fast' });
  });

  it('takes trace_id from trace_id=, else from request_id=', () => {
    expect(entryOf('request_id=r1 trace_id=t1').trace_id).toBe('t1');
    expect(entryOf('request_id=r1 foo=bar').trace_id).toBe('r1');
    expect(entryOf('request_id= foo=bar').trace_id).toBeUndefined();
  });

  it('keeps an empty message', () => {
    const e = entryOf('');
    expect(e.message).toBe('');
    expect(e.context).toBeUndefined();
  });
});

describe('syslogToEntry: bare and empty-valued l2met keys (an empty value counts as 1)', () => {
  // Before: a line without `=` was never scanned, and one without a pair gave nothing, so
  // `measure#a` alone gave no metric while `run=x measure#a` gave 1.
  const procs = [
    ['app', 'web.1'],
    ['heroku', 'router'],
    ['name', 'test'],
  ] as const;
  for (const [appName, procId] of procs) {
    it.each(BARE_METRIC_CASES)(`%j from ${appName}[${procId}] gives %j`, (message, want) => {
      const e = entryOf(message, { appName, procId });
      expect(e.metrics ?? []).toEqual(want);
      expect(e.message).toBe(message);
      expect(e.flags).toBeUndefined();
      // l2met keys are never context; a line of bare keys only has none.
      for (const k of Object.keys(e.context ?? {})) expect(k).not.toMatch(/^(count|sample|measure)[#.]/);
    });
  }

  it('keeps the context, level and trace id of the line around a bare metric', () => {
    const e = entryOf('level=warn request_id=r1 count#retries');
    expect(e.metrics).toEqual([{ kind: 'count', name: 'retries', value: 1 }]);
    expect(e.context).toEqual({ level: 'warn', request_id: 'r1' });
    expect(e.level).toBe('WARN');
    expect(e.trace_id).toBe('r1');
    const prose = entryOf('[ERROR] payment failed count#payments.failed');
    expect(prose.metrics).toEqual([{ kind: 'count', name: 'payments.failed', value: 1 }]);
    expect(prose.context).toBeUndefined();
    expect(prose.level).toBe('ERROR');
  });
});

describe('syslogToEntry: Logplex L10/L11 lines give their dropped count as a metric', () => {
  // Whatever APP-NAME and PROCID: Logplex sends `heroku logplex`, relays and tests differ.
  const senders: Partial<SyslogRecord>[] = [
    { facility: 21, severity: 4, appName: 'heroku', procId: 'logplex' },
    { facility: 21, severity: 3, appName: 'heroku', procId: 'heroku' },
    { facility: 23, severity: 6, appName: 'app', procId: 'web.1' },
    { facility: 1, severity: 5, appName: null, procId: null },
  ];
  for (const over of senders) {
    it.each(LOGPLEX_DROP_CASES)(`%j from ${over.appName}[${over.procId}] <${over.severity}> gives %j`, (message, want) => {
      const e = entryOf(message, over);
      expect(e.metrics).toEqual(want === null ? undefined : [want]);
      expect(e.flags).toBeUndefined();
      if (want !== null) {
        // The level is what it was before the metric: ERROR from the `Error L1x (` text.
        expect(e.level).toBe('ERROR');
        expect(e.context).toBeUndefined();
      }
    });
  }
});

describe('syslogToEntry on Logplex input lines', () => {
  it('nests structured data under its SD-ID in the context', () => {
    const e = entryOf('hello', {
      facility: 1,
      severity: 5,
      appName: 'heroku',
      procId: 'web.7',
      structuredData: { meta: { sequenceId: 'hello' }, foo: { bar: 'baz' } },
    });
    expect(e.context).toEqual({ meta: { sequenceId: 'hello' }, foo: { bar: 'baz' } });
    expect(e.message).toBe('hello');
  });

  it('merges structured data with logfmt fields, SD winning a clash', () => {
    const e = entryOf('meta=x user=7', { structuredData: { meta: { sequenceId: '1' } } });
    expect(e.context).toEqual({ meta: { sequenceId: '1' }, user: '7' });
  });

  it('replaces a token APP-NAME with the app name given', () => {
    const e = entryOf('Logsplat test message 1', { appName: 't.feff49f1-4d55-4c9e-aee1-2d2b10e69b42' }, {
      ...CTX,
      appNameOverride: 'shop',
    });
    expect(e.source).toBe('shop');
  });
});

describe('syslogToEntry on JSON messages', () => {
  it('uses msg as the message and keeps all fields in context', () => {
    const raw = '{"level":40,"time":1700000000000,"msg":"slow request","req":{"id":7},"trace_id":"abc","tags":["x"]}';
    const e = entryOf(raw, {}, { ...CTX, tags: ['q'] });
    expect(e.message).toBe('slow request');
    expect(e.level).toBe('WARN');
    expect(e.context).toEqual({ level: 40, time: 1700000000000, msg: 'slow request', req: { id: 7 }, trace_id: 'abc', tags: ['x'] });
    expect(e.trace_id).toBe('abc');
    expect(e.tags).toEqual(['q', 'x']);
  });

  it('keeps the raw text as the message when the JSON has none', () => {
    const raw = '{"event":"signup","user":3}';
    const e = entryOf(raw);
    expect(e.message).toBe(raw);
    expect(e.context).toEqual({ event: 'signup', user: 3 });
  });

  it('reads a stack trace and an error level', () => {
    const e = entryOf('{"severity":"ERROR","message":"boom","stack":"Error: boom\\n  at f (a.js:1:1)"}');
    expect(e.level).toBe('ERROR');
    expect(e.stack_trace).toBe('Error: boom\n  at f (a.js:1:1)');
  });

  it('adds no context for an empty JSON object', () => {
    expect(entryOf('{}').context).toBeUndefined();
  });

  it('treats broken JSON as text', () => {
    const e = entryOf('{"level":"error", oops}');
    expect(e.message).toBe('{"level":"error", oops}');
    expect(e.level).toBe('INFO');
  });
});

describe('syslogToEntry flags', () => {
  it('uses the receive time and flags a record without a usable timestamp', () => {
    const bad = entryOf('x', { timestamp: null, invalidTimestamp: true });
    expect(bad.timestamp).toBe(RECEIVED);
    expect(bad.flags).toEqual(['invalid_timestamp']);
    const nil = entryOf('x', { timestamp: null, invalidTimestamp: false });
    expect(nil.timestamp).toBe(RECEIVED);
    expect(nil.flags).toEqual(['invalid_timestamp']);
  });

  it('lists invalid_utf8, invalid_metric and rfc3164 in schema order', () => {
    const e = entryOf('count#x=abc', { timestamp: null, invalidUtf8: true, format: 'rfc3164' });
    expect(e.flags).toEqual(['invalid_timestamp', 'invalid_utf8', 'invalid_metric', 'rfc3164']);
  });
});

describe('syslogToEntry robustness', () => {
  it('never throws and always makes a valid entry', () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('=', '"', '\\', ' ', '\n', '{', '}', 'count#', 'measure.', 'level=', 'at=error', '[ERROR]', '__proto__='),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), fc.integer({ min: 0, max: 7 }), (parts, severity) => {
        const e = syslogToEntry(rec(parts.join(''), { severity }), CTX);
        EntrySchema.parse(e);
        JSON.stringify(e);
      }),
      { numRuns: 3000 },
    );
  });

  it('stores a __proto__ key as data without touching the prototype', () => {
    const e = entryOf('__proto__=x a=1');
    expect(Object.getPrototypeOf(e.context)).toBe(Object.prototype);
    expect(JSON.stringify(e.context)).toBe('{"__proto__":"x","a":"1"}');
  });
});
