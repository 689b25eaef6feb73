import { beforeAll, describe, expect, it } from 'vitest';
import { edmCoefficients } from '../edm/coefficients.js';
import { buildDenoiserGraph } from '../nn/denoiser-graph.js';
import { dcChunkGraph, edmLossGraph, lmObjectiveGraph } from '../nn/objectives.js';
import { ONNX_OPSET } from '../nn/onnx/emitter.js';
import { decodeOnnx, graphToOnnx } from '../nn/onnx/writer.js';
import { Random } from '../rng/random.js';
import { relativeError, type Tensor, type Weights } from '../tensor.js';
import { gaussianMixture, tinyUNet } from '../testing.js';
import { OrtEngine } from './ort.js';
import { TfjsEngine } from './tfjs.js';

let tfjs: TfjsEngine;
let ort: OrtEngine;
beforeAll(async () => {
  tfjs = await TfjsEngine.create('wasm');
  ort = await OrtEngine.create({ threads: 1 });
});

function randomFeeds(shapes: Record<string, number[]>, seed: number, positive: string[] = []): Record<string, Tensor> {
  const rng = new Random(seed);
  const out: Record<string, Tensor> = {};
  for (const [name, dims] of Object.entries(shapes)) {
    const data = rng.normal(dims.reduce((a, b) => a * b, 1));
    if (positive.includes(name)) for (let i = 0; i < data.length; i++) data[i] = 0.05 + 2 * Math.abs(data[i]);
    out[name] = { data, dims };
  }
  return out;
}

async function both(graph: ReturnType<typeof buildDenoiserGraph>, weights: Weights, feeds: Record<string, Tensor>) {
  const a = await (await tfjs.compile(graph, { weights })).run(feeds);
  const b = await (await ort.compile(graph, { weights })).run(feeds);
  return { a, b };
}

describe('tfjs and ONNX Runtime agree on the same weights (relative error ≤ 1e-5)', () => {
  it('multi-head UNet with attention', async () => {
    const { config, weights } = tinyUNet();
    const feeds = randomFeeds({ x: [5, 3, 8, 8], sigma: [5] }, 1, ['sigma']);
    const { a, b } = await both(buildDenoiserGraph(config), weights, feeds);
    expect(a.D.dims).toEqual([5, 4, 3, 8, 8]);
    expect(b.D.dims).toEqual([5, 4, 3, 8, 8]);
    expect(relativeError(b.D.data, a.D.data)).toBeLessThan(1e-5);
  });

  it('Gaussian-mixture oracle', async () => {
    const { config, weights } = gaussianMixture({ classes: 4, image: { channels: 2, height: 3, width: 3 }, std: 0.3, meanScale: 0.5, seed: 2 });
    const feeds = randomFeeds({ x: [6, 2, 3, 3], sigma: [6] }, 3, ['sigma']);
    const { a, b } = await both(buildDenoiserGraph(config), weights, feeds);
    expect(relativeError(b.D.data, a.D.data)).toBeLessThan(1e-5);
  });

  it('the DC chunk, LM and EDM-loss graphs', async () => {
    const { config, weights } = tinyUNet({ seed: 4 });
    const dc = randomFeeds({ x: [1, 3, 8, 8], noise: [4, 3, 8, 8], sigma: [4], weights: [4], guidance: [1] }, 5, ['sigma', 'weights']);
    let r = await both(dcChunkGraph(config), weights, dc);
    expect(relativeError(r.b.logits.data, r.a.logits.data)).toBeLessThan(1e-5);
    const lm = randomFeeds({ x: [2, 3, 8, 8], noise: [2, 3, 8, 8], sigma: [2] }, 6, ['sigma']);
    r = await both(lmObjectiveGraph(config), weights, lm);
    expect(relativeError(r.b.loss.data, r.a.loss.data)).toBeLessThan(1e-5);
    const loss = randomFeeds({ x: [3, 3, 8, 8], noise: [3, 3, 8, 8], sigma: [3], target: [3, 4, 3, 8, 8], mask: [3, 4] }, 7, ['sigma', 'mask']);
    r = await both(edmLossGraph(config), weights, loss);
    expect(r.a.loss.dims).toEqual([]);
    expect(relativeError(r.b.loss.data, r.a.loss.data)).toBeLessThan(1e-5);
  });
});

describe('ONNX export', () => {
  it('writes opset 17 with a dynamic batch dimension and runs any batch size', async () => {
    const { config, weights } = tinyUNet({ attention: false });
    const graph = buildDenoiserGraph(config);
    const model = decodeOnnx(graphToOnnx(graph, { weights: { mode: 'inline', values: weights } }));
    expect(Number(model.opsetImport[0].version)).toBe(17);
    expect(ONNX_OPSET).toBe(17);
    const x = model.graph!.input!.find((i) => i.name === 'x')!;
    expect(x.type!.tensorType!.shape!.dim![0].dimParam).toBe('N');
    const f = await ort.compile(graph, { weights });
    for (const n of [1, 3]) {
      const feeds = randomFeeds({ x: [n, 3, 8, 8], sigma: [n] }, n, ['sigma']);
      expect((await f.run(feeds)).D.dims).toEqual([n, 4, 3, 8, 8]);
    }
  });

  it('takes weights as inputs when asked (one session, many weight sets)', async () => {
    const { config, weights } = tinyUNet({ seed: 8 });
    const other = tinyUNet({ seed: 9 }).weights;
    const graph = buildDenoiserGraph(config);
    const f = await ort.compile(graph);
    const feeds = randomFeeds({ x: [2, 3, 8, 8], sigma: [2] }, 10, ['sigma']);
    const a = await f.run(feeds, weights);
    const b = await f.run(feeds, other);
    const ref = await (await ort.compile(graph, { weights: other })).run(feeds);
    expect(relativeError(b.D.data, ref.D.data)).toBeLessThan(1e-5);
    expect(relativeError(a.D.data, b.D.data)).toBeGreaterThan(1e-3);
    await expect(f.run(feeds)).rejects.toThrow(/weights/);
  });
});

describe('EDM preconditioning in the graph', () => {
  it('with a zero last layer, every head is c_skip(σ)·x', async () => {
    const { config, weights } = tinyUNet();
    const zeroed = { ...weights };
    for (const k of ['dec.8x8_aux_conv.weight', 'dec.8x8_aux_conv.bias']) zeroed[k] = { data: new Float32Array(weights[k].data.length), dims: weights[k].dims };
    const sig = [0.002, 0.5, 2.5];
    const feeds = randomFeeds({ x: [3, 3, 8, 8] }, 11);
    feeds.sigma = { data: Float32Array.from(sig), dims: [3] };
    const D = (await (await ort.compile(buildDenoiserGraph(config), { weights: zeroed })).run(feeds)).D;
    const d = 3 * 8 * 8;
    for (let n = 0; n < 3; n++) {
      const { cSkip } = edmCoefficients(sig[n]);
      for (let h = 0; h < 4; h++) for (let i = 0; i < d; i += 17) expect(D.data[(n * 4 + h) * d + i]).toBeCloseTo(cSkip * feeds.x.data[n * d + i], 5);
    }
  });
});

describe('engine input checks', () => {
  it('name the missing or misshapen input', async () => {
    const { config, weights } = tinyUNet();
    const f = await ort.compile(buildDenoiserGraph(config), { weights });
    await expect(f.run({ x: { data: new Float32Array(3 * 64), dims: [1, 3, 8, 8] } })).rejects.toThrow(/missing input 'sigma'/);
    await expect(f.run({ x: { data: new Float32Array(3 * 49), dims: [1, 3, 7, 7] }, sigma: { data: Float32Array.of(1), dims: [1] } })).rejects.toThrow(
      /expected shape \[N, 3, 8, 8\]/,
    );
    const { bias, ...rest } = { bias: 0, ...weights };
    void bias;
    delete (rest as Weights)['enc.8x8_conv.weight'];
    await expect(tfjs.compile(buildDenoiserGraph(config), { weights: rest as Weights })).rejects.toThrow(/missing weight 'enc.8x8_conv.weight'/);
  });
});
