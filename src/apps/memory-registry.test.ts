import { describe, expect, it } from 'vitest';
import { createMemoryAppRegistry, generateIngestToken, generateReadToken } from './memory-registry.js';
import { describeAppRegistryContract } from './registry.contract.js';

const ADMIN = 'admin-secret-0123456789';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('createMemoryAppRegistry', () => {
  describe('tokens', () => {
    it('generates ingest tokens as t.<uuid> and read tokens as r.<uuid>', () => {
      const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';
      expect(generateIngestToken()).toMatch(new RegExp(`^t\\.${uuid}$`));
      expect(generateReadToken()).toMatch(new RegExp(`^r\\.${uuid}$`));
      expect(generateIngestToken()).not.toBe(generateIngestToken());
    });

    it('resolves the fresh tokens of a created app to ingest and read grants', async () => {
      const registry = createMemoryAppRegistry();
      const app = await registry.create('billing-api');
      expect(app.ingestTokens).toHaveLength(1);
      expect(app.readTokens).toHaveLength(1);
      await expect(registry.resolve(app.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'billing-api' });
      await expect(registry.resolve(app.readTokens[0])).resolves.toEqual({ kind: 'read', appId: 'billing-api' });
    });

    it('resolves the admin token to admin', async () => {
      const registry = createMemoryAppRegistry({ adminToken: ADMIN });
      await expect(registry.resolve(ADMIN)).resolves.toEqual({ kind: 'admin' });
    });

    it('answers null for unknown tokens, near misses and the empty token', async () => {
      const registry = createMemoryAppRegistry({ adminToken: ADMIN });
      const app = await registry.create('billing-api');
      const token = app.ingestTokens[0];
      for (const guess of [generateIngestToken(), token.slice(0, -1), `${token}0`, token.toUpperCase(), ADMIN.slice(1), '']) {
        await expect(registry.resolve(guess)).resolves.toBeNull();
      }
    });

    it('has no admin when no admin token is configured', async () => {
      const registry = createMemoryAppRegistry({ adminToken: '' });
      await expect(registry.resolve('')).resolves.toBeNull();
    });

    it('uses the tokens given to create instead of generating them', async () => {
      const registry = createMemoryAppRegistry();
      const ingest = 't.0123456789abcdef-given';
      const app = await registry.create('given', { ingestTokens: [ingest] });
      expect(app.ingestTokens).toEqual([ingest]);
      expect(app.readTokens[0]).toMatch(/^r\./);
      await expect(registry.resolve(ingest)).resolves.toEqual({ kind: 'ingest', appId: 'given' });
    });

    it('refuses a malformed token without echoing it', async () => {
      const registry = createMemoryAppRegistry();
      const short = 't.tooshort';
      const error = await registry.create('x', { ingestTokens: [short] }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'invalid_token', status: 400 });
      expect((error as Error).message).not.toContain(short);
      // A read token given as an ingest token is malformed too: the prefix says its kind.
      await expect(registry.create('y', { ingestTokens: [generateReadToken()] })).rejects.toMatchObject({
        code: 'invalid_token',
      });
      await expect(registry.get('x')).resolves.toBeNull();
    });

    it('refuses a token that already belongs to another app or is the admin token', async () => {
      const registry = createMemoryAppRegistry({ adminToken: `t.${'a'.repeat(20)}` });
      const first = await registry.create('first');
      await expect(registry.create('second', { ingestTokens: first.ingestTokens })).rejects.toMatchObject({
        code: 'token_in_use',
        status: 409,
      });
      await expect(
        registry.upsert({ id: 'third', ingestTokens: [`t.${'a'.repeat(20)}`], readTokens: [] }),
      ).rejects.toMatchObject({ code: 'token_in_use' });
      await expect(registry.resolve(first.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'first' });
      await expect(registry.get('second')).resolves.toBeNull();
    });
  });

  describe('apps', () => {
    it('refuses to create an app that exists', async () => {
      const registry = createMemoryAppRegistry();
      const app = await registry.create('billing-api');
      await expect(registry.create('billing-api')).rejects.toMatchObject({ code: 'app_exists', status: 409 });
      await expect(registry.get('billing-api')).resolves.toEqual(app);
    });

    it.each(['', 'Billing', '-leading-dash', 'has space', 'ünicode', 'a'.repeat(101), 'a/b'])(
      'refuses the app id %j',
      async (id) => {
        const registry = createMemoryAppRegistry();
        await expect(registry.create(id)).rejects.toMatchObject({ code: 'invalid_app_id', status: 400 });
        await expect(registry.upsert({ id, ingestTokens: [], readTokens: [] })).rejects.toMatchObject({
          code: 'invalid_app_id',
        });
      },
    );

    it.each(['a', '0', 'billing-api', 'my_app.v2', 'a'.repeat(100)])('accepts the app id %j', async (id) => {
      const registry = createMemoryAppRegistry();
      await expect(registry.create(id)).resolves.toMatchObject({ id });
    });

    it('lists apps sorted by id without their tokens', async () => {
      const { now } = clock();
      const registry = createMemoryAppRegistry({ now });
      for (const id of ['zeta', 'alpha', 'mid-1', 'mid-0']) await registry.create(id);
      const list = await registry.list();
      expect(list.map((a) => a.id)).toEqual(['alpha', 'mid-0', 'mid-1', 'zeta']);
      expect(list[0]).toEqual({ id: 'alpha', createdAt: '2023-11-14T22:13:20.000000Z' });
    });

    it('answers null for an app that does not exist', async () => {
      await expect(createMemoryAppRegistry().get('nope')).resolves.toBeNull();
    });

    it('does not let a caller change an app by editing what get returned', async () => {
      const registry = createMemoryAppRegistry();
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
      const registry = createMemoryAppRegistry();
      const app = await registry.upsert({ id: 'cfg', ingestTokens: [ingest], readTokens: [read] });
      expect(app).toMatchObject({ id: 'cfg', ingestTokens: [ingest], readTokens: [read] });
      await expect(registry.resolve(read)).resolves.toEqual({ kind: 'read', appId: 'cfg' });
    });

    it('gives the same app when the same configuration is loaded twice', async () => {
      const registry = createMemoryAppRegistry();
      const first = await registry.upsert({ id: 'cfg', ingestTokens: [ingest], readTokens: [read] });
      const second = await registry.upsert({ id: 'cfg', ingestTokens: [ingest], readTokens: [read] });
      expect(second).toEqual(first);
    });

    it('merges new tokens into an existing app and keeps the old ones working', async () => {
      const registry = createMemoryAppRegistry();
      const created = await registry.create('cfg');
      const merged = await registry.upsert({ id: 'cfg', ingestTokens: [ingest], readTokens: [] });
      expect(merged.ingestTokens).toEqual([created.ingestTokens[0], ingest]);
      expect(merged.createdAt).toBe(created.createdAt);
      await expect(registry.resolve(created.ingestTokens[0])).resolves.toMatchObject({ appId: 'cfg' });
      await expect(registry.resolve(ingest)).resolves.toMatchObject({ appId: 'cfg' });
    });
  });

  describe('rotate', () => {
    it('revokes the old tokens at once without a grace period', async () => {
      const registry = createMemoryAppRegistry();
      const before = await registry.create('app');
      const after = await registry.rotate('app', 'ingest');
      expect(after.ingestTokens).toHaveLength(1);
      expect(after.ingestTokens[0]).not.toBe(before.ingestTokens[0]);
      await expect(registry.resolve(before.ingestTokens[0])).resolves.toBeNull();
      await expect(registry.resolve(after.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'app' });
      // The other kind is untouched.
      await expect(registry.resolve(before.readTokens[0])).resolves.toEqual({ kind: 'read', appId: 'app' });
    });

    it('keeps the old tokens working until the grace period ends', async () => {
      const c = clock();
      const registry = createMemoryAppRegistry({ now: c.now });
      const before = await registry.create('app');
      const after = await registry.rotate('app', 'read', 60_000);
      c.advance(59_999);
      await expect(registry.resolve(before.readTokens[0])).resolves.toEqual({ kind: 'read', appId: 'app' });
      await expect(registry.resolve(after.readTokens[0])).resolves.toEqual({ kind: 'read', appId: 'app' });
      c.advance(1);
      await expect(registry.resolve(before.readTokens[0])).resolves.toBeNull();
      await expect(registry.resolve(after.readTokens[0])).resolves.toEqual({ kind: 'read', appId: 'app' });
    });

    it('does not extend the grace of a token when rotating twice', async () => {
      const c = clock();
      const registry = createMemoryAppRegistry({ now: c.now });
      const first = await registry.create('app');
      const second = await registry.rotate('app', 'ingest', 10_000);
      c.advance(5_000);
      await registry.rotate('app', 'ingest', 60_000);
      c.advance(5_000);
      await expect(registry.resolve(first.ingestTokens[0])).resolves.toBeNull();
      await expect(registry.resolve(second.ingestTokens[0])).resolves.toMatchObject({ appId: 'app' });
    });

    it('refuses to rotate the tokens of an app that does not exist', async () => {
      await expect(createMemoryAppRegistry().rotate('ghost', 'ingest')).rejects.toMatchObject({
        code: 'app_not_found',
        status: 404,
      });
    });

    it('lets another app take a token once its grace period is over', async () => {
      const c = clock();
      const registry = createMemoryAppRegistry({ now: c.now });
      const old = await registry.create('old');
      await registry.rotate('old', 'ingest', 1_000);
      await expect(registry.create('new', { ingestTokens: old.ingestTokens })).rejects.toMatchObject({
        code: 'token_in_use',
      });
      c.advance(1_000);
      await expect(registry.create('new', { ingestTokens: old.ingestTokens })).resolves.toMatchObject({ id: 'new' });
      await expect(registry.resolve(old.ingestTokens[0])).resolves.toEqual({ kind: 'ingest', appId: 'new' });
    });
  });
});

describeAppRegistryContract('memory', async (options) => ({ registry: createMemoryAppRegistry(options) }));
