/**
 * The ceiling: a bare `node:http` server that only reads the request body and answers 204.
 * Prints `BENCH_PORT=<port>` on stdout once listening on 127.0.0.1.
 */
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    res.statusCode = 204;
    res.setHeader('x-bytes', bytes);
    res.end();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`BENCH_PORT=${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
// Exit cleanly on SIGTERM so `--cpu-prof` (bench --profile) can write its profile.
process.on('SIGTERM', () => process.exit(0));
