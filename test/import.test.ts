import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSafetensors, loadEdmWeights, modelDenoisers, OrtEngine, readEdmCheckpoint, readModelFolder, Random } from '@rdc/core';
import { sharedFixture } from '@rdc/core/testing';
import { classifyImage, ServedModel } from '@rdc/serve';
import { describe, expect, it, vi } from 'vitest';
import { data, rdc, tmp } from './helpers.js';

const fixtures = sharedFixture('edm');
/** `import edm` of the fixtures' class-conditional .pkl and unconditional .pt. */
const importArgs = () => ['import', 'edm', '--cond', join(fixtures!, 'tiny-cond.pkl'), '--uncond', join(fixtures!, 'tiny-uncond.pt')];

/** Runs the CLI and returns its exit code and what it wrote to stderr. */
async function rdcErr(...args: string[]): Promise<{ code: number; stderr: string }> {
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await rdc(...args);
    return { code, stderr: spy.mock.calls.map((c) => String(c[0])).join('') };
  } finally {
    spy.mockRestore();
  }
}

describe.skipIf(!fixtures)('rdc import edm', () => {
  const dir = tmp('rdc-import-');
  const model = join(dir, 'edm');

  it.skipIf(!data)('imports the class-conditional .pkl and the unconditional .pt as a model folder: DC and RDC on ONNX Runtime alone', async () => {
    const code = await rdc(...importArgs(), '--model', model, '--calibration-images', '4', '--levels', '3', '--guard-images', '4', '--allow-discriminative');
    expect(code).toBe(0);
    // Randomly initialised networks are not denoisers: the guard says so, in the config and the card.
    const guard = readModelFolder(model).config.guard;
    expect(guard?.validation).toMatchObject({ images: 4, split: 'val', denoises: false });
    expect(guard?.test).toMatchObject({ images: 4, split: 'test' });
    expect(readFileSync(join(model, 'MODEL_CARD.md'), 'utf8')).toContain('not a diffusion classifier: its class heads do not denoise');
    // Without --allow-discriminative the import is refused, naming the figures.
    const refused = await rdcErr(...importArgs(), '--model', join(dir, 'refused'), '--guard-images', '2', '--calibration-images', '0');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to write .*not a diffusion classifier.*generative guard on 2 validation images: at σ = /);
    expect(existsSync(join(dir, 'refused'))).toBe(false);
    const m = readModelFolder(model);
    expect(m.config.network).toMatchObject({ arch: 'unet', conditioning: 'label', modelChannels: 16 });
    expect(m.config.lmNetwork).toMatchObject({ arch: 'unet', conditioning: 'none' });
    expect(Object.keys(m.config.files).sort()).toEqual([
      'MODEL_CARD.md',
      'dc_chunk.onnx',
      'dc_vjp.onnx',
      'denoiser.onnx',
      'lm.safetensors',
      'lm_grad.onnx',
      'model.safetensors',
    ]);
    expect(m.config.temperature).toBeGreaterThan(0);
    const card = readFileSync(join(model, 'MODEL_CARD.md'), 'utf8');
    const sha = (f: string) => readEdmCheckpoint(join(fixtures!, f));
    for (const f of ['tiny-cond.pkl', 'tiny-uncond.pt']) {
      const ck = sha(f);
      expect(card).toContain(ck.sha256);
      ck.close();
    }
    // The imported weights are the checkpoint's, and LM's network is the unconditional one.
    const ck = readEdmCheckpoint(join(fixtures!, 'tiny-uncond.pt'));
    const w = loadEdmWeights(ck);
    ck.close();
    for (const k of Object.keys(w)) expect(Array.from(m.lmWeights![k].data), k).toEqual(Array.from(w[k].data));
    // The API serves both defenses from it.
    const svc = await ServedModel.load(model, { threads: 1 });
    const x = { data: new Random(1).normal(3072).map((v) => 0.5 + 0.2 * Math.tanh(v)), dims: [1, 3, 32, 32] };
    for (const defense of ['dc', 'rdc'] as const) {
      const r = await classifyImage(svc, x, { defense, levels: 2, seed: 3 });
      expect(r.probabilities.length).toBe(10);
    }
    // 10 passes per level: the cost estimate counts them.
    expect(svc.passesPerLevel).toBe(10);
    expect(await rdc('eval', '--model', model, '--defense', 'rdc', '--limit', '2', '--levels', '2')).toBe(0);
  });

  it.skipIf(!data)('distils a multi-head student from the imported label-conditional teacher and its unconditional network', async () => {
    const run = join(dir, 'distill');
    const args = ['--model-channels', '8', '--channel-mult', '1,2', '--num-blocks', '1', '--attn', '', '--teacher', model, '--run', run];
    expect(await rdc('train', ...args, '--steps', '2', '--batch', '2', '--val-every', '1000', '--val-size', '20', '--warmup', '1')).toBe(0);
    const log = readFileSync(join(run, 'log.jsonl'), 'utf8');
    expect(log).toMatch(/"event":"start","mode":"distill"/);
    // The targets: every class head is the teacher's D for its class, the last head the unconditional network's.
    const m = readModelFolder(model);
    const engine = await OrtEngine.create({ threads: 1 });
    const { main, lm } = modelDenoisers(m, engine);
    const rng = new Random(4);
    const x = { data: rng.normal(2 * 3072), dims: [2, 3, 32, 32] };
    const sigma = Float32Array.of(0.3, 2);
    const all = (await main.denoiseAllHeads(x, sigma)).data;
    const d = 3072;
    for (const head of [0, 7]) {
      const labels = new Float32Array(20);
      labels[head] = labels[10 + head] = 1;
      const one = (await main.denoise(x, sigma, { data: labels, dims: [2, 10] })).data;
      for (let i = 0; i < 2; i++)
        expect(Array.from(all.subarray((i * 11 + head) * d, (i * 11 + head + 1) * d))).toEqual(Array.from(one.subarray(i * d, (i + 1) * d)));
    }
    const u = (await lm!.denoise(x, sigma)).data;
    for (let i = 0; i < 2; i++) expect(Array.from(all.subarray((i * 11 + 10) * d, (i * 11 + 11) * d))).toEqual(Array.from(u.subarray(i * d, (i + 1) * d)));
  });

  it('refuses hostile, truncated, misshapen and incomplete files with a clear message and exit code 2', async () => {
    const cases: [string, Buffer | (() => Buffer), RegExp][] = [
      ['evil.pkl', Buffer.from("\x80\x04cos\nsystem\n(S'touch pwned'\ntR.", 'latin1'), /names os\.system, which is not allowed/],
      ['eval.pkl', Buffer.from("\x80\x02cbuiltins\neval\n(S'1'\ntR.", 'latin1'), /names builtins\.eval, which is not allowed/],
      ['half.pt', () => readFileSync(join(fixtures!, 'tiny-cond.pt')).subarray(0, 400_000), /not a zip file|truncated/],
      ['half.pkl', () => readFileSync(join(fixtures!, 'tiny-cond.pkl')).subarray(0, 400_000), /truncated/],
    ];
    const weights = (() => {
      const ck = readEdmCheckpoint(join(fixtures!, 'tiny-cond.pt'));
      const w = loadEdmWeights(ck);
      ck.close();
      return w;
    })();
    const withModel = (w: typeof weights) => Buffer.from(encodeSafetensors(Object.fromEntries(Object.entries(w).map(([k, v]) => [`model.${k}`, v]))));
    const { 'dec.32x32_aux_norm.bias': _, ...missing } = weights;
    cases.push(['missing.safetensors', withModel(missing), /missing key 'model\.dec\.32x32_aux_norm\.bias'/]);
    cases.push([
      'shape.safetensors',
      withModel({ ...weights, 'enc.32x32_block0.conv1.weight': { data: new Float32Array(16 * 16), dims: [16, 16, 1, 1] } }),
      /key 'model\.enc\.32x32_block0\.conv1\.weight' has shape \[16, 16, 1, 1\], the network needs \[16, 16, 3, 3\]/,
    ]);
    cases.push([
      'extra.safetensors',
      withModel({ ...weights, 'nope.weight': { data: new Float32Array(2), dims: [2] } }),
      /unexpected key 'model\.nope\.weight'/,
    ]);
    for (const [name, bytes, message] of cases) {
      const file = join(dir, name);
      writeFileSync(file, typeof bytes === 'function' ? bytes() : bytes);
      const r = await rdcErr('import', 'edm', '--cond', file, '--model', join(dir, `out-${name}`), '--calibration-images', '0', '--guard-images', '0');
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(message);
    }
    expect(existsSync(join(dir, 'pwned')) || existsSync('pwned')).toBe(false);
    // The unconditional network is refused as --cond.
    const r = await rdcErr(
      'import',
      'edm',
      '--cond',
      join(fixtures!, 'tiny-uncond.pkl'),
      '--model',
      join(dir, 'x'),
      '--calibration-images',
      '0',
      '--guard-images',
      '0',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--cond must be a class-conditional network/);
  });
});
