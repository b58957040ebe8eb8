import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAppsConfig, seedRegistry } from './config-file.js';
import { createMemoryAppRegistry } from './memory-registry.js';

const INGEST = 't.0f8fad5b-d9cb-469f-a165-70867728950e';
const READ = 'r.7c9e6679-7425-40de-944b-e07fc1f90ae7';

describe('loadAppsConfig', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
    path = join(dir, 'sluice.config.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the apps and their tokens', async () => {
    await writeFile(path, JSON.stringify({ apps: [{ id: 'billing-api', ingest_tokens: [INGEST], read_tokens: [READ] }, { id: 'worker' }] }));
    await expect(loadAppsConfig(path)).resolves.toEqual({
      apps: [{ id: 'billing-api', ingest_tokens: [INGEST], read_tokens: [READ] }, { id: 'worker' }],
    });
  });

  it('answers null when the file does not exist', async () => {
    await expect(loadAppsConfig(join(dir, 'missing.json'))).resolves.toBeNull();
  });

  it('names the file when it is not JSON', async () => {
    await writeFile(path, '{ "apps": [ }');
    await expect(loadAppsConfig(path)).rejects.toThrow(`${path}: not valid JSON`);
  });

  it('names the file and the field of an invalid app id', async () => {
    await writeFile(path, JSON.stringify({ apps: [{ id: 'ok' }, { id: 'Not OK' }] }));
    await expect(loadAppsConfig(path)).rejects.toThrow(new RegExp(`^${escape(path)}: invalid apps config: apps\\.1\\.id: an app id is`));
  });

  it('refuses a read token listed as an ingest token', async () => {
    await writeFile(path, JSON.stringify({ apps: [{ id: 'a', ingest_tokens: [READ] }] }));
    await expect(loadAppsConfig(path)).rejects.toThrow(/apps\.0\.ingest_tokens\.0: an ingest token is "t\."/);
  });

  it('refuses a misspelt key instead of ignoring it', async () => {
    await writeFile(path, JSON.stringify({ apps: [{ id: 'a', ingest_token: [INGEST] }] }));
    await expect(loadAppsConfig(path)).rejects.toThrow(/ingest_token/);
  });

  it('refuses an app listed twice', async () => {
    await writeFile(path, JSON.stringify({ apps: [{ id: 'a' }, { id: 'a' }] }));
    await expect(loadAppsConfig(path)).rejects.toThrow(/apps\.1\.id: app a is listed twice/);
  });

  it('refuses a misspelt top-level key (app for apps)', async () => {
    await writeFile(path, JSON.stringify({ app: [] }));
    await expect(loadAppsConfig(path)).rejects.toThrow(/invalid apps config: .*"app"/);
  });

  it("reads the log producer kit's dashboard.config.json, file_watchers alone, as printed", async () => {
    await writeFile(
      path,
      `{
  "file_watchers": [
    {
      "app_id": "legacy-app",
      "file_path": "/var/log/my-app/app.log",
      "format": "json",
      "tail": true
    }
  ]
}
`,
    );
    await expect(loadAppsConfig(path)).resolves.toEqual({
      apps: [],
      file_watchers: [{ app_id: 'legacy-app', file_path: '/var/log/my-app/app.log', format: 'json', tail: true }],
    });
  });

  it('defaults a watcher to json and tail, and refuses an unknown format or a path watched twice', async () => {
    await writeFile(path, JSON.stringify({ file_watchers: [{ app_id: 'a', file_path: 'x.log' }] }));
    await expect(loadAppsConfig(path)).resolves.toMatchObject({ file_watchers: [{ format: 'json', tail: true }] });
    await writeFile(path, JSON.stringify({ file_watchers: [{ app_id: 'a', file_path: 'x.log', format: 'xml' }] }));
    await expect(loadAppsConfig(path)).rejects.toThrow(/file_watchers\.0\.format/);
    await writeFile(path, JSON.stringify({ file_watchers: [{ app_id: 'a', file_path: 'x.log' }, { app_id: 'b', file_path: 'x.log' }] }));
    await expect(loadAppsConfig(path)).rejects.toThrow(/file_watchers\.1\.file_path: x\.log is watched twice/);
  });
});

describe('seedRegistry', () => {
  it('adds the configured apps with their tokens and generates none', async () => {
    const registry = createMemoryAppRegistry();
    const result = await seedRegistry(registry, { apps: [{ id: 'billing-api', ingest_tokens: [INGEST], read_tokens: [READ] }] });
    expect(result.generated).toEqual([]);
    expect(result.apps).toEqual([expect.objectContaining({ id: 'billing-api', ingestTokens: [INGEST], readTokens: [READ] })]);
    await expect(registry.resolve(INGEST)).resolves.toEqual({ kind: 'ingest', appId: 'billing-api' });
  });

  it('generates the tokens an app is configured without and reports them', async () => {
    const registry = createMemoryAppRegistry();
    const result = await seedRegistry(registry, { apps: [{ id: 'worker', read_tokens: [READ] }] });
    expect(result.generated).toEqual([{ appId: 'worker', kind: 'ingest', token: expect.stringMatching(/^t\./) }]);
    await expect(registry.resolve(result.generated[0].token)).resolves.toEqual({ kind: 'ingest', appId: 'worker' });
  });

  it('does not generate more tokens when seeding a registry that already has the app', async () => {
    const registry = createMemoryAppRegistry();
    const first = await seedRegistry(registry, { apps: [{ id: 'worker' }] });
    const again = await seedRegistry(registry, { apps: [{ id: 'worker' }] });
    expect(first.generated).toHaveLength(2);
    expect(again.generated).toEqual([]);
    expect(again.apps).toEqual(first.apps);
  });

  it("creates a watched file's app when it is not listed, once", async () => {
    const registry = createMemoryAppRegistry();
    const config = {
      apps: [{ id: 'listed', ingest_tokens: [INGEST], read_tokens: [READ] }],
      file_watchers: [
        { app_id: 'legacy-app', file_path: 'a.log', format: 'json' as const, tail: true },
        { app_id: 'legacy-app', file_path: 'b.log', format: 'text' as const, tail: false },
        { app_id: 'listed', file_path: 'c.log', format: 'json' as const, tail: true },
      ],
    };
    const result = await seedRegistry(registry, config);
    expect(result.apps.map((a) => a.id)).toEqual(['listed', 'legacy-app']);
    expect(result.generated.map((g) => `${g.appId}:${g.kind}`)).toEqual(['legacy-app:ingest', 'legacy-app:read']);
    expect((await seedRegistry(registry, config)).generated).toEqual([]);
  });

  it('reports a token already owned by another app', async () => {
    const registry = createMemoryAppRegistry();
    await expect(
      seedRegistry(registry, {
        apps: [
          { id: 'a', ingest_tokens: [INGEST] },
          { id: 'b', ingest_tokens: [INGEST] },
        ],
      }),
    ).rejects.toMatchObject({ code: 'token_in_use' });
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
