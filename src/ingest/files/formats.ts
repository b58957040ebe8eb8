/**
 * Lines of a watched file → universal entries, per `format` of its watcher:
 *
 * - `json`: one universal entry per line (the producer kit's `fs.appendFileSync(file,
 *   JSON.stringify({timestamp, level, app_id, message}) + '\n')`), normalised by
 *   {@link jsonToEntry} like `POST /api/logs`. The watcher's `app_id` wins over the line's.
 * - `logfmt`: `key=value` pairs → context, level, trace id and l2met metrics, as the drain reads
 *   a logfmt message; `time=`/`ts=`/`timestamp=` sets the timestamp when it parses.
 * - `syslog`: an RFC 5424 line (RFC 3164 as the fallback) via {@link parseSyslogFrame}, full
 *   STRUCTURED-DATA (`input` mode), then {@link syslogToEntry}.
 * - `text`: the line is the message; the level comes from its prefix (`ERROR …`, `[warn] …`).
 *   Continuation lines are joined by {@link TextJoiner}.
 *
 * A line its format cannot read (not JSON, not syslog) is not lost: it is stored as a `text`
 * entry. A line cut to `FILE_MAX_LINE_BYTES` carries the flag `truncated`.
 */
import { parseSyslogFrame } from '../../decode/syslog.js';
import { parseTimestampString } from '../../decode/timestamp.js';
import { entryLimits, truncateUtf8 } from '../../normalize/bounds.js';
import type { Entry, EntryFlag } from '../../normalize/entry.js';
import { jsonToEntry } from '../../normalize/from-json.js';
import { syslogToEntry } from '../../normalize/from-syslog.js';
import { levelFromText } from '../../normalize/level.js';
import { ulid } from '../../normalize/ulid.js';
import type { SyslogRecord } from '../../decode/types.js';
import type { FILE_FORMATS } from '../../apps/config-file.js';

/** A watcher's line format. */
export type FileFormat = (typeof FILE_FORMATS)[number];

/** What every entry of one read shares. */
export interface FileEntryContext {
  appId: string;
  /** 27-char µs form (`nowMicros()`). */
  receivedAt: string;
}

/** Why a line became a text entry instead of its format's (counted, logged in aggregate). */
export type Fallback = 'not_json' | 'invalid_entry' | 'not_syslog';

/** Result of {@link lineToEntry}: an entry, and when the format could not read it, why. */
export interface LineEntry {
  entry: Entry;
  fallback?: Fallback;
}

/**
 * One complete line (not `text`: see {@link TextJoiner}) → its entry; null for a blank line,
 * which carries nothing to store.
 */
export function lineToEntry(format: Exclude<FileFormat, 'text'>, bytes: Buffer, truncated: boolean, ctx: FileEntryContext): LineEntry | null {
  if (isBlank(bytes)) return null;
  let result: LineEntry;
  if (format === 'json') result = fromJson(bytes, ctx);
  else if (format === 'syslog') result = fromSyslog(bytes, ctx);
  else result = { entry: fromLogfmt(bytes.toString('utf8'), ctx) };
  if (truncated) addFlag(result.entry, 'truncated');
  return result;
}

function fromJson(bytes: Buffer, ctx: FileEntryContext): LineEntry {
  const text = bytes.toString('utf8');
  let item: unknown;
  try {
    item = JSON.parse(text);
  } catch {
    return { entry: textEntry(text, undefined, ctx), fallback: 'not_json' };
  }
  const r = jsonToEntry(item, { appId: ctx.appId, receivedAt: ctx.receivedAt });
  if (r.ok) return { entry: r.entry };
  return { entry: textEntry(text, undefined, ctx), fallback: 'invalid_entry' };
}

function fromSyslog(bytes: Buffer, ctx: FileEntryContext): LineEntry {
  const r = parseSyslogFrame(bytes, 0, bytes.length, 'input');
  if (!r.ok) return { entry: textEntry(bytes.toString('utf8'), undefined, ctx), fallback: 'not_syslog' };
  return { entry: syslogToEntry(r.record, { appId: ctx.appId, receivedAt: ctx.receivedAt }) };
}

const TIME_KEYS = ['time', 'ts', 'timestamp'] as const;

function fromLogfmt(text: string, ctx: FileEntryContext): Entry {
  // The drain's logfmt reading, on a record that says nothing itself (severity 6: the line's level wins).
  const record: SyslogRecord = {
    facility: 1,
    severity: 6,
    timestamp: ctx.receivedAt,
    invalidTimestamp: false,
    hostname: null,
    appName: null,
    procId: null,
    msgId: null,
    structuredData: null,
    message: text,
    invalidUtf8: false,
    format: 'rfc5424',
  };
  const entry = syslogToEntry(record, { appId: ctx.appId, receivedAt: ctx.receivedAt });
  delete entry.facility;
  delete entry.severity;
  const c = entry.context;
  if (c !== undefined) {
    for (const key of TIME_KEYS) {
      const v = c[key];
      const ts = typeof v === 'string' ? parseTimestampString(v, { allowMissingOffset: true }) : null;
      if (ts !== null) {
        entry.timestamp = ts;
        break;
      }
    }
  }
  return entry;
}

/** A `text` entry: `message` the first line, `stack_trace` the continuation lines when any. */
export function textEntry(message: string, continuation: string | undefined, ctx: FileEntryContext): Entry {
  const limits = entryLimits();
  const cut = truncateUtf8(message, limits.maxMessageBytes);
  const entry: Entry = {
    id: ulid(),
    timestamp: ctx.receivedAt,
    received_at: ctx.receivedAt,
    level: levelFromText(message) ?? 'INFO',
    app_id: ctx.appId,
    message: cut,
  };
  let truncated = cut !== message;
  if (continuation !== undefined) {
    entry.stack_trace = truncateUtf8(continuation, limits.maxMessageBytes);
    if (entry.stack_trace !== continuation) truncated = true;
  }
  if (truncated) addFlag(entry, 'truncated');
  return entry;
}

function addFlag(entry: Entry, flag: EntryFlag): void {
  if (entry.flags === undefined) entry.flags = [flag];
  else if (!entry.flags.includes(flag)) entry.flags.push(flag);
}

function isBlank(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/** A text entry being assembled from its first line and continuation lines. */
interface PendingText {
  first: string;
  rest: string[];
  bytes: number;
  /** File offset of its first line. */
  start: number;
  truncated: boolean;
  /** When its last line was added (ms), for the quiet-time flush. */
  lastAt: number;
}

/**
 * Joins `text` lines into entries: a line starting with a space or a tab continues the entry
 * before it (stack traces stay whole); any other non-blank line starts a new one. An entry is
 * complete when the next one starts, or after a quiet time with no new line
 * (`FILE_MULTILINE_QUIET_MS`, see {@link takeIfQuiet}), or when its file ends. At most
 * `maxBytes` of one entry are kept (the rest of its continuation lines are dropped, flag
 * `truncated`).
 */
export class TextJoiner {
  private pending: PendingText | null = null;

  constructor(private readonly maxBytes: number) {}

  /** File offset where the entry being assembled starts, or undefined when there is none. */
  get pendingStart(): number | undefined {
    return this.pending?.start;
  }

  /** Adds one complete line; returns the entry it completes, if any. */
  add(bytes: Buffer, start: number, truncated: boolean, now: number, ctx: FileEntryContext): Entry | null {
    if (isBlank(bytes)) return null;
    const text = bytes.toString('utf8');
    const p = this.pending;
    const c = text.charCodeAt(0);
    if (p !== null && (c === 0x20 || c === 0x09)) {
      if (p.bytes + bytes.length + 1 > this.maxBytes) p.truncated = true;
      else {
        p.rest.push(text);
        p.bytes += bytes.length + 1;
      }
      if (truncated) p.truncated = true;
      p.lastAt = now;
      return null;
    }
    const done = this.take(ctx);
    this.pending = { first: text, rest: [], bytes: bytes.length, start, truncated, lastAt: now };
    return done;
  }

  /** The entry being assembled when no line came for `quietMs`, else null. */
  takeIfQuiet(now: number, quietMs: number, ctx: FileEntryContext): Entry | null {
    if (this.pending === null || now - this.pending.lastAt < quietMs) return null;
    return this.take(ctx);
  }

  /** The entry being assembled (its file ended), or null. */
  take(ctx: FileEntryContext): Entry | null {
    const p = this.pending;
    if (p === null) return null;
    this.pending = null;
    const entry = textEntry(p.first, p.rest.length > 0 ? p.rest.join('\n') : undefined, ctx);
    if (p.truncated) addFlag(entry, 'truncated');
    return entry;
  }

  /** Forgets the entry being assembled (the file was truncated under it and is read again). */
  reset(): void {
    this.pending = null;
  }
}
