import { beforeAll, describe, expect, it } from 'vitest';
import { lmPreset } from '../config/schema.js';
import { buildDenoiserGraph } from '../nn/denoiser-graph.js';
import { edmLossGraph, lmObjectiveGraph } from '../nn/objectives.js';
import { Random } from '../rng/random.js';
import { relativeError, type Tensor, type Weights } from '../tensor.js';
import { LikelihoodMaximizer } from '../method/lm.js';
import { tinyUNet } from '../testing.js';
import { Denoiser } from './denoiser.js';
import type { Engine } from './engine.js';
import { OrtEngine } from './ort.js';
import { TfjsEngine } from './tfjs.js';

let ort: OrtEngine;
let tfjs: TfjsEngine;
beforeAll(async () => {
  ort = await OrtEngine.create({ threads: 1 });
  tfjs = await TfjsEngine.create('wasm');
});

const { config, weights } = tinyUNet({ seed: 21 });

function lossFeeds(n: number, seed: number): Record<string, Tensor> {
  const rng = new Random(seed);
  const d = 192;
  const x = rng.normal(n * d).map((v) => Math.tanh(v));
  const target = new Float32Array(n * 4 * d);
  const mask = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < 4; h++) target.set(x.subarray(i * d, (i + 1) * d), (i * 4 + h) * d);
    mask[i * 4 + (i % 3)] = 1;
    mask[i * 4 + 3] = 1;
  }
  return {
    x: { data: x, dims: [n, 3, 8, 8] },
    noise: { data: rng.normal(n * d), dims: [n, 3, 8, 8] },
    sigma: { data: Float32Array.from({ length: n }, () => 0.1 + rng.uniform()), dims: [n] },
    target: { data: target, dims: [n, 4, 3, 8, 8] },
    mask: { data: mask, dims: [n, 4] },
  };
}

describe('ONNX Runtime gradient graphs against finite differences', () => {
  it('LM objective: input gradient matches directional central differences', async () => {
    const graph = lmObjectiveGraph(config);
    const g = await ort.compileGradient(graph, { of: 'loss', wrt: ['x'] }, { weights });
    const f = await ort.compile(graph, { weights });
    const rng = new Random(1);
    const feeds = {
      x: { data: rng.normal(2 * 192).map((v) => 0.5 * Math.tanh(v)), dims: [2, 3, 8, 8] },
      noise: { data: rng.normal(2 * 192), dims: [2, 3, 8, 8] },
      sigma: { data: Float32Array.of(0.45, 0.55), dims: [2] },
    };
    const { grads } = await g.run(feeds);
    const total = async (x: Float32Array) => (await f.run({ ...feeds, x: { data: x, dims: [2, 3, 8, 8] } })).loss.data.reduce((a, b) => a + b, 0);
    for (let t = 0; t < 3; t++) {
      const v = rng.normal(2 * 192);
      const norm = Math.hypot(...v);
      v.forEach((_, i) => (v[i] /= norm));
      const h = 1e-2;
      const fd = ((await total(feeds.x.data.map((x, i) => x + h * v[i]))) - (await total(feeds.x.data.map((x, i) => x - h * v[i])))) / (2 * h);
      const an = grads.x.data.reduce((a, gi, i) => a + gi * v[i], 0);
      expect(Math.abs(fd - an)).toBeLessThan(1e-2 * Math.abs(fd) + 1e-6);
    }
  });

  it.each([
    ['the EDM loss', undefined],
    ['with the DC cross-entropy term', { weight: 0.5, scale: 20 }],
  ] as const)('training loss (%s): weight gradient matches a directional central difference', async (_name, crossEntropy) => {
    const graph = edmLossGraph(config, { crossEntropy });
    const names = Object.keys(weights);
    const g = await ort.compileGradient(graph, { of: 'loss', wrt: names });
    const f = await ort.compile(graph);
    const feeds = lossFeeds(3, 2);
    if (crossEntropy) feeds.classes = { data: Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1), dims: [3, 3] };
    const { grads } = await g.run(feeds, { weights });
    if (crossEntropy) {
      // The term is really there: the loss differs from the EDM loss alone.
      const plain = await (await ort.compile(edmLossGraph(config))).run(feeds, weights);
      expect((await f.run(feeds, weights)).loss.data[0]).not.toBeCloseTo(plain.loss.data[0], 4);
    }
    const rng = new Random(3);
    const dir: Record<string, Float32Array> = Object.fromEntries(names.map((n) => [n, rng.normal(weights[n].data.length)]));
    let norm = 0;
    for (const v of Object.values(dir)) for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    const shifted = (h: number): Weights =>
      Object.fromEntries(names.map((n) => [n, { data: weights[n].data.map((w, i) => w + (h * dir[n][i]) / norm), dims: weights[n].dims }]));
    const h = 1e-2;
    const fd = ((await f.run(feeds, shifted(h))).loss.data[0] - (await f.run(feeds, shifted(-h))).loss.data[0]) / (2 * h);
    let an = 0;
    for (const n of names) grads[n].data.forEach((gi, i) => (an += (gi * dir[n][i]) / norm));
    expect(Math.abs(fd - an)).toBeLessThan(1e-2 * Math.abs(fd));
  });
});

describe('engines agree on the method', () => {
  it('one SGD step on both engines gives the same weights', async () => {
    const graph = edmLossGraph(config);
    const names = Object.keys(weights);
    const feeds = lossFeeds(4, 5);
    const step = async (e: Engine) => {
      const { grads } = await (await e.compileGradient(graph, { of: 'loss', wrt: names })).run(feeds, { weights });
      return names.flatMap((n) => Array.from(weights[n].data.map((w, i) => w - 0.1 * grads[n].data[i])));
    };
    const a = await step(ort);
    const b = await step(tfjs);
    const before = names.flatMap((n) => Array.from(weights[n].data));
    const moved = relativeError(a, before);
    expect(moved).toBeGreaterThan(1e-4);
    expect(relativeError(a, b)).toBeLessThan(1e-3 * moved);
  });

  it('LM gives the same output on both engines for the same seed and noise (one thread)', async () => {
    const rng = new Random(6);
    const px = { data: Float32Array.from({ length: 2 * 192 }, () => 0.1 + 0.8 * rng.uniform()), dims: [2, 3, 8, 8] };
    const run = async (e: Engine) => new LikelihoodMaximizer(new Denoiser(e, config, weights), lmPreset('paper')).run(px, new Random(7));
    const a = await run(ort);
    const b = await run(tfjs);
    // LM moved the images (5 % of their norm); the engines agree to float32 rounding (~1e-7).
    expect(relativeError(a.data, px.data)).toBeGreaterThan(1e-2);
    expect(relativeError(a.data, b.data)).toBeLessThan(1e-5);
    // And ONNX Runtime alone repeats bit for bit.
    expect(Array.from((await run(ort)).data)).toEqual(Array.from(a.data));
  });
});

describe('reverse-pass graphs', () => {
  it('differentiate with respect to σ too (every input is a leaf)', async () => {
    const graph = buildDenoiserGraph(config);
    const g = await ort.compileGradient(graph, { of: 'D', wrt: ['sigma'] }, { weights });
    const rng = new Random(8);
    const feeds = { x: { data: rng.normal(192), dims: [1, 3, 8, 8] }, sigma: { data: Float32Array.of(0.7), dims: [1] } };
    const cot = { data: rng.normal(4 * 192), dims: [1, 4, 3, 8, 8] };
    const r = await g.run(feeds, { cotangent: cot });
    expect(r.grads.sigma.dims).toEqual([1]);
    // Against a central difference of ⟨cotangent, D⟩ in σ.
    const f = await ort.compile(graph, { weights });
    const dot = async (s: number) =>
      (await f.run({ x: feeds.x, sigma: { data: Float32Array.of(s), dims: [1] } })).D.data.reduce((a, v, i) => a + v * cot.data[i], 0);
    const h = 1e-3;
    const fd = ((await dot(0.7 + h)) - (await dot(0.7 - h))) / (2 * h);
    expect(Math.abs(r.grads.sigma.data[0] - fd)).toBeLessThan(1e-2 * Math.abs(fd));
  });
});
