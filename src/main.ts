import { existsSync } from 'node:fs';
import { loadAppsConfig, seedRegistry } from './apps/config-file.js';
import type { AppRegistry } from './apps/types.js';
import { loadConfig, resolveBindHost, type Config } from './config.js';
import { createBackend } from './backend.js';
import { startGateway } from './gateway.js';
import { anonymousIngestAllowed, localDemoMode } from './ingest/ws-logs.js';
import { createLogger } from './log.js';
import { startFileIngest } from './ingest/files/index.js';
import { onCommandLine, REGEX_NODE_FLAGS } from './query/regex-flags.js';
import { USER_REGEX_ENGINE } from './query/user-regex.js';
import { installShutdown } from './shutdown.js';

/** Process entry: config → store → apps → HTTP app → serve; SIGTERM/SIGINT drain and exit (src/shutdown.ts). */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const missingFlags = REGEX_NODE_FLAGS.filter((f) => !onCommandLine(f));
  if (missingFlags.length > 0 || USER_REGEX_ENGINE !== 'backtracking') {
    // User regexes (live tails, history) run on the ordinary engine only when node started with
    // the fallback flag; else on the linear-time engine alone (slower), switched on at load,
    // and refused with invalid_regex if even that fails (src/query/user-regex.ts).
    const regexFilters = { backtracking: 'fast engine, linear-time fallback', linear: 'linear-time engine only (slower)' };
    logger.warn(
      { flags: missingFlags, regex_filters: USER_REGEX_ENGINE ? regexFilters[USER_REGEX_ENGINE] : 'refused: no linear-time engine' },
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

  // The file input (`file_watchers`), on processes that ingest; stopped in the shutdown flush.
  const watchers = fileConfig?.file_watchers ?? [];
  const files = watchers.length > 0 && config.roles.ingest ? startFileIngest({ config, backend, watchers, logger }) : undefined;

  const host = resolveBindHost(config, hasConfigFile);
  const anonymousIngest = anonymousIngestAllowed(config, hasConfigFile, host);
  // Anonymous producers create the apps they name; in the local demo mode a read token (the
  // banner's) then reads every app, so the dashboard's picker shows them. Never outside it.
  const demoReadsAll = anonymousIngest && localDemoMode(config, hasConfigFile, host);
  const gateway = startGateway({
    config,
    backend,
    logger,
    host,
    port: config.port,
    anonymousIngest,
    demo: demoReadsAll,
    onListening: (port) => {
      logger.info({ port, host, store: store.kind }, 'listening');
      // Loopback for lack of credentials (no HOST chosen): say how to listen on all interfaces.
      void printBanner(config, apps, host, port, createDemo, !config.host && host === '127.0.0.1', anonymousIngest, demoReadsAll);
    },
  });

  // Installed before the server sees a request, so requests begun before a signal are known.
  const shutdown = installShutdown({
    server: gateway.server,
    logger,
    graceMs: config.shutdownGraceMs,
    closeLive: () => {
      gateway.ws?.close();
      void gateway.wsIngest?.close();
      gateway.hub?.close();
      gateway.syslog?.stopAccepting();
    },
    liveWrites: () => gateway.wsIngest?.close() ?? Promise.resolve(),
    // Syslog connections stop being read; the batches they hold are stored before the store closes.
    flush: async () => {
      await gateway.syslog?.close();
      // Watched files: what was read is stored and its offsets saved before the store closes.
      await files?.stop();
      await backend.close();
    },
    liveCounts: () => ({
      websockets: gateway.ws?.connections() ?? 0,
      subscribers: gateway.hub?.size ?? 0,
      producers: gateway.wsIngest?.connections() ?? 0,
    }),
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
  anonymousIngest: boolean,
  demoReadsAll: boolean,
): Promise<void> {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const base = config.publicUrl ?? `http://${shown}:${port}`;
  const lines = [
    '',
    `  Sluice is listening on ${host}:${port}${loopbackForLackOfCredentials ? ' (loopback only: set ADMIN_TOKEN or a config file to listen on all interfaces)' : ''}`,
  ];
  const wsBase = base.replace(/^http/, 'ws');
  if (config.roles.ingest) {
    lines.push(
      `  WebSocket ingest: ${wsBase}/logs  ` +
        (anonymousIngest
          ? `producers without an api_key are accepted into the app their app_id names (WS_INGEST_ANONYMOUS=${config.wsIngest.anonymous === 'on' ? 'true' : 'auto: demo mode, loopback'}; =false refuses them)`
          : `api_key (an ingest token) required (WS_INGEST_ANONYMOUS=${config.wsIngest.anonymous === 'off' ? 'false' : 'auto: not in demo mode'})`),
    );
  }
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
      `  Demo app:   demo   ingest token ${ingest}   read token ${read}${demoReadsAll ? '  (demo mode: the read token reads every app)' : ''}`,
      '',
      '  Heroku drain:',
      `    heroku drains:add '${origin.protocol}//token:${ingest}@${origin.host}/drain' --app YOUR_APP`,
      '  Drain (application/logplex-1, octet-counted RFC 5424):',
      `    curl -u token:${ingest} -H 'Content-Type: application/logplex-1' --data-binary '${Buffer.byteLength(frame)} ${frame}' ${base}/drain`,
      '  Logplex input (add-on style):',
      `    curl -u token:${ingest} -A 'MyAddon/1.0' -H 'Content-Type: application/logplex-1' --data-binary '${Buffer.byteLength(inputFrame)} ${inputFrame}' ${base}/logs`,
      '  JSON:',
      `    curl -H 'Authorization: Bearer ${ingest}' -H 'Content-Type: application/json' -d '{"level":"warn","message":"disk almost full","context":{"disk":"/dev/sda1"}}' ${base}/api/logs`,
      '  WebSocket (the seed\'s kit: {"type":"auth"} then {"type":"log"}):',
      `    node -e 'const w=new (require("ws"))("${wsBase}/logs");w.on("open",()=>{w.send(JSON.stringify({type:"auth",app_id:"demo",api_key:"${ingest}"}));w.send(JSON.stringify({type:"log",seq:1,data:{level:"INFO",message:"hello over ws"}}))});w.on("message",m=>{console.log(String(m));if(String(m).includes("ack"))w.close()})'`,
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
