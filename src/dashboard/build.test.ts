import { describe, expect, it } from 'vitest';
import { buildDashboard } from './build.js';

/** The esbuild bundle: one script and one style sheet, with what the page imports from npm inside. */
describe('buildDashboard', () => {
  it('bundles uPlot and its style sheet into the two hashed assets (nothing fetched from a CDN)', async () => {
    const built = await buildDashboard();
    const names = [...built.assets.keys()];
    expect(names).toHaveLength(2);
    const text = (prefix: string) => new TextDecoder().decode(built.assets.get(names.find((n) => n.startsWith(prefix))!)!.body);
    const css = text('style-');
    // uPlot's own rules (uplot/dist/uPlot.min.css, @import-ed by styles.css), inlined.
    expect(css).toContain('.u-legend');
    expect(css).toContain('.u-cursor-pt');
    expect(css).not.toContain('@import');
    // uPlot's code itself is in the script (the Metrics view imports it from npm).
    expect(text('app-')).toContain('u-over');
    expect(built.indexHtml).not.toMatch(/https?:\/\//);
  });
});
