import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { entryJsonSchemaText } from './entry-json-schema.js';

describe('protocol/entry.schema.json', () => {
  it('matches the zod schema (run `npm run schema` after changing src/normalize/entry.ts)', () => {
    const committed = readFileSync(new URL('../../protocol/entry.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(entryJsonSchemaText());
  });

  it('lists every entry field with its type', () => {
    const schema = JSON.parse(entryJsonSchemaText()) as { properties: Record<string, { type?: string }>; required: string[] };
    expect(schema.required).toEqual(['id', 'timestamp', 'received_at', 'level', 'app_id', 'message']);
    expect(schema.properties.timestamp?.type).toBe('string');
    expect(Object.keys(schema.properties)).toContain('metrics');
  });
});
