// `npm start` runs this first: build dist/ only when it is missing or older than src/,
// so a fresh clone starts with one command and a built tree starts instantly.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir) {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

const out = 'dist/main.js';
if (!existsSync(out) || statSync(out).mtimeMs < Math.max(newest('src'), newest('clients/node/src'))) {
  console.error('sluice: building dist/ ...');
  execSync('npm run build --silent', { stdio: 'inherit' });
}
