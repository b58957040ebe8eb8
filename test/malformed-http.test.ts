import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayProcess, type GatewayProcess } from './support/process.js';

/**
 * Bytes Node's HTTP parser gives up on get the house's JSON error (src/http/client-error.ts),
 * after the answer a request before them on the connection is owed. The seed's Logplex input
 * curl (seed 002, "Transport") declares Content-Length 130 and sends 163 bytes.
 */
const ADMIN = 'admin-token-for-malformed-http-tests';

/** Writes `bytes` on a fresh connection and reads until the gateway closes it. */
function exchange(gw: GatewayProcess, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(gw.port, '127.0.0.1', () => socket.write(bytes));
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (out += c));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no close; got ${out}`)));
  });
}

/** The responses in `raw`: status and parsed JSON body each. */
function responses(raw: string): { status: number; body: { error: string; message: string } }[] {
  const out = [];
  let rest = raw;
  while (rest.startsWith('HTTP/1.1 ')) {
    const head = rest.slice(0, rest.indexOf('\r\n\r\n'));
    const len = Number(/content-length: (\d+)/i.exec(head)![1]);
    const start = head.length + 4;
    out.push({ status: Number(head.slice(9, 12)), body: JSON.parse(rest.slice(start, start + len)) });
    rest = rest.slice(start + len);
  }
  return out;
}

describe('malformed HTTP', () => {
  let gw: GatewayProcess;
  let ingest: string;
  beforeAll(async () => {
    gw = await startGatewayProcess({ ADMIN_TOKEN: ADMIN, HOST: '127.0.0.1' });
    const res = await request(`${gw.url}/api/apps`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'addon' }) });
    ingest = ((await res.body.json()) as { ingest_token: string }).ingest_token;
  }, 30_000);
  afterAll(async () => gw?.stop());

  it('answers the seed curl: first its request, then a JSON 400 for the bytes past Content-Length', async () => {
    const body =
      '62 <190>1 2013-03-27T20:02:24+00:00 hostname t.01234567-89ab-cdef-0123-456789abcdef procid - - foo62 <190>1 2013-03-27T20:02:24+00:00 hostname t.123 procid - - bar';
    expect(Buffer.byteLength(body)).toBeGreaterThan(130);
    const head =
      `POST /logs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic ${Buffer.from(`token:${ingest}`).toString('base64')}\r\n` +
      `User-Agent: MyAddonName (https://addons.heroku.com/my-addon-name; Ruby/2.1.2)\r\nContent-Type: application/logplex-1\r\nContent-Length: 130\r\n\r\n`;
    const got = responses(await exchange(gw, head + body));
    // The 130 bytes end inside the first frame's successor: Logplex semantics refuse the batch.
    expect(got.map((r) => [r.status, r.body.error])).toEqual([
      [400, 'malformed_log_messages'],
      [400, 'bad_request'],
    ]);
    expect(got[1]!.body.message).toMatch(/^malformed HTTP request \(HPE_/);
  });

  it('answers a request line that is not HTTP with a JSON 400, and headers over the limit with 431', async () => {
    expect(responses(await exchange(gw, 'HELLO THERE\r\n\r\n'))).toEqual([{ status: 400, body: { error: 'bad_request', message: expect.stringMatching(/^malformed HTTP request/) } }]);
    const huge = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    expect(responses(await exchange(gw, huge)).map((r) => [r.status, r.body.error])).toEqual([[431, 'headers_too_large']]);
  });
});
