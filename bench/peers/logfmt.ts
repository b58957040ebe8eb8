/**
 * The peer a Node user reaches for today: npm `logfmt` (Heroku's own library, a devDependency
 * here). Two ways it gets used on a drain body, both splitting on LF (wrong for
 * `application/logplex-1`, whose frames are octet-counted and may hold line feeds):
 *
 * - `logfmt.bodyParser()` (lib/body_parser.js): `setEncoding('utf8')`, concatenates the chunks,
 *   `buf.trim().split("\n")`, then `logfmt.parse(line)` on every WHOLE line, syslog header and
 *   LEN included (they come out as bare keys such as `{ '83': true, '<158>1': true, … }`).
 * - Hand-rolled: split on LF, a regex for `LEN <PRI>VERSION TS HOST APP PROC MSGID MSG`, then
 *   `logfmt.parse(msg)`. Timestamps stay strings (no Date parsing): generous to the peer.
 */
import { createRequire } from 'node:module';
import { StringDecoder } from 'node:string_decoder';

interface LogfmtModule {
  parse(line: string): Record<string, string | boolean | null>;
  bodyParser(options?: { contentType?: string }): (req: unknown, res: unknown, next: (err?: unknown) => void) => void;
}

const require = createRequire(import.meta.url);
/** npm `logfmt` (CommonJS, no types shipped). */
export const logfmt = require('logfmt') as LogfmtModule;

/** The header regex a hand-rolled drain handler uses (heroku-log-parser style). */
const LINE = /^(\d+) <(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?(.*)$/;

/** Peer header path: split on LF, regex the header. Returns lines matched. */
export function splitRegex(body: Buffer): number {
  const lines = body.toString('utf8').split('\n');
  let n = 0;
  for (const l of lines) {
    if (l === '') continue;
    const m = LINE.exec(l);
    if (m !== null && m[9] !== undefined) n++;
  }
  return n;
}

/** Peer full path: split on LF, regex the header, `logfmt.parse` the message. Returns lines. */
export function splitRegexLogfmt(body: Buffer): number {
  const lines = body.toString('utf8').split('\n');
  let n = 0;
  for (const l of lines) {
    if (l === '') continue;
    const m = LINE.exec(l);
    if (m === null) continue;
    const fields = logfmt.parse(m[9]!);
    if (fields !== null) n++;
  }
  return n;
}

/**
 * Minimal stand-in for the Express request `logfmt.bodyParser()` reads: `header()`,
 * `setEncoding()`, `on('data' | 'end')`. The body is delivered in 64 KiB chunks through a
 * StringDecoder, as `setEncoding('utf8')` on a socket stream would.
 */
interface FakeRequest {
  _body?: boolean;
  body?: unknown;
  header(name: string): string | undefined;
  setEncoding(enc: string): void;
  on(event: 'data' | 'end', fn: (chunk?: string) => void): void;
}

const middleware = logfmt.bodyParser();
const CHUNK = 65536;

/** `logfmt.bodyParser()` driven without a server. Returns how many "lines" it produced. */
export function bodyParser(body: Buffer): number {
  let onData: ((chunk?: string) => void) | undefined;
  let onEnd: (() => void) | undefined;
  const req: FakeRequest = {
    header: (name) => (name.toLowerCase() === 'content-type' ? 'application/logplex-1' : undefined),
    setEncoding: () => {},
    on: (event, fn) => {
      if (event === 'data') onData = fn;
      else onEnd = fn as () => void;
    },
  };
  let failed: unknown;
  middleware(req, {}, (err) => {
    failed = err;
  });
  const dec = new StringDecoder('utf8');
  for (let i = 0; i < body.length; i += CHUNK) onData!(dec.write(body.subarray(i, i + CHUNK)));
  onEnd!();
  if (failed !== undefined) return 0;
  return (req.body as unknown[]).length;
}
