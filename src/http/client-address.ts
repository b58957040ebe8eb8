import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Context } from 'hono';
import { requestHeader } from './header.js';

/**
 * The address a request comes from, for the per-address limits (auth-failure throttle, live
 * connections per address). One rule for Hono routes and for raw upgrade requests:
 *
 * - by default the socket's remote address;
 * - with `TRUST_PROXY=true`, the **last** `X-Forwarded-For` hop: the address the proxy in front
 *   (Heroku's router, a load balancer) saw connecting to it. Earlier hops are whatever the client
 *   wrote and are ignored, so a client cannot pick its own address. Without the header (a
 *   request that did not come through the proxy) or with a last hop that is not an IP, the
 *   socket's address.
 *
 * Only trust the header when every request passes through a proxy that appends to it: anyone
 * who can reach the gateway directly could otherwise claim any address.
 *
 * Addresses are keys, not for display: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 address,
 * and an IPv6 address stands for its /64 (one host usually holds a whole /64, so limiting single
 * IPv6 addresses would limit nothing).
 */

/** The client address key from a socket address and an `X-Forwarded-For` value. */
export function clientAddress(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined, trustProxy: boolean): string {
  if (trustProxy && forwardedFor !== undefined) {
    const joined = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
    const last = lastHop(joined);
    if (last !== undefined) return addressKey(last);
  }
  return remoteAddress ? addressKey(remoteAddress) : 'unknown';
}

/** The client address of a raw Node request (the WebSocket upgrade). */
export function requestAddress(req: IncomingMessage, trustProxy: boolean): string {
  return clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustProxy);
}

/**
 * The client address of a Hono request. With @hono/node-server the socket is at
 * `c.env.incoming.socket`; elsewhere (`app.request()` in tests) there is none: `unknown`.
 */
export function contextAddress(c: Context, trustProxy: boolean): string {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return clientAddress(incoming?.socket?.remoteAddress, requestHeader(c, 'x-forwarded-for'), trustProxy);
}

/** The last hop of an `X-Forwarded-For` list as a bare IP, or undefined when it is not one. */
function lastHop(header: string): string | undefined {
  const parts = header.split(',');
  for (let i = parts.length - 1; i >= 0; i--) {
    const hop = parts[i]!.trim();
    if (hop === '') continue; // a trailing comma
    return bareIp(hop);
  }
  return undefined;
}

/** `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443` or `2001:db8::1` → the IP; else undefined. */
function bareIp(hop: string): string | undefined {
  if (isIP(hop)) return hop;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed && isIP(bracketed[1]!) === 6) return bracketed[1];
  const withPort = /^([\d.]+):\d+$/.exec(hop);
  if (withPort && isIP(withPort[1]!) === 4) return withPort[1];
  return undefined;
}

/** The key of an IP: IPv4 as is (also when IPv4-mapped), IPv6 as its /64 prefix. */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIP(ip) !== 6) return ip;
  return `${expandIpv6(ip).slice(0, 4).join(':')}::/64`;
}

/** The eight hextets of an IPv6 address (no leading zeros, lower case); zone ids dropped. */
function expandIpv6(ip: string): string[] {
  let addr = ip.split('%')[0]!.toLowerCase();
  // An embedded IPv4 tail (::ffff:0:1.2.3.4, 64:ff9b::1.2.3.4) as two hextets.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    addr = `${addr.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((h) => parseInt(h, 16).toString(16));
}
