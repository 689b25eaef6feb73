import { beforeAll, describe, expect, it } from 'vitest';
import { lmPreset } from '../config/schema.js';
import { Denoiser } from '../engines/denoiser.js';
import { OrtEngine } from '../engines/ort.js';
import { TfjsEngine } from '../engines/tfjs.js';
import { Random } from '../rng/random.js';
import { relativeError } from '../tensor.js';
import { tinyUNet } from '../testing.js';
import { gradientGraph } from '../nn/autodiff.js';
import { lmObjectiveGraph } from '../nn/objectives.js';
import { RdcClassifier } from './classifier.js';
import { DiffusionClassifier } from './dc.js';
import { LikelihoodMaximizer } from './lm.js';

const { config, weights } = tinyUNet({ seed: 31, attention: false });
let ort: OrtEngine;
beforeAll(async () => {
  ort = await OrtEngine.create({ threads: 1 });
});

function image(seed: number): Float32Array {
  const r = new Random(seed);
  return Float32Array.from({ length: 192 }, () => 0.2 + 0.6 * r.uniform());
}

describe('LM unrolled as one graph', () => {
  for (const method of ['released', 'paper'] as const) {
    it(`reproduces the LikelihoodMaximizer (${method} preset)`, async () => {
      const den = new Denoiser(ort, config, weights);
      const lm = new LikelihoodMaximizer(den, lmPreset(method));
      const px = { data: image(1), dims: [1, 3, 8, 8] };
      const ref = await lm.run(px, new Random(2));
      const draws = lm.draws(1, new Random(2));
      const noise = new Float32Array(5 * 192);
      draws.noise.forEach((n, t) => noise.set(n, t * 192));
      const { out } = await den.lmUnrolled(
        lm.config,
        { data: px.data.map((p) => 2 * p - 1), dims: px.dims },
        { data: noise, dims: [5, 3, 8, 8] },
        Float32Array.from(draws.sigma, (s) => s[0]),
      );
      const moved = relativeError(ref.data, px.data);
      const err = relativeError(
        Float32Array.from(out.data, (v) => (v + 1) / 2),
        ref.data,
      );
      // LM moved the image (by 5–27 % of its norm), and the graph reproduces it to float32 rounding (~1e-7).
      expect(moved).toBeGreaterThan(1e-2);
      expect(err).toBeLessThan(1e-5);
    });
  }
});

describe('RDC gradient through LM (full mode)', () => {
  it('second-order graphs: Hessian-vector products of the LM objective match central differences of its gradient', async () => {
    // LM(x) itself has jumps (Adam's first step is lr·sign(g)), so finite differences of the full RDC
    // are meaningless; the machinery it rests on, the reverse of a reverse pass, is smooth and checked here.
    const first = gradientGraph(lmObjectiveGraph(config), { of: 'loss', wrt: ['x'] });
    const second = await ort.compileGradient(first, { of: 'grad.x', wrt: ['x'] }, { weights });
    const grad = await ort.compileGradient(lmObjectiveGraph(config), { of: 'loss', wrt: ['x'] }, { weights });
    const r = new Random(9);
    const x = r.normal(192).map((v) => 0.5 * Math.tanh(v));
    const feeds = (xv: Float32Array) => ({
      x: { data: xv, dims: [1, 3, 8, 8] },
      noise: { data: noiseFixed, dims: [1, 3, 8, 8] },
      sigma: { data: Float32Array.of(0.5), dims: [1] },
    });
    const noiseFixed = r.normal(192);
    const c = r.normal(192);
    const hc = (await second.run({ ...feeds(x), cotangent: { data: Float32Array.of(1), dims: [1] } }, { cotangent: { data: c, dims: [1, 3, 8, 8] } })).grads.x
      .data;
    const gdot = async (xv: Float32Array) => (await grad.run(feeds(xv))).grads.x.data.reduce((a, g, i) => a + g * c[i], 0);
    for (let t = 0; t < 3; t++) {
      const v = r.normal(192);
      const norm = Math.sqrt(v.reduce((a, b) => a + b * b, 0));
      const h = 1e-2;
      const fd = ((await gdot(x.map((p, i) => p + (h * v[i]) / norm))) - (await gdot(x.map((p, i) => p - (h * v[i]) / norm)))) / (2 * h);
      const an = hc.reduce((a, g, i) => a + (g * v[i]) / norm, 0);
      expect(Math.abs(an - fd)).toBeLessThan(2e-2 * Math.abs(fd));
    }
  });

  it('agrees between ONNX Runtime (second-order graph) and TensorFlow.js (nested autodiff)', async () => {
    const tfjs = await TfjsEngine.create('wasm');
    const grad = async (engine: OrtEngine | TfjsEngine) => {
      const den = new Denoiser(engine, config, weights);
      const rdc = new RdcClassifier(
        new DiffusionClassifier(den, { levels: 3 }),
        new LikelihoodMaximizer(den, { ...lmPreset('released'), steps: 2, lr: 0.02 }),
        1,
        'full',
      );
      return (await rdc.gradient({ data: image(7), dims: [1, 3, 8, 8] }, () => Float32Array.of(1, 0, -1), new Random(8))).grad.data;
    };
    const a = await grad(ort);
    const b = await grad(tfjs);
    let num = 0;
    let den = 0;
    a.forEach((v, i) => ((num += (v - b[i]) ** 2), (den += b[i] ** 2)));
    expect(Math.sqrt(num / den)).toBeLessThan(1e-3);
  });
});
