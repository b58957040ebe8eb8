import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../src/config.js';
import { GATEWAY_NODE_FLAGS } from '../bench/http-ingest.js';
import { REGEX_NODE_FLAGS } from '../src/query/regex-flags.js';

const read = (name: string) => readFileSync(new URL(`../${name}`, import.meta.url), 'utf8');

/** The node flags each way of starting the gateway passes, in order. */
function flags(command: string[]): string[] {
  return command.filter((a) => a.startsWith('--'));
}

describe('deployment files', () => {
  it('start node with the same flags: npm start, the Procfile, the Dockerfile and the benchmarks', () => {
    const npmStart = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
    const procfile = read('Procfile').match(/^web:\s*(.+)$/m)![1]!.split(/\s+/);
    const docker = JSON.parse(read('Dockerfile').match(/^CMD\s+(\[.+\])$/m)![1]!) as string[];
    expect(flags(procfile)).toEqual(flags(npmStart));
    expect(flags(docker)).toEqual(flags(npmStart));
    // The benchmarks measure the gateway as it runs in production.
    expect(GATEWAY_NODE_FLAGS).toEqual(flags(npmStart));
    // The guards against catastrophic regex backtracking (README, "Deploying"): user filters are
    // checked on the linear-time engine (the `l` flag) and every regex falls back to it after
    // 1000 backtracks. test/support/process.ts and vitest.config.ts pass REGEX_NODE_FLAGS itself.
    expect(REGEX_NODE_FLAGS).toEqual([
      '--enable-experimental-regexp-engine',
      '--enable-experimental-regexp-engine-on-excessive-backtracks',
      '--regexp-backtracks-before-fallback=1000',
    ]);
    for (const command of [npmStart, procfile, docker]) {
      for (const flag of REGEX_NODE_FLAGS) expect(flags(command)).toContain(flag);
    }
  });

  it('app.json: Heroku Redis, and only variables the gateway reads, with values it accepts', () => {
    interface EnvVar { description?: string; value?: string; generator?: string; required?: boolean }
    const app = JSON.parse(read('app.json')) as { env: Record<string, EnvVar>; addons: ({ plan: string } | string)[] };
    expect(app.addons.map((a) => (typeof a === 'string' ? a : a.plan))).toContain('heroku-redis:mini');
    for (const [name, v] of Object.entries(app.env)) {
      expect(CONFIG_VARIABLES, name).toContain(name);
      expect(v.description, name).toBeTruthy();
    }
    expect(app.env.METRICS_TOKEN?.generator).toBe('secret');
    expect(app.env.REDIS_TLS_REJECT_UNAUTHORIZED?.value).toBe('false');
    // What a Heroku deploy starts with (generator: secret gives 64 hex characters; the add-on sets REDIS_URL).
    const env: Record<string, string> = { REDIS_URL: 'rediss://:p@ec2-1-2-3-4.compute-1.amazonaws.com:6380', PORT: '31337' };
    for (const [name, v] of Object.entries(app.env)) env[name] = v.generator === 'secret' ? 'f'.repeat(64) : (v.value ?? '');
    const config = loadConfig(env);
    expect(config.redis?.tlsRejectUnauthorized).toBe(false);
    expect(config.metricsToken).toHaveLength(64);
    expect(config.trustProxy).toBe(true); // Heroku's router appends X-Forwarded-For
  });
});
