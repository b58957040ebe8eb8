import { existsSync } from 'node:fs';
import { loadAppsConfig, seedRegistry } from './apps/config-file.js';
import type { AppRegistry } from './apps/types.js';
import { loadConfig, resolveBindHost, type Config } from './config.js';
import { createBackend } from './backend.js';
import { startGateway } from './gateway.js';
import { createLogger } from './log.js';
import { LINEAR_REGEX_AVAILABLE, LINEAR_REGEX_FLAG } from './query/user-regex.js';
import { installShutdown } from './shutdown.js';

/** The V8 flag that turns excessive regex backtracking into a linear-time match (see README). */
const REGEX_FALLBACK_FLAG = '--enable-experimental-regexp-engine-on-excessive-backtracks';

/** Process entry: config → store → apps → HTTP app → serve; SIGTERM/SIGINT drain and exit (src/shutdown.ts). */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const missingFlags = [LINEAR_REGEX_FLAG, REGEX_FALLBACK_FLAG].filter((f) => !process.execArgv.includes(f));
  if (missingFlags.length > 0 || !LINEAR_REGEX_AVAILABLE) {
    // User regexes (live tails, history) run on V8's linear-time engine: switched on at load when
    // its flag is missing, and refused with invalid_regex if even that fails. Any other regex
    // relies on the fallback flag against catastrophic backtracking.
    logger.warn(
      { flags: missingFlags, regex_filters: LINEAR_REGEX_AVAILABLE ? 'linear-time' : 'refused: no linear-time engine' },
      'node runs without the regex guard flags; npm start, the Procfile and the Dockerfile pass them',
    );
  }
  const hasConfigFile = existsSync(config.configPath);
  const backend = await createBackend(config, logger);
  const { store, apps } = backend;
  const fileConfig = hasConfigFile ? await loadAppsConfig(config.configPath) : null;
  const createDemo = config.createDemoApp ?? (!config.adminToken && !fileConfig);
  // Seeding needs the store (Redis may still be away): retried until it succeeds, never fatal.
  const seed = async (): Promise<void> => {
    try {
      if (fileConfig) await seedRegistry(apps, fileConfig);
      if (createDemo && !(await apps.get('demo'))) {
        await apps.create('demo').catch((err: { code?: string }) => {
          if (err.code !== 'app_exists') throw err; // another process created it first
        });
      }
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not seed apps yet; retrying in 2 s');
      await new Promise((r) => setTimeout(r, 2000));
      return seed();
    }
  };
  // Serve even while Redis is away (health says degraded, ingest answers 503); seeding goes on.
  await Promise.race([seed(), new Promise((r) => setTimeout(r, (config.redis?.connectWaitMs ?? 0) + 1000).unref())]);

  const host = resolveBindHost(config, hasConfigFile);
  const gateway = startGateway({
    config,
    backend,
    logger,
    host,
    port: config.port,
    onListening: (port) => {
      logger.info({ port, host, store: store.kind }, 'listening');
      // Loopback for lack of credentials (no HOST chosen): say how to listen on all interfaces.
      void printBanner(config, apps, host, port, createDemo, !config.host && host === '127.0.0.1');
    },
  });

  // Installed before the server sees a request, so requests begun before a signal are known.
  const shutdown = installShutdown({
    server: gateway.server,
    logger,
    graceMs: config.shutdownGraceMs,
    closeLive: () => {
      gateway.ws?.close();
      gateway.hub?.close();
    },
    flush: () => backend.close(),
    liveCounts: () => ({ websockets: gateway.ws?.connections() ?? 0, subscribers: gateway.hub?.size ?? 0 }),
  });
  process.on('SIGTERM', () => shutdown.signal('SIGTERM'));
  process.on('SIGINT', () => shutdown.signal('SIGINT'));
}

/** The start banner on stderr, for the operator: where the dashboard is and ready curl lines. */
async function printBanner(
  config: Config,
  apps: AppRegistry,
  host: string,
  port: number,
  demo: boolean,
  loopbackForLackOfCredentials: boolean,
): Promise<void> {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const base = config.publicUrl ?? `http://${shown}:${port}`;
  const lines = [
    '',
    `  Sluice is listening on ${host}:${port}${loopbackForLackOfCredentials ? ' (loopback only: set ADMIN_TOKEN or a config file to listen on all interfaces)' : ''}`,
  ];
  const app = demo ? await apps.get('demo').catch(() => null) : null;
  // The demo's read token in the fragment signs the browser in (fragments never reach servers).
  lines.push(`  Dashboard:  ${base}/${app ? `#token=${app.readTokens[0]}` : ''}`);
  if (app) {
    const ingest = app.ingestTokens[0]!;
    const read = app.readTokens[0]!;
    const origin = new URL(base);
    // Drains carry no STRUCTURED-DATA; Logplex input (add-ons) carries it (`-` here).
    const frame = '<134>1 2025-01-15T14:22:00.123456+00:00 host app web.1 - level=info msg="hello from curl" measure#latency=12ms';
    const inputFrame = '<190>1 2025-01-15T14:22:00.123456+00:00 my-addon my-addon worker.1 - - count#jobs.done=1 msg="from an add-on"';
    lines.push(
      `  Demo app:   demo   ingest token ${ingest}   read token ${read}`,
      '',
      '  Heroku drain:',
      `    heroku drains:add '${origin.protocol}//token:${ingest}@${origin.host}/drain' --app YOUR_APP`,
      '  Drain (application/logplex-1, octet-counted RFC 5424):',
      `    curl -u token:${ingest} -H 'Content-Type: application/logplex-1' --data-binary '${Buffer.byteLength(frame)} ${frame}' ${base}/drain`,
      '  Logplex input (add-on style):',
      `    curl -u token:${ingest} -A 'MyAddon/1.0' -H 'Content-Type: application/logplex-1' --data-binary '${Buffer.byteLength(inputFrame)} ${inputFrame}' ${base}/logs`,
      '  JSON:',
      `    curl -H 'Authorization: Bearer ${ingest}' -H 'Content-Type: application/json' -d '{"level":"warn","message":"disk almost full","context":{"disk":"/dev/sda1"}}' ${base}/api/logs`,
      '  Read history:',
      `    curl '${base}/api/logs?token=${read}&limit=10'`,
      ...(config.roles.fanout
        ? [
            '  Tail live (SSE; WebSocket at /ws):',
            `    curl -N '${base}/api/logs/stream?token=${read}&history=20'`,
            `    SLUICE_URL=${base} SLUICE_TOKEN=${read} node dist/cli/main.js tail --app demo`,
          ]
        : []),
      '',
    );
  }
  process.stderr.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`sluice: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
