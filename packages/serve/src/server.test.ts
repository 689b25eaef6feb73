import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeModelFolder } from '@rdc/core/runtime';
import { tinyUNet } from '@rdc/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './server.js';
import { grayPng } from './testing.js';

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
  image = await grayPng();
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
