import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { edmCoefficients } from '../edm/coefficients.js';
import { Denoiser } from '../engines/denoiser.js';
import type { Engine } from '../engines/engine.js';
import { OrtEngine } from '../engines/ort.js';
import { TfjsEngine } from '../engines/tfjs.js';
import { DiffusionClassifier } from '../method/dc.js';
import { buildDenoiserGraph } from '../nn/denoiser-graph.js';
import { forwardMacs, parameterCount } from '../nn/graph/index.js';
import { edmConfigFromKwargs, loadEdmWeights, readEdmCheckpoint } from './edm.js';
import { sharedFixture } from '../testing.js';

/**
 * EDM's networks imported from NVIDIA's formats against EDM's own outputs (../shared/fixtures/edm,
 * see its README): D, the raw network output F_x and an input gradient on both engines, the DC on
 * the imported class-conditional network against the authors' logits, and the full-size
 * configurations' keys, shapes, parameter and MAC counts.
 */
const dir = sharedFixture('edm');

interface Ref {
  file: string;
  dtype: 'float32' | 'float64';
  shape: number[];
}
function load(ref: Ref): Float64Array | Float32Array {
  const b = readFileSync(join(dir!, ref.file));
  const buf = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return ref.dtype === 'float64' ? new Float64Array(buf) : new Float32Array(buf);
}
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

let ort: Engine;
let tfjs: Engine;
beforeAll(async () => {
  ort = await OrtEngine.create({ threads: 1 });
  tfjs = await TfjsEngine.create('wasm');
});

describe.skipIf(!dir)('EDM networks imported from .pt and .pkl', () => {
  for (const name of ['tiny-cond', 'tiny-uncond'] as const) {
    const vectors = dir ? JSON.parse(readFileSync(join(dir, `${name}.vectors.json`), 'utf8')) : null;

    it(`${name}: the .pt state dict and the .pkl snapshot give the same network and weights, with EDM's keys`, () => {
      const pt = readEdmCheckpoint(join(dir!, `${name}.pt`));
      const pkl = readEdmCheckpoint(join(dir!, `${name}.pkl`));
      try {
        expect(pt.format).toBe('pt');
        expect(pkl.format).toBe('pkl');
        expect(pkl.network).toEqual(pt.network);
        expect(pkl.network).toEqual(edmConfigFromKwargs(vectors.info.kwargs, name));
        const params = vectors.state_dict.filter((e: { kind: string }) => e.kind === 'parameter');
        expect([...pt.tensors.keys()].map((k) => `model.${k}`).sort()).toEqual(params.map((e: { key: string }) => e.key).sort());
        expect(parameterCount(buildDenoiserGraph(pt.network))).toBe(vectors.info.parameter_count);
        const a = loadEdmWeights(pt);
        const b = loadEdmWeights(pkl);
        for (const k of Object.keys(a)) expect(Array.from(b[k].data), k).toEqual(Array.from(a[k].data));
      } finally {
        pt.close();
        pkl.close();
      }
    });

    for (const format of ['pt', 'pkl'] as const)
      for (const engine of ['ort', 'tfjs'] as const) {
        it(`${name} (.${format}, ${engine}): D, F_x and grad_x match EDM's within the README's tolerances`, async () => {
          const ck = readEdmCheckpoint(join(dir!, `${name}.${format}`));
          const weights = loadEdmWeights(ck);
          ck.close();
          const e = engine === 'ort' ? ort : tfjs;
          const den = new Denoiser(e, ck.network, weights);
          const a = vectors.arrays;
          const x = { data: load(a.x) as Float32Array, dims: a.x.shape };
          const sigma = load(a.sigma) as Float32Array;
          const labels = a.class_labels ? { data: load(a.class_labels) as Float32Array, dims: a.class_labels.shape } : undefined;
          const D = (await den.denoise(x, sigma, labels)).data;
          expect(maxAbs(D, load(a.D_f64))).toBeLessThan(1e-4);
          // F_x from D = c_skip·x + c_out·F_x, in float64; checked where c_out is not tiny (σ ≥ 0.2).
          const Fx = load(a.F_x);
          const d = 3 * 32 * 32;
          for (let i = 1; i < 4; i++) {
            const { cSkip, cOut } = edmCoefficients(sigma[i]);
            let m = 0;
            for (let j = 0; j < d; j++) m = Math.max(m, Math.abs((D[i * d + j] - cSkip * x.data[i * d + j]) / cOut - Fx[i * d + j]));
            expect(m, `F_x at σ = ${sigma[i]}`).toBeLessThan(1e-4);
          }
          // And D − x at σ = 0.002, where D ≈ x: the network's contribution is still right.
          const ref = load(a.D_f64);
          let dm = 0;
          for (let j = 0; j < d; j++) dm = Math.max(dm, Math.abs(D[j] - x.data[j] - (ref[j] - x.data[j])));
          expect(dm).toBeLessThan(1e-6);
          // grad_x = d(Σ c·D)/dx through the reverse pass (ONNX Runtime) or tfjs autodiff.
          const graph = buildDenoiserGraph(ck.network);
          const g = await e.compileGradient(graph, { of: 'D', wrt: ['x'] }, { weights });
          const feeds = { x, sigma: { data: sigma, dims: [4] }, ...(labels ? { labels } : {}) };
          const grad = (await g.run(feeds, { cotangent: { data: load(a.c) as Float32Array, dims: [4, 1, 3, 32, 32] } })).grads.x.data;
          const gref = load(a.grad_x_f64);
          const scale = maxAbs(gref, new Float64Array(gref.length));
          expect(maxAbs(grad, gref) / scale).toBeLessThan(1e-4);
          g.dispose();
        });
      }
  }

  it("the DC on the imported class-conditional network reproduces the authors' 10 logits and their ranking", async () => {
    const oracle = JSON.parse(readFileSync(join(dir!, 'tiny-cond.dc-oracle.json'), 'utf8'));
    const ck = readEdmCheckpoint(join(dir!, 'tiny-cond.pt'));
    const weights = loadEdmWeights(ck);
    ck.close();
    const arrays = oracle.arrays;
    const dc = new DiffusionClassifier(new Denoiser(ort, ck.network, weights), { levels: 125, chunk: 25 });
    // The grid and weights are the authors' (torch.linspace(1e-4, 3, 126), released p(σ)).
    expect(maxAbs(dc.sigmas, load(arrays.sigmas))).toBeLessThan(1e-6);
    const w = load(arrays.weights);
    expect(maxAbs(dc.weights, w) / Math.max(...w)).toBeLessThan(2e-5);
    const x0 = { data: load(arrays.x0) as Float32Array, dims: [1, 3, 32, 32] };
    const logits = await dc.logitsModel(x0, load(arrays.noise) as Float32Array);
    const want = oracle.logits_f64 as number[];
    for (let y = 0; y < 10; y++) expect(Math.abs(logits[y] - want[y]), `class ${y}`).toBeLessThan(2e-6);
    const rank = (v: ArrayLike<number>) => Array.from(v, (_, i) => i).sort((a, b) => v[b] - v[a]);
    expect(rank(logits)).toEqual(rank(want));
  });
});

describe.skipIf(!dir)("the authors' full-size configurations", () => {
  const manifest = dir ? JSON.parse(readFileSync(join(dir, 'manifest-full.json'), 'utf8')) : null;
  for (const name of ['edm-cifar10-cond', 'edm-cifar10-uncond'])
    it(`${name}: exactly the manifest's keys, shapes, parameter count and MACs`, () => {
      const c = manifest.configs[name];
      const network = edmConfigFromKwargs(c.kwargs, name);
      const graph = buildDenoiserGraph(network);
      const params = c.state_dict.filter((e: { kind: string }) => e.kind === 'parameter');
      expect(graph.params.map((p) => [`model.${p.name}`, p.shape.join('x')]).sort()).toEqual(
        params.map((e: { key: string; shape: number[] }) => [e.key, e.shape.join('x')]).sort(),
      );
      expect(parameterCount(graph)).toBe(c.parameter_count);
      expect(forwardMacs(graph)).toBe(c.macs_batch1.total_macs);
    });
});
