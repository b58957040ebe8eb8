import { describe, expect, it } from 'vitest';
import { createLogfmtTokens, scanLogfmt } from './logfmt.js';
import {
  levelFromContent,
  levelFromFields,
  levelFromLogfmt,
  levelFromNumber,
  levelFromSeverity,
  levelFromText,
  levelFromValue,
  parseLevelAlias,
  resolveLevel,
} from './level.js';

describe('levelFromSeverity', () => {
  it('maps the eight syslog severities', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(levelFromSeverity)).toEqual([
      'FATAL',
      'FATAL',
      'FATAL',
      'ERROR',
      'WARN',
      'INFO',
      'INFO',
      'DEBUG',
    ]);
  });

  it('reads anything outside 0–7 as INFO', () => {
    expect(levelFromSeverity(8)).toBe('INFO');
    expect(levelFromSeverity(-1)).toBe('INFO');
  });
});

describe('parseLevelAlias', () => {
  it.each([
    ['debug', 'DEBUG'],
    ['TRACE', 'DEBUG'],
    ['Verbose', 'DEBUG'],
    ['info', 'INFO'],
    ['Information', 'INFO'],
    ['NOTICE', 'INFO'],
    ['log', 'INFO'],
    ['warn', 'WARN'],
    ['WARNING', 'WARN'],
    ['Warning', 'WARN'],
    ['error', 'ERROR'],
    ['ERR', 'ERROR'],
    ['fatal', 'FATAL'],
    ['Critical', 'FATAL'],
    ['crit', 'FATAL'],
    ['EMERG', 'FATAL'],
    ['emergency', 'FATAL'],
    ['alert', 'FATAL'],
    ['PANIC', 'FATAL'],
    ['0', 'FATAL'],
    ['3', 'ERROR'],
    ['4', 'WARN'],
    ['6', 'INFO'],
    ['7', 'DEBUG'],
  ])('reads %s as %s', (alias, level) => {
    expect(parseLevelAlias(alias)).toBe(level);
  });

  it.each(['', 'x', 'inf', 'warnings', '8', '30', 'information_', ' info', 'info '])('does not know %j', (s) => {
    expect(parseLevelAlias(s)).toBeNull();
  });
});

describe('levelFromNumber and levelFromValue', () => {
  it('reads syslog severities and pino levels', () => {
    expect(levelFromNumber(3)).toBe('ERROR');
    expect(levelFromNumber(10)).toBe('DEBUG');
    expect(levelFromNumber(20)).toBe('DEBUG');
    expect(levelFromNumber(30)).toBe('INFO');
    expect(levelFromNumber(40)).toBe('WARN');
    expect(levelFromNumber(50)).toBe('ERROR');
    expect(levelFromNumber(60)).toBe('FATAL');
    expect(levelFromNumber(35)).toBeNull();
    expect(levelFromNumber(2.5)).toBeNull();
    expect(levelFromNumber(Number.NaN)).toBeNull();
  });

  it('reads strings and numbers and ignores other types', () => {
    expect(levelFromValue('warn')).toBe('WARN');
    expect(levelFromValue(50)).toBe('ERROR');
    expect(levelFromValue(true)).toBeNull();
    expect(levelFromValue(null)).toBeNull();
  });
});

describe('levelFromLogfmt', () => {
  const lf = (s: string) => levelFromLogfmt(scanLogfmt(s, createLogfmtTokens()));

  it('reads level=, severity= and lvl=', () => {
    expect(lf('level=error msg=x')).toBe('ERROR');
    expect(lf('severity=WARNING')).toBe('WARN');
    expect(lf('lvl=dbug lvl=debug')).toBe('DEBUG');
  });

  it('reads the router at=error and at=warning, and ignores event names', () => {
    expect(lf('at=error code=H12 desc="Request timeout"')).toBe('ERROR');
    expect(lf('at=warning')).toBe('WARN');
    expect(lf('at=info method=GET')).toBeNull();
    expect(lf('at=start job=x')).toBeNull();
  });

  it('prefers an explicit level to at=', () => {
    expect(lf('at=error level=warn')).toBe('WARN');
  });

  it('reads a Heroku error code as ERROR', () => {
    expect(lf('code=H12 desc="Request timeout"')).toBe('ERROR');
    expect(lf('code=R14')).toBe('ERROR');
    expect(lf('code=200')).toBeNull();
    expect(lf('code=HELLO')).toBeNull();
  });

  it('ignores bare level keys', () => {
    expect(lf('a=1 level')).toBeNull();
  });
});

describe('levelFromText', () => {
  it.each([
    ['Error R14 (Memory quota exceeded)', 'ERROR'],
    ['Error L10 (output buffer overflow): 1 messages dropped since 2014-11-07T23:29:45+00:00.', 'ERROR'],
    ['Error H12 (Request timeout) -> GET /', 'ERROR'],
    ['[ERROR] db down', 'ERROR'],
    ['[warn] slow query', 'WARN'],
    ['[FATAL] out of memory', 'FATAL'],
    ['[DEBUG] cache hit', 'DEBUG'],
    ['[Info] started', 'INFO'],
    ['ERROR: relation "users" does not exist', 'ERROR'],
    ['Warning: deprecated', 'WARN'],
    ['FATAL:  password authentication failed', 'FATAL'],
    ['LOG:  duration: 1.2 ms', 'INFO'],
    ['WARN: disk 91% full', 'WARN'],
    ['  ERROR: indented', 'ERROR'],
    ['ERROR something failed', 'ERROR'],
    ['E, [2024-01-01T00:00:00.000000 #12] ERROR -- : boom', 'ERROR'],
    ['W, [2024-01-01T00:00:00.000000 #12]  WARN -- : hmm', 'WARN'],
    ['D, [2024-01-01T00:00:00.000000 #12] DEBUG -- : x', 'DEBUG'],
    ['State changed from up to crashed', 'ERROR'],
  ])('reads %j as %s', (text, level) => {
    expect(levelFromText(text)).toBe(level);
  });

  it.each([
    'State changed from starting to up',
    'Release v138 created by user foo@bar',
    'Error connecting to the database',
    'Errors: none',
    '[meta sequenceId="hello"] hello',
    '[3] third',
    'at=error code=H12',
    'Process running mem=1028MB(103.3%)',
    '2024-01-01 12:00:00 ERROR after a timestamp',
    '',
    '   ',
    '[',
    'ERROR',
    'Error R14',
  ])('finds no level in %j', (text) => {
    expect(levelFromText(text)).toBeNull();
  });
});

describe('levelFromContent', () => {
  it('prefers structured fields to the text', () => {
    expect(levelFromContent('[ERROR] x', { level: 'debug' })).toBe('DEBUG');
    expect(levelFromContent('[ERROR] x', { other: 1 })).toBe('ERROR');
    expect(levelFromContent('Error R14 (Memory quota exceeded)')).toBe('ERROR');
  });

  it('accepts scanned logfmt tokens as the fields', () => {
    const m = 'at=error code=H12 desc="Request timeout"';
    expect(levelFromContent(m, scanLogfmt(m, createLogfmtTokens()))).toBe('ERROR');
  });

  it('reads JSON level, severity and lvl in that order', () => {
    expect(levelFromFields({ severity: 'ERROR', lvl: 'debug' })).toBe('ERROR');
    expect(levelFromFields({ level: 'nonsense', lvl: 'warn' })).toBe('WARN');
    expect(levelFromFields({ level: 40 })).toBe('WARN');
  });
});

describe('resolveLevel', () => {
  it('lets the content level win over the default severities 5 and 6, even downwards', () => {
    expect(resolveLevel(6, 'ERROR')).toBe('ERROR');
    expect(resolveLevel(5, 'WARN')).toBe('WARN');
    expect(resolveLevel(6, 'DEBUG')).toBe('DEBUG');
    expect(resolveLevel(6, null)).toBe('INFO');
    expect(resolveLevel(5, null)).toBe('INFO');
  });

  it('keeps a severity the sender chose unless the content says more', () => {
    expect(resolveLevel(3, 'WARN')).toBe('ERROR');
    expect(resolveLevel(3, 'DEBUG')).toBe('ERROR');
    expect(resolveLevel(4, 'ERROR')).toBe('ERROR');
    expect(resolveLevel(7, 'INFO')).toBe('INFO');
    expect(resolveLevel(7, null)).toBe('DEBUG');
    expect(resolveLevel(0, 'ERROR')).toBe('FATAL');
    expect(resolveLevel(2, null)).toBe('FATAL');
  });

  it('uses the content level or INFO when there is no severity', () => {
    expect(resolveLevel(null, 'WARN')).toBe('WARN');
    expect(resolveLevel(undefined, null)).toBe('INFO');
  });
});
