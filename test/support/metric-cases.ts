/**
 * Shared case tables for log-derived metrics (issue 10 items 8 and 9): the same messages are run
 * through metricsFromMessage, syslogToEntry, jsonToEntries and the HTTP routes.
 */

/** A metric as the cases expect it. */
export interface WantMetric {
  kind: 'count' | 'sample' | 'measure';
  name: string;
  value: number;
  unit?: string;
  source?: string;
}

/**
 * l2met: an empty value counts as 1, and a bare key is an empty value. Each case says which
 * metrics a message holds, alone, among other pairs, and in prose (a line not starting with a
 * pair). metrics.test.ts runs it through the scanner, from-syslog.test.ts and from-json.test.ts
 * through the normalisers, the route tests through HTTP.
 */
export const BARE_METRIC_CASES: readonly (readonly [string, readonly WantMetric[]])[] = [
  // Alone, bare and empty-valued, every kind (and the legacy `measure.` form).
  ['measure#a', [{ kind: 'measure', name: 'a', value: 1 }]],
  ['measure#a=', [{ kind: 'measure', name: 'a', value: 1 }]],
  ['count#a', [{ kind: 'count', name: 'a', value: 1 }]],
  ['count#a=', [{ kind: 'count', name: 'a', value: 1 }]],
  ['sample#a', [{ kind: 'sample', name: 'a', value: 1 }]],
  ['sample#a=', [{ kind: 'sample', name: 'a', value: 1 }]],
  ['sample#a=""', [{ kind: 'sample', name: 'a', value: 1 }]],
  ['measure.a', [{ kind: 'measure', name: 'a', value: 1 }]],
  ['measure.a=', [{ kind: 'measure', name: 'a', value: 1 }]],
  ['  count#db.query.cache-hit  ', [{ kind: 'count', name: 'db.query.cache-hit', value: 1 }]],
  // Several bare keys, no pair at all.
  [
    'count#a sample#b measure#c',
    [
      { kind: 'count', name: 'a', value: 1 },
      { kind: 'sample', name: 'b', value: 1 },
      { kind: 'measure', name: 'c', value: 1 },
    ],
  ],
  // Among other pairs, before and after them.
  ['run=x measure#a', [{ kind: 'measure', name: 'a', value: 1 }]],
  ['run=x measure#a=', [{ kind: 'measure', name: 'a', value: 1 }]],
  ['measure#a run=x', [{ kind: 'measure', name: 'a', value: 1 }]],
  ['measure#a= run=x', [{ kind: 'measure', name: 'a', value: 1 }]],
  [
    'count#a sample#b= measure#c=5ms',
    [
      { kind: 'count', name: 'a', value: 1 },
      { kind: 'sample', name: 'b', value: 1 },
      { kind: 'measure', name: 'c', value: 5, unit: 'ms' },
    ],
  ],
  ['count#hits source=web.1', [{ kind: 'count', name: 'hits', value: 1, source: 'web.1' }]],
  // In prose.
  ['Finished job count#jobs.done', [{ kind: 'count', name: 'jobs.done', value: 1 }]],
  ['Finished job count#jobs.done=', [{ kind: 'count', name: 'jobs.done', value: 1 }]],
  ['Finished job count#jobs.done=2', [{ kind: 'count', name: 'jobs.done', value: 2 }]],
  [
    'cache warmed sample#cache.ready and measure#warmup',
    [
      { kind: 'sample', name: 'cache.ready', value: 1 },
      { kind: 'measure', name: 'warmup', value: 1 },
    ],
  ],
  ['a = b sample#x', [{ kind: 'sample', name: 'x', value: 1 }]],
  ['Finished\tjob\ncount#jobs.done', [{ kind: 'count', name: 'jobs.done', value: 1 }]],
  // No metric: an empty name, a `#` that is not an l2met prefix, words that only look alike.
  ['count#', []],
  ['measure#=', []],
  ['discount#5', []],
  ['Processing by OrdersController#create as JSON', []],
  ['measures taken #1', []],
  ['Issue #12 closed', []],
];

/** Logplex's overflow lines and the metric each gives (null: none). */
export const LOGPLEX_DROP_CASES: readonly (readonly [string, WantMetric | null])[] = [
  // The published wordings.
  [
    'Error L10 (output buffer overflow): 5 messages dropped since 2024-06-01T12:00:00+00:00.',
    { kind: 'count', name: 'logplex.l10.dropped', value: 5, unit: 'messages' },
  ],
  [
    'Error L10 (output buffer overflow): 1 messages dropped since 2014-11-07T23:29:45+00:00.',
    { kind: 'count', name: 'logplex.l10.dropped', value: 1, unit: 'messages' },
  ],
  [
    "Error L10 (output buffer overflow): drain 'd.5f2c…' dropped 12 messages",
    { kind: 'count', name: 'logplex.l10.dropped', value: 12, unit: 'messages' },
  ],
  [
    "Error L10 (output buffer overflow): drain 'd.5f2c1e7a-3b4d-4c8e-9a6f-0b1d2e3f4a5b' dropped 12 messages",
    { kind: 'count', name: 'logplex.l10.dropped', value: 12, unit: 'messages' },
  ],
  [
    'Error L11 (Tail buffer overflow) -> This tail session dropped 3 messages since 2024-06-01T12:00:00+00:00.',
    { kind: 'count', name: 'logplex.l11.dropped', value: 3, unit: 'messages' },
  ],
  // Variants: a trailing period, the singular, big counts, a drain name holding digits.
  [
    "Error L10 (output buffer overflow): drain 'd.5f2c' dropped 12 messages.",
    { kind: 'count', name: 'logplex.l10.dropped', value: 12, unit: 'messages' },
  ],
  [
    'Error L10 (output buffer overflow): 1 message dropped since 2024-06-01T12:00:00Z.',
    { kind: 'count', name: 'logplex.l10.dropped', value: 1, unit: 'messages' },
  ],
  [
    'Error L10 (output buffer overflow): 1048576 messages dropped since 2024-06-01T12:00:00.123456+00:00.',
    { kind: 'count', name: 'logplex.l10.dropped', value: 1048576, unit: 'messages' },
  ],
  [
    "Error L10 (output buffer overflow): drain 'd.1234 5' dropped 0 messages",
    { kind: 'count', name: 'logplex.l10.dropped', value: 0, unit: 'messages' },
  ],
  [
    'Error L11 (Tail buffer overflow) -> This tail session dropped 1 message since 2024-06-01T12:00:00+00:00.',
    { kind: 'count', name: 'logplex.l11.dropped', value: 1, unit: 'messages' },
  ],
  // Not an overflow line, or no count to read.
  ['Error L10 (output buffer overflow)', null],
  ['Error L10 (output buffer overflow): some messages dropped since 2024-06-01T12:00:00+00:00.', null],
  ['Error L10 (output buffer overflow): 5 lines dropped', null],
  ['Error L11 (Tail buffer overflow) -> This tail session dropped many messages', null],
  ['Error L12 (Local buffer overflow): 5 messages dropped since 2024-06-01T12:00:00+00:00.', null],
  ['Error L100 (x): 5 messages dropped', null],
  ['Error L1 (x): 5 messages dropped', null],
  ['Error R14 (Memory quota exceeded)', null],
  ['error L10 (output buffer overflow): 5 messages dropped since 2024-06-01T12:00:00+00:00.', null],
  ['app says: Error L10 (output buffer overflow): 5 messages dropped', null],
  ['', null],
];

