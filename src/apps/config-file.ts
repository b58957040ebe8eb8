import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { APP_ID_PATTERN, generateIngestToken, generateReadToken, INGEST_TOKEN_PATTERN, READ_TOKEN_PATTERN } from './tokens.js';
import type { App, AppRegistry } from './types.js';

const AppConfigSchema = z.strictObject({
  id: z.string().regex(APP_ID_PATTERN, 'an app id is 1-100 of a-z 0-9 . _ -, starting with a letter or digit'),
  ingest_tokens: z.array(z.string().regex(INGEST_TOKEN_PATTERN, 'an ingest token is "t." then 16-200 of A-Z a-z 0-9 . _ ~ -')).optional(),
  read_tokens: z.array(z.string().regex(READ_TOKEN_PATTERN, 'a read token is "r." then 16-200 of A-Z a-z 0-9 . _ ~ -')).optional(),
});

/** Line formats a file watcher reads (src/ingest/files/formats.ts). */
export const FILE_FORMATS = ['json', 'logfmt', 'syslog', 'text'] as const;

const FileWatcherSchema = z.strictObject({
  app_id: z.string().regex(APP_ID_PATTERN, 'an app id is 1-100 of a-z 0-9 . _ -, starting with a letter or digit'),
  file_path: z.string().min(1, 'a file path (or glob) is required').max(4096),
  format: z.enum(FILE_FORMATS).default('json'),
  tail: z.boolean().default(true),
});

const AppsConfigSchema = z
  .strictObject({
    apps: z.array(AppConfigSchema).default([]),
    file_watchers: z.array(FileWatcherSchema).optional(),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.apps.forEach((app, i) => {
      if (seen.has(app.id)) ctx.addIssue({ code: 'custom', path: ['apps', i, 'id'], message: `app ${app.id} is listed twice` });
      seen.add(app.id);
    });
    const paths = new Set<string>();
    config.file_watchers?.forEach((w, i) => {
      if (paths.has(w.file_path)) {
        ctx.addIssue({ code: 'custom', path: ['file_watchers', i, 'file_path'], message: `${w.file_path} is watched twice` });
      }
      paths.add(w.file_path);
    });
  });

/**
 * The apps section of `sluice.config.json`:
 *
 * ```json
 * {
 *   "apps": [
 *     { "id": "billing-api", "ingest_tokens": ["t.…"], "read_tokens": ["r.…"] },
 *     { "id": "worker" }
 *   ]
 * }
 * ```
 *
 * - `id`: 1–100 of `a-z 0-9 . _ -`, starting with a letter or digit; listed once.
 * - `ingest_tokens` / `read_tokens` (optional): `t.` / `r.` then 16–200 URL-safe characters
 *   (`t.<uuid>` as Sluice generates them). When a kind is missing or empty, `seedRegistry` generates
 *   one token of it, which changes at every start of the memory registry: put the printed token in
 *   the file to keep it.
 * - Unknown keys are errors, so a typo (`ingest_token`) is not silently ignored.
 *
 * The same file may hold `file_watchers` (the log producer kit's `dashboard.config.json` shape;
 * a file with only `file_watchers` is valid, `apps` then defaults to `[]`):
 *
 * ```json
 * { "file_watchers": [{ "app_id": "legacy-app", "file_path": "/var/log/my-app/app.log", "format": "json", "tail": true }] }
 * ```
 *
 * - `app_id`: the app the lines go to; created at start (like an `apps` entry without tokens)
 *   when it does not exist yet.
 * - `file_path`: a path or a glob (`*`, `?`, `**`); relative paths are relative to the config
 *   file's directory. Listed once.
 * - `format`: `json` (default), `logfmt`, `syslog` or `text`; `tail` (default true): start at
 *   the end of a file seen at start, else at its beginning. See src/ingest/files/.
 */
export type AppsConfig = z.infer<typeof AppsConfigSchema>;
/** One entry of `file_watchers` in {@link AppsConfig}. */
export type FileWatcherConfig = z.infer<typeof FileWatcherSchema>;
/** One app of {@link AppsConfig}. */
export type AppConfig = z.infer<typeof AppConfigSchema>;

/**
 * Reads and validates an apps config file. Resolves null when the file does not exist (running
 * without one is normal: apps are then made through the API). Rejects with an Error naming the path
 * and each problem (`apps.0.id: …`) when the file is unreadable, not JSON, or not the shape above.
 *
 * @example
 * const config = await loadAppsConfig('sluice.config.json');
 * if (config) printGenerated(await seedRegistry(registry, config));
 */
export async function loadAppsConfig(path: string): Promise<AppsConfig | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${path}: cannot read the apps config: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = AppsConfigSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      return `${where}: ${issue.message}`;
    });
    throw new Error(`${path}: invalid apps config: ${problems.join('; ')}`, { cause: parsed.error });
  }
  return parsed.data;
}

/** A token `seedRegistry` had to generate; the caller prints it (once) so it can be configured. */
export interface GeneratedToken {
  appId: string;
  kind: 'ingest' | 'read';
  token: string;
}

/** What {@link seedRegistry} did. */
export interface SeedResult {
  /** The apps of the config as they now stand in the registry, in config order. */
  apps: App[];
  /** Tokens generated because the config gave none of that kind and the app had none either. */
  generated: GeneratedToken[];
}

/**
 * Puts the configured apps into the registry with `upsert` (merge, idempotent: safe on every start
 * and on reload). A kind of token missing from the config is generated only when the app has none
 * of that kind yet, so a persistent registry (Redis) does not gain a token at every restart.
 * Tokens removed from the file are not revoked (use `rotate`). The `app_id` of each file watcher
 * not listed under `apps` is added the same way, so a watched file always has an app to go to.
 *
 * Rejects with the registry's GatewayError (e.g. `token_in_use`) at the first app it cannot add;
 * the apps before it are already added.
 */
export async function seedRegistry(registry: AppRegistry, config: AppsConfig): Promise<SeedResult> {
  const apps: App[] = [];
  const generated: GeneratedToken[] = [];
  // A watched file's app is made like a listed app without tokens when it is not listed.
  const listed = new Set(config.apps.map((a) => a.id));
  const watched: AppConfig[] = [];
  for (const w of config.file_watchers ?? []) {
    if (!listed.has(w.app_id)) watched.push({ id: w.app_id });
    listed.add(w.app_id);
  }
  for (const entry of [...config.apps, ...watched]) {
    const existing = await registry.get(entry.id);
    let ingestTokens = entry.ingest_tokens ?? [];
    let readTokens = entry.read_tokens ?? [];
    if (ingestTokens.length === 0 && !existing?.ingestTokens.length) {
      ingestTokens = [generateIngestToken()];
      generated.push({ appId: entry.id, kind: 'ingest', token: ingestTokens[0] });
    }
    if (readTokens.length === 0 && !existing?.readTokens.length) {
      readTokens = [generateReadToken()];
      generated.push({ appId: entry.id, kind: 'read', token: readTokens[0] });
    }
    apps.push(await registry.upsert({ id: entry.id, ingestTokens, readTokens }));
  }
  return { apps, generated };
}
