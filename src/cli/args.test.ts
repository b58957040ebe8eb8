import { describe, expect, it } from 'vitest';
import {
  colorEnabled,
  DEFAULT_HISTORY,
  MAIN_USAGE,
  parseCommand,
  parseLevels,
  resolveEndpoint,
  TAIL_USAGE,
  type Command,
  type TailArgs,
} from './args.js';

const SECRET = 'r.0123456789abcdef-SECRET';

function tail(argv: string[], env: Record<string, string> = {}): TailArgs {
  const c = parseCommand(['tail', ...argv], env);
  if (c.kind !== 'tail') throw new Error(`expected tail, got ${JSON.stringify(c)}`);
  return c.args;
}

function usageError(argv: string[], env: Record<string, string> = {}): string {
  const c = parseCommand(argv, env);
  if (c.kind !== 'usage-error') throw new Error(`expected a usage error, got ${JSON.stringify(c)}`);
  return c.message;
}

describe('parseCommand: tail', () => {
  it('has defaults for everything but the app', () => {
    expect(tail(['--app', 'shop'])).toEqual({
      app: 'shop',
      history: DEFAULT_HISTORY,
      wsUrl: 'ws://localhost:9000/ws',
      json: false,
      noColor: false,
      follow: true,
    });
  });

  it('reads every option, long and short', () => {
    const long = tail([
      '--app=shop',
      '--level',
      'warn',
      '--source',
      'app',
      '--proc',
      'web',
      '--search',
      'timeout',
      '--regex',
      '^GET /a+$',
      '--num',
      '5',
      '--url',
      'https://logs.example.com',
      '--token',
      SECRET,
      '--json',
      '--no-color',
      '--no-follow',
    ]);
    expect(long).toEqual({
      app: 'shop',
      levels: ['WARN'],
      source: 'app',
      proc: 'web',
      search: 'timeout',
      regex: '^GET /a+$',
      history: 5,
      wsUrl: 'wss://logs.example.com/ws',
      token: SECRET,
      json: true,
      noColor: true,
      follow: false,
    });
    const short = tail(['-a', 'shop', '-l', 'warn', '-s', 'app', '-p', 'web', '-n', '5']);
    expect(short).toMatchObject({ app: 'shop', levels: ['WARN'], source: 'app', proc: 'web', history: 5 });
    expect(tail(['-ashop', '-n0']).history).toBe(0);
  });

  it('takes the URL and token from SLUICE_URL and SLUICE_TOKEN, flags first', () => {
    const env = { SLUICE_URL: 'https://env.example.com', SLUICE_TOKEN: 'r.from-env-0123456789' };
    expect(tail(['-a', 'x'], env)).toMatchObject({ wsUrl: 'wss://env.example.com/ws', token: 'r.from-env-0123456789' });
    expect(tail(['-a', 'x', '--url', 'http://flag:1234', '--token', SECRET], env)).toMatchObject({
      wsUrl: 'ws://flag:1234/ws',
      token: SECRET,
    });
  });

  it('treats empty environment variables as unset', () => {
    const args = tail(['-a', 'x'], { SLUICE_URL: '', SLUICE_TOKEN: '' });
    expect(args.wsUrl).toBe('ws://localhost:9000/ws');
    expect(args.token).toBeUndefined();
  });

  it('accepts comma-separated and repeated --level, canonical and deduplicated', () => {
    expect(tail(['-a', 'x', '--level', 'error,fatal']).levels).toEqual(['ERROR', 'FATAL']);
    expect(tail(['-a', 'x', '-l', 'Warning', '-l', 'crit,err', '-l', 'WARN']).levels).toEqual(['WARN', 'FATAL', 'ERROR']);
    expect(tail(['-a', 'x', '--level', ' debug ']).levels).toEqual(['DEBUG']);
  });

  it('asks for help', () => {
    for (const argv of [['tail', '--help'], ['tail', '-h'], ['tail', '-a', 'x', '-h']]) {
      expect(parseCommand(argv, {})).toEqual({ kind: 'help', text: TAIL_USAGE });
    }
    for (const argv of [['--help'], ['-h'], ['help']]) expect(parseCommand(argv, {})).toEqual({ kind: 'help', text: MAIN_USAGE });
  });

  it('asks for the version', () => {
    expect(parseCommand(['--version'], {})).toEqual({ kind: 'version' });
    expect(parseCommand(['-V'], {})).toEqual({ kind: 'version' });
    expect(parseCommand(['tail', '--version'], {})).toEqual({ kind: 'version' });
  });
});

describe('parseCommand: usage errors', () => {
  it.each<[string[], RegExp]>([
    [[], /command is required/],
    [['logs'], /unknown command: "logs"/],
    [['tail'], /--app NAME is required/],
    [['tail', '--app', ''], /--app NAME is required/],
    [['tail', '--app', 'Shop'], /app id/],
    [['tail', '--app', '-x'], /ambiguous/],
    [['tail', '-a', 'x', '--level', 'loud'], /unknown level "loud"/],
    [['tail', '-a', 'x', '--level', 'warn,'], /empty level/],
    [['tail', '-a', 'x', '-n', '-1'], /ambiguous|whole number/],
    [['tail', '-a', 'x', '-n', 'ten'], /whole number/],
    [['tail', '-a', 'x', '-n', '1e3'], /whole number/],
    [['tail', '-a', 'x', '-n', ''], /whole number/],
    [['tail', '-a', 'x', '--regex', '(unclosed'], /--regex: Invalid regular expression/],
    [['tail', '-a', 'x', '--source', ''], /--source must not be empty/],
    [['tail', '-a', 'x', '--url', 'localhost:9000'], /scheme must be/],
    [['tail', '-a', 'x', '--url', 'not a url'], /not a valid URL/],
    [['tail', '-a', 'x', '--bogus'], /^Unknown option '--bogus'$/],
    [['tail', '-a', 'x', '--json=yes'], /does not take an argument/],
    [['tail', '-a', 'x', '--token'], /argument missing/],
    [['tail', '-a', 'x', 'extra'], /unexpected argument/],
  ])('%j → %s', (argv, message) => {
    expect(usageError(argv)).toMatch(message);
  });

  it('never repeats a token typed in the wrong place', () => {
    const attempts: string[][] = [
      [`--token=${SECRET}`],
      ['tail', '-a', 'x', SECRET],
      ['tail', `--tokn=${SECRET}`],
      ['tail', '-a', 'x', '--token', SECRET, '--bogus'],
      ['tail', '-a', 'x', `--json=${SECRET}`],
      ['tail', '-a', 'x', '--url', `https://token:${SECRET}@host:bad`],
      ['tail', '-a', 'x', '--url', `ftp://token:${SECRET}@host`],
      [SECRET],
      ['tail', '-a', 'x', '--level', SECRET],
    ];
    for (const argv of attempts) expect(usageError(argv)).not.toContain('SECRET');
  });
});

describe('resolveEndpoint', () => {
  it.each([
    ['http://localhost:9000', 'ws://localhost:9000/ws'],
    ['http://localhost:9000/', 'ws://localhost:9000/ws'],
    ['https://logs.example.com', 'wss://logs.example.com/ws'],
    ['https://example.com/sluice', 'wss://example.com/sluice/ws'],
    ['https://example.com/sluice//', 'wss://example.com/sluice/ws'],
    ['HTTPS://Example.COM:8443', 'wss://example.com:8443/ws'],
    ['ws://localhost:9000/ws', 'ws://localhost:9000/ws'],
    ['wss://proxy.example.com/custom/socket', 'wss://proxy.example.com/custom/socket'],
    ['http://localhost:9000/#frag', 'ws://localhost:9000/ws'],
  ])('%s → %s', (url, ws) => {
    expect(resolveEndpoint(url)).toEqual({ wsUrl: ws });
  });

  it('keeps other query parameters', () => {
    expect(resolveEndpoint('http://h/?region=eu')).toEqual({ wsUrl: 'ws://h/ws?region=eu' });
  });

  it('moves a token out of the URL (userinfo as in drain URLs, or ?token=)', () => {
    expect(resolveEndpoint(`https://token:${SECRET}@logs.example.com`)).toEqual({
      wsUrl: 'wss://logs.example.com/ws',
      token: SECRET,
    });
    expect(resolveEndpoint(`https://${SECRET}@logs.example.com`)).toEqual({ wsUrl: 'wss://logs.example.com/ws', token: SECRET });
    expect(resolveEndpoint(`http://h/?token=${SECRET}&x=1`)).toEqual({ wsUrl: 'ws://h/ws?x=1', token: SECRET });
    expect(resolveEndpoint('https://token:a%2Fb%40c@h')).toEqual({ wsUrl: 'wss://h/ws', token: 'a/b@c' });
  });

  it('prefers an explicit token, and still strips the one in the URL', () => {
    expect(resolveEndpoint(`https://token:${SECRET}@h`, 'r.explicit')).toEqual({ wsUrl: 'wss://h/ws', token: 'r.explicit' });
  });

  it('via the command line: --url with a token and no --token', () => {
    const args = tail(['-a', 'x', '--url', `https://token:${SECRET}@h`]);
    expect(args.token).toBe(SECRET);
    expect(args.wsUrl).not.toContain('SECRET');
  });
});

describe('parseLevels', () => {
  it('returns canonical names or a message', () => {
    expect(parseLevels([])).toEqual([]);
    expect(parseLevels(['info', 'notice'])).toEqual(['INFO']);
    expect(parseLevels(['3'])).toEqual(['ERROR']);
    expect(parseLevels(['nope'])).toMatch(/unknown level/);
  });
});

describe('colorEnabled', () => {
  it.each<[boolean, Record<string, string>, boolean | undefined, boolean]>([
    [false, {}, true, true],
    [false, {}, false, false],
    [false, {}, undefined, false],
    [true, {}, true, false],
    [false, { NO_COLOR: '1' }, true, false],
    [false, { NO_COLOR: '' }, true, true],
    [false, { FORCE_COLOR: '1' }, false, true],
    [false, { FORCE_COLOR: '' }, false, true],
    [false, { FORCE_COLOR: '0' }, true, false],
    [false, { FORCE_COLOR: 'false' }, true, false],
    [true, { FORCE_COLOR: '1' }, true, false],
    [false, { NO_COLOR: '1', FORCE_COLOR: '1' }, true, false],
  ])('flag %s env %j tty %s → %s', (flag, env, tty, expected) => {
    expect(colorEnabled(flag, env, tty)).toBe(expected);
  });
});

// Type-level check that Command stays a closed union the CLI can switch over exhaustively.
const _exhaustive = (c: Command): string => {
  switch (c.kind) {
    case 'tail':
    case 'help':
    case 'version':
    case 'usage-error':
      return c.kind;
  }
};
void _exhaustive;
