import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (name: string) => readFileSync(new URL(`../${name}`, import.meta.url), 'utf8');

/** The node flags each way of starting the gateway passes, in order. */
function flags(command: string[]): string[] {
  return command.filter((a) => a.startsWith('--'));
}

describe('deployment files', () => {
  it('start node with the same flags: npm start, the Procfile and the Dockerfile', () => {
    const npmStart = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
    const procfile = read('Procfile').match(/^web:\s*(.+)$/m)![1]!.split(/\s+/);
    const docker = JSON.parse(read('Dockerfile').match(/^CMD\s+(\[.+\])$/m)![1]!) as string[];
    expect(flags(procfile)).toEqual(flags(npmStart));
    expect(flags(docker)).toEqual(flags(npmStart));
    // The guard against catastrophic regex backtracking in user filters (README, "Production").
    expect(flags(npmStart)).toContain('--enable-experimental-regexp-engine-on-excessive-backtracks');
  });
});
