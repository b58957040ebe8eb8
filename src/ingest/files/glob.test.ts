import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGlob, globBase, globToRegExp, isGlob } from './glob.js';

describe('glob matcher', () => {
  it('matches *, ? and ** on whole path segments', () => {
    expect(globToRegExp('/var/log/*.log').test('/var/log/app.log')).toBe(true);
    expect(globToRegExp('/var/log/*.log').test('/var/log/a/app.log')).toBe(false);
    expect(globToRegExp('/var/log/app-?.log').test('/var/log/app-1.log')).toBe(true);
    expect(globToRegExp('/var/log/app-?.log').test('/var/log/app-10.log')).toBe(false);
    expect(globToRegExp('/var/log/**/*.log').test('/var/log/app.log')).toBe(true);
    expect(globToRegExp('/var/log/**/*.log').test('/var/log/a/b/app.log')).toBe(true);
    expect(globToRegExp('/var/log/(x)+.log').test('/var/log/(x)+.log')).toBe(true);
    expect(globBase('/var/log/*/app.log')).toBe('/var/log');
    expect(isGlob('/var/log/app.log')).toBe(false);
  });

  describe('expandGlob', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'sluice-glob-'));
      await mkdir(join(dir, 'a', 'b'), { recursive: true });
      for (const f of ['x.log', 'y.log', 'y.log.1', 'a/z.log', 'a/b/w.log']) await writeFile(join(dir, f), '');
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('finds the matching files, sorted, within the bound', async () => {
      expect(await expandGlob(`${dir}/*.log`, { maxFiles: 10 })).toEqual([`${dir}/x.log`, `${dir}/y.log`]);
      expect(await expandGlob(`${dir}/**/*.log`, { maxFiles: 10 })).toEqual(
        [`${dir}/a/b/w.log`, `${dir}/a/z.log`, `${dir}/x.log`, `${dir}/y.log`],
      );
      expect(await expandGlob(`${dir}/*/*.log`, { maxFiles: 10 })).toEqual([`${dir}/a/z.log`]);
      expect(await expandGlob(`${dir}/**/*.log`, { maxFiles: 2 })).toHaveLength(2);
      expect(await expandGlob(`${dir}/missing/*.log`, { maxFiles: 2 })).toEqual([]);
    });
  });
});
