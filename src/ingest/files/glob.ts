/**
 * A small glob matcher for `file_watchers[].file_path` (Node 20 has no `fs.glob`): `*` (any run
 * of characters but `/`), `?` (one character but `/`) and `**` (any number of whole directories,
 * as a path segment of its own). No braces, classes or negation: log paths need none, and a
 * dependency for them would not earn its place.
 */
import { readdir } from 'node:fs/promises';
import { join, sep } from 'node:path';

/** True when `pattern` holds a glob character (`*` or `?`). */
export function isGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

/**
 * The regular expression of a glob over whole `/`-separated paths.
 *
 * @example
 * globToRegExp('/var/log/**\/*.log').test('/var/log/a/b/app.log') // true
 * globToRegExp('/var/log/*.log').test('/var/log/a/app.log')      // false
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  const parts = pattern.split('/');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    if (part === '**') {
      // Zero or more whole directories (with their slash); as the last segment, anything.
      re += last ? '.*' : '(?:[^/]*/)*';
      continue;
    }
    for (const ch of part) {
      if (ch === '*') re += '[^/]*';
      else if (ch === '?') re += '[^/]';
      else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    if (!last) re += '/';
  }
  return new RegExp(`^${re}$`);
}

/** The longest leading directory of `pattern` without glob characters (where a walk starts). */
export function globBase(pattern: string): string {
  const parts = pattern.split('/');
  const fixed: string[] = [];
  for (const part of parts.slice(0, -1)) {
    if (isGlob(part)) break;
    fixed.push(part);
  }
  const base = fixed.join('/');
  return base === '' ? (pattern.startsWith('/') ? '/' : '.') : base;
}

/** Bounds of {@link expandGlob}. */
export interface ExpandOptions {
  /** Stop after this many matches (they are returned sorted; the rest are ignored). */
  maxFiles: number;
  /** Deepest directory level under the base a `**` walks into (default 16). */
  maxDepth?: number;
}

/**
 * The regular files matching an absolute glob, sorted. Directories that cannot be read are
 * skipped (the caller retries on its next scan); never rejects.
 */
export async function expandGlob(pattern: string, opts: ExpandOptions): Promise<string[]> {
  const re = globToRegExp(pattern);
  const base = globBase(pattern);
  const rest = pattern.slice(base.length).split('/').filter(Boolean);
  // Without `**`, the walk needs only as many levels as the pattern has segments after the base.
  const depth = rest.includes('**') ? (opts.maxDepth ?? 16) : rest.length;
  const found: string[] = [];
  const walk = async (dir: string, level: number): Promise<void> => {
    if (found.length >= opts.maxFiles || level > depth) return;
    let names;
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of names) {
      if (found.length >= opts.maxFiles) return;
      const full = dir === '/' ? `/${d.name}` : join(dir, d.name);
      const path = sep === '/' ? full : full.split(sep).join('/');
      if (d.isDirectory()) await walk(full, level + 1);
      else if ((d.isFile() || d.isSymbolicLink()) && re.test(path)) found.push(path);
    }
  };
  await walk(base, 1);
  return found.sort();
}
