import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRfc3164 } from './rfc3164.js';

const AT = new Date('2024-06-10T12:00:00Z');

describe('parseRfc3164', () => {
  it('parses the RFC 3164 §5.4 example and maps host, tag and content', () => {
    expect(parseRfc3164("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", AT)).toEqual({
      facility: 4,
      severity: 2,
      timestamp: '2023-10-11T22:14:15.000000Z',
      invalidTimestamp: false,
      hostname: 'mymachine',
      appName: 'su',
      procId: null,
      msgId: null,
      structuredData: null,
      message: "'su root' failed for lonvick on /dev/pts/8",
      invalidUtf8: false,
      format: 'rfc3164',
    });
  });

  it('maps the PID in brackets to procId', () => {
    expect(parseRfc3164('<30>Jun  9 08:00:01 web01 sshd[4321]: Accepted publickey for deploy', AT)).toMatchObject({
      facility: 3,
      severity: 6,
      hostname: 'web01',
      appName: 'sshd',
      procId: '4321',
      message: 'Accepted publickey for deploy',
      timestamp: '2024-06-09T08:00:01.000000Z',
    });
  });

  it('gives hostname null when the line has no HOSTNAME', () => {
    expect(parseRfc3164('<13>Jun  9 08:00:01 cron[12]: job done', AT)).toMatchObject({
      hostname: null,
      appName: 'cron',
      procId: '12',
      message: 'job done',
    });
  });

  it('defaults a missing PRI to 13, user.notice (RFC 3164 §4.3.3), not 0', () => {
    expect(parseRfc3164('Jun  9 08:00:01 host app: hello', AT)).toMatchObject({ facility: 1, severity: 5 });
  });

  it('rejects a PRI over 191 or with a leading zero', () => {
    expect(parseRfc3164('<192>Jun  9 08:00:01 host app: hello', AT)).toBeNull();
    expect(parseRfc3164('<013>Jun  9 08:00:01 host app: hello', AT)).toBeNull();
    expect(parseRfc3164('<1234>Jun  9 08:00:01 host app: hello', AT)).toBeNull();
    expect(parseRfc3164('<0>Jun  9 08:00:01 host app: hello', AT)).toMatchObject({ facility: 0, severity: 0 });
  });

  it('sets milliseconds to zero', () => {
    // syslog-parse keeps the current milliseconds of the wall clock.
    expect(parseRfc3164('Jun  9 08:00:01 host app: x', AT)!.timestamp).toBe('2024-06-09T08:00:01.000000Z');
  });

  it('reads Feb 28 as Feb 28 when received on the 31st of a month', () => {
    // syslog-parse does setMonth(1) on Mar 31 (→ Mar 2) then setDate(28): Mar 28.
    const at = new Date('2024-03-31T12:00:00Z');
    expect(parseRfc3164('Feb 28 10:00:00 host app: x', at)!.timestamp).toBe('2024-02-28T10:00:00.000000Z');
    expect(parseRfc3164('Apr 30 10:00:00 host app: x', new Date('2024-05-31T00:00:00Z'))!.timestamp).toBe(
      '2024-04-30T10:00:00.000000Z',
    );
  });

  it('puts Dec 31 received on Jan 1 in the previous year', () => {
    const at = new Date('2025-01-01T00:00:30Z');
    expect(parseRfc3164('Dec 31 23:59:59 host app: x', at)!.timestamp).toBe('2024-12-31T23:59:59.000000Z');
    expect(parseRfc3164('Jan  1 00:00:10 host app: x', at)!.timestamp).toBe('2025-01-01T00:00:10.000000Z');
  });

  it('puts Jan 1 received on Dec 31 in the next year when it is less than a day ahead', () => {
    const at = new Date('2024-12-31T23:59:50Z');
    expect(parseRfc3164('Jan  1 00:00:05 host app: x', at)!.timestamp).toBe('2025-01-01T00:00:05.000000Z');
  });

  it('tolerates up to one day of clock skew into the future, and no more', () => {
    expect(parseRfc3164('Jun 11 06:00:00 host app: x', AT)!.timestamp).toBe('2024-06-11T06:00:00.000000Z');
    expect(parseRfc3164('Jun 11 12:00:00 host app: x', AT)!.timestamp).toBe('2024-06-11T12:00:00.000000Z');
    expect(parseRfc3164('Jun 11 12:00:01 host app: x', AT)!.timestamp).toBe('2023-06-11T12:00:01.000000Z');
  });

  it('puts Feb 29 in the latest leap year', () => {
    expect(parseRfc3164('Feb 29 12:00:00 host app: x', new Date('2025-03-10T00:00:00Z'))!.timestamp).toBe(
      '2024-02-29T12:00:00.000000Z',
    );
    expect(parseRfc3164('Feb 29 12:00:00 host app: x', new Date('2024-03-10T00:00:00Z'))!.timestamp).toBe(
      '2024-02-29T12:00:00.000000Z',
    );
  });

  it('interprets the time in UTC, or in the configured offset', () => {
    expect(parseRfc3164('Jun  9 12:00:00 host app: x', AT, { timezoneOffsetMin: 120 })!.timestamp).toBe(
      '2024-06-09T10:00:00.000000Z',
    );
    expect(parseRfc3164('Jun  9 22:00:00 host app: x', AT, { timezoneOffsetMin: -300 })!.timestamp).toBe(
      '2024-06-10T03:00:00.000000Z',
    );
    expect(parseRfc3164('Jun  9 12:00:00 host app: x', AT, { timezoneOffsetMin: Number.NaN })!.timestamp).toBe(
      '2024-06-09T12:00:00.000000Z',
    );
  });

  describe('with a process timezone other than UTC', () => {
    const saved = process.env['TZ'];
    afterEach(() => {
      if (saved === undefined) delete process.env['TZ'];
      else process.env['TZ'] = saved;
    });

    it('does not depend on the process timezone', () => {
      process.env['TZ'] = 'America/New_York';
      expect(new Date(2024, 5, 9, 12).getTimezoneOffset()).not.toBe(0); // the switch took effect
      expect(parseRfc3164('Jun  9 12:00:00 host app: x', AT)!.timestamp).toBe('2024-06-09T12:00:00.000000Z');
    });
  });

  it('accepts day numbers padded with a space or a zero, and any case of month name', () => {
    for (const line of ['Jun  9 08:00:01 h a: x', 'Jun 9 08:00:01 h a: x', 'Jun 09 08:00:01 h a: x', 'JUN  9 08:00:01 h a: x']) {
      expect(parseRfc3164(line, AT)!.timestamp).toBe('2024-06-09T08:00:01.000000Z');
    }
  });

  it('rejects impossible dates and times', () => {
    for (const line of [
      'Jun 31 08:00:01 h a: x',
      'Jun  0 08:00:01 h a: x',
      'Jun  9 24:00:01 h a: x',
      'Jun  9 08:60:01 h a: x',
      'Jun  9 08:00:61 h a: x',
      'Foo  9 08:00:01 h a: x',
      'Jun  9 8:00:01 h a: x',
    ]) {
      expect(parseRfc3164(line, AT)).toBeNull();
    }
  });

  it('keeps every line of a multi-line content', () => {
    // syslog-parse's content group `(.+)` stops at the first line feed.
    expect(parseRfc3164('Jun  9 08:00:01 host app: first\nsecond\nthird', AT)!.message).toBe('first\nsecond\nthird');
  });

  it('requires the header at the start of the line', () => {
    // syslog-parse's regex is unanchored and would find the date in the middle.
    expect(parseRfc3164('hello Jun  9 08:00:01 host app: x', AT)).toBeNull();
    expect(parseRfc3164('Jun  9 08:00:01 no tag here, Jul  1 10:00:00 host app: x', AT)).toBeNull();
  });

  it('returns null for lines that are not RFC 3164', () => {
    for (const line of ['', 'what am i doing here', '<13>1 2013-06-07T13:17:49Z host app web.1 - hi', 'Jun  9 08:00:01', 'Jun  9 08:00:01 host app:']) {
      expect(parseRfc3164(line, AT)).toBeNull();
    }
  });

  it('does not throw on an invalid receivedAt', () => {
    const r = parseRfc3164('Jun  9 08:00:01 host app: x', new Date(Number.NaN));
    expect(r).not.toBeNull();
    expect(r!.timestamp).toMatch(/^\d{4}-06-09T08:00:01\.000000Z$/);
    expect(() => parseRfc3164('Jun  9 08:00:01 host app: x', new Date(8.64e15))).not.toThrow();
  });

  it('never throws, and only gives timestamps in the 27-char form', () => {
    const header = fc
      .tuple(
        fc.constantFrom('', '<13>', '<191>', '<0>'),
        fc.constantFrom('Jan', 'Feb', 'Dec', 'jun'),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }),
        fc.string({ maxLength: 40 }),
      )
      .map(([p, m, d, h, rest]) => `${p}${m} ${String(d).padStart(2, ' ')} ${String(h).padStart(2, '0')}:30:00 ${rest}`);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), header), fc.date({ noInvalidDate: false }), (line, at) => {
        const r = parseRfc3164(line, at);
        if (r !== null && r.timestamp !== null) expect(r.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000000Z$/);
      }),
      { numRuns: 2000 },
    );
  });
});
