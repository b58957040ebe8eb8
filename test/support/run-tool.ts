/**
 * Runs a toolchain command (python3, go, java, a build script) to completion for the client
 * library tests, collecting its output; killed after `timeoutMs`.
 */
import { spawn } from 'node:child_process';

/** What a finished command printed and how it exited (`code` null: killed). */
export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Fails with the command's whole output when it did not exit 0. */
export function expectToolOk(r: ToolRun, what: string): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}
