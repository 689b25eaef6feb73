import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CnnConfig, buildClassifierGraph, initWeights, writeModelFolder } from '@rdc/core/runtime';
import { tinyUNet } from '@rdc/core/testing';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppHandle } from '../app.js';
import { ModelRegistry } from '../service/registry.js';
import { ServedModel } from '../service/served-model.js';
import { grayPng } from '../testing.js';

/**
 * The served /openapi.json is generated from the routes' schemas: real answers of every route, and
 * every error the contract lists, are checked against the document itself (JSON Schema 2020-12).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
let handle: AppHandle;
let doc: Json;
const root = mkdtempSync(join(tmpdir(), 'rdc-contract-'));

beforeAll(async () => {
  const { config, weights } = tinyUNet({ seed: 3 });
  writeModelFolder(join(root, 'default'), { network: config, weights, classes: ['cat', 'dog', 'ship'], dc: { levels: 4 }, card: '# tiny' });
  const cnn = CnnConfig.parse({ arch: 'cnn', widths: [4, 8], numClasses: 3, image: { channels: 3, height: 8, width: 8 } });
  writeModelFolder(join(root, 'cnn'), { network: cnn, weights: initWeights(buildClassifierGraph(cnn), 1), classes: ['cat', 'dog', 'ship'], card: '# cnn' });
  const models = new ModelRegistry([await ServedModel.load(join(root, 'default'), { threads: 1 }), await ServedModel.load(join(root, 'cnn'), { threads: 1 })]);
  handle = createApp(models, { maxBatch: 3 });
  handle.setReady(true);
  doc = await (await handle.app.request('/openapi.json')).json();
});

/** A validator of a route's response schema in the document ($refs resolved against its components). */
function validatorFor(path: string, method: string, status: number) {
  const response = doc.paths[path]?.[method]?.responses?.[String(status)];
  if (!response) throw new Error(`the document has no ${status} response for ${method.toUpperCase()} ${path}`);
  const schema = response.content?.['application/json']?.schema;
  if (!schema) throw new Error(`${method.toUpperCase()} ${path} ${status}: no JSON schema in the document`);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'doc', components: doc.components }, 'doc');
  const rewrite = (v: Json): Json =>
    Array.isArray(v)
      ? v.map(rewrite)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === '$ref' && typeof x === 'string' ? `doc${x}` : rewrite(x)]))
        : v;
  return ajv.compile(rewrite(schema));
}

async function check(res: Response, path: string, method: string): Promise<Json> {
  const body = await res.json();
  const validate = validatorFor(path, method, res.status);
  const ok = validate(body);
  if (!ok) throw new Error(`${method.toUpperCase()} ${path} ${res.status}: ${JSON.stringify(validate.errors).slice(0, 400)}`);
  return body;
}

const png = () => grayPng();

describe('the HTTP contract: real responses against the generated OpenAPI document', () => {
  it('documents every route the app serves, with the fields that had drifted', () => {
    expect(doc.openapi).toBe('3.1.0');
    for (const p of [
      '/v1/classify',
      '/v1/classify/batch',
      '/v1/certify',
      '/v1/attack',
      '/v1/model',
      '/v1/models',
      '/v1/examples',
      '/examples/{file}',
      '/healthz',
      '/readyz',
      '/metrics',
    ])
      expect(doc.paths[p], p).toBeDefined();
    const s = doc.components.schemas;
    // An object's properties, through allOf and $ref (an extended schema is documented as allOf).
    const props = (x: Json): Json =>
      x.$ref ? props(s[x.$ref.split('/').pop()]) : { ...(x.properties ?? {}), ...Object.assign({}, ...(x.allOf ?? []).map(props)) };
    expect(props(s.ModelInfo).measured).toBeDefined();
    expect(props(s.ModelInfo).limits).toBeDefined();
    expect(props(s.BatchResult).timings).toBeDefined();
    const seed = doc.paths['/v1/classify'].post.parameters.find((p: Json) => p.name === 'seed');
    expect(seed.schema.maximum).toBe(2 ** 31 - 1);
    expect(s.Pixels.properties.shape.items.exclusiveMinimum).toBe(0);
    const levels = doc.paths['/v1/classify'].post.parameters.find((p: Json) => p.name === 'levels');
    expect(levels.schema.minimum).toBe(2);
  });

  it('every route answers as documented: classify (DC, RDC, CNN), batch, models, examples, health', async () => {
    const body = await png();
    const post = (path: string, b: NonNullable<RequestInit['body']>, type: string) =>
      handle.app.request(path, { method: 'POST', body: b, headers: { 'content-type': type } });
    const dc = await check(await post('/v1/classify?defense=dc&levels=2&seed=1', body, 'image/png'), '/v1/classify', 'post');
    expect(dc.model).toBe('default');
    await check(await post('/v1/classify?levels=2&seed=1&explain=true', body, 'image/png'), '/v1/classify', 'post');
    const cnn = await check(await post('/v1/classify?model=cnn', body, 'image/png'), '/v1/classify', 'post');
    expect(cnn.options.defense).toBe('none');
    const form = new FormData();
    form.append('images', new Blob([body], { type: 'image/png' }), 'a.png');
    form.append('images', new Blob([body], { type: 'image/png' }), 'b.png');
    form.append('levels', '2');
    const batch = await check(await handle.app.request('/v1/classify/batch?defense=dc', { method: 'POST', body: form }), '/v1/classify/batch', 'post');
    expect(batch.results).toHaveLength(2);
    const models = await check(await handle.app.request('/v1/models'), '/v1/models', 'get');
    expect(models.models.map((m: Json) => [m.name, m.arch])).toEqual([
      ['default', 'unet'],
      ['cnn', 'cnn'],
    ]);
    const cert = await check(await post('/v1/certify?n0=4&n=12&levels=2&seed=3&sigma=0.25', body, 'image/png'), '/v1/certify', 'post');
    expect(cert).toMatchObject({ base: 'apndc', n: 12, n0: 4, sigma: 0.25, levels: 2, seed: 3 });
    if (cert.prediction === -1) expect(cert.radius).toBe(0);
    else expect(cert.pALower).toBeGreaterThanOrEqual(0.5);
    const cnnCert = await check(await post('/v1/certify?model=cnn&n0=5&n=50&sigma=1/8', body, 'image/png'), '/v1/certify', 'post');
    expect(cnnCert).toMatchObject({ base: 'none', sigma: 0.125, levels: null });
    const att = await check(await post('/v1/attack?model=cnn&eps=8/255&iterations=5&seed=2', body, 'image/png'), '/v1/attack', 'post');
    expect(att).toMatchObject({ defense: 'none', options: { norm: 'linf', attack: 'apgd-ce', iterations: 5, levels: null, recheck: 5, rule: 'majority' } });
    expect(att.adversarial.linf).toBeLessThanOrEqual(8 / 255 + 1e-6);
    const dcAttack = await check(
      await post(
        '/v1/attack',
        JSON.stringify({
          defense: 'dc',
          levels: 2,
          iterations: 2,
          norm: 'l2',
          eps: 0.5,
          recheck: 3,
          image: { data: Buffer.alloc(8 * 8 * 3, 90).toString('base64'), shape: [8, 8, 3], layout: 'HWC' },
        }),
        'application/json',
      ),
      '/v1/attack',
      'post',
    );
    expect(dcAttack.attacked.draws).toHaveLength(3);
    await check(await handle.app.request('/v1/model'), '/v1/model', 'get');
    await check(await handle.app.request('/v1/model?model=cnn'), '/v1/model', 'get');
    await check(await handle.app.request('/v1/examples'), '/v1/examples', 'get');
    await check(await handle.app.request('/healthz'), '/healthz', 'get');
    await check(await handle.app.request('/readyz'), '/readyz', 'get');
  });

  it('errors as documented: bad options, no such model, wrong defense, too many images, bad type', async () => {
    const body = await png();
    const post = (path: string, b: NonNullable<RequestInit['body']>, type: string) =>
      handle.app.request(path, { method: 'POST', body: b, headers: { 'content-type': type } });
    const cases: [Response, number, string][] = [
      [await post('/v1/classify?levels=1', body, 'image/png'), 400, 'bad_options'],
      [await post('/v1/classify?model=nope', body, 'image/png'), 404, 'no_model'],
      [await post('/v1/classify?model=cnn&defense=dc', body, 'image/png'), 400, 'bad_defense'],
      [await post('/v1/classify', body, 'text/plain'), 415, 'unsupported_media_type'],
      [
        await post('/v1/classify/batch', JSON.stringify({ images: Array(4).fill({ data: 'AAAA', shape: [1, 2, 2] }) }), 'application/json'),
        413,
        'too_many_images',
      ],
      [await handle.app.request('/v1/model?model=nope'), 404, 'no_model'],
      [await post('/v1/certify?n=100000', body, 'image/png'), 400, 'too_much_work'],
      [await post('/v1/certify?base=none', body, 'image/png'), 400, 'bad_defense'],
      [await post('/v1/certify?sigma=abc', body, 'image/png'), 400, 'bad_options'],
      [await post('/v1/attack?eps=17/255', body, 'image/png'), 400, 'bad_options'],
      [await post('/v1/attack?norm=l2&eps=1.5', body, 'image/png'), 400, 'bad_options'],
      [await post('/v1/attack?iterations=51', body, 'image/png'), 400, 'bad_options'],
      [await post('/v1/attack?levels=5', body, 'image/png'), 400, 'bad_options'],
      [await post('/v1/attack?attack=square', body, 'image/png'), 400, 'bad_options'],
      [await post('/v1/attack?model=cnn&levels=2', body, 'image/png'), 400, 'bad_options'],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status).toBe(status);
      const path = new URL(res.url || 'http://x/v1/classify').pathname;
      const b = await check(
        res,
        path.startsWith('/v1/model') ? '/v1/model' : path.includes('batch') ? '/v1/classify/batch' : path,
        res.url.includes('/v1/model') ? 'get' : 'post',
      );
      expect(b.error.code).toBe(code);
    }
  });
});
