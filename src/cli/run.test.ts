import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { MAIN_USAGE, SEND_USAGE, TAIL_USAGE } from './args.js';
import { SGR } from './format.js';
import { runCli, type CliStream } from './run.js';
import { EXIT } from './tail.js';

const TOKEN = 'r.11111111-2222-4333-8444-SECRETSECRET';

const ENTRY = {
  id: '01J0D5Q2VJ9M4G6N3S8T7W1XYZ',
  timestamp: '2024-06-01T12:00:00.123456Z',
  received_at: '2024-06-01T12:00:00.200000Z',
  level: 'WARN',
  app_id: 'shop',
  message: 'Slow request',
  source: 'heroku',
  proc: 'router',
};
const LINE = '2024-06-01T12:00:00.123456Z heroku[router]: WARN  Slow request';

/** A gateway that answers any subscription with one entry of history, then live. */
let wss: WebSocketServer;
let port: number;
let received: Array<{ authorization?: string; subscribe: Record<string, unknown> }>;

beforeEach(async () => {
  received = [];
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  port = (wss.address() as AddressInfo).port;
  wss.on('connection', (ws, req) => {
    ws.once('message', (data) => {
      const subscribe = JSON.parse(String(data)) as Record<string, unknown>;
      received.push({ ...(req.headers.authorization !== undefined && { authorization: req.headers.authorization }), subscribe });
      if (subscribe.apps !== undefined && (subscribe.apps as string[])[0] === 'nope') {
        ws.send(JSON.stringify({ type: 'error', error: 'unknown_app', message: 'no app nope' }));
        return;
      }
      ws.send(JSON.stringify({ type: 'logs', data: [ENTRY] }));
      ws.send(JSON.stringify({ type: 'live' }));
    });
  });
});

afterEach(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

function stream(isTTY?: boolean): CliStream & { text: string } {
  return {
    text: '',
    ...(isTTY !== undefined && { isTTY }),
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

async function cli(argv: string[], env: Record<string, string> = {}, tty?: boolean) {
  const stdout = stream(tty);
  const stderr = stream(tty);
  const code = await runCli({ argv, env, stdout, stderr, tail: { backoff: { initialMs: 5, maxMs: 10 } } });
  expect(stdout.text + stderr.text).not.toContain('SECRET');
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const base = () => ({ SLUICE_URL: `http://127.0.0.1:${port}`, SLUICE_TOKEN: TOKEN });

describe('runCli', () => {
  it('tails with the URL and token from the environment', async () => {
    const r = await cli(['tail', '-a', 'shop', '--no-follow', '-n', '2', '--level', 'warning'], base());
    expect(r).toEqual({ code: EXIT.ok, stdout: `${LINE}\n`, stderr: '' });
    expect(received).toEqual([
      {
        authorization: `Bearer ${TOKEN}`,
        subscribe: { type: 'subscribe', apps: ['shop'], levels: ['WARN'], history: 2, batch: true },
      },
    ]);
  });

  it('colours on a terminal, with -- live -- on stderr only when it is one', async () => {
    const r = await cli(['tail', '-a', 'shop', '--no-follow'], base(), true);
    expect(r.stdout).toBe(`${SGR.yellow}${LINE}${SGR.reset}\n`);
  });

  it('does not colour a pipe unless FORCE_COLOR; never with NO_COLOR or --no-color', async () => {
    expect((await cli(['tail', '-a', 'shop', '--no-follow'], { ...base(), FORCE_COLOR: '1' })).stdout).toContain(SGR.yellow);
    expect((await cli(['tail', '-a', 'shop', '--no-follow'], { ...base(), NO_COLOR: '1' }, true)).stdout).toBe(`${LINE}\n`);
    expect((await cli(['tail', '-a', 'shop', '--no-follow', '--no-color'], base(), true)).stdout).toBe(`${LINE}\n`);
  });

  it('--json prints NDJSON, never coloured', async () => {
    const r = await cli(['tail', '-a', 'shop', '--no-follow', '--json'], { ...base(), FORCE_COLOR: '1' }, true);
    expect(r.stdout).toBe(`${JSON.stringify(ENTRY)}\n`);
  });

  it('--token beats SLUICE_TOKEN; a token in the URL is sent as a header', async () => {
    await cli(['tail', '-a', 'shop', '--no-follow', '--token', 'r.flag-SECRET-0000000000'], base());
    await cli(['tail', '-a', 'shop', '--no-follow', '--url', `http://token:${TOKEN}@127.0.0.1:${port}`]);
    expect(received.map((r) => r.authorization)).toEqual(['Bearer r.flag-SECRET-0000000000', `Bearer ${TOKEN}`]);
  });

  it('exits 1 on an unknown app, with the gateway message', async () => {
    const r = await cli(['tail', '-a', 'nope'], base());
    expect(r).toEqual({ code: EXIT.failure, stdout: '', stderr: 'sluice: unknown_app: no app nope\n' });
  });

  it('exits 2 on usage errors, pointing at --help', async () => {
    const r = await cli(['tail', '--token', TOKEN], base());
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toBe("sluice: --app NAME is required\nRun 'sluice tail --help' for usage.\n");
    expect((await cli([])).code).toBe(EXIT.usage);
    expect(received).toEqual([]);
  });

  it('sends stdin through the client, and points send usage errors at send --help', async () => {
    const batches: string[][] = [];
    const stdout = stream();
    const stderr = stream();
    const code = await runCli({
      argv: ['send', '--app', 'shop'],
      env: { SLUICE_TOKEN: 't.run-test-SECRET-0123456789' },
      stdout,
      stderr,
      stdin: Readable.from(['one\n', 'two\n']),
      send: {
        customTransport: {
          send: (_id, entries) => {
            batches.push(entries.map((e) => (JSON.parse(e) as { message: string }).message));
            return Promise.resolve({ ok: true, status: 201, duplicate: false });
          },
        },
      },
    });
    expect({ code, stdout: stdout.text, stderr: stderr.text }).toEqual({ code: EXIT.ok, stdout: '', stderr: '' });
    expect(batches).toEqual([['one', 'two']]);
    const bad = await cli(['send', '--bogus']);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toBe("sluice: Unknown option '--bogus'\nRun 'sluice send --help' for usage.\n");
    expect((await cli(['nope'])).stderr).toContain("Run 'sluice --help' for usage.");
  });

  it('prints help and the version on stdout with 0', async () => {
    expect(await cli(['tail', '--help'])).toEqual({ code: 0, stdout: TAIL_USAGE, stderr: '' });
    expect(await cli(['send', '--help'])).toEqual({ code: 0, stdout: SEND_USAGE, stderr: '' });
    expect(await cli(['--help'])).toEqual({ code: 0, stdout: MAIN_USAGE, stderr: '' });
    expect(await cli(['--version'])).toEqual({ code: 0, stdout: 'sluice 0.1.0\n', stderr: '' });
  });
});

describe('main.ts as a process', () => {
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));

  function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('tails --no-follow and exits 0 by itself; usage errors exit 2', async () => {
    const ok = await run(['tail', '-a', 'shop', '--no-follow'], base());
    expect(ok).toEqual({ code: 0, stdout: `${LINE}\n`, stderr: '' });
    const bad = await run(['tail', '--bogus'], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("sluice: Unknown option '--bogus'");
  });

  it('stops on SIGINT with exit 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'tail', '-a', 'shop'], {
      env: { PATH: process.env.PATH ?? '', ...base() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const start = Date.now();
    while (!stdout.includes('Slow request') && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout).toBe(`${LINE}\n`);
  });
});
