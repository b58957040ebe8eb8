import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/**
 * How long, once every request is answered and the backend flushed, connections still open
 * (WebSocket peers that have not acknowledged the 1001 close, a keep-alive socket caught
 * between sweeps) get before they are destroyed.
 */
const LINGER_MS = 1000;

/** How often idle keep-alive connections are closed while draining (they become idle as answers finish). */
const SWEEP_MS = 100;

/**
 * A second signal this soon after the first is the same one delivered twice, not an operator
 * insisting: a terminal's Ctrl-C reaches both `npm start` and the gateway, and npm forwards it.
 */
const DUPLICATE_SIGNAL_MS = 1000;

/** Options of {@link installShutdown}. */
export interface ShutdownOptions {
  server: Server;
  logger: Logger;
  /** The most the drain may take (`SHUTDOWN_GRACE_MS`); past it the process exits with 1. */
  graceMs: number;
  /** Ends the live connections: WebSockets closed with 1001 "going away", SSE and session streams ended. */
  closeLive: () => void;
  /** Flushes what is buffered and closes the backend (rate-limiter sync, Redis connections). */
  flush: () => Promise<void>;
  /**
   * Writes of live producers (WebSocket ingest) still in flight, awaited with the HTTP requests
   * in flight so that the backend is only flushed once they are stored and acknowledged.
   */
  liveWrites?: () => Promise<void>;
  /** Live connections and subscribers now, for the log. */
  liveCounts?: () => Record<string, number>;
  /** Ends the process (tests inject it); default `process.exit`. */
  exit?: (code: number) => void;
}

/** The drain of one process, installed on its server at start. */
export interface Shutdown {
  /** True once a drain has begun. */
  readonly draining: boolean;
  /**
   * A termination signal: the first begins the drain, a second one (1 s or more later: sooner is
   * the same signal delivered twice) exits at once with code 1.
   */
  signal(name: string): void;
  /** Begins the drain (once); resolves when it is over, just before `exit` is called. */
  begin(reason: string): Promise<void>;
}

/** What the log says about a request in flight: never its query string or headers (tokens). */
interface InFlight {
  req: IncomingMessage;
  started: number;
}

/** The path without its query; a session URL is a capability, so its id is left out. */
function safePath(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!;
  return path.startsWith('/sessions/') ? '/sessions/:id' : path.slice(0, 200);
}

/**
 * Graceful shutdown of the HTTP gateway, in this order:
 *
 * 1. stop accepting: the listening socket closes (`server.close()`), new connections are refused;
 *    idle keep-alive connections are closed at once, and again every 100 ms as answers finish;
 *    every answer from now on carries `Connection: close`, so keep-alive clients go elsewhere;
 * 2. end the live connections: WebSockets are closed with 1001 "going away" (clients resume
 *    elsewhere with `since_id`), SSE and Logplex session responses end (`EventSource`
 *    reconnects with `Last-Event-ID`);
 * 3. wait for the requests in flight, uploads still sending their body included: each is read,
 *    stored and answered as usual (a 2xx still means stored);
 * 4. flush what is buffered and close the backend (`Backend.close()`: rate-limiter sync, Redis);
 * 5. give connections still open up to 1 s to close (WebSocket close handshakes), destroy the
 *    rest, and exit 0.
 *
 * If `graceMs` runs out first, the requests cut are logged (method, path, age, whether the body
 * was still arriving) and the process exits with 1; a second signal (1 s or more after the first)
 * does the same at once. Each phase is logged; no token is (paths only, no query strings or
 * headers, and a session's id left out).
 *
 * Install it right after the server is created, so that requests begun before the signal are
 * known (a `request` listener placed before the app's own).
 *
 * @example
 * const shutdown = installShutdown({ server, logger, graceMs: 25_000, closeLive, flush: () => backend.close() });
 * process.on('SIGTERM', () => shutdown.signal('SIGTERM'));
 */
export function installShutdown(opts: ShutdownOptions): Shutdown {
  const { server, logger, graceMs } = opts;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const inFlight = new Map<ServerResponse, InFlight>();
  const sockets = new Set<Socket>();
  let draining = false;
  let exited = false;
  let onIdle: (() => void) | undefined;
  let firstSignalAt = 0;

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Before the app's listener: the header is set before the app writes its answer.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (draining) res.setHeader('Connection', 'close');
    inFlight.set(res, { req, started: Date.now() });
    res.once('close', () => {
      inFlight.delete(res);
      if (inFlight.size === 0) onIdle?.();
    });
  });

  const describe = () =>
    [...inFlight.values()].map(({ req, started }) => ({
      method: req.method,
      path: safePath(req.url),
      ms: Date.now() - started,
      receiving: !req.complete,
    }));

  const finish = (code: number) => {
    if (exited) return;
    exited = true;
    exit(code);
  };

  const cut = (why: string) => {
    if (exited) return;
    logger.warn({ cut: describe(), openConnections: sockets.size, graceMs }, `shutdown: ${why}; exiting with requests cut`);
    finish(1);
  };

  let drain: Promise<void> | undefined;
  const begin = (reason: string): Promise<void> =>
    (drain ??= (async () => {
      const t0 = Date.now();
      draining = true;
      const deadline = setTimeout(() => cut(`grace period of ${graceMs} ms over`), graceMs);

      // 1. Stop accepting; keep-alive clients are told to go, idle connections closed.
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      logger.info({ reason, graceMs, inFlight: inFlight.size, connections: sockets.size }, 'shutdown: stopped accepting connections');
      for (const res of inFlight.keys()) if (!res.headersSent) res.setHeader('Connection', 'close');
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), SWEEP_MS);

      // 2. Live connections: WebSockets 1001, SSE and sessions end.
      logger.info(opts.liveCounts?.() ?? {}, 'shutdown: closing live connections (WebSocket 1001, streams end)');
      opts.closeLive();
      await new Promise((r) => setImmediate(r)); // ended streams leave the in-flight list

      // 3. Requests in flight are read, stored and answered.
      if (inFlight.size > 0) {
        logger.info({ inFlight: describe() }, 'shutdown: waiting for requests in flight');
        await new Promise<void>((resolve) => {
          onIdle = resolve;
          if (inFlight.size === 0) resolve();
        });
      }
      onIdle = undefined;
      await opts.liveWrites?.();
      logger.info({ ms: Date.now() - t0 }, 'shutdown: requests answered; flushing the backend');

      // 4. Flush (rate-limiter sync, Redis).
      let code = 0;
      try {
        await opts.flush();
      } catch (err) {
        code = 1;
        logger.error({ err: (err as Error).message }, 'shutdown: flushing the backend failed');
      }

      // 5. Connections still open get a moment, then go.
      await Promise.race([serverClosed, new Promise((r) => setTimeout(r, LINGER_MS).unref())]);
      clearInterval(sweep);
      if (sockets.size > 0) {
        logger.info({ connections: sockets.size }, 'shutdown: destroying connections still open');
        for (const socket of sockets) socket.destroy();
      }
      clearTimeout(deadline);
      if (exited) return;
      logger.info({ ms: Date.now() - t0, code }, 'shutdown: done');
      finish(code);
    })());

  return {
    get draining() {
      return draining;
    },
    begin,
    signal(name: string) {
      if (!draining) {
        firstSignalAt = Date.now();
        void begin(name);
        return;
      }
      if (Date.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) {
        logger.info({ signal: name }, 'shutdown: already draining (a second signal 1 s or more later exits at once)');
        return;
      }
      cut(`second ${name}`);
    },
  };
}
