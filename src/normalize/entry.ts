import { z } from 'zod';

/**
 * The universal entry: every line Sluice accepts, whatever its wire format, becomes one of these.
 *
 * This zod schema is the source of truth. `protocol/entry.schema.json` is generated from it by
 * `npm run schema`, and a test fails when the committed file is stale.
 *
 * Absent fields are omitted, never `null`, so entries stay small on the wire and in Redis.
 */

/** Levels in ascending order of severity; the index is the rank used by `level >= X` filters. */
export const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type Level = (typeof LEVELS)[number];
export const LevelSchema = z.enum(LEVELS);

/** Rank of a level (DEBUG 0 … FATAL 4), for minimum-level filters. */
export function levelRank(level: Level): number {
  switch (level) {
    case 'DEBUG':
      return 0;
    case 'INFO':
      return 1;
    case 'WARN':
      return 2;
    case 'ERROR':
      return 3;
    default:
      return 4;
  }
}

/** Flags that say what the gateway had to repair or could not interpret in a line. */
export const ENTRY_FLAGS = [
  'invalid_timestamp', // unparsable or missing: `timestamp` is the receive time
  'invalid_utf8', // bytes were not valid UTF-8; decoded with U+FFFD
  'invalid_metric', // an l2met value that is not a number (kept with value null)
  'rfc3164', // the frame was BSD syslog, parsed by the fallback
  'truncated', // message, stack_trace or tags were cut to MAX_MESSAGE_BYTES (see bounds.ts)
  'json_too_deep', // a JSON message nested deeper than MAX_JSON_DEPTH: kept as text, not parsed
  'json_too_large', // a JSON message whose fields exceed MAX_CONTEXT_BYTES: kept as text
  'context_truncated', // a sent context deeper than MAX_JSON_DEPTH or over MAX_CONTEXT_BYTES was cut
  'length_mismatch', // the frame's LEN was wrong; its real end was found (protocol/README.md, framing repairs)
  'missing_sd', // a Logplex-input frame without STRUCTURED-DATA: the rest after MSGID is the message
] as const;
export type EntryFlag = (typeof ENTRY_FLAGS)[number];

export const MetricSchema = z
  .object({
    kind: z.enum(['count', 'sample', 'measure']).describe('l2met kind; router lines give implicit measures'),
    name: z.string().min(1).describe('dotted metric name, least to most specific'),
    value: z.number().nullable().describe('null when the value was not a number (see raw)'),
    unit: z.string().optional().describe('letters or % right after the number: ms, MB, bytes, pages, %'),
    source: z.string().optional().describe('the `source=` of the line, when present'),
    raw: z.string().optional().describe('the value as sent, kept only when it was not numeric'),
  })
  .strict();
export type Metric = z.infer<typeof MetricSchema>;

/** Timestamps are UTC ISO 8601 with exactly six fraction digits: they sort as strings. */
const isoMicros = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
  .describe('UTC, microsecond precision: YYYY-MM-DDTHH:MM:SS.ffffffZ');

export const EntrySchema = z
  .object({
    id: z.string().length(26).describe('ULID made by the server; sorts by receive time'),
    timestamp: isoMicros.describe('when the event happened (sender clock), UTC with µs kept'),
    received_at: isoMicros.describe('when Sluice accepted it'),
    level: LevelSchema,
    app_id: z.string().min(1).max(100).describe('the Sluice app the entry belongs to'),
    message: z.string(),
    source: z.string().optional().describe('syslog APP-NAME: app, heroku, an add-on name'),
    proc: z.string().optional().describe('syslog PROCID: web.1, router, api'),
    host: z.string().optional().describe('syslog HOSTNAME'),
    context: z.record(z.string(), z.unknown()).optional().describe('fields from logfmt, JSON or SD'),
    metrics: z.array(MetricSchema).optional(),
    tags: z.array(z.string()).optional(),
    stack_trace: z.string().optional(),
    trace_id: z.string().optional(),
    batch_id: z.string().optional(),
    category: z.string().optional(),
    user_agent: z.string().optional(),
    facility: z.number().int().min(0).max(23).optional(),
    severity: z.number().int().min(0).max(7).optional(),
    frame_id: z.string().optional().describe('Logplex-Frame-Id of the drain request'),
    drain_token: z.string().optional().describe('Logplex-Drain-Token (d.<uuid>), not a secret'),
    environment: z.string().optional().describe('instance or environment, e.g. production'),
    status: z.number().int().optional().describe('HTTP status of a Heroku router line'),
    flags: z.array(z.enum(ENTRY_FLAGS)).optional(),
  })
  .strict();

/** A stored entry. Built as a plain object on the hot path; the schema validates at the edges. */
export type Entry = z.infer<typeof EntrySchema>;
