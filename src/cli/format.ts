/**
 * Entry → text, for `sluice tail`. Pure functions: no terminal detection here; the caller says
 * whether to colour (see `colorEnabled` in args.ts).
 */
import type { Entry } from '../normalize/entry.js';

/** The SGR sequences used, by hand: one tiny table is cheaper than a colour dependency. */
export const SGR = {
  reset: '\x1b[0m',
  dim: '\x1b[2m',
  yellow: '\x1b[33m',
  red: '\x1b[31m',
  boldMagenta: '\x1b[1;35m',
} as const;

/** The fields a line is made of. Wider than {@link Entry}'s level: a newer gateway may add levels. */
export type PrintableEntry = Pick<Entry, 'timestamp' | 'message'> &
  Partial<Pick<Entry, 'source' | 'proc' | 'stack_trace'>> & { level: string };

/** Output options of {@link formatEntry}. */
export interface FormatOptions {
  /** Wrap the text in ANSI colours by level. */
  color: boolean;
}

/**
 * Colour of a level: DEBUG dim, INFO the terminal's own, WARN yellow, ERROR red, FATAL bold
 * magenta (so it stands out from a screen of ERROR red). Unknown levels are uncoloured.
 */
export function levelColor(level: string): string | undefined {
  switch (level) {
    case 'DEBUG':
      return SGR.dim;
    case 'WARN':
      return SGR.yellow;
    case 'ERROR':
      return SGR.red;
    case 'FATAL':
      return SGR.boldMagenta;
    default:
      return undefined;
  }
}

/**
 * One entry as Heroku prints it, with the level added:
 * `2024-06-01T12:00:00.123456Z app[web.1]: INFO  message`.
 *
 * - `source` defaults to `app` (JSON-ingested entries have none; Heroku's name for app output),
 *   and `[proc]` is left out when there is no proc.
 * - The level is padded to five characters so messages line up.
 * - Multi-line messages stay multi-line; a `stack_trace` field follows the message on its own
 *   lines unless the message already contains it. Trailing newlines are dropped (the line ends
 *   the entry), CRLF becomes LF.
 * - Other control characters are shown escaped (`\x1b`), because messages come from whoever
 *   can reach the app: a raw escape sequence could rewrite the terminal or hide lines.
 * - With colour, each physical line is wrapped on its own, so `less -R` and `grep` of a single
 *   line still get the colour and never a dangling one.
 *
 * No trailing newline: the caller joins lines.
 */
export function formatEntry(entry: PrintableEntry, options: FormatOptions): string {
  const source = entry.source === undefined || entry.source === '' ? 'app' : entry.source;
  const proc = entry.proc === undefined || entry.proc === '' ? '' : `[${entry.proc}]`;
  let body = entry.message;
  if (entry.stack_trace && !body.includes(entry.stack_trace)) body = `${body}\n${entry.stack_trace}`;
  const text = sanitize(
    `${entry.timestamp} ${source}${proc}: ${entry.level.padEnd(5)} ${trimTrailingNewlines(normalizeNewlines(body))}`,
  );
  return options.color ? paint(text, levelColor(entry.level)) : text;
}

/** One entry as NDJSON: the object exactly as the gateway sent it (fields unknown to us kept). */
export function formatJson(entry: unknown): string {
  return JSON.stringify(entry);
}

/** A status line for stderr (`-- live --`), dim when colour is on. */
export function formatNotice(text: string, options: FormatOptions): string {
  const line = `-- ${sanitize(text)} --`;
  return options.color ? paint(line, SGR.dim) : line;
}

/** A warning line for stderr (gaps, reconnections), yellow when colour is on. */
export function formatWarning(text: string, options: FormatOptions): string {
  const line = `!! ${sanitize(text)}`;
  return options.color ? paint(line, SGR.yellow) : line;
}

/** An error line for stderr, red when colour is on. */
export function formatError(text: string, options: FormatOptions): string {
  const line = `sluice: ${sanitize(text)}`;
  return options.color ? paint(line, SGR.red) : line;
}

// C0 controls except TAB and LF, DEL, and C1 controls (0x9b is a one-byte CSI on some terminals).
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** Replaces control characters other than tab and newline by a visible `\xHH`. */
export function sanitize(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function normalizeNewlines(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n/g, '\n') : text;
}

function trimTrailingNewlines(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x0a) end--;
  return end === text.length ? text : text.slice(0, end);
}

function paint(text: string, sgr: string | undefined): string {
  if (sgr === undefined) return text;
  return text
    .split('\n')
    .map((line) => `${sgr}${line}${SGR.reset}`)
    .join('\n');
}
