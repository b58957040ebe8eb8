import type { IncomingMessage } from 'node:http';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { addressKey, clientAddress, contextAddress, requestAddress } from './client-address.js';

describe('clientAddress', () => {
  it('is the socket address without TRUST_PROXY, whatever X-Forwarded-For says', () => {
    expect(clientAddress('10.1.2.3', undefined, false)).toBe('10.1.2.3');
    expect(clientAddress('10.1.2.3', '203.0.113.9', false)).toBe('10.1.2.3');
    expect(clientAddress('10.1.2.3', '1.1.1.1, 203.0.113.9', false)).toBe('10.1.2.3');
  });

  it('is the last X-Forwarded-For hop with TRUST_PROXY: what the proxy saw, not what the client wrote', () => {
    expect(clientAddress('10.1.2.3', '203.0.113.9', true)).toBe('203.0.113.9');
    // Heroku's router appends the peer it saw: the client may have sent anything before it.
    expect(clientAddress('10.1.2.3', 'forged, 1.1.1.1,203.0.113.9', true)).toBe('203.0.113.9');
    expect(clientAddress('10.1.2.3', '1.1.1.1, 203.0.113.9, ', true)).toBe('203.0.113.9');
    // Repeated headers (as a list) count as one list.
    expect(clientAddress('10.1.2.3', ['1.1.1.1', '198.51.100.4'], true)).toBe('198.51.100.4');
  });

  it('takes ports and brackets off a forwarded hop', () => {
    expect(clientAddress('10.1.2.3', '203.0.113.9:51234', true)).toBe('203.0.113.9');
    expect(clientAddress('10.1.2.3', '[2001:db8:1:2::7]:443', true)).toBe('2001:db8:1:2::/64');
  });

  it('falls back to the socket with TRUST_PROXY when the header is missing, empty or not an IP', () => {
    expect(clientAddress('10.1.2.3', undefined, true)).toBe('10.1.2.3');
    expect(clientAddress('10.1.2.3', '', true)).toBe('10.1.2.3');
    expect(clientAddress('10.1.2.3', ' , ', true)).toBe('10.1.2.3');
    expect(clientAddress('10.1.2.3', '1.1.1.1, unknown', true)).toBe('10.1.2.3');
    expect(clientAddress(undefined, undefined, true)).toBe('unknown');
  });
});

describe('addressKey', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::FFFF:192.0.2.1')).toBe('192.0.2.1');
  });

  it('keys IPv6 by its /64, however it is written', () => {
    const key = '2001:db8:0:1::/64';
    for (const ip of ['2001:db8:0:1::1', '2001:0db8:0000:0001:ffff:0:0:9', '2001:DB8:0:1:a:b:c:d', '2001:db8:0:1::1%eth0']) {
      expect(addressKey(ip)).toBe(key);
    }
    expect(addressKey('2001:db8:0:2::1')).toBe('2001:db8:0:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });
});

describe('requestAddress and contextAddress', () => {
  const req = (remoteAddress: string, xff?: string) =>
    ({ socket: { remoteAddress }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

  it('reads a raw upgrade request', () => {
    expect(requestAddress(req('::ffff:127.0.0.5', '9.9.9.9'), false)).toBe('127.0.0.5');
    expect(requestAddress(req('127.0.0.5', '8.8.8.8, 9.9.9.9'), true)).toBe('9.9.9.9');
  });

  it('reads a Hono request on @hono/node-server (c.env.incoming), and says unknown without one', async () => {
    const app = new Hono();
    app.get('/', (c) => c.text(contextAddress(c, c.req.query('trust') === '1')));
    // As on @hono/node-server: the Request's headers are the IncomingMessage's.
    const env = { incoming: req('127.0.0.6', '1.1.1.1, 9.9.9.9') };
    const headers = { 'X-Forwarded-For': '1.1.1.1, 9.9.9.9' };
    expect(await (await app.request('/', { headers }, env)).text()).toBe('127.0.0.6');
    expect(await (await app.request('/?trust=1', { headers }, env)).text()).toBe('9.9.9.9');
    expect(await (await app.request('/')).text()).toBe('unknown');
  });
});
