import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { splitFrames } from './octet-frames.js';
import { parseSyslogFrame } from './syslog.js';
import type { SyslogMode, SyslogParseResult, SyslogRecord } from './types.js';

const VECTORS = new URL('../../protocol/vectors/', import.meta.url);

function vectorLines(name: string): string[] {
  return readFileSync(new URL(name, VECTORS), 'utf8').split('\n');
}

/** Frames a body and parses every frame. */
function decode(body: Buffer, mode: SyslogMode, receivedAt?: Date): { results: SyslogParseResult[]; split: ReturnType<typeof splitFrames> } {
  const split = splitFrames(body);
  const results = split.frames.map((f) => parseSyslogFrame(body, f.msgStart, f.msgEnd, mode, receivedAt));
  return { results, split };
}

function records(results: SyslogParseResult[]): SyslogRecord[] {
  return results.map((r) => {
    if (!r.ok) throw new Error(`expected a record, got ${r.reason}`);
    return r.record;
  });
}

type Expected = Pick<
  SyslogRecord,
  'facility' | 'severity' | 'timestamp' | 'hostname' | 'appName' | 'procId' | 'msgId' | 'message'
>;

/** Drain-mode expectations for each line of protocol/vectors/heroku-lines.txt, in file order. */
const HEROKU_LINES: Expected[] = [
  {
    facility: 19,
    severity: 6,
    timestamp: '2020-01-08T22:33:57.353034Z',
    hostname: 'host',
    appName: 'heroku',
    procId: 'router',
    msgId: null,
    message:
      'at=info method=GET path="/cart_link" host=lumberjack-store.timber.io request_id=05726858-c44e-4f94-9a20-37df73be9006 fwd="73.75.38.87" dyno=web.1 connect=1ms service=22ms status=304 bytes=656 protocol=http',
  },
  {
    facility: 19,
    severity: 6,
    timestamp: '2015-04-02T11:52:34.520012Z',
    hostname: 'host',
    appName: 'heroku',
    procId: 'router',
    msgId: null,
    message:
      'at=info method=POST path="/users" host=myapp.com request_id=c1806361-2081-42e7-a8aa-92b6808eac8e fwd="24.76.242.18" dyno=web.1 connect=1ms service=37ms status=201 bytes=828',
  },
  {
    facility: 5,
    severity: 5,
    timestamp: '2015-04-02T11:48:16.839257Z',
    hostname: 'host',
    appName: 'heroku',
    procId: 'web.1',
    msgId: null,
    message:
      'source=web.1 dyno=heroku.35930502.b9de5fce-44b7-4287-99a7-504519070cba sample#load_avg_1m=0.01 sample#load_avg_5m=0.02 sample#load_avg_15m=0.03',
  },
  {
    facility: 16,
    severity: 6,
    timestamp: '2015-04-07T16:01:43.517062Z',
    hostname: 'host',
    appName: 'app',
    procId: 'api',
    msgId: null,
    message: 'Release v138 created by user foo@bar',
  },
  {
    facility: 16,
    severity: 6,
    timestamp: '2017-05-13T15:10:41.908615Z',
    hostname: 'host',
    appName: 'app',
    procId: 'api',
    msgId: null,
    message: 'Deploy b400183 by user someuser@gmail.com',
  },
  {
    facility: 16,
    severity: 6,
    timestamp: '2017-05-13T15:35:33.787162Z',
    hostname: 'host',
    appName: 'app',
    procId: 'api',
    msgId: null,
    message: 'Scaled to web@3:Performance-L worker@5:Standard-2X by user someuser@gmail.com',
  },
  {
    facility: 16,
    severity: 6,
    timestamp: '2015-04-07T16:01:43.517062Z',
    hostname: 'host',
    appName: 'heroku',
    procId: 'api',
    msgId: null,
    message: 'this_is="broken',
  },
  {
    facility: 5,
    severity: 0,
    timestamp: '2012-11-30T06:45:29.000000Z',
    hostname: 'host',
    appName: 'app',
    procId: 'web.3',
    msgId: null,
    message: 'State changed from starting to up',
  },
  {
    facility: 5,
    severity: 0,
    timestamp: '2012-11-30T06:45:26.000000Z',
    hostname: 'host',
    appName: 'app',
    procId: 'web.3',
    msgId: null,
    message: 'Starting process with command `bundle exec rackup config.ru -p 24405`',
  },
  {
    facility: 21,
    severity: 4,
    timestamp: '2014-11-11T08:24:25.000000Z',
    hostname: 'host',
    appName: 'heroku',
    procId: 'logplex',
    msgId: null,
    message: 'Error L10 (output buffer overflow): 1 messages dropped since 2014-11-07T23:29:45+00:00.',
  },
  {
    // `-00:00`: UTC, local offset unknown (RFC 3339 §4.3).
    facility: 21,
    severity: 6,
    timestamp: '2013-07-22T00:06:26.000000Z',
    hostname: 'somehost',
    appName: 'name',
    procId: 'test',
    msgId: null,
    message: 'measure#hello=1 measure#world=1ms',
  },
  {
    // Drain mode: no SD field, so the SD-looking text is part of the message.
    facility: 1,
    severity: 5,
    timestamp: '2013-06-07T13:17:49.468822Z',
    hostname: 'host',
    appName: 'heroku',
    procId: 'web.7',
    msgId: null,
    message: '[meta sequenceId="hello"][foo bar="baz"] hello',
  },
  {
    // Ends right after MSGID: empty message.
    facility: 1,
    severity: 5,
    timestamp: '2013-06-07T13:17:49.468822Z',
    hostname: 'host',
    appName: 'heroku',
    procId: 'web.7',
    msgId: null,
    message: '',
  },
  {
    facility: 21,
    severity: 6,
    timestamp: '2012-07-22T00:06:26.000000Z',
    hostname: 'somehost',
    appName: 'Go',
    procId: 'console',
    msgId: '2',
    message: 'Hi from Go',
  },
  {
    // The newer L10 wording (normalised into the metric `logplex.l10.dropped`, value 12).
    facility: 21,
    severity: 4,
    timestamp: '2024-06-01T12:00:05.000000Z',
    hostname: 'host',
    appName: 'heroku',
    procId: 'logplex',
    msgId: null,
    message: "Error L10 (output buffer overflow): drain 'd.5f2c1e7a-3b4d-4c8e-9a6f-0b1d2e3f4a5b' dropped 12 messages",
  },
  {
    // A bare l2met key, the whole message (an empty value: a metric of value 1).
    facility: 23,
    severity: 6,
    timestamp: '2024-06-01T12:00:06.000001Z',
    hostname: 'host',
    appName: 'app',
    procId: 'web.1',
    msgId: null,
    message: 'measure#a',
  },
];

const herokuLines = vectorLines('heroku-lines.txt').filter((l) => l !== '');

describe('heroku-lines.txt vectors', () => {
  it('has an expectation for every vector line', () => {
    expect(herokuLines).toHaveLength(HEROKU_LINES.length);
  });

  const cases = herokuLines.map((line, k) => ({ k, line, expected: HEROKU_LINES[k]! }));
  const framings = [
    { name: 'LF-terminated', frame: (m: string) => `${Buffer.byteLength(`${m}\n`)} ${m}\n` },
    { name: 'unterminated', frame: (m: string) => `${Buffer.byteLength(m)} ${m}` },
  ];

  for (const { name, frame } of framings) {
    it.each(cases)(`decodes line $k framed ${name} in drain mode`, ({ line, expected }) => {
      const body = Buffer.from(frame(line));
      const { results, split } = decode(body, 'drain');
      expect(split.rejects).toEqual([]);
      expect(records(results)).toEqual([
        { ...expected, invalidTimestamp: false, structuredData: null, invalidUtf8: false, format: 'rfc5424' },
      ]);
    });

    it(`decodes all lines framed ${name} in one body`, () => {
      const body = Buffer.from(herokuLines.map(frame).join(''));
      const { results, split } = decode(body, 'drain');
      expect(split.rejects).toEqual([]);
      expect(records(results).map((r) => r.message)).toEqual(HEROKU_LINES.map((e) => e.message));
    });
  }

  it('reads the SD of the sequenceId line in input mode', () => {
    const line = herokuLines.find((l) => l.includes('sequenceId'))!;
    const body = Buffer.from(`${Buffer.byteLength(`${line}\n`)} ${line}\n`);
    expect(records(decode(body, 'input').results)).toEqual([
      {
        facility: 1,
        severity: 5,
        timestamp: '2013-06-07T13:17:49.468822Z',
        invalidTimestamp: false,
        hostname: 'host',
        appName: 'heroku',
        procId: 'web.7',
        msgId: null,
        structuredData: { meta: { sequenceId: 'hello' }, foo: { bar: 'baz' } },
        message: 'hello',
        invalidUtf8: false,
        format: 'rfc5424',
      },
    ]);
  });

  it('reads drain-style lines without SD in input mode with the rest as the message, flagged', () => {
    const line = herokuLines[0]!;
    const body = Buffer.from(`${Buffer.byteLength(line)} ${line}`);
    const drain = records(decode(body, 'drain').results)[0]!;
    expect(records(decode(body, 'input').results)).toMatchObject([{ message: drain.message, structuredData: null, missingSd: true }]);
  });
});

/** The bodies of framed-bodies.txt, in file order, `\n` replaced by a line feed. */
const framedBodies = vectorLines('framed-bodies.txt')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => Buffer.from(l.replaceAll('\\n', '\n')));

describe('framed-bodies.txt vectors', () => {
  it('has the five published bodies', () => {
    expect(framedBodies).toHaveLength(5);
  });

  it('#1 keeps the L10 line and the glued frame after it, whose LEN counts the LF the body lacks', () => {
    const body = framedBodies[0]!;
    const { results, split } = decode(body, 'drain');
    expect(records(results)).toMatchObject([
      {
        facility: 21,
        severity: 4,
        appName: 'heroku',
        procId: 'logplex',
        timestamp: '2014-11-11T08:24:25.000000Z',
        message: 'Error L10 (output buffer overflow): 1 messages dropped since 2014-11-07T23:29:45+00:00.',
      },
      { facility: 5, severity: 5, procId: 'web.1', message: 'State changed from starting to up' },
    ]);
    expect(split.rejects).toEqual([]);
    expect(body.toString('latin1', 146, 153)).toBe('93 <45>');
    expect(split.frames.map((f) => f.repaired)).toEqual([undefined, undefined]);
  });

  it('#2 repairs the frame whose LEN is 2 short: the whole line, flagged', () => {
    const body = framedBodies[1]!;
    const { results, split } = decode(body, 'input');
    expect(records(results)).toMatchObject([
      {
        facility: 16,
        severity: 6,
        timestamp: '2012-12-10T03:00:48.123456Z',
        hostname: 'erlang',
        appName: 't.feff49f1-4d55-4c9e-aee1-2d2b10e69b42',
        procId: 'console.1',
        msgId: null,
        structuredData: null,
        message: 'Logsplat test message 1',
      },
    ]);
    expect(split.rejects).toEqual([]);
    expect(split.frames[0]!.repaired).toBe(true);
    expect(records(decode(body, 'drain').results)[0]!.message).toBe('- Logsplat test message 1');
  });

  it('#3 yields no frame for a LEN of 1000000', () => {
    const body = framedBodies[2]!;
    const { results, split } = decode(body, 'drain');
    expect(results).toEqual([]);
    expect(split.rejects).toEqual([{ start: 0, end: body.length, reason: 'bad_length' }]);
  });

  it('#4 reads two well-formed frames: - hi / - hello in drain mode, hi / hello in input mode', () => {
    const body = framedBodies[3]!;
    expect(decode(body, 'drain').split.rejects).toEqual([]);
    expect(records(decode(body, 'drain').results).map((r) => r.message)).toEqual(['- hi', '- hello']);
    const input = records(decode(body, 'input').results);
    expect(input.map((r) => r.message)).toEqual(['hi', 'hello']);
    expect(input.map((r) => r.structuredData)).toEqual([null, null]);
  });

  it('#5 rejects a body that is not logplex at all as one garbage span', () => {
    const body = framedBodies[4]!;
    const { results, split } = decode(body, 'drain');
    expect(results).toEqual([]);
    expect(split.rejects).toEqual([{ start: 0, end: body.length, reason: 'garbage' }]);
  });
});

describe('parseSyslogFrame', () => {
  const AT = new Date('2024-06-10T12:00:00Z');

  function parse(line: string | Buffer, mode: SyslogMode = 'drain', at: Date | undefined = AT): SyslogParseResult {
    const buf = typeof line === 'string' ? Buffer.from(line) : line;
    return parseSyslogFrame(buf, 0, buf.length, mode, at);
  }

  it('keeps a multi-line message (LF inside the frame) in one record', () => {
    const msg = '<11>1 2024-06-10T11:59:59.123456+00:00 host app web.1 - Error: boom\n    at f (x.js:1:1)\n    at g (x.js:2:2)';
    const body = Buffer.from(`${Buffer.byteLength(`${msg}\n`)} ${msg}\n`);
    const { results, split } = decode(body, 'drain');
    expect(split.frames).toHaveLength(1);
    expect(records(results)[0]!.message).toBe('Error: boom\n    at f (x.js:1:1)\n    at g (x.js:2:2)');
  });

  it('flags invalid UTF-8', () => {
    const buf = Buffer.concat([Buffer.from('<13>1 2024-06-10T11:59:59Z host app web.1 - caf'), Buffer.from([0xe9]), Buffer.from('!')]);
    expect(parse(buf)).toMatchObject({ ok: true, record: { message: 'caf\uFFFD!', invalidUtf8: true } });
  });

  it('keeps microseconds, converts offsets to UTC, tolerates ...Z+00:00', () => {
    const ts = (t: string) => {
      const r = parse(`<13>1 ${t} host app web.1 - m`);
      return r.ok ? r.record.timestamp : r.reason;
    };
    expect(ts('2013-05-27T19:59:36.538297+00:00')).toBe('2013-05-27T19:59:36.538297Z');
    expect(ts('2013-05-27T21:59:36.538297+02:00')).toBe('2013-05-27T19:59:36.538297Z');
    expect(ts('2013-05-27T14:29:36.5-05:30')).toBe('2013-05-27T19:59:36.500000Z');
    expect(ts('2012-12-10T03:00:48Z+00:00')).toBe('2012-12-10T03:00:48.000000Z');
  });

  it('rejects a PRI out of range', () => {
    expect(parse('<192>1 2024-06-10T11:59:59Z host app web.1 - m')).toEqual({ ok: false, reason: 'bad_pri' });
    expect(parse('<192>Jun  9 08:00:01 host app: m')).toEqual({ ok: false, reason: 'bad_pri' });
  });

  it('falls back to RFC 3164 when the frame does not start like RFC 5424', () => {
    expect(parse('<34>Oct 11 22:14:15 mymachine su: failed')).toMatchObject({
      ok: true,
      record: {
        format: 'rfc3164',
        facility: 4,
        severity: 2,
        timestamp: '2023-10-11T22:14:15.000000Z',
        hostname: 'mymachine',
        appName: 'su',
        message: 'failed',
        structuredData: null,
      },
    });
    expect(parse('Jun  9 08:00:01 host app[7]: no pri', 'input')).toMatchObject({
      ok: true,
      record: { format: 'rfc3164', facility: 1, severity: 5, procId: '7' },
    });
  });

  it('flags invalid UTF-8 in an RFC 3164 frame', () => {
    const buf = Buffer.concat([Buffer.from('<13>Jun  9 08:00:01 host app: caf'), Buffer.from([0xe9])]);
    expect(parse(buf)).toMatchObject({ ok: true, record: { format: 'rfc3164', message: 'caf\uFFFD', invalidUtf8: true } });
  });

  it('does not try RFC 3164 on a frame that starts like RFC 5424', () => {
    expect(parse('<13>1 Jun 9 08:00:01 host app: m')).toMatchObject({
      ok: true,
      record: { format: 'rfc5424', invalidTimestamp: true, hostname: '9', message: 'm' },
    });
    expect(parse('<13>1 2024-06-10T11:59:59Z ho\x01st app web.1 - m')).toEqual({ ok: false, reason: 'bad_header' });
  });

  it('returns the RFC 5424 reason when neither format fits', () => {
    expect(parse('what am i doing here')).toEqual({ ok: false, reason: 'bad_pri' });
    expect(parse('<13>0 2024-06-10T11:59:59Z host app web.1 - m')).toEqual({ ok: false, reason: 'bad_version' });
    expect(parse('')).toEqual({ ok: false, reason: 'bad_pri' });
  });

  describe('fast path', () => {
    afterEach(() => {
      vi.unstubAllGlobals();
    });

    it('creates no Date for an RFC 5424 frame, and one only for the fallback', () => {
      const RealDate = Date;
      let made = 0;
      class CountingDate extends RealDate {
        constructor(...args: unknown[]) {
          // Zero or one argument in this code base; spread keeps `new Date()` meaning now.
          super(...(args as [string | number | Date]));
          made++;
        }
      }
      vi.stubGlobal('Date', CountingDate);
      const line = Buffer.from('<158>1 2020-01-08T22:33:57.353034+00:00 host heroku router - at=info');
      expect(parseSyslogFrame(line, 0, line.length, 'drain').ok).toBe(true);
      expect(made).toBe(0);
      const bsd = Buffer.from('<13>Jun  9 08:00:01 host app: m');
      expect(parseSyslogFrame(bsd, 0, bsd.length, 'drain').ok).toBe(true);
      expect(made).toBeGreaterThan(0);
    });
  });
});
