import type { Context } from 'hono';
import type { GatewayDeps } from './deps.js';

/**
 * The page at `/` until the live dashboard lands: what this gateway is and how to reach it.
 * It shows no tokens (the start banner prints those to the operator's terminal only).
 */
export function homePage(c: Context, deps: GatewayDeps): string {
  const origin = new URL(c.req.url).origin;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sluice</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}
code,pre{font:13px ui-monospace,monospace;background:#8882;padding:.1rem .3rem;border-radius:4px}
pre{padding:.6rem;overflow-x:auto}@media(prefers-color-scheme:dark){body{background:#111;color:#ddd}}</style></head>
<body><h1>Sluice</h1>
<p>Log drain and ingest gateway. Store: <b>${deps.store.kind}</b>.</p>
<h2>Send logs</h2>
<pre>heroku drains:add '${origin}/drain' --app YOUR_APP   # with token:TOKEN@ in the URL
curl -X POST '${origin}/api/logs' -H 'Authorization: Bearer TOKEN' \\
  -H 'Content-Type: application/json' -d '{"level":"info","message":"hello"}'</pre>
<h2>Read logs</h2>
<pre>curl '${origin}/api/logs?token=READ_TOKEN&amp;limit=20'</pre>
<p>Routes and status codes: <code>protocol/README.md</code> in the repository. Health: <a href="/health">/health</a>.</p>
</body></html>`;
}
