// The README's screenshot of the page: a bundled picture attacked against every classifier.
// Usage (with `pnpm serve` running): node packages/serve/scripts/screenshot.mjs [http://localhost:8080] [docs/page.png]
// Needs Chromium (Debian: apt-get install chromium; or CHROMIUM_PATH).
import { chromium } from 'playwright-core';

const [base = 'http://localhost:8080', out = 'docs/page.png'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 1200 }, deviceScaleFactor: 1 });
  await page.goto(base);
  await page.waitForFunction(() => document.querySelectorAll('#examples button').length > 3 && document.querySelectorAll('.model').length > 0);
  await page.locator('#examples button').nth(3).click();
  await page.waitForFunction(() => document.querySelectorAll('#bars .bar').length > 0, null, { timeout: 120_000 });
  await page.locator('#seed').fill('1');
  await page.locator('#attack-all').click();
  const rows = await page.locator('#targets input:checked').count();
  await page.waitForFunction((n) => Object.keys(window.labResults).length === n, rows, { timeout: 600_000 });
  await page.locator('section').nth(3).screenshot({ path: out });
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
}
