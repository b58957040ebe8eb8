import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import type { GatewayDeps } from '../deps.js';
import { GatewayError } from '../errors.js';
import { buildDashboard, contentType, type DashboardAsset, type DashboardBuild } from './build.js';

/**
 * `GET /` (the dashboard page) and `GET /assets/<name>` (its hashed script and style sheet).
 *
 * The built files come from `dist/dashboard/public/` (written by `npm run build`); a gateway
 * running from the sources builds them in memory on the first request. Assets are immutable
 * (their names carry a content hash); the page is `no-cache`, so a deploy is picked up at once.
 * Nothing is fetched from anywhere but the gateway (CSP `default-src 'self'`). The token never
 * reaches the server in a URL: it comes in the fragment (`#token=`), which browsers do not send.
 */
export function dashboardRoutes(deps: GatewayDeps): Hono {
  const app = new Hono();
  let loading: Promise<DashboardBuild> | undefined;
  const load = () => {
    loading ??= loadDashboard().catch((err: unknown) => {
      loading = undefined; // try again on the next request
      deps.logger.error({ err }, 'dashboard assets unavailable');
      throw new GatewayError('internal', 500, 'dashboard assets unavailable (run npm run build)');
    });
    return loading;
  };

  app.get('/', async (c) => {
    const built = await load();
    return c.body(built.indexHtml, 200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-cache',
      'Content-Security-Policy': CSP,
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
    });
  });

  app.get('/assets/:name', async (c) => {
    const built = await load();
    const asset = built.assets.get(c.req.param('name'));
    if (!asset) throw new GatewayError('not_found', 404, `no asset ${c.req.param('name')}`);
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': asset.type,
      'Cache-Control': 'public, max-age=31536000, immutable',
      'X-Content-Type-Options': 'nosniff',
    });
  });
  return app;
}

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The build next to this module (dist/dashboard/public), else an in-memory build (sources). */
async function loadDashboard(): Promise<DashboardBuild> {
  const dir = fileURLToPath(new URL('./public/', import.meta.url));
  if (existsSync(join(dir, 'index.html'))) {
    const assets = new Map<string, DashboardAsset>();
    for (const name of await readdir(join(dir, 'assets'))) {
      assets.set(name, { body: await readFile(join(dir, 'assets', name)), type: contentType(name) });
    }
    return { indexHtml: await readFile(join(dir, 'index.html'), 'utf8'), assets };
  }
  return buildDashboard(); // esbuild is loaded only here (a devDependency)
}
