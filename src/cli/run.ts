/**
 * `sluice` as a function: argv, environment and streams in, exit status out. main.ts binds it to
 * the process; tests call it directly.
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { ClientOptions } from 'ws';
import { colorEnabled, parseCommand, type CliEnv } from './args.js';
import { formatError } from './format.js';
import { runSend, type SendOptions } from './send.js';
import { EXIT, runTail, type Sink } from './tail.js';

/** A writable the CLI prints to: `process.stdout` / `process.stderr`, or a test collector. */
export interface CliStream extends Sink {
  /** Colour and `-- live --` are for terminals only. */
  isTTY?: boolean;
}

/** What {@link runCli} runs against. */
export interface CliContext {
  /** Arguments after the script path. */
  argv: readonly string[];
  env: CliEnv;
  stdout: CliStream;
  stderr: CliStream;
  /** What `sluice send` reads without `-f` (main.ts: `process.stdin`, looked up only then). */
  stdin?: Readable & { isTTY?: boolean };
  /** Ctrl-C. */
  signal?: AbortSignal;
  /** Passed to the `ws` client (tests: short handshake timeouts). */
  wsOptions?: ClientOptions;
  /** Passed to the tail loop (tests: short backoff). */
  tail?: { backoff?: { initialMs: number; maxMs: number }; idleTimeoutMs?: number; maxAttempts?: number };
  /** Passed to `sluice send` (tests: a transport of their own, a short poll). */
  send?: Pick<SendOptions, 'customTransport' | 'pollIntervalMs'>;
}

/** Runs `sluice` and resolves with its exit status (see `EXIT` in tail.ts). */
export async function runCli(ctx: CliContext): Promise<number> {
  const command = parseCommand(ctx.argv, ctx.env);
  const errColor = colorEnabled(false, ctx.env, ctx.stderr.isTTY);
  switch (command.kind) {
    case 'help':
      ctx.stdout.write(command.text);
      return EXIT.ok;
    case 'version':
      ctx.stdout.write(`sluice ${packageVersion()}\n`);
      return EXIT.ok;
    case 'usage-error': {
      const help = command.topic === 'send' ? 'sluice send --help' : command.topic === 'tail' ? 'sluice tail --help' : 'sluice --help';
      ctx.stderr.write(`${formatError(command.message, { color: errColor })}\nRun '${help}' for usage.\n`);
      return EXIT.usage;
    }
    case 'send':
      return runSend(
        {
          ...command.args,
          ...(ctx.signal !== undefined && { signal: ctx.signal }),
          ...(command.args.file === undefined && ctx.stdin !== undefined && { input: ctx.stdin }),
          ...ctx.send,
        },
        { err: ctx.stderr },
      );
    case 'tail': {
      const a = command.args;
      return runTail(
        {
          url: a.wsUrl,
          ...(a.token !== undefined && { token: a.token }),
          ...(ctx.wsOptions !== undefined && { wsOptions: ctx.wsOptions }),
          subscription: {
            apps: [a.app],
            history: a.history,
            ...(a.levels !== undefined && { levels: a.levels }),
            ...(a.source !== undefined && { source: a.source }),
            ...(a.proc !== undefined && { proc: a.proc }),
            ...(a.search !== undefined && { search: a.search }),
            ...(a.regex !== undefined && { regex: a.regex }),
          },
          follow: a.follow,
          json: a.json,
          color: !a.json && colorEnabled(a.noColor, ctx.env, ctx.stdout.isTTY),
          errColor: colorEnabled(a.noColor, ctx.env, ctx.stderr.isTTY),
          announceLive: ctx.stderr.isTTY === true,
          ...(ctx.signal !== undefined && { signal: ctx.signal }),
          ...ctx.tail,
        },
        { out: ctx.stdout, err: ctx.stderr },
      );
    }
  }
}

/** The package's version, read beside the build (dist/cli → ../../package.json, as from src/cli). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
