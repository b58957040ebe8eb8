import { Hono } from 'hono';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryAppRegistry } from '../apps/memory-registry.js';
import type { AppRegistry, TokenGrant } from '../apps/types.js';
import { GatewayError } from '../errors.js';
import { createAuthThrottle } from '../limits/auth-throttle.js';
import { requireGrant, resolveThrottled } from './auth.js';

const ADMIN = 'admin-token-for-auth-tests-0123';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** A registry whose lookups are counted, and whose cache is what `known` holds (as a Redis registry's would be). */
async function setup(perMinute = 3) {
  const inner = createMemoryAppRegistry({ adminToken: ADMIN });
  const app = await inner.create('billing');
  const known = new Map<string, TokenGrant | null>();
  const lookups: string[] = [];
  const apps: AppRegistry = {
    ...inner,
    resolve: async (token) => {
      lookups.push(token);
      const grant = await inner.resolve(token);
      known.set(token, grant);
      return grant;
    },
    resolveCached: (token) => known.get(token),
  };
  const c = clock();
  const deps = { apps, config: { trustProxy: false }, authThrottle: createAuthThrottle({ perMinute, now: c.now }) };
  return { deps, app, lookups, known, clock: c };
}

const wrong = (i: number) => `t.wrong-token-${i}-0123456789`;

describe('resolveThrottled', () => {
  it('looks unknown tokens up until the address is over, then answers 429 without a lookup', async () => {
    const { deps, lookups } = await setup(3);
    for (let i = 0; i < 3; i++) await expect(resolveThrottled(deps, () => 'a', wrong(i))).resolves.toBeNull();
    expect(lookups).toHaveLength(3);
    const err = await resolveThrottled(deps, () => 'a', wrong(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'too_many_auth_failures', status: 429, headers: { 'Retry-After': '20' } });
    expect(lookups).toHaveLength(3);
    // Another address still gets its lookups.
    await expect(resolveThrottled(deps, () => 'b', wrong(4))).resolves.toBeNull();
    expect(lookups).toHaveLength(4);
  });

  it('lets a token known valid in this process through from an address that is over, and not an unseen one', async () => {
    const { deps, app } = await setup(3);
    const [ingest] = app.ingestTokens;
    const [read] = app.readTokens;
    await expect(resolveThrottled(deps, () => 'a', ingest)).resolves.toEqual({ kind: 'ingest', appId: 'billing' });
    for (let i = 0; i < 3; i++) await resolveThrottled(deps, () => 'a', wrong(i));
    await expect(resolveThrottled(deps, () => 'a', ingest)).resolves.toEqual({ kind: 'ingest', appId: 'billing' });
    await expect(resolveThrottled(deps, () => 'a', read)).rejects.toMatchObject({ code: 'too_many_auth_failures' });
    // A known-unknown token is refused too (null from the cache is not a grant).
    await expect(resolveThrottled(deps, () => 'a', wrong(0))).rejects.toMatchObject({ code: 'too_many_auth_failures' });
  });

  it('never counts valid tokens, and lets the address fail again once time has passed', async () => {
    const { deps, app, clock: c } = await setup(3);
    for (let i = 0; i < 10; i++) await resolveThrottled(deps, () => 'a', app.ingestTokens[0]);
    for (let i = 0; i < 3; i++) await expect(resolveThrottled(deps, () => 'a', wrong(i))).resolves.toBeNull();
    await expect(resolveThrottled(deps, () => 'a', wrong(9))).rejects.toMatchObject({ status: 429 });
    c.advance(20_000);
    await expect(resolveThrottled(deps, () => 'a', wrong(10))).resolves.toBeNull();
    await expect(resolveThrottled(deps, () => 'a', wrong(11))).rejects.toMatchObject({ status: 429 });
  });

  it('does not compute the address when the throttle is off', async () => {
    const { deps } = await setup(3);
    const address = vi.fn(() => 'a');
    const off = { ...deps, authThrottle: createAuthThrottle({ perMinute: 0 }) };
    for (let i = 0; i < 10; i++) await resolveThrottled(off, address, wrong(i));
    await resolveThrottled({ ...deps, authThrottle: undefined }, address, wrong(0));
    expect(address).not.toHaveBeenCalled();
  });
});

describe('requireGrant', () => {
  it('answers 401, then 429 with Retry-After, per client address; 403 and missing tokens are not failures', async () => {
    const { deps, app } = await setup(2);
    const hono = new Hono();
    hono.onError((err, c) => {
      const e = err as GatewayError;
      for (const [k, v] of Object.entries(e.headers)) c.header(k, v);
      return c.json({ error: e.code }, e.status as 400);
    });
    hono.get('/', async (c) => c.json(await requireGrant(c, deps, { bearer: true, allow: ['read'] })));
    const get = async (token: string | undefined, remoteAddress: string) => {
      const res = await hono.request('/', { headers: token ? { Authorization: `Bearer ${token}` } : {} }, { incoming: { socket: { remoteAddress } } });
      return [res.status, res.headers.get('retry-after')];
    };
    expect(await get(undefined, '10.0.0.1')).toEqual([401, null]);
    expect(await get(app.ingestTokens[0], '10.0.0.1')).toEqual([403, null]);
    expect(await get(wrong(1), '10.0.0.1')).toEqual([401, null]);
    expect(await get(wrong(2), '10.0.0.1')).toEqual([401, null]);
    expect(await get(wrong(3), '10.0.0.1')).toEqual([429, '30']);
    expect(await get(wrong(3), '10.0.0.2')).toEqual([401, null]);
  });
});
