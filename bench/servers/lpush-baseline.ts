/**
 * The cost floor of "store it raw" (issue 15), modelled on heroku/log-boom: a bare `node:http`
 * server that reads a drain body, splits its octet-counted frames (`LEN SP MSG`, checking each
 * LEN lands inside the body, as any drain receiver must to count the lines), `LPUSH`es the raw
 * body to one Redis list and answers 204 once Redis confirmed it. No auth, no parsing, no dedupe,
 * no trimming: what is left when a receiver does nothing but keep the bytes.
 *
 * Usage: lpush-baseline.ts <redis url> <key prefix>. Prints `BENCH_PORT=<port>` once listening.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';

const [url, prefix] = process.argv.slice(2);
if (!url || !prefix) throw new Error('usage: lpush-baseline.ts <redis url> <key prefix>');
const redis = new Redis(url, { enableAutoPipelining: true });
const key = `${prefix}:lpush:drain`;

/** Frames in `body`, or -1 when a LEN does not fit: the split log-boom's scanner does. */
function countFrames(body: Buffer): number {
  let p = 0;
  let n = 0;
  while (p < body.length) {
    let len = 0;
    let q = p;
    while (q < body.length && body[q]! >= 0x30 && body[q]! <= 0x39) len = len * 10 + body[q++]! - 0x30;
    if (q === p || body[q] !== 0x20 || q + 1 + len > body.length) return -1;
    p = q + 1 + len;
    n++;
  }
  return n;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const n = countFrames(body);
    if (n < 0) {
      res.statusCode = 400;
      res.end();
      return;
    }
    redis.lpush(key, body).then(
      () => {
        res.statusCode = 204;
        res.setHeader('x-lines', n);
        res.end();
      },
      () => {
        res.statusCode = 503;
        res.end();
      },
    );
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`BENCH_PORT=${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
// Exit cleanly on SIGTERM so `--cpu-prof` (bench --profile) can write its profile.
process.on('SIGTERM', () => {
  redis.disconnect();
  process.exit(0);
});
