/**
 * Builds the dashboard with esbuild: `client/main.ts` and `styles.css` bundled and minified into
 * content-hashed files, and `index.html` pointing at them.
 *
 * - `npm run build` runs this file (compiled: `node dist/dashboard/build.js`) and writes
 *   `dist/dashboard/public/` (index.html, assets/, manifest.json), which the gateway serves.
 * - A gateway running from the sources (tsx: tests, `npm run dev`-style runs) builds in memory
 *   on the first request instead, so the page always matches the code.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface DashboardAsset {
  body: Uint8Array;
  type: string;
}

export interface DashboardBuild {
  indexHtml: string;
  /** File name (`app-3F2A….js`) → content. */
  assets: Map<string, DashboardAsset>;
}

/** The repository root: the nearest directory above this file with a package.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('dashboard build: package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export function contentType(name: string): string {
  const ext = name.slice(name.lastIndexOf('.'));
  return TYPES[ext] ?? 'application/octet-stream';
}

/** Bundles the dashboard in memory. */
export async function buildDashboard(opts: { minify?: boolean } = {}): Promise<DashboardBuild> {
  const { build } = await import('esbuild');
  const src = join(repoRoot(), 'src', 'dashboard');
  const result = await build({
    entryPoints: { app: join(src, 'client', 'main.ts'), style: join(src, 'styles.css') },
    bundle: true,
    format: 'esm',
    target: ['chrome109', 'firefox115', 'safari16'],
    minify: opts.minify ?? true,
    sourcemap: false,
    legalComments: 'none',
    entryNames: '[name]-[hash]',
    outdir: 'out',
    write: false,
    logLevel: 'silent',
  });
  const assets = new Map<string, DashboardAsset>();
  let js = '';
  let css = '';
  for (const file of result.outputFiles) {
    const name = file.path.slice(file.path.lastIndexOf('/') + 1).replace(/^.*\\/, '');
    assets.set(name, { body: file.contents, type: contentType(name) });
    if (name.startsWith('app-') && name.endsWith('.js')) js = name;
    if (name.startsWith('style-') && name.endsWith('.css')) css = name;
  }
  if (!js || !css) throw new Error(`dashboard build: missing outputs (${[...assets.keys()].join(', ')})`);
  const template = await readFile(join(src, 'index.html'), 'utf8');
  const indexHtml = template.replace('{{js}}', js).replace('{{css}}', css);
  return { indexHtml, assets };
}

/** Writes a build to `dir` (index.html, assets/, manifest.json), replacing what was there. */
export async function writeDashboard(built: DashboardBuild, dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'assets'), { recursive: true });
  await writeFile(join(dir, 'index.html'), built.indexHtml);
  for (const [name, asset] of built.assets) await writeFile(join(dir, 'assets', name), asset.body);
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify({ assets: [...built.assets.keys()] }, null, 2)}\n`);
}

/** `node dist/dashboard/build.js [outDir]`: the `npm run build` step. */
async function cli(): Promise<void> {
  const out = process.argv[2] ?? join(repoRoot(), 'dist', 'dashboard', 'public');
  const t0 = Date.now();
  const built = await buildDashboard();
  await writeDashboard(built, out);
  const sizes = [...built.assets].map(([n, a]) => `${n} ${(a.body.length / 1024).toFixed(1)} KiB`);
  process.stderr.write(`dashboard: ${sizes.join(', ')} → ${out} (${Date.now() - t0} ms)\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli().catch((err: unknown) => {
    process.stderr.write(`dashboard build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
