/**
 * How to build and run each library's conformance program (PROGRAM.md). One entry per
 * language: when a library's build or command changes, the fix is its line here.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ensureNodeClientBuilt from '../../test/support/build-client.js';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A command to run; `cwd` is relative to the repository root (default: the root). */
export interface Command {
  cmd: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
}

/** A build step: a command, or a function run in the driver's process. */
export type Step = Command | (() => void | Promise<void>);

/** What a language's commands may refer to: `tmp` is a scratch directory of this run (build output). */
export interface LanguageContext {
  tmp: string;
}

/** One library's conformance program. */
export interface Language {
  name: 'node' | 'python' | 'go' | 'java';
  /**
   * The program's source, relative to the root: while it is missing (a directory: while it holds
   * no file ending in `sourceExt`) the language is skipped, its library has not landed yet.
   */
  program: string;
  sourceExt: string;
  /** Commands that must be on PATH; under CI a missing one is a failure, by hand a skip. */
  toolchain: string[];
  /** Build steps, in order, before the first scenario (none: nothing to build). */
  build: (ctx: LanguageContext) => Step[];
  /** The program itself; the driver adds SLUICE_URL, SLUICE_TOKEN, SLUICE_SERVICE and CONFORMANCE. */
  run: (ctx: LanguageContext) => Command;
}

export const LANGUAGES: Language[] = [
  {
    name: 'node',
    program: 'clients/node/conformance/program.mjs',
    sourceExt: '.mjs',
    toolchain: ['node'],
    // @sluice/client as apps get it: built JavaScript, compiled when dist/ is older than src/ (as vitest's globalSetup does).
    build: () => [ensureNodeClientBuilt],
    run: () => ({ cmd: process.execPath, args: ['clients/node/conformance/program.mjs'] }),
  },
  {
    name: 'python',
    program: 'clients/python/conformance/program.py',
    sourceExt: '.py',
    toolchain: ['python3'],
    build: () => [],
    run: () => ({ cmd: 'python3', args: ['clients/python/conformance/program.py'], env: { PYTHONPATH: join(ROOT, 'clients/python/src') } }),
  },
  {
    name: 'go',
    program: 'clients/go/conformance',
    sourceExt: '.go',
    toolchain: ['go'],
    // GOPROXY=off: the library has no dependencies to fetch, and the suite must not reach out.
    build: ({ tmp }) => [{ cmd: 'go', args: ['build', '-o', join(tmp, 'sluice-conformance'), './conformance'], cwd: 'clients/go', env: goEnv() }],
    run: ({ tmp }) => ({ cmd: join(tmp, 'sluice-conformance'), args: [] }),
  },
  {
    name: 'java',
    program: 'clients/java/conformance',
    sourceExt: '.java',
    toolchain: ['java', 'javac'],
    build: () => [{ cmd: 'bash', args: ['clients/java/build.sh'] }],
    run: () => ({
      cmd: 'java',
      args: ['-cp', 'clients/java/build/sluice-client.jar:clients/java/build/conformance', 'dev.sluice.conformance.Program'],
    }),
  },
];

/** Go wants a cache directory: HOME's, or a temporary one where HOME is not set. */
function goEnv(): Record<string, string> {
  const env: Record<string, string> = { GOPROXY: 'off' };
  if (!process.env.HOME && !process.env.GOCACHE) env.GOCACHE = join(process.env.TMPDIR ?? '/tmp', 'sluice-go-cache');
  if (!process.env.HOME && !process.env.GOPATH) env.GOPATH = join(process.env.TMPDIR ?? '/tmp', 'sluice-go-path');
  return env;
}

/** Has `lang`'s program landed: its file there, or its directory holding a source file? */
export function programLanded(lang: Language): boolean {
  const path = join(ROOT, lang.program);
  if (!existsSync(path)) return false;
  if (!statSync(path).isDirectory()) return true;
  return (readdirSync(path, { recursive: true }) as string[]).some((f) => f.endsWith(lang.sourceExt));
}

/** The first of `commands` not found on PATH, or undefined when all are there. */
export function missingTool(commands: string[]): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return commands.find((c) => !(c.includes('/') ? existsSync(c) : dirs.some((d) => existsSync(join(d, c)))));
}
