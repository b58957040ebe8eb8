import { describe, expect, it } from 'vitest';
import { setEntryLimits, DEFAULT_ENTRY_LIMITS } from './bounds.js';
import { looksLikeJsonObject, parseJsonMessage as parseAny, type JsonMessage } from './json-message.js';

/** parseJsonMessage for messages within the limits: a JsonMessage or null. */
function parseJsonMessage(s: string): JsonMessage | null {
  const m = parseAny(s);
  if (m !== null && m.refused !== undefined) throw new Error(`refused: ${m.refused}`);
  return m;
}

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('parseJsonMessage', () => {
  it('reads a pino line: numeric level, msg, error stack', () => {
    const m = parseJsonMessage(
      '{"level":50,"time":1700000000000,"msg":"boom","err":{"type":"Error","message":"boom","stack":"Error: boom\\n    at x"}}',
    );
    expect(m).not.toBeNull();
    expect(m!.level).toBe('ERROR');
    expect(m!.message).toBe('boom');
    expect(m!.stack).toBe('Error: boom\n    at x');
    expect(m!.fields.time).toBe(1700000000000);
  });

  it('prefers message to msg and keeps every field', () => {
    const m = parseJsonMessage('  {"message":"a","msg":"b","severity":"WARNING","x":{"y":1}}  ');
    expect(m!.message).toBe('a');
    expect(m!.level).toBe('WARN');
    expect(m!.fields).toEqual({ message: 'a', msg: 'b', severity: 'WARNING', x: { y: 1 } });
  });

  it('reads stack_trace, trace ids and string tags', () => {
    const m = parseJsonMessage('{"stack_trace":"s","traceId":"t1","tags":["a",2,"b"],"lvl":"debug"}');
    expect(m).toMatchObject({ stack: 's', traceId: 't1', tags: ['a', 'b'], level: 'DEBUG', message: undefined });
    expect(parseJsonMessage('{"trace_id":"t0","request_id":"r"}')!.traceId).toBe('t0');
    expect(parseJsonMessage('{"request_id":"r"}')!.traceId).toBe('r');
  });

  it('ignores fields of the wrong type', () => {
    const m = parseJsonMessage('{"message":5,"level":true,"stack":[],"tags":"x"}');
    expect(m).toMatchObject({ message: undefined, level: null, stack: undefined, tags: undefined });
  });

  it('returns null for what is not a JSON object', () => {
    for (const s of ['', 'hello', '{foo} bar', '{"a":1', '{"a":1} trailing', '[1,2]', '"{}"', '{]', '{ not json }']) {
      expect(parseJsonMessage(s)).toBeNull();
    }
  });

  it('keeps a __proto__ key as a plain field', () => {
    const m = parseJsonMessage('{"__proto__":{"polluted":true},"a":1}');
    expect(Object.getPrototypeOf(m!.fields)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(m!.fields)).toEqual(['__proto__', 'a']);
  });
});

describe('parseJsonMessage bounds', () => {
  it('refuses an object nested deeper than MAX_JSON_DEPTH, however deep, without throwing', () => {
    expect(parseAny(nested(DEFAULT_ENTRY_LIMITS.maxJsonDepth))!.fields).toBeDefined();
    for (const depth of [DEFAULT_ENTRY_LIMITS.maxJsonDepth + 1, 5000, 100_000]) {
      expect(parseAny(nested(depth))).toEqual({ refused: 'json_too_deep' });
    }
  });

  it('refuses an object whose fields exceed MAX_CONTEXT_BYTES', () => {
    setEntryLimits({ maxContextBytes: 100 });
    try {
      expect(parseAny(JSON.stringify({ a: 'x'.repeat(50) }))!.fields).toBeDefined();
      expect(parseAny(JSON.stringify({ a: 'x'.repeat(200) }))).toEqual({ refused: 'json_too_large' });
      expect(parseAny(JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]))))).toEqual({
        refused: 'json_too_large',
      });
    } finally {
      setEntryLimits(DEFAULT_ENTRY_LIMITS);
    }
  });
});

describe('looksLikeJsonObject', () => {
  it('checks the first and last non-blank chars only', () => {
    expect(looksLikeJsonObject(' {"a":1}\n')).toBe(true);
    expect(looksLikeJsonObject('{}')).toBe(true);
    expect(looksLikeJsonObject('{')).toBe(false);
    expect(looksLikeJsonObject('x{}')).toBe(false);
  });
});
