import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveApp, writeAppsConfig } from './support/live.js';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';

/**
 * What each language's standard HTTP client sends by default must be served (issue 13): Java's
 * HttpClient on http:// and `curl --http2` offer `Upgrade: h2c`, which the gateway declines by
 * answering the request as plain HTTP/1.1 (RFC 9113 §3.1), rather than 404 from the WebSocket
 * upgrade router.
 */

const APP = liveApp('h2c');
const CONFIG = writeAppsConfig([APP]);
const run = promisify(execFile);
let gw: GatewayProcess;

beforeAll(async () => {
  gw = await startGatewayProcess({ HOST: '127.0.0.1', LOG_LEVEL: 'info', SLUICE_CONFIG: CONFIG });
});
afterAll(async () => {
  await gw?.stop();
});

/** Writes `request` on one raw connection and collects everything answered until `until` matches. */
function exchange(port: number, request: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer: ${JSON.stringify(got)}`));
    }, 5000);
    socket.on('data', (d) => {
      got += d.toString('latin1');
      if (until.test(got)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(got);
      }
    });
    socket.on('error', reject);
    socket.write(request);
  });
}

async function messages(): Promise<string[]> {
  const res = await fetch(`${gw.url}/api/logs?limit=100`, { headers: { Authorization: `Bearer ${APP.read}` } });
  return ((await res.json()) as { entries: { message: string }[] }).entries.map((e) => e.message);
}

describe('an Upgrade: h2c offer', () => {
  it('curl --http2 posting to /api/logs is answered over HTTP/1.1 and the entry is stored', async () => {
    const { stdout } = await run('curl', [
      '-s', '--http2', '-o', '/dev/null', '-w', '%{http_code} %{http_version}',
      '-H', `Authorization: Bearer ${APP.ingest}`, '-H', 'Content-Type: application/json',
      '-d', '{"message":"via curl h2c","level":"info"}', `${gw.url}/api/logs`,
    ]);
    expect(stdout).toBe('201 1.1');
    expect(await messages()).toContain('via curl h2c');
  });

  it("Java HttpClient's request (Connection: Upgrade, HTTP2-Settings) keeps the connection for the next request", async () => {
    const body = '{"message":"via java h2c"}';
    const first =
      `POST /api/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n` +
      `HTTP2-Settings: AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA\r\nAuthorization: Bearer ${APP.ingest}\r\n` +
      `Content-Type: application/json\r\nUser-Agent: Java-http-client/17.0.15\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const second = `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    const answer = await exchange(gw.port, first + second, /HTTP\/1\.1 201[\s\S]*HTTP\/1\.1 200 [\s\S]*\r\n\r\n\{[\s\S]*\}$/);
    expect(answer).not.toMatch(/101 Switching|404/);
    expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 201', 'HTTP/1.1 200']);
    expect(await messages()).toContain('via java h2c');
  });

  it('a WebSocket upgrade of a path with no endpoint is still 404', async () => {
    const answer = await exchange(
      gw.port,
      'GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      /\r\n\r\n/,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 404/);
  });
});
