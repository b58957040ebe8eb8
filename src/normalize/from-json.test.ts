import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BARE_METRIC_CASES, LOGPLEX_DROP_CASES } from '../../test/support/metric-cases.js';
import { EntrySchema, type Entry } from './entry.js';
import { classifyJsonPayload, itemPassesSchema, ItemSchema, jsonToEntry, type ClassifiedJsonPayload, type JsonEntryDefaults } from './from-json.js';

const RECEIVED = '2025-01-15T14:22:00.500000Z';
const DEFAULTS: JsonEntryDefaults = { appId: 'billing-api', receivedAt: RECEIVED };

function ok(item: unknown, defaults: JsonEntryDefaults = DEFAULTS): Entry {
  const r = jsonToEntry(item, defaults);
  if (!r.ok) throw new Error(`expected an entry, got: ${r.error}`);
  EntrySchema.parse(r.entry);
  return r.entry;
}

function err(item: unknown, defaults: JsonEntryDefaults = DEFAULTS): string {
  const r = jsonToEntry(item, defaults);
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.entry)}`);
  return r.error;
}

describe('jsonToEntry', () => {
  it('builds the entry of the universal format example', () => {
    const e = ok({
      timestamp: '2025-12-01T10:30:45.123Z',
      level: 'ERROR',
      app_id: 'my-app',
      message: 'Database connection failed',
      context: { error_code: 'ECONNREFUSED', host: 'localhost:5432' },
      stack_trace: 'Error: x\n  at y',
      tags: ['database', 'critical'],
    });
    const { id, ...rest } = e;
    expect(id).toHaveLength(26);
    expect(JSON.stringify(rest)).toBe(
      JSON.stringify({
        timestamp: '2025-12-01T10:30:45.123000Z',
        received_at: RECEIVED,
        level: 'ERROR',
        app_id: 'billing-api',
        message: 'Database connection failed',
        context: { error_code: 'ECONNREFUSED', host: 'localhost:5432' },
        tags: ['database', 'critical'],
        stack_trace: 'Error: x\n  at y',
      }),
    );
  });

  it('reads ISO 8601 times with any fraction and zone, and epoch milliseconds', () => {
    expect(ok({ message: 'm', timestamp: '2025-01-15T14:22:00Z' }).timestamp).toBe('2025-01-15T14:22:00.000000Z');
    expect(ok({ message: 'm', timestamp: '2025-01-15T16:22:00.1234567+02:00' }).timestamp).toBe(
      '2025-01-15T14:22:00.123456Z',
    );
    expect(ok({ message: 'm', timestamp: '2025-01-15T14:22:00.5' }).timestamp).toBe('2025-01-15T14:22:00.500000Z');
    expect(ok({ message: 'm', timestamp: 1736950920123 }).timestamp).toBe('2025-01-15T14:22:00.123000Z');
    expect(ok({ message: 'm', timestamp: 1736950920123.456 }).timestamp).toBe('2025-01-15T14:22:00.123456Z');
    expect(ok({ message: 'm', timestamp: 0 }).timestamp).toBe('1970-01-01T00:00:00.000000Z');
    expect(ok({ message: 'm', timestamp: 253402300799999 }).timestamp).toBe('9999-12-31T23:59:59.999000Z');
    expect(ok({ message: 'm', timestamp: 1.9999999 }).timestamp).toBe('1970-01-01T00:00:00.002000Z');
  });

  it('uses the receive time, unflagged, when the timestamp is missing or null (missing = now)', () => {
    for (const item of [{ message: 'm' }, { message: 'm', timestamp: null }]) {
      const e = ok(item);
      expect(e.timestamp).toBe(RECEIVED);
      expect(e.flags).toBeUndefined();
    }
  });

  it('rejects an unparsable timestamp, naming the field', () => {
    expect(err({ message: 'm', timestamp: 'yesterday' })).toBe('timestamp: not an ISO 8601 time');
    expect(err({ message: 'm', timestamp: '2025-02-30T00:00:00Z' })).toBe('timestamp: not an ISO 8601 time');
    expect(err({ message: 'm', timestamp: -5 })).toBe('timestamp: epoch milliseconds out of range');
    expect(err({ message: 'm', timestamp: true })).toBe('timestamp: expected an ISO 8601 string or epoch milliseconds');
  });

  it('reads level aliases in any case, and numbers', () => {
    expect(ok({ message: 'm', level: 'warning' }).level).toBe('WARN');
    expect(ok({ message: 'm', level: 'Critical' }).level).toBe('FATAL');
    expect(ok({ message: 'm', level: 'notice' }).level).toBe('INFO');
    expect(ok({ message: 'm', level: 'debug' }).level).toBe('DEBUG');
    expect(ok({ message: 'm', level: 50 }).level).toBe('ERROR');
    expect(ok({ message: 'm', level: 3 }).level).toBe('ERROR');
    expect(ok({ message: 'm' }).level).toBe('INFO');
  });

  it('rejects an unknown level', () => {
    expect(err({ message: 'm', level: 'x' })).toBe('level: unknown level "x"');
    expect(err({ message: 'm', level: 35 })).toBe('level: unknown level 35');
    expect(err({ message: 'm', level: [] })).toBe('level: expected a level name');
  });

  it('requires a message, and accepts msg for it', () => {
    expect(err({ level: 'info' })).toBe('message: required');
    expect(err({ message: null })).toBe('message: required');
    expect(ok({ msg: 'from msg' }).message).toBe('from msg');
    expect(ok({ message: 'a', msg: 'b' }).message).toBe('a');
    expect(ok({ message: '' }).message).toBe('');
    expect(err({ message: 5 })).toBe('message: Invalid input: expected string, received number');
  });

  it('checks field types and lengths', () => {
    expect(err({ message: 'm', app_id: 'x'.repeat(101) })).toMatch(/^app_id: /);
    expect(err({ message: 'm', app_key: 'x'.repeat(101) })).toMatch(/^app_key: /);
    expect(err({ message: 'm', category: 'x'.repeat(101) })).toMatch(/^category: /);
    expect(err({ message: 'm', user_agent: 'x'.repeat(256) })).toMatch(/^user_agent: /);
    expect(err({ message: 'm', tags: ['a', 1] })).toBe('tags.1: Invalid input: expected string, received number');
    expect(err({ message: 'm', context: [1] })).toBe('context: expected an object');
    expect(err({ message: 'm', context: 'x' })).toBe('context: expected an object');
    expect(err({ message: 'm', stack_trace: {} })).toMatch(/^stack_trace: /);
  });

  it('reports every bad field at once', () => {
    expect(err({ message: 1, tags: 'x' })).toMatch(/^message: .*; tags: /);
  });

  it('rejects what is not an object', () => {
    for (const item of [null, 'x', 5, [], [{ message: 'm' }]]) expect(err(item)).toBe('expected a JSON object');
  });

  it('copies the optional fields across', () => {
    const e = ok(
      {
        message: 'm',
        trace_id: 't',
        batch_id: 'b',
        category: 'payments',
        user_agent: 'Svc/1',
        environment: 'staging',
        source: 'app',
        proc: 'web.1',
        host: 'h',
      },
      { ...DEFAULTS, batchId: 'default-batch', userAgent: 'curl/8', environment: 'prod' },
    );
    expect(e).toMatchObject({
      trace_id: 't',
      batch_id: 'b',
      category: 'payments',
      user_agent: 'Svc/1',
      environment: 'staging',
      source: 'app',
      proc: 'web.1',
      host: 'h',
    });
  });

  it('fills batch_id, user_agent and environment from the defaults', () => {
    const e = ok({ message: 'm' }, { ...DEFAULTS, batchId: 'B', userAgent: 'curl/8', environment: 'prod' });
    expect(e).toMatchObject({ batch_id: 'B', user_agent: 'curl/8', environment: 'prod' });
  });

  it('treats null optional fields as absent', () => {
    const e = ok({ message: 'm', stack_trace: null, tags: null, context: null, trace_id: null });
    expect(Object.keys(e).sort()).toEqual(['app_id', 'id', 'level', 'message', 'received_at', 'timestamp']);
  });

  it('puts unknown fields into context, the item context winning a clash', () => {
    const e = ok({ message: 'm', context: { a: 1, user: 'ctx' }, user: 'top', request_ms: 12 });
    expect(e.context).toEqual({ a: 1, user: 'ctx', request_ms: 12 });
    expect(ok({ message: 'm', extra: true }).context).toEqual({ extra: true });
  });

  it('does not change the item it was given', () => {
    const item = { message: 'm', context: { a: 1 }, extra: 2 };
    ok(item);
    expect(item).toEqual({ message: 'm', context: { a: 1 }, extra: 2 });
  });

  it('puts request tags before the item tags', () => {
    expect(ok({ message: 'm', tags: ['b'] }, { ...DEFAULTS, tags: ['a'] }).tags).toEqual(['a', 'b']);
    expect(ok({ message: 'm' }, { ...DEFAULTS, tags: ['a'] }).tags).toEqual(['a']);
  });

  it('extracts l2met metrics from the message text', () => {
    const e = ok({ message: 'charged measure#charge.latency=120ms count#charges=1 source=worker.2' });
    expect(e.metrics).toEqual([
      { kind: 'measure', name: 'charge.latency', value: 120, unit: 'ms', source: 'worker.2' },
      { kind: 'count', name: 'charges', value: 1, source: 'worker.2' },
    ]);
    expect(e.context).toBeUndefined();
    const bad = ok({ message: 'measure#x=slow', timestamp: '2025-01-15T14:22:00Z' });
    expect(bad.flags).toEqual(['invalid_metric']);
    expect(ok({ message: 'at=info status=200 # no metrics' }).metrics).toBeUndefined();
  });

  // Before: the gate wanted a `=`, so `measure#a` alone gave no metric while `measure#a=` gave 1.
  it.each(BARE_METRIC_CASES)('reads the bare or empty-valued l2met keys of %j as %j', (message, want) => {
    const e = ok({ message });
    expect(e.metrics ?? []).toEqual(want);
    expect(e.flags).toBeUndefined();
  });

  it.each(LOGPLEX_DROP_CASES)('gives the Logplex overflow line %j the metric %j', (message, want) => {
    const e = ok({ message, level: 'error' });
    expect(e.metrics).toEqual(want === null ? undefined : [want]);
    expect(e.level).toBe('ERROR');
  });

  it('reads app_id as the environment under seed-003 semantics', () => {
    const shorthand = ok({ app_key: 'billing-api', app_id: 'production', level: 'info', category: 'startup', message: 'Service started' });
    expect(shorthand.app_id).toBe('billing-api');
    expect(shorthand.environment).toBe('production');
    expect(shorthand.category).toBe('startup');
    const inBatch = ok({ app_id: 'staging', message: 'm' }, { ...DEFAULTS, appKeyForm: true, environment: 'production' });
    expect(inBatch.environment).toBe('staging');
    const plain = ok({ app_id: 'billing-api', message: 'm' });
    expect(plain.environment).toBeUndefined();
  });

  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = jsonToEntry(v, DEFAULTS);
        if (r.ok) EntrySchema.parse(r.entry);
        else expect(typeof r.error).toBe('string');
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string(), (extra, message) => {
        const r = jsonToEntry({ ...extra, message }, DEFAULTS);
        if (r.ok) EntrySchema.parse(r.entry);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('classifyJsonPayload', () => {
  const classify = (body: unknown): ClassifiedJsonPayload => {
    const r = classifyJsonPayload(body);
    if ('error' in r) throw new Error(r.error);
    return r;
  };

  it('reads a single universal-format entry, whose app_id is the Sluice app', () => {
    const body = { level: 'INFO', app_id: 'my-app', message: 'm' };
    expect(classify(body)).toEqual({ form: 'entry', items: [body], targetAppIds: ['my-app'], defaults: {} });
    expect(classify({ message: 'm' }).targetAppIds).toEqual([undefined]);
  });

  it('reads { logs: [...] } with the items naming their own app', () => {
    const logs = [{ app_id: 'a', message: '1' }, { message: '2' }, 'junk'];
    expect(classify({ logs })).toEqual({ form: 'logs', items: logs, targetAppIds: ['a', undefined, undefined], defaults: {}, batch: {} });
  });

  it('reads a logs envelope app_id and batch_id as defaults', () => {
    const r = classify({ app_id: 'my-app', batch_id: 'b1', environment: 'prod', logs: [{ message: '1' }, { app_id: 'other', message: '2' }] });
    expect(r.form).toBe('logs');
    expect(r.targetAppIds).toEqual(['my-app', 'other']);
    expect(r.defaults).toEqual({ batchId: 'b1', environment: 'prod' });
    expect(r.batch).toEqual({ appId: 'my-app', batchId: 'b1' });
  });

  it('reads the seed-003 batch: app_key is the app, app_id the environment', () => {
    const body = {
      app_key: 'billing-api',
      app_id: 'production',
      batch_id: '550e8400-e29b-41d4-a716-446655440000',
      logs: [
        {
          trace_id: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
          level: 'error',
          category: 'payments',
          message: 'Charge failed for invoice #1234',
          context: { invoice_id: 1234, code: 'card_declined' },
          timestamp: '2025-01-15T14:22:00.000Z',
        },
      ],
    };
    const r = classify(body);
    expect(r.form).toBe('batch');
    expect(r.targetAppIds).toEqual(['billing-api']);
    expect(r.defaults).toEqual({ batchId: '550e8400-e29b-41d4-a716-446655440000', environment: 'production', appKeyForm: true });
    expect(r.batch).toEqual({ appKey: 'billing-api', appId: 'production', batchId: '550e8400-e29b-41d4-a716-446655440000' });

    const e = ok(r.items[0], { ...DEFAULTS, ...r.defaults, userAgent: 'BillingService/2.1.0 (PHP 8.3)' });
    expect(e).toMatchObject({
      app_id: 'billing-api',
      level: 'ERROR',
      environment: 'production',
      batch_id: '550e8400-e29b-41d4-a716-446655440000',
      trace_id: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
      category: 'payments',
      user_agent: 'BillingService/2.1.0 (PHP 8.3)',
      timestamp: '2025-01-15T14:22:00.000000Z',
      context: { invoice_id: 1234, code: 'card_declined' },
    });
    expect(e.flags).toBeUndefined();
  });

  it('reads the seed-003 single-entry shorthand', () => {
    const body = { app_key: 'billing-api', app_id: 'production', level: 'info', category: 'startup', message: 'Service started' };
    const r = classify(body);
    expect(r).toEqual({ form: 'shorthand', items: [body], targetAppIds: ['billing-api'], defaults: {} });
    expect(ok(r.items[0], { ...DEFAULTS, ...r.defaults }).environment).toBe('production');
  });

  it('reads a top-level array, each item naming its app by app_key or app_id', () => {
    const items = [{ app_id: 'a', message: '1' }, { app_key: 'b', app_id: 'prod', message: '2' }, { message: '3' }];
    expect(classify(items)).toEqual({ form: 'array', items, targetAppIds: ['a', 'b', undefined], defaults: {} });
  });

  it('rejects bodies of no known shape', () => {
    expect(classifyJsonPayload('x')).toEqual({ error: 'expected a JSON object or array' });
    expect(classifyJsonPayload(null)).toEqual({ error: 'expected a JSON object or array' });
    expect(classifyJsonPayload({ logs: {} })).toEqual({ error: 'logs: expected an array' });
    expect(classifyJsonPayload({ app_key: 5, logs: [] })).toEqual({ error: 'app_key: expected a string' });
    expect(classifyJsonPayload({ app_id: [], message: 'm' })).toEqual({ error: 'app_id: expected a string' });
  });

  it('accepts an empty batch', () => {
    expect(classify({ logs: [] }).items).toEqual([]);
    expect(classify([]).items).toEqual([]);
  });
});

describe('the hand-written item check', () => {
  // Every field of the schema, each given a value of every JSON kind (and strings around the
  // length bounds): the fast check and zod must agree on each item.
  const fieldValue = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.string({ maxLength: 3 }),
    fc.constantFrom('x'.repeat(100), 'x'.repeat(101), 'x'.repeat(255), 'x'.repeat(256)),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.integer()), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
  );
  const keys = Object.keys(ItemSchema.shape);
  it('accepts exactly what the zod schema accepts', () => {
    fc.assert(
      // Two fields at a time: with more, nearly every item has some wrong field and both
      // verdicts are "no" whatever the other rules say.
      fc.property(fc.subarray(keys, { maxLength: 2 }), fc.tuple(fieldValue, fieldValue), (picked, values) => {
        const item: Record<string, unknown> = {};
        picked.forEach((k, i) => (item[k] = values[i]));
        const plain = JSON.parse(JSON.stringify(item)) as Record<string, unknown>;
        expect(itemPassesSchema(plain)).toBe(ItemSchema.safeParse(plain).success);
      }),
      { numRuns: 3000 },
    );
  });
});
