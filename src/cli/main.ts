#!/usr/bin/env node
/**
 * The `sluice` executable (package.json `bin`): binds {@link runCli} to the process. Kept to the
 * process concerns (signals, broken pipes, exit) so everything else is testable in run.ts.
 */
import { runCli } from './run.js';

const controller = new AbortController();

// First Ctrl-C stops cleanly (socket closed, output flushed, exit 0); a second one is someone
// who does not want to wait for that.
let interrupts = 0;
const onSignal = (): void => {
  if (interrupts++ > 0) process.exit(130);
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// `sluice tail | head -5`: the reader went away. Not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') {
    controller.abort();
    process.exit(0);
  }
  throw err;
});

const code = await runCli({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  // A getter: only `sluice send` reads stdin, and touching process.stdin opens it.
  get stdin() {
    return process.stdin;
  },
  signal: controller.signal,
});

// Exit once what was written is flushed (a pipe may still hold the last history batch), rather
// than waiting on handles that have no more work for us.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
