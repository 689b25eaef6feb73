import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeModelFolder } from '@rdc/core/runtime';
import { tinyUNet } from '@rdc/core/testing';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Functions passed to page.waitForFunction run in the browser, where `document` exists.
declare const document: { querySelectorAll(s: string): { length: number }; querySelector(s: string): { textContent: string | null } | null };
import { startServer, type RunningServer } from './server.js';

const dir = join(mkdtempSync(join(tmpdir(), 'rdc-serve-')), 'model');
let server: RunningServer;
let base: string;
let image: Buffer;

beforeAll(async () => {
  const { config, weights } = tinyUNet({ seed: 4 });
  const card =
    '# tiny\n\n<!-- rdc:eval-dc -->\n- **DC**: clean accuracy 12.5 % [1.0, 2.0] (95 % CI) on the first 8 test images. Command: `rdc eval`\n<!-- /rdc:eval-dc -->\n';
  writeModelFolder(dir, { network: config, weights, classes: ['cat', 'dog', 'ship'], temperature: 1, dc: { levels: 3 }, card });
  server = await startServer(dir, { port: 0, host: '127.0.0.1', threads: 1, queueCapacity: 8 });
  base = `http://127.0.0.1:${server.port}`;
  image = await sharp(Buffer.alloc(8 * 8 * 3, 90), { raw: { width: 8, height: 8, channels: 3 } })
    .png()
    .toBuffer();
});

afterAll(async () => {
  await server?.close();
});

const classify = (query = 'defense=dc&levels=2') =>
  fetch(`${base}/v1/classify?${query}`, { method: 'POST', body: image, headers: { 'content-type': 'image/png' } });

describe('the API over real HTTP', () => {
  it('is ready after warm-up and classifies', async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const res = await classify('seed=1');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { options: { defense: string } }).options.defense).toBe('rdc');
  });

  it('200 concurrent requests against a small queue: every answer a 200 or a 503 with Retry-After, memory bounded', async () => {
    const before = process.memoryUsage().rss;
    // Slow enough jobs (100 σ levels) that the 200 requests pile up behind the 8-slot queue.
    const answers = await Promise.all(
      Array.from({ length: 200 }, () =>
        classify('levels=100').then(async (r) => ({
          status: r.status,
          retry: r.headers.get('retry-after'),
          body: (await r.json()) as { error: { code: string } },
        })),
      ),
    );
    const ok = answers.filter((a) => a.status === 200);
    const busy = answers.filter((a) => a.status === 503);
    expect(ok.length + busy.length).toBe(200);
    expect(ok.length).toBeGreaterThan(0);
    expect(busy.length).toBeGreaterThan(0);
    for (const b of busy) {
      expect(Number(b.retry)).toBeGreaterThanOrEqual(1);
      expect(b.body.error.code).toBe('busy');
    }
    expect(process.memoryUsage().rss - before).toBeLessThan(300 * 2 ** 20);
    expect((await classify()).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/rdc_http_requests_total\{route="\/v1\/classify",method="POST",status="503"\} \d+/);
  });

  it('the page classifies a picked image in headless Chromium', async () => {
    const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
    expect(existsSync(executablePath), `Chromium is needed at ${executablePath} (Debian: apt-get install chromium)`).toBe(true);
    const browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/`);
      // The model's measured accuracy from its card, and the example images.
      await page.waitForFunction(() => (document.querySelector('#measured')?.textContent ?? '').includes('clean accuracy 12.5 %'), null, { timeout: 30_000 });
      expect(await page.locator('#measured').textContent()).not.toMatch(/Command|\*\*/);
      // Beside it, the paper's figures, so a CPU-scale model is not mistaken for the paper's.
      expect(await page.locator('#model small').textContent()).toContain('75.67 %');
      await page.waitForFunction(() => document.querySelectorAll('#examples button').length === 10, null, { timeout: 30_000 });
      // An example through the RDC: the input as the model saw it, LM's output and its change, the time taken.
      await page.locator('#levels').fill('2');
      await page.locator('#examples button').first().click();
      await page.waitForFunction(() => document.querySelectorAll('#bars .bar').length === 3, null, { timeout: 60_000 });
      for (const id of ['#view-input', '#view-lm', '#view-delta']) {
        expect(await page.locator(id).isVisible(), id).toBe(true);
        expect(await page.locator(`${id} img`).getAttribute('src')).toMatch(/^data:image\/png;base64,/);
      }
      expect(await page.locator('#delta-caption').textContent()).toMatch(/ℓ∞ \d+\.\d\/255/);
      expect(await page.locator('#timing').textContent()).toMatch(/^LM \d+ ms, DC \d+ ms \(2 σ levels\)/);
      await page.locator('input[name=defense][value=dc]').check();
      await page.locator('#levels').fill('2');
      await page.locator('#file').setInputFiles({ name: 'x.png', mimeType: 'image/png', buffer: image });
      await page.waitForFunction(() => document.querySelectorAll('#bars .bar').length === 3, null, { timeout: 60_000 });
      const top = await page.locator('#top').textContent();
      expect(top).toMatch(/^(cat|dog|ship) \(\d+\.\d %\)$/);
      expect(await page.locator('#error').textContent()).toBe('');
      // A bad file shows the API's error message.
      await page.locator('#file').setInputFiles({ name: 'bad.png', mimeType: 'image/png', buffer: Buffer.from('nope') });
      await page.waitForFunction(() => (document.querySelector('#error')?.textContent ?? '').startsWith('Error:'), null, { timeout: 30_000 });
      expect(await page.locator('#error').textContent()).toMatch(/not a PNG, JPEG or WebP/);
    } finally {
      await browser.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('finishes in-flight requests, then stops accepting connections', async () => {
    const s = await startServer(dir, { port: 0, host: '127.0.0.1', threads: 1 });
    const url = `http://127.0.0.1:${s.port}/v1/classify?levels=3`;
    const inflight = fetch(url, { method: 'POST', body: image, headers: { 'content-type': 'image/png' } });
    await new Promise((r) => setTimeout(r, 20));
    const closing = s.close();
    expect((await inflight).status).toBe(200);
    await closing;
    await expect(fetch(url, { method: 'POST', body: image, headers: { 'content-type': 'image/png' } })).rejects.toThrow();
  });
});
