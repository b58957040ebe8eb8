import { describe, expect, it } from 'vitest';
import { parseAnsi, stripAnsi } from '../logs/ansi.js';
import { highlightPattern, historyParams, localFilter, matchRanges, subscription } from '../logs/filter.js';
import { formatTime, hueOf } from './format.js';
import { LEVELS, rowOf, type Entry } from './model.js';
import { defaultState, levelParam, parseLevelParam, parseQuery, toQuery } from './state.js';

const entry = (over: Partial<Entry>): Entry => ({
  id: '01J0000000000000000000000A',
  timestamp: '2025-01-15T14:22:00.123456Z',
  received_at: '2025-01-15T14:22:00.200000Z',
  level: 'INFO',
  app_id: 'shop',
  message: 'hello',
  ...over,
});
const row = (over: Partial<Entry>) => rowOf(entry(over), 1, stripAnsi);

describe('level parameter', () => {
  it('reads one level as "that and above" and a list as exactly those, like the gateway', () => {
    expect([...parseLevelParam('warn')]).toEqual(['WARN', 'ERROR', 'FATAL']);
    expect([...parseLevelParam('error,fatal')]).toEqual(['ERROR', 'FATAL']);
    expect([...parseLevelParam('Warning')]).toEqual(['WARN', 'ERROR', 'FATAL']);
    expect([...parseLevelParam('info,info')]).toEqual(['INFO']);
    expect(parseLevelParam('').size).toBe(5);
    expect(parseLevelParam('nonsense').size).toBe(5);
  });

  it('writes the shortest form that means the same set, and round-trips every subset', () => {
    expect(levelParam(new Set(LEVELS))).toBe('');
    expect(levelParam(new Set(['WARN', 'ERROR', 'FATAL']))).toBe('warn');
    expect(levelParam(new Set(['FATAL']))).toBe('fatal');
    expect(levelParam(new Set(['INFO']))).toBe('info,info');
    expect(levelParam(new Set(['DEBUG', 'INFO', 'WARN', 'FATAL']))).toBe('debug,info,warn,fatal');
    for (let mask = 1; mask < 32; mask++) {
      const set = new Set(LEVELS.filter((_, i) => mask & (1 << i)));
      expect([...parseLevelParam(levelParam(set))].sort()).toEqual([...set].sort());
    }
  });
});

describe('URL state', () => {
  it('round-trips through the query string and keeps unknown parameters', () => {
    const s = parseQuery('?app=shop&level=warn&source=app&proc=web&search=timeout&mode=highlight&buffer=5000');
    expect(s).toMatchObject({ app: 'shop', source: 'app', proc: 'web', query: 'timeout', regex: false, mode: 'highlight' });
    expect(toQuery(s, new URLSearchParams('buffer=5000&level=x'))).toBe('?buffer=5000&app=shop&level=warn&source=app&proc=web&search=timeout&mode=highlight');
    const r = parseQuery('?regex=%5Eerr%2B');
    expect(r).toMatchObject({ query: '^err+', regex: true, mode: 'filter' });
    expect(toQuery(r)).toBe('?regex=%5Eerr%2B');
    expect(toQuery(defaultState())).toBe('');
  });

  it('sends filters to the gateway; search and regex only in filter mode, to the live tail and GET /api/logs alike', () => {
    const s = parseQuery('?app=shop&level=error,fatal&proc=web&search=x');
    expect(subscription(s)).toEqual({ apps: ['shop'], levels: ['error'], proc: 'web', search: 'x' }); // error = error and above
    expect(subscription({ ...s, mode: 'highlight' })).toEqual({ apps: ['shop'], levels: ['error'], proc: 'web' });
    expect(subscription({ ...s, regex: true })).toMatchObject({ regex: 'x' });
    expect(historyParams({ ...s, from: '2025-01-01T00:00:00.000Z' }).toString()).toBe('app_id=shop&level=error&proc=web&search=x&date_from=2025-01-01T00%3A00%3A00.000Z');
    const regexParams = historyParams({ ...s, regex: true });
    expect(regexParams.has('search')).toBe(false);
    expect(regexParams.get('regex')).toBe('x');
    expect(historyParams({ ...s, regex: true, mode: 'highlight' }).has('regex')).toBe(false);
  });
});

describe('the local filter', () => {
  it('matches like the gateway: levels, exact source, dyno prefix, case-insensitive search, regex', () => {
    const f = localFilter(parseQuery('?level=warn&source=app&proc=web&search=DISK'))!;
    expect(f(row({ level: 'WARN', source: 'app', proc: 'web.1', message: 'disk full' }))).toBe(true);
    expect(f(row({ level: 'INFO', source: 'app', proc: 'web.1', message: 'disk full' }))).toBe(false);
    expect(f(row({ level: 'WARN', source: 'heroku', proc: 'web.1', message: 'disk full' }))).toBe(false);
    expect(f(row({ level: 'WARN', source: 'app', proc: 'webhook.1', message: 'disk full' }))).toBe(false);
    expect(f(row({ level: 'WARN', source: 'app', proc: 'web', message: 'disk full' }))).toBe(true);
    expect(f(row({ level: 'WARN', source: 'app', proc: 'web.1', message: 'cpu' }))).toBe(false);
    expect(localFilter(parseQuery('?regex=%28'))).toBeNull();
    const re = localFilter(parseQuery('?regex=%5Eerr'))!;
    expect(re(row({ message: 'error' }))).toBe(true);
    expect(re(row({ message: 'an error' }))).toBe(false);
    // Highlight mode: the search does not hide rows.
    expect(localFilter(parseQuery('?search=zzz&mode=highlight'))!(row({ message: 'a' }))).toBe(true);
  });

  it('marks matches: case-insensitive substring, regex, no empty matches', () => {
    const p = highlightPattern(parseQuery('?search=a.b&mode=highlight'))!;
    expect(matchRanges('A.B aXb a.b', p)).toEqual([
      [0, 3],
      [8, 11],
    ]);
    expect(matchRanges('xaay', highlightPattern(parseQuery('?regex=a*&mode=highlight'))!)).toEqual([[1, 3]]);
    expect(highlightPattern(parseQuery('?regex=%28'))).toBeUndefined();
  });
});

describe('ANSI', () => {
  it('turns SGR codes into styled segments and drops every other escape', () => {
    expect(parseAnsi('\u001b[31mred\u001b[0m plain \u001b[1;92mbold\u001b[22m')).toEqual([
      { text: 'red', fg: 'p1' },
      { text: ' plain ' },
      { text: 'bold', fg: 'p10', bold: true },
    ]);
    expect(parseAnsi('\u001b[38;5;196mx\u001b[48;2;0;128;255my')).toEqual([
      { text: 'x', fg: '#ff0000' },
      { text: 'y', fg: '#ff0000', bg: '#0080ff' },
    ]);
    expect(stripAnsi('\u001b[2K\u001b[1Gdone\u001b]0;title\u0007!')).toBe('done!');
    expect(parseAnsi('no escapes')).toEqual([{ text: 'no escapes' }]);
  });

  it('keeps the text without escapes as the row text (search and marks work on it)', () => {
    const r = row({ message: '\u001b[32mok\u001b[0m done' });
    expect(r.text).toBe('ok done');
    expect(r.level).toBe('info');
  });
});

describe('display', () => {
  it('gives each source a stable hue', () => {
    expect(hueOf('app')).toBe(hueOf('app'));
    expect(hueOf('app')).not.toBe(hueOf('heroku'));
    expect(hueOf('x')).toBeGreaterThanOrEqual(0);
    expect(hueOf('x')).toBeLessThan(360);
  });

  it('formats times in UTC with Z, and adds the date when not today', () => {
    const now = new Date('2025-01-15T20:00:00Z');
    expect(formatTime('2025-01-15T14:22:00.123456Z', true, now)).toBe('14:22:00.123Z');
    expect(formatTime('2025-01-14T14:22:00.123456Z', true, now)).toBe('01-14 14:22:00.123Z');
    expect(formatTime('garbage', true, now)).toBe('garbage');
  });
});
