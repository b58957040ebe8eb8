/**
 * Vitest global setup: compiles clients/node to its dist/ when dist/ is missing or older than
 * src/. Tests reach the library the way apps do (`@sluice/client`, `@sluice/client/pino`, the
 * `sluice send` CLI), and pino loads its transport target in a worker thread by package name,
 * which only plain JavaScript can answer.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = join(root, 'clients/node');

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

export default function setup(): void {
  const marker = join(pkg, 'dist/index.js');
  const stale = !existsSync(marker) || statSync(marker).mtimeMs < Math.max(newest(join(pkg, 'src')), statSync(join(pkg, 'package.json')).mtimeMs);
  if (!stale) return;
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(pkg, 'tsconfig.json')], { stdio: 'inherit' });
}
