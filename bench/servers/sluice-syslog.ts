/**
 * The gateway as `npm start` builds it (memory store, default roles), with the syslog TCP
 * listener on a free port bound to the app `bench` (`SYSLOG_TCP_APP`), for the syslog
 * benchmark (bench/syslog.ts). Rate limiting is off; the ingest token is argv[2].
 * Prints `BENCH_PORT=<http port>` once both the HTTP server and the syslog listener listen,
 * after `SYSLOG_PORT=<port>`.
 */
import { generateReadToken } from '../../src/apps/tokens.js';
import { createBackend } from '../../src/backend.js';
import { loadConfig } from '../../src/config.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';

const token = process.argv[2];
if (!token) throw new Error('usage: sluice-syslog.ts <ingest token>');

const config = loadConfig({
  RATE_LIMIT_LINES_PER_SEC: '0',
  LOG_LEVEL: 'warn',
  HOST: '127.0.0.1',
  PORT: '0',
  SYSLOG_TCP_PORT: '0',
  SYSLOG_TCP_APP: 'bench',
});
const logger = createLogger(config.logLevel);
const backend = await createBackend(config, logger);
await backend.apps.upsert({ id: 'bench', ingestTokens: [token], readTokens: [generateReadToken()] });
const gateway = startGateway({
  config,
  backend,
  logger,
  host: '127.0.0.1',
  port: 0,
  onListening: (port) => {
    void gateway.syslog!.listening.then((ports) => {
      process.stdout.write(`SYSLOG_PORT=${ports.tcp}\nBENCH_PORT=${port}\n`);
    });
  },
});
process.on('SIGTERM', () => process.exit(0));
