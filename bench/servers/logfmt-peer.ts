/**
 * The peer over HTTP: `logfmt.bodyParser()` (npm logfmt, Heroku's library) mounted on a bare
 * `node:http` server (no Express: generous to the peer), answering 200 with the line count in
 * `x-lines`. It splits the body on LF and logfmt-parses every whole line, header included.
 * Prints `BENCH_PORT=<port>` on stdout once listening on 127.0.0.1.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { logfmt } from '../peers/logfmt.js';

const middleware = logfmt.bodyParser();

const server = createServer((req, res) => {
  // The one piece of Express the middleware calls.
  const r = req as IncomingMessage & { header(name: string): string | undefined; body?: unknown[] };
  r.header = (name) => req.headers[name.toLowerCase()] as string | undefined;
  middleware(r, res, (err) => {
    if (err !== undefined || !Array.isArray(r.body)) {
      res.statusCode = 400;
      res.end();
      return;
    }
    const body = JSON.stringify({ accepted: r.body.length });
    res.writeHead(200, { 'content-type': 'application/json', 'x-lines': String(r.body.length) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`BENCH_PORT=${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
// Exit cleanly on SIGTERM so `--cpu-prof` (bench --profile) can write its profile.
process.on('SIGTERM', () => process.exit(0));
