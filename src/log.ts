import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * The gateway's own logs: JSON lines on stdout (or `destination`, for tests), never one per
 * ingested line (a drain pointed at the gateway's own app would feed itself). Anything that
 * could carry a token is redacted: `Authorization`, and `Sec-WebSocket-Protocol`, where browsers
 * put theirs (`sluice.token.<token>`) when they open the live WebSocket.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'sluice' },
    redact: {
      paths: [
        'token',
        '*.token',
        'authorization',
        '*.authorization',
        'headers.authorization',
        'req.headers.authorization',
        'headers["sec-websocket-protocol"]',
        'req.headers["sec-websocket-protocol"]',
        'adminToken',
        '*.adminToken',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
