import { z } from 'zod';
import { EntrySchema } from './entry.js';

/** The JSON Schema of the universal entry, generated from the zod schema (the source of truth). */
export function entryJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://sluice.dev/protocol/entry.schema.json',
    title: 'Sluice entry',
    description: 'One normalised log line, as stored, queried and relayed by Sluice. Absent fields are omitted.',
    ...z.toJSONSchema(EntrySchema, { target: 'draft-2020-12' }),
  };
}

/** The exact text of `protocol/entry.schema.json`. */
export function entryJsonSchemaText(): string {
  return `${JSON.stringify(entryJsonSchema(), null, 2)}\n`;
}
