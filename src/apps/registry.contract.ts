import { afterEach, describe, expect, it } from 'vitest';
import { generateIngestToken, generateReadToken } from './tokens.js';
import type { AppRegistry } from './types.js';

/** What a contract test asks of the registry it gets. */
export interface RegistryContractOptions {
  adminToken?: string;
  /** Clock in epoch ms for grace periods and `createdAt`. */
  now?: () => number;
}

/** Makes an empty registry for one test; `cleanup` (if given) runs after the test. */
export type MakeRegistry = (
  options: RegistryContractOptions,
) => Promise<{ registry: AppRegistry; cleanup?: () => Promise<void> }>;

const ADMIN = 'admin-secret-0123456789';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/**
 * The conformance suite of the AppRegistry interface: every implementation runs it (one suite,
 * every backend), so the memory registry and the Redis registry answer alike. Call it from a
 * `*.test.ts` file:
 *
 * @example
 * describeAppRegistryContract('memory', async (options) => ({ registry: createMemoryAppRegistry(options) }));
 *
 * `make` must return an empty registry each time (the Redis suite uses a fresh key prefix).
 */
export function describeAppRegistryContract(name: string, make: MakeRegistry): void {
  describe(`${name} registry (AppRegistry contract)`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    async function registryWith(options: RegistryContractOptions = {}): Promise<AppRegistry> {
      const { registry, cleanup } = await make(options);
      if (cleanup) cleanups.push(cleanup);
      return registry;
    }

    describe('tokens', () => {
      it('creates an app with one fresh t.<uuid> ingest token and one r.<uuid> read token that resolve', async () => {
        const registry = await registryWith();
        const app = await registry.create('billing-api');
        expect(app.ingestTokens).toEqual([expect.stringMatching(new RegExp(`^t\\.${UUID}$`))]);
        expect(app.readTokens).toEqual([expect.stringMatching(new RegExp(`^r\\.${UUID}$`))]);
        await expect(registry.resolve(app.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'billing-api' });
        await expect(registry.resolve(app.readTokens[0])).resolves.toEqual({ kind: 'read', appId: 'billing-api' });
      });

      it('resolves the admin token to admin', async () => {
        const registry = await registryWith({ adminToken: ADMIN });
        await expect(registry.resolve(ADMIN)).resolves.toEqual({ kind: 'admin' });
      });

      it('answers null for unknown tokens, near misses and the empty token', async () => {
        const registry = await registryWith({ adminToken: ADMIN });
        const app = await registry.create('billing-api');
        const token = app.ingestTokens[0];
        for (const guess of [generateIngestToken(), token.slice(0, -1), `${token}0`, token.toUpperCase(), ADMIN.slice(1), '']) {
          await expect(registry.resolve(guess)).resolves.toBeNull();
        }
      });

      it('has no admin when no admin token is configured', async () => {
        const registry = await registryWith({ adminToken: '' });
        await expect(registry.resolve('')).resolves.toBeNull();
      });

      it('uses the tokens given to create, once each, instead of generating them', async () => {
        const registry = await registryWith();
        const ingest = 't.0123456789abcdef-given';
        const app = await registry.create('given', { ingestTokens: [ingest, ingest] });
        expect(app.ingestTokens).toEqual([ingest]);
        expect(app.readTokens).toEqual([expect.stringMatching(/^r\./)]);
        await expect(registry.resolve(ingest)).resolves.toEqual({ kind: 'ingest', appId: 'given' });
      });

      it('refuses a malformed token without echoing it and without creating the app', async () => {
        const registry = await registryWith();
        const short = 't.tooshort';
        const error = await registry.create('x', { ingestTokens: [short] }).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'invalid_token', status: 400 });
        expect((error as Error).message).not.toContain(short);
        // A read token given as an ingest token is malformed too: the prefix says its kind.
        await expect(registry.create('y', { ingestTokens: [generateReadToken()] })).rejects.toMatchObject({
          code: 'invalid_token',
        });
        await expect(registry.upsert({ id: 'z', ingestTokens: [], readTokens: [short] })).rejects.toMatchObject({
          code: 'invalid_token',
        });
        await expect(registry.list()).resolves.toEqual([]);
      });

      it('refuses a token that already belongs to another app or is the admin token', async () => {
        const registry = await registryWith({ adminToken: `t.${'a'.repeat(20)}` });
        const first = await registry.create('first');
        await expect(registry.create('second', { ingestTokens: first.ingestTokens })).rejects.toMatchObject({
          code: 'token_in_use',
          status: 409,
        });
        await expect(
          registry.upsert({ id: 'third', ingestTokens: [`t.${'a'.repeat(20)}`], readTokens: [] }),
        ).rejects.toMatchObject({ code: 'token_in_use' });
        await expect(registry.upsert({ id: 'fourth', ingestTokens: [], readTokens: first.readTokens })).rejects.toMatchObject({
          code: 'token_in_use',
        });
        await expect(registry.resolve(first.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'first' });
        await expect(registry.list()).resolves.toEqual([expect.objectContaining({ id: 'first' })]);
      });

      it('leaves every token of a refused create unclaimed', async () => {
        const registry = await registryWith();
        const taken = await registry.create('taken');
        const fresh = `t.${'f'.repeat(24)}`;
        await expect(
          registry.create('refused', { ingestTokens: [fresh, taken.ingestTokens[0]] }),
        ).rejects.toMatchObject({ code: 'token_in_use' });
        await expect(registry.resolve(fresh)).resolves.toBeNull();
        await expect(registry.create('other', { ingestTokens: [fresh] })).resolves.toMatchObject({ ingestTokens: [fresh] });
      });

      it('knows without a lookup (resolveCached) a token it resolved, and never grants an unknown or revoked one', async () => {
        const registry = await registryWith({ adminToken: ADMIN });
        const app = await registry.create('billing-api');
        const [ingest] = app.ingestTokens;
        const notAGrant = (v: unknown) => v === null || v === undefined;
        expect(registry.resolveCached(ADMIN)).toEqual({ kind: 'admin' });
        await registry.resolve(ingest);
        expect(registry.resolveCached(ingest)).toEqual({ kind: 'ingest', appId: 'billing-api' });
        for (const guess of [generateIngestToken(), `${ingest}0`, ADMIN.slice(1), '']) {
          await registry.resolve(guess);
          expect(notAGrant(registry.resolveCached(guess)), 'a guess is never known valid').toBe(true);
        }
        await registry.rotate('billing-api', 'ingest');
        expect(notAGrant(registry.resolveCached(ingest)), 'a token rotated out here').toBe(true);
      });
    });

    describe('apps', () => {
      it('refuses to create an app that exists and leaves it as it was', async () => {
        const registry = await registryWith();
        const app = await registry.create('billing-api');
        await expect(registry.create('billing-api')).rejects.toMatchObject({ code: 'app_exists', status: 409 });
        await expect(registry.get('billing-api')).resolves.toEqual(app);
        await expect(registry.resolve(app.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'billing-api' });
      });

      it.each(['', 'Billing', '-leading-dash', 'has space', 'ünicode', 'a'.repeat(101), 'a/b', 'a:{meta}'])(
        'refuses the app id %j',
        async (id) => {
          const registry = await registryWith();
          await expect(registry.create(id)).rejects.toMatchObject({ code: 'invalid_app_id', status: 400 });
          await expect(registry.upsert({ id, ingestTokens: [], readTokens: [] })).rejects.toMatchObject({
            code: 'invalid_app_id',
          });
          await expect(registry.list()).resolves.toEqual([]);
        },
      );

      it.each(['a', '0', 'billing-api', 'my_app.v2', 'a'.repeat(100)])('accepts the app id %j', async (id) => {
        const registry = await registryWith();
        await expect(registry.create(id)).resolves.toMatchObject({ id });
        await expect(registry.get(id)).resolves.toMatchObject({ id });
      });

      it('lists apps sorted by id without their tokens', async () => {
        const { now } = clock();
        const registry = await registryWith({ now });
        await expect(registry.list()).resolves.toEqual([]);
        for (const id of ['zeta', 'alpha', 'mid-1', 'mid-0']) await registry.create(id);
        const list = await registry.list();
        expect(list.map((a) => a.id)).toEqual(['alpha', 'mid-0', 'mid-1', 'zeta']);
        expect(list[0]).toEqual({ id: 'alpha', createdAt: '2023-11-14T22:13:20.000000Z' });
      });

      it('gets an app with exactly its id, tokens and creation time', async () => {
        const { now } = clock();
        const registry = await registryWith({ now });
        const created = await registry.create('app');
        const got = await registry.get('app');
        expect(got).toEqual(created);
        expect(Object.keys(got!).sort()).toEqual(['createdAt', 'id', 'ingestTokens', 'readTokens']);
        expect(got!.createdAt).toBe('2023-11-14T22:13:20.000000Z');
      });

      it('answers null for an app that does not exist', async () => {
        const registry = await registryWith();
        await expect(registry.get('nope')).resolves.toBeNull();
      });

      it('does not let a caller change an app by editing what get returned', async () => {
        const registry = await registryWith();
        await registry.create('app');
        const copy = (await registry.get('app'))!;
        copy.ingestTokens.push(`t.${'x'.repeat(20)}`);
        await expect(registry.get('app')).resolves.toMatchObject({ ingestTokens: [expect.any(String)] });
      });
    });

    describe('upsert', () => {
      const ingest = `t.${'1'.repeat(32)}`;
      const read = `r.${'2'.repeat(32)}`;

      it('adds an app from configuration with exactly its tokens', async () => {
        const registry = await registryWith();
        const app = await registry.upsert({ id: 'cfg', ingestTokens: [ingest], readTokens: [read] });
        expect(app).toMatchObject({ id: 'cfg', ingestTokens: [ingest], readTokens: [read] });
        await expect(registry.get('cfg')).resolves.toEqual(app);
        await expect(registry.resolve(read)).resolves.toEqual({ kind: 'read', appId: 'cfg' });
      });

      it('adds an app without tokens when configuration gives none', async () => {
        const registry = await registryWith();
        await expect(registry.upsert({ id: 'bare', ingestTokens: [], readTokens: [] })).resolves.toMatchObject({
          ingestTokens: [],
          readTokens: [],
        });
      });

      it('gives the same app when the same configuration is loaded twice', async () => {
        const c = clock();
        const registry = await registryWith({ now: c.now });
        const first = await registry.upsert({ id: 'cfg', ingestTokens: [ingest], readTokens: [read] });
        c.advance(60_000);
        const second = await registry.upsert({ id: 'cfg', ingestTokens: [ingest], readTokens: [read] });
        expect(second).toEqual(first);
        await expect(registry.get('cfg')).resolves.toEqual(first);
      });

      it('merges new tokens into an existing app and keeps the old ones working', async () => {
        const registry = await registryWith();
        const created = await registry.create('cfg');
        const merged = await registry.upsert({ id: 'cfg', ingestTokens: [ingest], readTokens: [] });
        expect(merged.ingestTokens).toEqual([created.ingestTokens[0], ingest]);
        expect(merged.readTokens).toEqual(created.readTokens);
        expect(merged.createdAt).toBe(created.createdAt);
        await expect(registry.resolve(created.ingestTokens[0])).resolves.toMatchObject({ appId: 'cfg' });
        await expect(registry.resolve(ingest)).resolves.toMatchObject({ appId: 'cfg' });
      });

      it('makes a token in its rotation grace period current again', async () => {
        const c = clock();
        const registry = await registryWith({ now: c.now });
        const before = await registry.create('app');
        const rotated = await registry.rotate('app', 'ingest', 1_000);
        const revived = await registry.upsert({ id: 'app', ingestTokens: before.ingestTokens, readTokens: [] });
        expect(revived.ingestTokens).toEqual([rotated.ingestTokens[0], before.ingestTokens[0]]);
        c.advance(10_000);
        await expect(registry.resolve(before.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'app' });
        // A later rotation retires it like any current token.
        await registry.rotate('app', 'ingest');
        await expect(registry.resolve(before.ingestTokens[0])).resolves.toBeNull();
      });
    });

    describe('rotate', () => {
      it('revokes the old tokens at once without a grace period', async () => {
        const registry = await registryWith();
        const before = await registry.create('app');
        await registry.resolve(before.ingestTokens[0]); // a cached answer must not outlive the rotation
        const after = await registry.rotate('app', 'ingest');
        expect(after.ingestTokens).toEqual([expect.stringMatching(new RegExp(`^t\\.${UUID}$`))]);
        expect(after.ingestTokens[0]).not.toBe(before.ingestTokens[0]);
        expect(after.readTokens).toEqual(before.readTokens);
        await expect(registry.get('app')).resolves.toEqual(after);
        await expect(registry.resolve(before.ingestTokens[0])).resolves.toBeNull();
        await expect(registry.resolve(after.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'app' });
        // The other kind is untouched.
        await expect(registry.resolve(before.readTokens[0])).resolves.toEqual({ kind: 'read', appId: 'app' });
      });

      it('replaces every token of the kind, given or merged', async () => {
        const registry = await registryWith();
        const extra = `r.${'3'.repeat(32)}`;
        const before = await registry.create('app');
        await registry.upsert({ id: 'app', ingestTokens: [], readTokens: [extra] });
        const after = await registry.rotate('app', 'read');
        expect(after.readTokens).toHaveLength(1);
        for (const old of [before.readTokens[0], extra]) await expect(registry.resolve(old)).resolves.toBeNull();
      });

      it('keeps the old tokens working until the grace period ends', async () => {
        const c = clock();
        const registry = await registryWith({ now: c.now });
        const before = await registry.create('app');
        const after = await registry.rotate('app', 'read', 60_000);
        expect(after.readTokens[0]).not.toBe(before.readTokens[0]);
        c.advance(59_999);
        await expect(registry.resolve(before.readTokens[0])).resolves.toEqual({ kind: 'read', appId: 'app' });
        await expect(registry.resolve(after.readTokens[0])).resolves.toEqual({ kind: 'read', appId: 'app' });
        c.advance(1);
        await expect(registry.resolve(before.readTokens[0])).resolves.toBeNull();
        await expect(registry.resolve(after.readTokens[0])).resolves.toEqual({ kind: 'read', appId: 'app' });
      });

      it('does not extend the grace of a token when rotating twice', async () => {
        const c = clock();
        const registry = await registryWith({ now: c.now });
        const first = await registry.create('app');
        const second = await registry.rotate('app', 'ingest', 10_000);
        c.advance(5_000);
        await registry.rotate('app', 'ingest', 60_000);
        c.advance(5_000);
        await expect(registry.resolve(first.ingestTokens[0])).resolves.toBeNull();
        await expect(registry.resolve(second.ingestTokens[0])).resolves.toMatchObject({ appId: 'app' });
      });

      it('refuses to rotate the tokens of an app that does not exist', async () => {
        const registry = await registryWith();
        await expect(registry.rotate('ghost', 'ingest')).rejects.toMatchObject({ code: 'app_not_found', status: 404 });
        await expect(registry.rotate('Not Valid', 'read')).rejects.toMatchObject({ code: 'app_not_found', status: 404 });
        await expect(registry.get('ghost')).resolves.toBeNull();
        await expect(registry.get('Not Valid')).resolves.toBeNull();
      });

      it('lets another app take a token once its grace period is over', async () => {
        const c = clock();
        const registry = await registryWith({ now: c.now });
        const old = await registry.create('old');
        await registry.rotate('old', 'ingest', 1_000);
        await expect(registry.create('new', { ingestTokens: old.ingestTokens })).rejects.toMatchObject({
          code: 'token_in_use',
        });
        c.advance(1_000);
        await expect(registry.create('new', { ingestTokens: old.ingestTokens })).resolves.toMatchObject({ id: 'new' });
        await expect(registry.resolve(old.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'new' });
        // The old app cleaning up its expired tokens must not take the token back from the new one.
        await registry.rotate('old', 'ingest');
        await expect(registry.resolve(old.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'new' });
      });
    });
  });
}
