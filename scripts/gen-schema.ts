// Writes protocol/entry.schema.json from the zod schema. `npm run schema`; a test fails when stale.
import { writeFileSync } from 'node:fs';
import { entryJsonSchemaText } from '../src/normalize/entry-json-schema.js';

writeFileSync(new URL('../protocol/entry.schema.json', import.meta.url), entryJsonSchemaText());
console.log('wrote protocol/entry.schema.json');
