import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { liveApp, sleep, writeAppsConfig } from './support/live.js';
import { readHistory } from './support/history.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';

/**
 * `sluice send` (src/cli/send.ts) as a process, against the real gateway process: lines of a
 * pipe arrive with their levels and in order; a followed file rotated and truncated under it
 * has every line arrive once; with the gateway down the exit status and stderr say how many
 * lines were not delivered.
 */

const root = fileURLToPath(new URL('../', import.meta.url));
const APP = liveApp('cli-send');
const CONFIG = writeAppsConfig([APP]);
const BASE_ENV = { HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_LINES_PER_SEC: '0', HISTORY_PER_APP: '10000', SLUICE_CONFIG: CONFIG };

const started: GatewayProcess[] = [];
const clis: ChildProcess[] = [];
async function start(env: Record<string, string> = {}): Promise<GatewayProcess> {
  const gw = await startGatewayProcess({ ...BASE_ENV, ...env });
  started.push(gw);
  return gw;
}
afterEach(() => {
  for (const gw of started.splice(0)) if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
  for (const c of clis.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Stored { level: string; message: string; source?: string; timestamp: string; context?: Record<string, any> }

/** Every stored entry of the app, oldest first (the history API pages newest first). */
async function history(gw: GatewayProcess): Promise<Stored[]> {
  return (await readHistory<Stored>(gw.url, APP.read)).entries.reverse();
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const startAt = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() - startAt > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** `sluice send ARGS` as the CLI runs (src/cli/main.ts through tsx), its stdin fed with `input`. */
function sendCli(args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'send', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  clis.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, stderr: () => stderr };
}

describe('sluice send against the gateway process', () => {
  it('sends the lines of a pipe, plain and JSON, with their levels, in order, and exits 0', async () => {
    const gw = await start();
    const lines: string[] = [];
    const expected: Array<{ message: string; level: string }> = [];
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 0) {
        lines.push(`plain ${i}`);
        expected.push({ message: `plain ${i}`, level: 'WARN' });
      } else if (i % 3 === 1) {
        lines.push(JSON.stringify({ level: i % 2 ? 'error' : 'debug', message: `json ${i}`, context: { i } }));
        expected.push({ message: `json ${i}`, level: i % 2 ? 'ERROR' : 'DEBUG' });
      } else {
        // pino: numeric level, msg
        lines.push(JSON.stringify({ level: 30, msg: `pino ${i}`, pid: 42 }));
        expected.push({ message: `pino ${i}`, level: 'INFO' });
      }
      if (i % 50 === 0) lines.push(''); // blank lines are skipped
    }
    // CRLF endings, and a last line without newline.
    const input = `${lines.join('\r\n')}\r\n{"level":60,"time":1700000000000,"msg":"pino fatal with its own time"}\nthe very last`;
    // No --app: the ingest token names its app.
    const run = sendCli(['--level', 'warn', '--source', 'cli-test'], { env: { SLUICE_URL: gw.url, SLUICE_TOKEN: APP.ingest }, input });
    const r = await run.done;
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });

    const stored = await history(gw);
    expect(stored).toHaveLength(expected.length + 2);
    const timed = stored.find((e) => e.message === 'pino fatal with its own time')!;
    expect(timed).toMatchObject({ level: 'FATAL', timestamp: '2023-11-14T22:13:20.000000Z', source: 'cli-test' });
    const rest = stored.filter((e) => e !== timed);
    expect(rest.map((e) => ({ message: e.message, level: e.level }))).toEqual([...expected, { message: 'the very last', level: 'WARN' }]);
    expect(rest.every((e) => e.source === 'cli-test')).toBe(true);
    expect(rest.find((e) => e.message === 'json 1')!.context).toMatchObject({ i: 1 });
    expect(rest.find((e) => e.message === 'pino 2')!.context).toMatchObject({ pid: 42 });
  });

  it('-f: a file created, rotated (rename + new file) and truncated while it runs has every line arrive once', async () => {
    const gw = await start();
    const dir = await mkdtemp(join(tmpdir(), 'sluice-send-f-'));
    const file = join(dir, 'app.log');
    const messages = async () => (await history(gw)).map((e) => e.message);
    const arrived = (n: number) => until(`${n} lines`, async () => ((await messages()).length >= n ? true : undefined));
    try {
      // Not there yet: waited for, then read from its start (no line written before the
      // tailer opened it can be missed, whatever the start-up time of the CLI).
      const run = sendCli(['-f', file, '--app', APP.id], { env: { SLUICE_URL: gw.url, SLUICE_TOKEN: APP.ingest } });
      await until('the wait for the file', async () => (run.stderr().includes('does not exist (yet)') ? true : undefined));

      await writeFile(file, 'one\ntwo\n');
      await arrived(2);
      // logrotate's default: rename, then a new file at the path. The line written just before
      // the rename is read from the old file, which is read to its end before the new one.
      await appendFile(file, 'three, just before the rotation\n');
      await rename(file, `${file}.1`);
      await writeFile(file, 'four\n');
      await appendFile(file, 'five\n');
      await arrived(5);
      // copytruncate: the same file emptied; written again only once that was seen.
      await truncate(file, 0);
      await until('the truncation to be seen', async () => (run.stderr().includes('truncated') ? true : undefined));
      await appendFile(file, 'six\nseven, without newline');
      await arrived(6);

      run.child.kill('SIGINT');
      const r = await run.done;
      expect(r.code).toBe(0);
      expect(await messages()).toEqual(['one', 'two', 'three, just before the rotation', 'four', 'five', 'six', 'seven, without newline']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('with the gateway down: exit 1, and stderr says how many lines were not delivered', async () => {
    const gw = await start();
    await gw.stop();
    const started = Date.now();
    const r = await sendCli(['--app', APP.id, '--timeout', '1s'], {
      env: { SLUICE_URL: gw.url, SLUICE_TOKEN: APP.ingest },
      input: 'a\nb\n{"message":"c"}\n\nd\ne\n',
    }).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('sluice send: 5 of 5 lines could not be delivered (ECONNREFUSED; gave up after 1s)\n');
    expect(r.stderr).not.toContain(APP.ingest);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a refused token: exit 3 and the gateway says why; the WebSocket transport delivers too', async () => {
    const gw = await start();
    const refused = await sendCli(['--token', 't.not-a-known-token-0123456789'], { env: { SLUICE_URL: gw.url }, input: 'x\ny\n' }).done;
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('sluice send: 2 of 2 lines could not be delivered (HTTP 401 unauthorized: unknown token; stopped reading)');
    expect(refused.stderr).not.toContain('t.not-a-known-token');

    const input = Array.from({ length: 50 }, (_, i) => `ws ${i}`).join('\n');
    const ws = await sendCli(['--transport', 'websocket'], { env: { SLUICE_URL: gw.url, SLUICE_TOKEN: APP.ingest }, input }).done;
    expect(ws).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await history(gw)).map((e) => e.message)).toEqual(Array.from({ length: 50 }, (_, i) => `ws ${i}`));
  });
});
