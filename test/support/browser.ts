import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';

/**
 * The browser for dashboard tests and `npm run bench:ui`: Debian's Chromium driven by
 * playwright-core (`npx playwright install` is not used: `apt-get install -y chromium`).
 *
 * `CHROMIUM_PATH` if set, else `/usr/bin/chromium` (or `chromium-browser`, `google-chrome`).
 * Without one, browser tests skip locally and fail under `CI` or `REQUIRE_BROWSER=1`.
 *
 * @example
 * describe.skipIf(!browserAvailable)('the dashboard', () => {
 *   let browser: Browser;
 *   beforeAll(async () => { browser = await launchBrowser(); });
 *   afterAll(() => browser?.close());
 * });
 */

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

export const chromiumPath: string | undefined = process.env.CHROMIUM_PATH?.trim() || CANDIDATES.find((p) => existsSync(p));

/** `REQUIRE_BROWSER` is 1/true, or `CI` is set to anything but ''/0/false. */
export function browserRequired(env: Record<string, string | undefined> = process.env): boolean {
  const on = (v: string | undefined) => v !== undefined && !/^(|0|false|no)$/i.test(v.trim());
  return /^(1|true|yes)$/i.test(env.REQUIRE_BROWSER?.trim() ?? '') || on(env.CI);
}

/** For `describe.skipIf(!browserAvailable)`: never false when a browser is required. */
export const browserAvailable: boolean = chromiumPath !== undefined || browserRequired();

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Launches Chromium headless; rejects saying how to install it when there is none. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  if (!chromiumPath || !existsSync(chromiumPath)) {
    throw new Error(
      `Chromium is required here (CI or REQUIRE_BROWSER is set) but ${chromiumPath ?? '/usr/bin/chromium'} does not exist: ` +
        'apt-get install -y chromium, or set CHROMIUM_PATH.',
    );
  }
  return chromium.launch({ executablePath: chromiumPath, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/**
 * A fresh page (own context: own sessionStorage) that records console errors and page errors
 * in `errors`, so a test can assert the page threw nothing.
 */
export async function newPage(browser: Browser, opts: BrowserContextOptions = {}): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return { page, errors };
}
