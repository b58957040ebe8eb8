import pino, { type Logger } from 'pino';

/**
 * The gateway's own logs: JSON lines on stdout, never one per ingested line (a drain pointed at
 * the gateway's own app would feed itself). Anything that could carry a token is redacted.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'sluice' },
    redact: {
      paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', 'adminToken', '*.adminToken'],
      censor: '[redacted]',
    },
  });
}
