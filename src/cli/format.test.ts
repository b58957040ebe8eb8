import { describe, expect, it } from 'vitest';
import {
  formatEntry,
  formatError,
  formatJson,
  formatNotice,
  formatWarning,
  levelColor,
  sanitize,
  SGR,
  type PrintableEntry,
} from './format.js';

const TS = '2024-06-01T12:00:00.123456Z';

function entry(over: Partial<PrintableEntry> = {}): PrintableEntry {
  return { timestamp: TS, level: 'INFO', source: 'app', proc: 'web.1', message: 'Hello', ...over };
}

const plain = { color: false };
const color = { color: true };

describe('formatEntry without colour', () => {
  it('prints the Heroku layout with the level', () => {
    expect(formatEntry(entry(), plain)).toBe(`${TS} app[web.1]: INFO  Hello`);
  });

  it('pads every level to five characters so messages line up', () => {
    for (const level of ['DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL']) {
      const line = formatEntry(entry({ level, message: 'm' }), plain);
      expect(line).toBe(`${TS} app[web.1]: ${level.padEnd(5)} m`);
      expect(line.indexOf(' m')).toBe(`${TS} app[web.1]: DEBUG`.length);
    }
  });

  it('uses the source and proc as given (heroku router)', () => {
    expect(formatEntry(entry({ source: 'heroku', proc: 'router', message: 'at=info' }), plain)).toBe(
      `${TS} heroku[router]: INFO  at=info`,
    );
  });

  it('leaves out [proc] when there is none', () => {
    expect(formatEntry(entry({ proc: undefined }), plain)).toBe(`${TS} app: INFO  Hello`);
    expect(formatEntry(entry({ proc: '' }), plain)).toBe(`${TS} app: INFO  Hello`);
  });

  it('names a sourceless entry (JSON ingest) app, as Heroku does', () => {
    expect(formatEntry(entry({ source: undefined, proc: undefined }), plain)).toBe(`${TS} app: INFO  Hello`);
    expect(formatEntry(entry({ source: '' }), plain)).toBe(`${TS} app[web.1]: INFO  Hello`);
  });

  it('keeps multi-line messages whole', () => {
    const message = 'Error: boom\n    at f (a.js:1:1)\n    at g (b.js:2:2)';
    expect(formatEntry(entry({ level: 'ERROR', message }), plain)).toBe(`${TS} app[web.1]: ERROR ${message}`);
  });

  it('turns CRLF into LF and drops trailing newlines, keeping inner blank lines', () => {
    expect(formatEntry(entry({ message: 'a\r\n\r\nb\r\n\n' }), plain)).toBe(`${TS} app[web.1]: INFO  a\n\nb`);
  });

  it('appends stack_trace on its own lines unless the message holds it', () => {
    const stack_trace = 'Error: x\n    at y';
    expect(formatEntry(entry({ message: 'failed', stack_trace }), plain)).toBe(
      `${TS} app[web.1]: INFO  failed\nError: x\n    at y`,
    );
    expect(formatEntry(entry({ message: `failed ${stack_trace}`, stack_trace }), plain)).toBe(
      `${TS} app[web.1]: INFO  failed ${stack_trace}`,
    );
  });

  it('shows control characters escaped: a log line cannot drive the terminal', () => {
    const line = formatEntry(entry({ message: 'a\x1b[2Jb\rc\x07d\x9be\x7ff\tg' }), plain);
    expect(line).toBe(`${TS} app[web.1]: INFO  a\\x1b[2Jb\\x0dc\\x07d\\x9be\\x7ff\tg`);
    expect(line).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });

  it('escapes control characters in source and proc too', () => {
    expect(formatEntry(entry({ source: 'a\x1bb', proc: 'w\x00' }), plain)).toBe(`${TS} a\\x1bb[w\\x00]: INFO  Hello`);
  });

  it('prints an unknown level as it is', () => {
    expect(formatEntry(entry({ level: 'NOTICE' }), plain)).toBe(`${TS} app[web.1]: NOTICE Hello`);
  });

  it('keeps non-ASCII text', () => {
    expect(formatEntry(entry({ message: 'café ✓ 日本 \u{1F600}' }), plain)).toBe(`${TS} app[web.1]: INFO  café ✓ 日本 \u{1F600}`);
  });
});

describe('formatEntry with colour', () => {
  it.each([
    ['DEBUG', SGR.dim],
    ['WARN', SGR.yellow],
    ['ERROR', SGR.red],
    ['FATAL', SGR.boldMagenta],
  ])('wraps a %s line in its colour', (level, sgr) => {
    expect(formatEntry(entry({ level }), color)).toBe(`${sgr}${TS} app[web.1]: ${level.padEnd(5)} Hello${SGR.reset}`);
  });

  it('leaves INFO and unknown levels in the terminal colour', () => {
    expect(formatEntry(entry(), color)).toBe(`${TS} app[web.1]: INFO  Hello`);
    expect(formatEntry(entry({ level: 'NOTICE' }), color)).toBe(`${TS} app[web.1]: NOTICE Hello`);
  });

  it('colours each line of a multi-line message on its own', () => {
    expect(formatEntry(entry({ level: 'ERROR', message: 'a\nb' }), color)).toBe(
      `${SGR.red}${TS} app[web.1]: ERROR a${SGR.reset}\n${SGR.red}b${SGR.reset}`,
    );
  });

  it('still escapes an escape sequence in the message', () => {
    const line = formatEntry(entry({ level: 'WARN', message: '\x1b[0m' }), color);
    expect(line).toBe(`${SGR.yellow}${TS} app[web.1]: WARN  \\x1b[0m${SGR.reset}`);
  });
});

describe('levelColor', () => {
  it('maps the five levels', () => {
    expect(['DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'x'].map(levelColor)).toEqual([
      SGR.dim,
      undefined,
      SGR.yellow,
      SGR.red,
      SGR.boldMagenta,
      undefined,
    ]);
  });
});

describe('formatJson', () => {
  it('prints the entry as one JSON line, unknown fields kept', () => {
    const e = { id: '01J0D5Q2VJ9M4G6N3S8T7W1XYZ', ...entry({ message: 'a\nb' }), future_field: [1] };
    const line = formatJson(e);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual(e);
  });
});

describe('stderr lines', () => {
  it('formats notices, warnings and errors, coloured or not', () => {
    expect(formatNotice('live', plain)).toBe('-- live --');
    expect(formatNotice('live', color)).toBe(`${SGR.dim}-- live --${SGR.reset}`);
    expect(formatWarning('gap: 2 entries', plain)).toBe('!! gap: 2 entries');
    expect(formatWarning('gap', color)).toBe(`${SGR.yellow}!! gap${SGR.reset}`);
    expect(formatError('forbidden', plain)).toBe('sluice: forbidden');
    expect(formatError('forbidden', color)).toBe(`${SGR.red}sluice: forbidden${SGR.reset}`);
  });

  it('escapes control characters in what the gateway sent', () => {
    expect(formatError('bad \x1b]0;title\x07', plain)).toBe('sluice: bad \\x1b]0;title\\x07');
  });
});

describe('sanitize', () => {
  it('keeps tab and newline, escapes the rest of C0, DEL and C1', () => {
    expect(sanitize('\t\n')).toBe('\t\n');
    expect(sanitize('\x00\x1f\x7f\x80\x9f')).toBe('\\x00\\x1f\\x7f\\x80\\x9f');
    expect(sanitize('\xa0é')).toBe('\xa0é');
  });
});
