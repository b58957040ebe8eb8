import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMicros, parseTimestamp, parseTimestampString } from './timestamp.js';

const FORM = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describe('parseTimestamp', () => {
  it('keeps microseconds', () => {
    expect(parseTimestampString('2013-05-27T19:59:36.538297+00:00')).toBe('2013-05-27T19:59:36.538297Z');
    expect(parseTimestampString('2013-05-27T19:59:36.5Z')).toBe('2013-05-27T19:59:36.500000Z');
    expect(parseTimestampString('2013-05-27T19:59:36Z')).toBe('2013-05-27T19:59:36.000000Z');
  });

  it('truncates fractions past 6 digits and rejects more than 9 or none', () => {
    expect(parseTimestampString('2013-05-27T19:59:36.123456789Z')).toBe('2013-05-27T19:59:36.123456Z');
    expect(parseTimestampString('2013-05-27T19:59:36.1234567891Z')).toBeNull();
    expect(parseTimestampString('2013-05-27T19:59:36.Z')).toBeNull();
  });

  it('converts offsets to UTC, across day and year boundaries', () => {
    expect(parseTimestampString('2013-05-27T21:59:36.538297+02:00')).toBe('2013-05-27T19:59:36.538297Z');
    expect(parseTimestampString('2012-12-31T23:30:00-01:00')).toBe('2013-01-01T00:30:00.000000Z');
    expect(parseTimestampString('2013-01-01T00:15:00+05:45')).toBe('2012-12-31T18:30:00.000000Z');
    expect(parseTimestampString('2013-07-22T00:06:26-00:00')).toBe('2013-07-22T00:06:26.000000Z');
  });

  it('tolerates the broken ...Z+00:00 form and lets the Z win', () => {
    expect(parseTimestampString('2012-12-10T03:00:48Z+00:00')).toBe('2012-12-10T03:00:48.000000Z');
    expect(parseTimestampString('2012-12-10T03:00:48z+02:00')).toBe('2012-12-10T03:00:48.000000Z');
  });

  it('accepts t and space as the date-time separator', () => {
    expect(parseTimestampString('2013-05-27t19:59:36Z')).toBe('2013-05-27T19:59:36.000000Z');
    expect(parseTimestampString('2013-05-27 19:59:36Z')).toBe('2013-05-27T19:59:36.000000Z');
  });

  it('rejects impossible dates and times', () => {
    for (const t of [
      '2013-02-29T00:00:00Z',
      '2013-04-31T00:00:00Z',
      '2013-13-01T00:00:00Z',
      '2013-00-01T00:00:00Z',
      '2013-01-00T00:00:00Z',
      '2013-01-01T24:00:00Z',
      '2013-01-01T00:60:00Z',
      '2013-01-01T00:00:61Z',
      '2013-01-01T00:00:00+24:00',
      '2013-01-01T00:00:00+0100',
      '2013-01-01T00:00:00 +01:00',
      '2013-01-01T00:00:00Zjunk',
      '2013-01-01',
      'yesterday',
      '',
    ]) {
      expect(parseTimestampString(t)).toBeNull();
    }
    expect(parseTimestampString('2012-02-29T00:00:00Z')).toBe('2012-02-29T00:00:00.000000Z');
  });

  it('keeps a leap second inside its minute', () => {
    expect(parseTimestampString('2016-12-31T23:59:60Z')).toBe('2016-12-31T23:59:59.000000Z');
  });

  it('requires a zone unless allowMissingOffset is set', () => {
    expect(parseTimestampString('2013-05-27T19:59:36.5')).toBeNull();
    expect(parseTimestampString('2013-05-27T19:59:36.5', { allowMissingOffset: true })).toBe('2013-05-27T19:59:36.500000Z');
  });

  it('reads only the given range of a buffer', () => {
    const buf = Buffer.from('xx2013-05-27T19:59:36Z yy');
    expect(parseTimestamp(buf, 2, 22)).toBe('2013-05-27T19:59:36.000000Z');
    expect(parseTimestamp(buf, 2, 23)).toBeNull();
  });

  it('does not read non-ASCII characters of a string as digits', () => {
    // Latin-1 encoding kept only the low byte: U+0136 became '6'.
    expect(parseTimestampString('2013-05-27T19:59:3\u0136Z')).toBeNull();
    expect(parseTimestampString('\u0132013-05-27T19:59:36Z')).toBeNull();
  });

  it('agrees with Date for any millisecond-precision time and offset', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9998-12-31T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        fc.integer({ min: 0, max: 999 }),
        (date, offsetMin, extraMicros) => {
          const local = new Date(date.getTime() + offsetMin * 60_000).toISOString(); // wall time at the offset
          const sign = offsetMin < 0 ? '-' : '+';
          const abs = Math.abs(offsetMin);
          const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          const text = `${local.slice(0, 23)}${String(extraMicros).padStart(3, '0')}${zone}`;
          const expected = `${date.toISOString().slice(0, 23)}${String(extraMicros).padStart(3, '0')}Z`;
          expect(parseTimestampString(text)).toBe(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never throws, and gives null or the 27-char form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.string({ maxLength: 40 }), (bytes, s) => {
        const a = parseTimestamp(bytes, 0, bytes.length);
        if (a !== null) expect(a).toMatch(FORM);
        const b = parseTimestampString(`2013-05-27T19:59:36${s}`);
        if (b !== null) expect(b).toMatch(FORM);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('formatMicros', () => {
  it('formats epoch microseconds in the 27-char form', () => {
    expect(formatMicros(1_370_000_000_123_456)).toBe('2013-05-31T11:33:20.123456Z');
    expect(formatMicros(0)).toBe('1970-01-01T00:00:00.000000Z');
  });

  it('drops fractions of a microsecond', () => {
    expect(formatMicros(1.5)).toBe('1970-01-01T00:00:00.000001Z');
  });
});
