import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRfc5424 } from './rfc5424.js';
import type { SyslogMode, SyslogParseResult, SyslogRecord } from './types.js';

function parse(line: string | Buffer, mode: SyslogMode = 'drain'): SyslogParseResult {
  const buf = typeof line === 'string' ? Buffer.from(line) : line;
  return parseRfc5424(buf, 0, buf.length, mode);
}

function record(line: string | Buffer, mode: SyslogMode = 'drain'): SyslogRecord {
  const r = parse(line, mode);
  if (!r.ok) throw new Error(`expected a record, got ${r.reason}`);
  return r.record;
}

const TS = '2013-06-07T13:17:49.468822+00:00';
const HEAD = `<13>1 ${TS} host heroku web.7 -`;

describe('parseRfc5424 header', () => {
  it('reads a Heroku router line in drain mode', () => {
    expect(record('<158>1 2012-11-30T06:45:29+00:00 host heroku router - at=info method=GET')).toEqual({
      facility: 19,
      severity: 6,
      timestamp: '2012-11-30T06:45:29.000000Z',
      invalidTimestamp: false,
      hostname: 'host',
      appName: 'heroku',
      procId: 'router',
      msgId: null,
      structuredData: null,
      message: 'at=info method=GET',
      invalidUtf8: false,
      format: 'rfc5424',
    });
  });

  it('accepts PRI 0 to 191 and rejects PRI out of range or with a leading zero', () => {
    expect(record(`<0>1 ${TS} h a p - m`)).toMatchObject({ facility: 0, severity: 0 });
    expect(record(`<191>1 ${TS} h a p - m`)).toMatchObject({ facility: 23, severity: 7 });
    expect(record(`<9>1 ${TS} h a p - m`)).toMatchObject({ facility: 1, severity: 1 });
    for (const pri of ['<192>', '<999>', '<1000>', '<01>', '<00>', '<>', '<x>', '<13', '13>', '']) {
      expect(parse(`${pri}1 ${TS} h a p - m`)).toEqual({ ok: false, reason: 'bad_pri' });
    }
  });

  it('accepts VERSION 1 and two-digit versions, rejects others', () => {
    expect(parse(`<13>1 ${TS} h a p - m`).ok).toBe(true);
    expect(parse(`<13>12 ${TS} h a p - m`).ok).toBe(true);
    for (const v of ['0', '01', '123', 'x', '', '1x']) {
      expect(parse(`<13>${v} ${TS} h a p - m`)).toEqual({ ok: false, reason: 'bad_version' });
    }
    expect(parse('<13>1')).toEqual({ ok: false, reason: 'bad_version' });
  });

  it('maps the nil value - to null in every header field', () => {
    expect(record('<13>1 - - - - - msg')).toMatchObject({
      timestamp: null,
      invalidTimestamp: false,
      hostname: null,
      appName: null,
      procId: null,
      msgId: null,
      message: 'msg',
    });
  });

  it('keeps an unparsable timestamp as null with invalidTimestamp, without rejecting the line', () => {
    expect(record('<13>1 yesterday host app web.1 - hi')).toMatchObject({
      timestamp: null,
      invalidTimestamp: true,
      hostname: 'host',
      message: 'hi',
    });
    expect(record('<13>1 2013-02-30T00:00:00Z host app web.1 - hi').invalidTimestamp).toBe(true);
  });

  it('keeps microseconds and converts offsets to UTC', () => {
    expect(record(`<13>1 2013-05-27T19:59:36.538297+00:00 h a p - m`).timestamp).toBe('2013-05-27T19:59:36.538297Z');
    expect(record(`<13>1 2003-08-24T05:14:15.000003-07:00 h a p - m`).timestamp).toBe('2003-08-24T12:14:15.000003Z');
    expect(record(`<13>1 2013-07-22T00:06:26-00:00 h a p - m`).timestamp).toBe('2013-07-22T00:06:26.000000Z');
    expect(record(`<13>1 2013-01-01T01:30:00+02:00 h a p - m`).timestamp).toBe('2012-12-31T23:30:00.000000Z');
  });

  it('tolerates the broken ...Z+00:00 timestamp of the Logplex README', () => {
    expect(record(`<13>1 2012-12-10T03:00:48Z+00:00 h a p - m`)).toMatchObject({
      timestamp: '2012-12-10T03:00:48.000000Z',
      invalidTimestamp: false,
    });
  });

  it('rejects non-printable bytes in header fields as bad_header', () => {
    for (const host of ['ho\tst', 'h\x01', 'hé', 'h\x7f']) {
      expect(parse(`<13>1 ${TS} ${host} app web.1 - m`)).toEqual({ ok: false, reason: 'bad_header' });
    }
    expect(parse(`<13>1 ${TS} host app web.1 id\nx m`)).toEqual({ ok: false, reason: 'bad_header' });
  });

  it('rejects empty fields (two spaces) and missing fields as bad_header', () => {
    expect(parse(`<13>1 ${TS} host  web.1 - m`)).toEqual({ ok: false, reason: 'bad_header' });
    expect(parse(`<13>1  host app web.1 - m`)).toEqual({ ok: false, reason: 'bad_header' });
    expect(parse(`<13>1 ${TS} host app web.1`)).toEqual({ ok: false, reason: 'bad_header' });
    expect(parse(`<13>1 ${TS} host app`)).toEqual({ ok: false, reason: 'bad_header' });
    expect(parse(`<13>1 ${TS}`)).toEqual({ ok: false, reason: 'bad_header' });
  });

  it('is lenient on field lengths up to 255 bytes', () => {
    const app = 'a'.repeat(100); // RFC 5424 says at most 48
    const msgId = 'm'.repeat(64); // RFC 5424 says at most 32
    expect(record(`<13>1 ${TS} host ${app} web.1 ${msgId} hi`)).toMatchObject({ appName: app, msgId, message: 'hi' });
    expect(record(`<13>1 ${TS} ${'h'.repeat(255)} app web.1 - hi`).hostname).toHaveLength(255);
    expect(parse(`<13>1 ${TS} ${'h'.repeat(256)} app web.1 - hi`)).toEqual({ ok: false, reason: 'bad_header' });
  });

  it('reads only the given byte range of a larger buffer', () => {
    const line = `<13>1 ${TS} host app web.1 - hello`;
    const buf = Buffer.from(`xx${line}\nyy`);
    const r = parseRfc5424(buf, 2, 2 + line.length, 'drain');
    expect(r.ok && r.record.message).toBe('hello');
    // A range that ends inside the header does not borrow bytes from beyond it.
    const cut = Buffer.from('<13>1 x');
    expect(parseRfc5424(cut, 0, 4, 'drain')).toEqual({ ok: false, reason: 'bad_version' });
    expect(parseRfc5424(Buffer.from('<123>1 '), 0, 4, 'drain')).toEqual({ ok: false, reason: 'bad_pri' });
  });

  it('clamps out-of-range offsets instead of throwing', () => {
    const buf = Buffer.from(`<13>1 ${TS} host app web.1 - hi`);
    expect(parseRfc5424(buf, -10, 10_000, 'drain')).toMatchObject({ ok: true, record: { message: 'hi' } });
    expect(parseRfc5424(buf, 20, 5, 'drain')).toEqual({ ok: false, reason: 'bad_pri' });
  });
});

describe('parseRfc5424 drain mode', () => {
  it('treats everything after MSGID SP as the message, SD-looking text included', () => {
    expect(record(`${HEAD} - hi`).message).toBe('- hi');
    expect(record(`${HEAD} [meta sequenceId="hello"] hello`)).toMatchObject({
      structuredData: null,
      message: '[meta sequenceId="hello"] hello',
    });
  });

  it('gives an empty message when the line ends right after MSGID, with or without SP', () => {
    expect(record(HEAD).message).toBe('');
    expect(record(`${HEAD} `).message).toBe('');
  });

  it('keeps leading and inner spaces of the message', () => {
    expect(record(`${HEAD}   indented\tand  spaced `).message).toBe('  indented\tand  spaced ');
  });
});

describe('parseRfc5424 input mode', () => {
  it('reads SD - as null and the message after it', () => {
    expect(record(`${HEAD} - hi`, 'input')).toMatchObject({ structuredData: null, message: 'hi' });
  });

  it('reads several SD elements', () => {
    expect(record(`${HEAD} [meta sequenceId="hello"][foo bar="baz" n="1"] hello`, 'input')).toMatchObject({
      structuredData: { meta: { sequenceId: 'hello' }, foo: { bar: 'baz', n: '1' } },
      message: 'hello',
    });
  });

  it('parses the RFC 5424 §6.5 examples', () => {
    const bom = '\uFEFF';
    expect(
      record(`<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ${bom}'su root' failed for lonvick on /dev/pts/8`, 'input'),
    ).toMatchObject({
      facility: 4,
      severity: 2,
      timestamp: '2003-10-11T22:14:15.003000Z',
      hostname: 'mymachine.example.com',
      appName: 'su',
      procId: null,
      msgId: 'ID47',
      structuredData: null,
      message: "'su root' failed for lonvick on /dev/pts/8",
    });
    expect(
      record(`<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.`, 'input'),
    ).toMatchObject({
      facility: 20,
      severity: 5,
      timestamp: '2003-08-24T12:14:15.000003Z',
      hostname: '192.0.2.1',
      procId: '8710',
      message: "%% It's time to make the do-nuts.",
    });
    expect(
      record(
        `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ${bom}An application event log entry...`,
        'input',
      ),
    ).toMatchObject({
      structuredData: { 'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' } },
      message: 'An application event log entry...',
    });
    expect(
      record(
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
        'input',
      ),
    ).toMatchObject({
      structuredData: {
        'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' },
        'examplePriority@32473': { class: 'high' },
      },
      message: '',
    });
  });

  it('reads an SD element without params', () => {
    expect(record(`${HEAD} [origin] hi`, 'input').structuredData).toEqual({ origin: {} });
  });

  it('unescapes \\", \\\\ and \\] in values and keeps any other backslash', () => {
    const sd = String.raw`[x a="say \"hi\"" b="c:\\dir" c="[1\]" d="keep \n and \x" e="\\\"" f="]"]`;
    expect(record(`${HEAD} ${sd} m`, 'input').structuredData).toEqual({
      x: { a: 'say "hi"', b: 'c:\\dir', c: '[1]', d: String.raw`keep \n and \x`, e: '\\"', f: ']' },
    });
  });

  it('decodes UTF-8 in SD values', () => {
    expect(record(`${HEAD} [x name="Zoë ✓"] m`, 'input').structuredData).toEqual({ x: { name: 'Zoë ✓' } });
  });

  it('keeps SD-IDs like __proto__ as plain keys', () => {
    const r = record(`${HEAD} [__proto__ polluted="yes"] m`, 'input');
    expect(Object.keys(r.structuredData!)).toEqual(['__proto__']);
    expect(r.structuredData!['__proto__']!['polluted']).toBe('yes');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('reads a frame whose SD field is malformed or missing with the rest as its message, flagged missing_sd', () => {
    for (const sd of [
      '[x a="unterminated]',
      '[x a=unquoted]',
      '[x a="v"',
      '[x a="v"]junk',
      '[ a="v"]',
      '[]',
      '[x  a="v"]',
      '[x a ="v"]',
      '[x a="v" ]',
      '-junk',
      'hello',
      String.raw`[x a="v\"]`,
      '[x a="v\\',
    ]) {
      const r = record(`${HEAD} ${sd} m`, 'input');
      expect(r).toMatchObject({ message: `${sd} m`, structuredData: null, missingSd: true });
    }
  });

  it('flags a frame that ends before its SD field, as Logplex accepts it', () => {
    expect(record(HEAD, 'input')).toMatchObject({ message: '', missingSd: true });
    expect(record(`${HEAD} `, 'input')).toMatchObject({ message: '', missingSd: true });
    expect(record(`${HEAD} - m`, 'input').missingSd).toBeUndefined();
    expect(record(`${HEAD} [a b="c"] m`, 'input').missingSd).toBeUndefined();
  });

  it('reads a - after MSGID as the nil SD in shuttle mode and on Logplex\'s own lines, else as text', () => {
    const L10 = '<172>1 2024-06-01T12:00:00+00:00 host heroku logplex - - Error L10 (output buffer overflow): 3 messages dropped since 2024-06-01T11:59:00+00:00.';
    const dyno = '<190>1 2024-06-01T12:00:00+00:00 host app web.1 - - list item';
    expect(record(L10, 'drain').message).toMatch(/^Error L10/);
    expect(record(L10, 'shuttle').message).toMatch(/^Error L10/);
    expect(record(dyno, 'drain').message).toBe('- list item');
    expect(record(dyno, 'shuttle').message).toBe('list item');
    expect(record('<190>1 2024-06-01T12:00:00+00:00 host app web.1 - -', 'shuttle').message).toBe('');
    // Only a lone `-` is the nil SD: `-x`, `--` and `[uuid]` stay text in both modes.
    for (const text of ['-x y', '-- y', '[8f2c7e2a] Started GET']) {
      expect(record(`<190>1 2024-06-01T12:00:00+00:00 host app web.1 - ${text}`, 'shuttle').message).toBe(text);
      expect(record(`<190>1 2024-06-01T12:00:00+00:00 host app web.1 - ${text}`, 'drain').message).toBe(text);
    }
  });

  it('gives an empty message when the line ends after SD', () => {
    expect(record(`${HEAD} -`, 'input').message).toBe('');
    expect(record(`${HEAD} - `, 'input').message).toBe('');
  });
});

describe('parseRfc5424 message', () => {
  it('strips a leading UTF-8 BOM', () => {
    const buf = Buffer.concat([Buffer.from(`${HEAD} `), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('héllo')]);
    expect(record(buf)).toMatchObject({ message: 'héllo', invalidUtf8: false });
  });

  it('decodes UTF-8', () => {
    expect(record(`${HEAD} Zoë says ✓ 😀`)).toMatchObject({ message: 'Zoë says ✓ 😀', invalidUtf8: false });
  });

  it('flags invalid UTF-8 and decodes it with U+FFFD', () => {
    const buf = Buffer.concat([Buffer.from(`${HEAD} bad `), Buffer.from([0xff, 0xc3]), Buffer.from(' end')]);
    const r = record(buf);
    expect(r.invalidUtf8).toBe(true);
    expect(r.message).toBe('bad \uFFFD\uFFFD end');
  });

  it('does not flag a U+FFFD that was sent as valid UTF-8', () => {
    expect(record(`${HEAD} replacement \uFFFD char`)).toMatchObject({ message: 'replacement \uFFFD char', invalidUtf8: false });
  });

  it('flags invalid UTF-8 in input mode too', () => {
    const buf = Buffer.concat([Buffer.from(`${HEAD} - `), Buffer.from([0xe2, 0x28, 0xa1])]);
    expect(record(buf, 'input').invalidUtf8).toBe(true);
  });
});

describe('parseRfc5424 properties', () => {
  it('never throws on any bytes or range, in either mode', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.string({ maxLength: 200 }).map((s) => new Uint8Array(Buffer.from(`<13>1 ${TS} h a p ${s}`))),
        ),
        fc.integer({ min: -5, max: 320 }),
        fc.integer({ min: -5, max: 320 }),
        fc.constantFrom<SyslogMode>('drain', 'input'),
        (bytes, a, b, mode) => {
          const r = parseRfc5424(Buffer.from(bytes), a, b, mode);
          expect(typeof r.ok).toBe('boolean');
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('gives back any message text in drain mode', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'grapheme' }), (msg) => {
        const text = msg.startsWith('\uFEFF') ? msg.slice(1) : msg;
        expect(record(`${HEAD} ${text}`).message).toBe(text);
      }),
    );
  });

  it('gives back any SD param value after escaping it', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60, unit: 'grapheme' }), (value) => {
        const escaped = value.replace(/[\\"\]]/g, (c) => `\\${c}`);
        expect(record(`${HEAD} [x v="${escaped}"] m`, 'input').structuredData).toEqual({ x: { v: value } });
      }),
    );
  });
});
