import { describe, expect, it } from 'vitest';
import {
  colorEnabled,
  DEFAULT_HISTORY,
  DEFAULT_MAX_LINE_BYTES,
  DEFAULT_SEND_TIMEOUT_MS,
  MAIN_USAGE,
  parseByteSize,
  parseCommand,
  parseDuration,
  parseLevels,
  resolveEndpoint,
  resolveHttpEndpoint,
  SEND_USAGE,
  TAIL_USAGE,
  type Command,
  type SendArgs,
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

const INGEST = 't.0123456789abcdef-SECRET';

function send(argv: string[], env: Record<string, string> = {}): SendArgs {
  const c = parseCommand(['send', ...argv], env);
  if (c.kind !== 'send') throw new Error(`expected send, got ${JSON.stringify(c)}`);
  return c.args;
}

describe('parseCommand: send', () => {
  it('has defaults for everything but the token', () => {
    expect(send(['--token', INGEST])).toEqual({
      url: 'http://localhost:9000',
      token: INGEST,
      level: 'INFO',
      fromStart: false,
      timeoutMs: DEFAULT_SEND_TIMEOUT_MS,
      maxLineBytes: DEFAULT_MAX_LINE_BYTES,
      transport: 'http',
    });
  });

  it('reads every option, long and short', () => {
    const args = send([
      '--app=shop',
      '--token',
      INGEST,
      '--url',
      'https://logs.example.com/sluice/',
      '--file',
      'app.log',
      '--from-start',
      '--level',
      'warning',
      '--source',
      'worker',
      '--timeout',
      '2.5s',
      '--max-line-bytes',
      '64k',
      '--transport',
      'websocket',
    ]);
    expect(args).toEqual({
      app: 'shop',
      url: 'https://logs.example.com/sluice',
      token: INGEST,
      file: 'app.log',
      level: 'WARN',
      source: 'worker',
      fromStart: true,
      timeoutMs: 2500,
      maxLineBytes: 65536,
      transport: 'websocket',
    });
    expect(send(['-a', 'shop', '-f', 'x.log', '-l', 'crit', '-s', 'cron'], { SLUICE_TOKEN: INGEST })).toMatchObject({
      app: 'shop',
      file: 'x.log',
      level: 'FATAL',
      source: 'cron',
    });
  });

  it('takes app, token, URL and transport from the environment, flags first', () => {
    const env = { SLUICE_SERVICE: 'env-app', SLUICE_TOKEN: 't.from-env-0123456789', SLUICE_URL: 'http://env:1', SLUICE_TRANSPORT: 'ws' };
    expect(send([], env)).toMatchObject({ app: 'env-app', token: 't.from-env-0123456789', url: 'http://env:1', transport: 'websocket' });
    expect(send(['-a', 'flag-app', '--token', INGEST, '--url', 'http://flag:2', '--transport', 'http'], env)).toMatchObject({
      app: 'flag-app',
      token: INGEST,
      url: 'http://flag:2',
      transport: 'http',
    });
  });

  it('needs --app unless the token is an ingest token, which names its app', () => {
    expect(send(['--token', INGEST]).app).toBeUndefined();
    expect(send(['-a', 'shop', '--token', 'admin-secret-token']).app).toBe('shop');
    expect(usageError(['send', '--token', 'admin-secret-token'])).toMatch(/--app NAME \(or SLUICE_SERVICE\) is required/);
  });

  it('reads stdin with -f - (as with no -f)', () => {
    expect(send(['--token', INGEST, '-f', '-']).file).toBeUndefined();
  });

  it('takes the token from the URL, and strips it from what is kept', () => {
    const args = send(['--url', `https://token:${INGEST}@logs.example.com`]);
    expect(args).toMatchObject({ url: 'https://logs.example.com', token: INGEST });
  });

  it('asks for help', () => {
    expect(parseCommand(['send', '--help'], {})).toEqual({ kind: 'help', text: SEND_USAGE });
    expect(MAIN_USAGE).toContain('tail ');
    expect(MAIN_USAGE).toContain('send ');
  });

  it.each<[string[], RegExp]>([
    [[], /a token is required/],
    [['--token', 'r.0123456789abcdef-SECRET'], /that is a read token/],
    [['--token', INGEST, '--app', ''], /--app must not be empty/],
    [['--token', INGEST, '--app', 'Shop'], /app id/],
    [['--token', INGEST, '--level', 'loud'], /unknown level "loud"/],
    [['--token', INGEST, '--level', 'warn,error'], /one level/],
    [['--token', INGEST, '--timeout', 'soon'], /--timeout: a duration/],
    [['--token', INGEST, '--timeout', '-1'], /ambiguous|--timeout: a duration/],
    [['--token', INGEST, '--max-line-bytes', '10'], /--max-line-bytes: a size/],
    [['--token', INGEST, '--max-line-bytes', '1g'], /--max-line-bytes: a size/],
    [['--token', INGEST, '--from-start'], /--from-start goes with -f/],
    [['--token', INGEST, '-f', ''], /must not be empty/],
    [['--token', INGEST, '--source', ''], /--source must not be empty/],
    [['--token', INGEST, '--transport', 'carrier-pigeon'], /http or websocket/],
    [['--token', INGEST, '--url', 'ws://h/logs'], /scheme must be http or https$/],
    [['--token', INGEST, '--url', 'http://h/?region=eu'], /no query string/],
    [['--token', INGEST, 'app.log'], /-f FILE/],
    [['--token', INGEST, '--bogus'], /^Unknown option '--bogus'$/],
  ])('send %j → %s', (argv, message) => {
    expect(usageError(['send', ...argv])).toMatch(message);
  });

  it('points usage errors at the help of their command', () => {
    expect(parseCommand(['send', '--bogus'], {})).toMatchObject({ kind: 'usage-error', topic: 'send' });
    expect(parseCommand(['tail', '--bogus'], {})).toMatchObject({ kind: 'usage-error', topic: 'tail' });
    expect(parseCommand(['logs'], {})).toMatchObject({ kind: 'usage-error', topic: 'main' });
  });

  it('never repeats a token typed in the wrong place', () => {
    const attempts: string[][] = [
      ['send', INGEST],
      ['send', `--tokn=${INGEST}`],
      ['send', '--token', INGEST, '--level', INGEST],
      ['send', '--token', INGEST, '--timeout', INGEST],
      ['send', '--url', `ftp://token:${INGEST}@host`],
      ['send', '--url', `http://token:${INGEST}@host/?q=1`],
      ['send', '--token', INGEST, '--transport', INGEST],
    ];
    for (const argv of attempts) expect(usageError(argv)).not.toContain('SECRET');
  });
});

describe('parseDuration and parseByteSize', () => {
  it.each<[string, number | null]>([
    ['10', 10_000],
    ['1.5', 1500],
    ['10s', 10_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['0', 0],
    ['25h', null],
    ['-1', null],
    ['', null],
    ['1e3', null],
    ['ten', null],
  ])('duration %j → %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each<[string, number | null]>([
    ['65536', 65536],
    ['64k', 65536],
    ['64K', 65536],
    ['1m', 1024 * 1024],
    ['1.5k', null],
    ['k', null],
  ])('size %j → %s', (text, n) => {
    expect(parseByteSize(text)).toBe(n);
  });
});

describe('resolveHttpEndpoint', () => {
  it.each([
    ['http://localhost:9000', 'http://localhost:9000'],
    ['http://localhost:9000/', 'http://localhost:9000'],
    ['https://example.com/sluice//', 'https://example.com/sluice'],
    ['HTTPS://Example.COM:8443', 'https://example.com:8443'],
    ['http://h/#frag', 'http://h'],
  ])('%s → %s', (url, expected) => {
    expect(resolveHttpEndpoint(url)).toEqual({ url: expected });
  });

  it('moves a token out of the URL, and takes ws(s) URLs for the WebSocket transport only', () => {
    expect(resolveHttpEndpoint(`http://h/?token=${INGEST}`)).toEqual({ url: 'http://h', token: INGEST });
    expect(resolveHttpEndpoint(`https://${INGEST}@h`, 't.explicit')).toEqual({ url: 'https://h', token: 't.explicit' });
    expect(resolveHttpEndpoint('wss://h/custom/logs')).toMatch(/scheme/);
    expect(resolveHttpEndpoint('wss://h/custom/logs', undefined, true)).toEqual({ url: 'wss://h/custom/logs' });
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
    case 'send':
    case 'help':
    case 'version':
    case 'usage-error':
      return c.kind;
  }
};
void _exhaustive;
