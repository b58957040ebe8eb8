import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REGEX_NODE_FLAGS } from '../../src/query/regex-flags.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A gateway running as a real process (src/main.ts through tsx). */
export interface GatewayProcess {
  url: string;
  port: number;
  /** Everything the process wrote to stderr so far (the start banner). */
  stderr: () => string;
  stdout: () => string;
  child: ChildProcess;
  /** SIGTERM, then resolves with the exit code. */
  stop: () => Promise<number | null>;
}

/**
 * Starts `src/main.ts` with `PORT=0` and the given environment, and resolves once the banner
 * says where it listens. The process is killed if it does not come up in time.
 */
export function startGatewayProcess(env: Record<string, string>, timeoutMs = 20_000): Promise<GatewayProcess> {
  // The node flags of `npm start` that change behaviour: the linear-time regex engine, the
  // fallback to it on excessive backtracking and its threshold (src/query/regex-flags.ts).
  const child = spawn(process.execPath, [...REGEX_NODE_FLAGS, '--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start in ${timeoutMs} ms:\n${err}\n${out}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${err}\n${out}`));
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on ([\d.:a-z]+):(\d+)/.exec(err);
      if (m && err.includes('Dashboard:')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        const port = Number(m[2]);
        resolve({
          url: `http://127.0.0.1:${port}`,
          port,
          stderr: () => err,
          stdout: () => out,
          child,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done(child.exitCode);
              child.once('exit', (code) => done(code));
              child.kill('SIGTERM');
            }),
        });
      }
    });
  });
}
