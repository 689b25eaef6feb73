import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeModelFolder } from '@rdc/core/runtime';
import { tinyUNet } from '@rdc/core/testing';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppHandle } from './app.js';
import { ServedModel } from './service/served-model.js';

const dir = join(mkdtempSync(join(tmpdir(), 'rdc-serve-')), 'model');
let service: ServedModel;
let handle: AppHandle;

async function png(w: number, h: number, seed = 1, channels: 3 | 4 = 3): Promise<Buffer> {
  const buf = Buffer.alloc(w * h * channels);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 37 + seed * 101) % 256;
  return sharp(buf, { raw: { width: w, height: h, channels } })
    .png()
    .toBuffer();
}

beforeAll(async () => {
  const { config, weights } = tinyUNet({ seed: 3 });
  writeModelFolder(dir, { network: config, weights, classes: ['cat', 'dog', 'ship'], temperature: 0.5, dc: { levels: 4 }, card: '# tiny test model' });
  service = await ServedModel.load(dir, { threads: 1 });
  handle = createApp(service, { queueCapacity: 4, maxBodyBytes: 200_000, maxBatch: 3 });
  await service.warmUp();
  handle.setReady(true);
});

const post = (path: string, body: Uint8Array | string | FormData, type?: string) =>
  handle.app.request(path, { method: 'POST', body, headers: type ? { 'content-type': type } : {} });
// Response bodies are JSON of known shape; tests read them loosely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const json = (path: string, value: unknown) => post(path, JSON.stringify(value), 'application/json');

describe('POST /v1/classify', () => {
  it('classifies a raw PNG with the RDC by default, with calibrated probabilities, logits, options and timings', async () => {
    const res = await post('/v1/classify?seed=7', await png(8, 8), 'image/png');
    expect(res.status).toBe(200);
    const r = (await res.json()) as Json;
    expect(r.options).toMatchObject({ defense: 'rdc', method: 'released', levels: 4, seed: 7, temperature: 0.5 });
    expect(r.probabilities.map((p: { label: string }) => p.label)).toEqual(['cat', 'dog', 'ship']);
    const sum = r.probabilities.reduce((a: number, p: { probability: number }) => a + p.probability, 0);
    expect(sum).toBeCloseTo(1, 5);
    // Calibrated: softmax(logits / T).
    const e = r.logits.map((l: number) => Math.exp(l / 0.5 - Math.max(...r.logits) / 0.5));
    expect(r.probabilities[0].probability).toBeCloseTo(e[0] / e.reduce((a: number, b: number) => a + b, 0), 5);
    expect(r.top.label).toBe(r.probabilities.reduce((a: { probability: number }, b: { probability: number }) => (b.probability > a.probability ? b : a)).label);
    // The parts add up: the total covers decoding, queueing, LM and the DC, each of which took time.
    expect(r.timings.dcMs).toBeGreaterThan(0);
    expect(r.timings.lmMs).toBeGreaterThan(0);
    expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.decodeMs + r.timings.queueMs + r.timings.lmMs + r.timings.dcMs - 1e-6);
  });

  it('repeats exactly for a seed, and reports the seed it drew otherwise', async () => {
    const body = await png(8, 8, 2);
    const a = (await (await post('/v1/classify?defense=dc&seed=3', body, 'image/png')).json()) as Json;
    const b = (await (await post('/v1/classify?defense=dc&seed=3', body, 'image/png')).json()) as Json;
    expect(a.logits).toEqual(b.logits);
    const c = (await (await post('/v1/classify?defense=dc', body, 'image/png')).json()) as Json;
    const d = (await (await post(`/v1/classify?defense=dc&seed=${c.options.seed}`, body, 'image/png')).json()) as Json;
    expect(d.logits).toEqual(c.logits);
    expect(a.options.defense).toBe('dc');
    expect(a.timings.lmMs).toBeUndefined();
  });

  it('accepts multipart uploads, JPEG, WebP and other sizes (resized by the documented rule)', async () => {
    const form = new FormData();
    form.append('image', new Blob([await png(40, 20)], { type: 'image/png' }), 'x.png');
    form.append('defense', 'dc');
    const res = await handle.app.request('/v1/classify', { method: 'POST', body: form });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Json).options.defense).toBe('dc');
    const raw = Buffer.alloc(16 * 16 * 3, 120);
    const jpeg = await sharp(raw, { raw: { width: 16, height: 16, channels: 3 } })
      .jpeg()
      .toBuffer();
    const webp = await sharp(raw, { raw: { width: 16, height: 16, channels: 3 } })
      .webp()
      .toBuffer();
    expect((await post('/v1/classify?levels=2', jpeg, 'image/jpeg')).status).toBe(200);
    expect((await post('/v1/classify?levels=2', webp, 'image/webp')).status).toBe(200);
    expect((await post('/v1/classify?levels=2', await png(8, 8, 1, 4), 'image/png')).status).toBe(200);
  });

  it('accepts JSON pixels (uint8 or float32, CHW or HWC) and resizes other sizes', async () => {
    const u8 = Buffer.alloc(3 * 8 * 8, 128).toString('base64');
    let res = await json('/v1/classify', { image: { data: u8, shape: [3, 8, 8] }, defense: 'dc', levels: 2, seed: 1 });
    expect(res.status).toBe(200);
    const f32 = Buffer.from(new Float32Array(8 * 8 * 3).fill(0.5).buffer).toString('base64');
    res = await json('/v1/classify', { image: { data: f32, dtype: 'float32', shape: [8, 8, 3], layout: 'HWC' }, defense: 'dc', levels: 2, seed: 1 });
    expect(res.status).toBe(200);
    res = await json('/v1/classify', { image: { data: Buffer.alloc(3 * 20 * 10, 9).toString('base64'), shape: [3, 20, 10] }, defense: 'dc', levels: 2 });
    expect(res.status).toBe(200);
  });

  it('answers bad input with a 4xx JSON error and never crashes', async () => {
    const good = await png(8, 8);
    const cases: [string, Response, number, string][] = [
      ['corrupt image', await post('/v1/classify', Buffer.from('not a png at all'), 'image/png'), 400, 'bad_image'],
      ['truncated image', await post('/v1/classify', good.subarray(0, good.length - 20), 'image/png'), 400, 'bad_image'],
      ['zero-byte body', await post('/v1/classify', new Uint8Array(0), 'image/png'), 400, 'empty_body'],
      ['wrong content type', await post('/v1/classify', 'hello', 'text/plain'), 415, 'unsupported_media_type'],
      ['no content type', await handle.app.request('/v1/classify', { method: 'POST', body: new Uint8Array([1, 2]) }), 415, 'unsupported_media_type'],
      ['invalid JSON', await post('/v1/classify', '{"image":', 'application/json'), 400, 'bad_json'],
      ['JSON without image', await json('/v1/classify', { defense: 'dc' }), 400, 'bad_json'],
      [
        'NaN pixels',
        await json('/v1/classify', {
          image: { data: Buffer.from(new Float32Array(192).fill(NaN).buffer).toString('base64'), dtype: 'float32', shape: [3, 8, 8] },
        }),
        400,
        'bad_pixels',
      ],
      [
        'out-of-range pixels',
        await json('/v1/classify', {
          image: { data: Buffer.from(new Float32Array(192).fill(1.5).buffer).toString('base64'), dtype: 'float32', shape: [3, 8, 8] },
        }),
        400,
        'bad_pixels',
      ],
      ['wrong shape', await json('/v1/classify', { image: { data: Buffer.alloc(100).toString('base64'), shape: [3, 8, 8] } }), 400, 'bad_shape'],
      ['four channels in JSON', await json('/v1/classify', { image: { data: Buffer.alloc(256).toString('base64'), shape: [4, 8, 8] } }), 400, 'bad_shape'],
      ['bad defense', await post('/v1/classify?defense=magic', good, 'image/png'), 400, 'bad_options'],
      ['bad levels', await post('/v1/classify?levels=0', good, 'image/png'), 400, 'bad_options'],
      ['multipart without image', await handle.app.request('/v1/classify', { method: 'POST', body: new FormData() }), 400, 'missing_image'],
      ['oversized body', await post('/v1/classify', Buffer.alloc(300_000), 'image/png'), 413, 'payload_too_large'],
      ['unknown route', await handle.app.request('/v2/nothing'), 404, 'not_found'],
    ];
    for (const [name, res, status, code] of cases) {
      const body = (await res.json()) as Json;
      expect({ name, status: res.status, code: body.error?.code }).toEqual({ name, status, code });
      expect(typeof body.error.message).toBe('string');
    }
    // Still healthy afterwards.
    expect((await post('/v1/classify?levels=2', good, 'image/png')).status).toBe(200);
  });

  it('hides internal errors behind a generic message', async () => {
    const broken = Object.create(service) as ServedModel;
    const factory = Object.create(service.factory) as ServedModel['factory'];
    factory.get = () => {
      throw new Error('secret detail /etc/passwd');
    };
    Object.defineProperty(broken, 'factory', { value: factory });
    const h = createApp(broken, {});
    const res = await h.app.request('/v1/classify', { method: 'POST', body: await png(8, 8), headers: { 'content-type': 'image/png' } });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toMatch(/secret|passwd/);
    expect(JSON.parse(text)).toEqual({ error: { code: 'internal', message: 'internal error' } });
  });
});

describe('POST /v1/classify/batch', () => {
  it('classifies several images (multipart or JSON), one result each, in order', async () => {
    const form = new FormData();
    for (let i = 0; i < 3; i++) form.append('images', new Blob([await png(8, 8, i)], { type: 'image/png' }), `${i}.png`);
    const res = await handle.app.request('/v1/classify/batch?defense=dc&levels=2&seed=5', { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as Json;
    expect(results.length).toBe(3);
    expect(results.map((r: { options: { seed: number } }) => r.options.seed)).toEqual([5, 6, 7]);
    // Each answer equals the single-image answer with its seed.
    const single = (await (await post('/v1/classify?defense=dc&levels=2&seed=6', await png(8, 8, 1), 'image/png')).json()) as Json;
    expect(single.logits).toEqual(results[1].logits);
    const u8 = Buffer.alloc(192, 50).toString('base64');
    const j = await json('/v1/classify/batch', {
      images: [
        { data: u8, shape: [3, 8, 8] },
        { data: u8, shape: [3, 8, 8] },
      ],
      defense: 'dc',
      levels: 2,
    });
    expect(((await j.json()) as Json).results.length).toBe(2);
  });

  it('limits the batch size', async () => {
    const u8 = Buffer.alloc(192, 50).toString('base64');
    const res = await json('/v1/classify/batch', { images: Array(4).fill({ data: u8, shape: [3, 8, 8] }) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as Json).error.code).toBe('too_many_images');
  });
});

describe('model, health, metrics and documentation routes', () => {
  it('explain: the input as the model saw it, and for the RDC LM output and its perturbation, decodable PNGs matching the sizes', async () => {
    const img = await png(16, 16, 5);
    const r: Json = await (await post('/v1/classify?defense=rdc&levels=2&seed=3&explain=true', img, 'image/png')).json();
    expect(Object.keys(r.explain).sort()).toEqual(['input', 'lm', 'perturbation', 'perturbationGain', 'perturbationL2', 'perturbationLinf']);
    for (const k of ['input', 'lm', 'perturbation']) {
      const meta = await sharp(Buffer.from(r.explain[k].split(',')[1], 'base64')).metadata();
      expect([meta.width, meta.height]).toEqual([8, 8]);
    }
    expect(r.explain.perturbationLinf).toBeGreaterThan(0);
    expect(r.explain.perturbationLinf * r.explain.perturbationGain).toBeCloseTo(0.5, 5);
    const dc: Json = await (await post('/v1/classify?defense=dc&levels=2&seed=3&explain=1', img, 'image/png')).json();
    expect(Object.keys(dc.explain)).toEqual(['input']);
    expect((await post('/v1/classify?levels=2', img, 'image/png')).status).toBe(200);
    expect(((await (await post('/v1/classify?levels=2', img, 'image/png')).json()) as Json).explain).toBeUndefined();
    const bad = await post('/v1/classify?explain=maybe', img, 'image/png');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error.message).toMatch(/explain: expected true, false, 1 or 0/);
  });

  it('serves the listed example images and nothing else under /examples', async () => {
    const list: Json = await (await handle.app.request('/v1/examples')).json();
    expect(list.map((e: Json) => e.label)).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    const first = await handle.app.request(list[0].url);
    expect(first.headers.get('content-type')).toBe('image/png');
    expect((await sharp(Buffer.from(await first.arrayBuffer())).metadata()).width).toBe(32);
    for (const bad of ['/examples/..%2Fpackage.json', '/examples/examples.json', '/examples/nope.png'])
      expect((await handle.app.request(bad)).status, bad).toBe(404);
  });

  it('GET /v1/model returns the config and the card', async () => {
    const r = (await (await handle.app.request('/v1/model')).json()) as Json;
    expect(r.config.classes).toEqual(['cat', 'dog', 'ship']);
    expect(r.card).toMatch(/tiny test model/);
  });

  it('health and readiness', async () => {
    expect((await handle.app.request('/healthz')).status).toBe(200);
    expect((await handle.app.request('/readyz')).status).toBe(200);
    const cold = createApp(service, {});
    const res = await cold.app.request('/readyz');
    expect(res.status).toBe(503);
    expect(((await res.json()) as Json).error.code).toBe('not_ready');
  });

  it('GET /metrics in Prometheus text format', async () => {
    const text = await (await handle.app.request('/metrics')).text();
    expect(text).toMatch(/rdc_http_requests_total\{route="\/v1\/classify",method="POST",status="200"\} \d+/);
    expect(text).toMatch(/rdc_http_request_duration_seconds_bucket\{le="0.1",route="\/v1\/classify"\}/);
    expect(text).toMatch(/rdc_queue_depth 0/);
  });

  it('OpenAPI document and interactive docs', async () => {
    const doc = (await (await handle.app.request('/openapi.json')).json()) as Json;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/classify', '/v1/classify/batch', '/v1/model', '/healthz', '/readyz', '/metrics']));
    expect(doc.paths['/v1/classify'].post.requestBody.content['image/png']).toBeDefined();
    const html = await (await handle.app.request('/docs')).text();
    expect(html).toMatch(/<script src="\/docs\/init.js"><\/script>/);
    expect(await (await handle.app.request('/docs/init.js')).text()).toMatch(/SwaggerUIBundle\(\{ url: '\/openapi.json'/);
    expect((await handle.app.request('/docs/swagger-ui-bundle.js')).status).toBe(200);
    expect(await (await handle.app.request('/')).text()).toMatch(/Drop a picture here/);
  });
});
