export {
  DistributedLogger,
  timestampMicros,
  VERSION,
  type BatchFailedEvent,
  type BatchSentEvent,
  type DroppedEvent,
  type Level,
  type LoggerOptions,
  type LoggerState,
  type LoggerStats,
  type StateEvent,
} from './logger.js';
export { isoMicros, serializeEntry, toLevel } from './entry.js';
export { createTransport, type TransportSettings } from './transports.js';
export { HttpLogger } from './http-logger.js';
export { HttpTransport, ingestUrl, isRetryableStatus, type SendResult, type Transport } from './http.js';
export { WebSocketTransport, wsUrl, type WebSocketTransportOptions } from './ws.js';
export { backoffDelay, parseRetryAfter, BACKOFF_BASE_MS, BACKOFF_CAP_MS } from './backoff.js';
