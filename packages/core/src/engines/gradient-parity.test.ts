import { beforeAll, describe, expect, it } from 'vitest';
import { CnnConfig } from '../config/schema.js';
import { buildClassifierGraph, crossEntropyGraph } from '../nn/cnn.js';
import { buildDenoiserGraph } from '../nn/denoiser-graph.js';
import type { Graph } from '../nn/graph/index.js';
import { initWeights } from '../nn/weights.js';
import { dcBatchGraph, dcChunkGraph, edmLossGraph, lmObjectiveGraph } from '../nn/objectives.js';
import { epndcTerms } from '../sigma/terms.js';
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

function feedsFor(graph: Graph, sizes: Record<string, number>, seed: number, positive: string[] = []): Record<string, Tensor> {
  const rng = new Random(seed);
  const out: Record<string, Tensor> = {};
  for (const i of graph.inputs) {
    const dims = i.shape.map((d) => (typeof d === 'number' ? d : sizes[d]));
    const data = rng.normal(dims.reduce((a, b) => a * b, 1));
    if (positive.includes(i.name)) for (let k = 0; k < data.length; k++) data[k] = 0.05 + 2 * Math.abs(data[k]);
    if (i.dropout !== undefined) for (let k = 0; k < data.length; k++) data[k] = rng.uniform() < i.dropout ? 0 : 1 / (1 - i.dropout);
    out[i.name] = { data, dims };
  }
  return out;
}

/** Gradients of ⟨cotangent, output⟩ on both engines, compared by norm-relative error. */
async function compare(graph: Graph, weights: Weights, of: string, wrt: string[], feeds: Record<string, Tensor>, cotangent?: Tensor) {
  const a = await (await tfjs.compileGradient(graph, { of, wrt }, { weights })).run(feeds, { cotangent });
  const b = await (await ort.compileGradient(graph, { of, wrt }, { weights })).run(feeds, { cotangent });
  expect(relativeError(b.value.data, a.value.data)).toBeLessThan(1e-5);
  for (const n of wrt) {
    expect(b.grads[n].dims).toEqual(a.grads[n].dims);
    const err = relativeError(b.grads[n].data, a.grads[n].data);
    if (!(err <= 1e-4)) throw new Error(`gradient of '${n}': relative error ${err}`);
  }
  return b;
}

describe('ONNX Runtime gradient graphs match TensorFlow.js autodiff (relative error ≤ 1e-4)', () => {
  it('multi-head UNet: vector–Jacobian product with respect to the input and every weight', async () => {
    const { config, weights } = tinyUNet({ seed: 1 });
    const graph = buildDenoiserGraph(config);
    const feeds = feedsFor(graph, { N: 3 }, 2, ['sigma']);
    const cot = { data: new Random(3).normal(3 * 4 * 192), dims: [3, 4, 3, 8, 8] };
    await compare(graph, weights, 'D', ['x', 'sigma', ...graph.params.map((p) => p.name)], feeds, cot);
  });

  it("multi-head UNet with each head's own layer (headChannels): every weight's gradient", async () => {
    const { config, weights } = tinyUNet({ seed: 4, attention: false, headChannels: 4 });
    expect(weights['dec.8x8_head_conv.weight'].dims).toEqual([16, 8, 3, 3]);
    const graph = buildDenoiserGraph(config);
    const feeds = feedsFor(graph, { N: 2 }, 5, ['sigma']);
    const cot = { data: new Random(6).normal(2 * 4 * 192), dims: [2, 4, 3, 8, 8] };
    await compare(graph, weights, 'D', ['x', ...graph.params.map((p) => p.name)], feeds, cot);
  });

  it('Gaussian-mixture oracle (softmax, matmul, reduce)', async () => {
    const { config, weights } = gaussianMixture({ classes: 3, image: { channels: 2, height: 2, width: 2 }, std: 0.3, meanScale: 0.5, seed: 1 });
    const graph = buildDenoiserGraph(config);
    const feeds = feedsFor(graph, { N: 4 }, 4, ['sigma']);
    const cot = { data: new Random(5).normal(4 * 4 * 8), dims: [4, 4, 2, 2, 2] };
    await compare(graph, weights, 'D', ['x', 'means'], feeds, cot);
  });

  it('the noised DC batch logits with EPNDC terms (certification): shapes and the input gradient', async () => {
    const { config, weights } = tinyUNet({ seed: 9 });
    const terms = epndcTerms({ levels: 3, sigmaT: 0.5, max: 3, weighting: 'released' });
    const graph = dcBatchGraph(config, 3);
    const feeds = feedsFor(graph, { B: 2 }, 10);
    const perImage = (v: Float32Array) => ({ data: Float32Array.from([...v, ...v]), dims: [2, 3] });
    Object.assign(feeds, { sigma: perImage(terms.sigmas), scale: perImage(terms.scale) });
    for (const k of ['alpha', 'beta', 'gamma', 'weights'] as const) feeds[k] = { data: terms[k], dims: [3] };
    const r = await compare(graph, weights, 'logits', ['x'], feeds, { data: Float32Array.of(0.3, -1, 2, 1, 0.5, -0.2), dims: [2, 3] });
    expect(r.value.dims).toEqual([2, 3]);
    expect(r.grads.x.dims).toEqual([2, 3, 8, 8]);
  });

  it('the DC chunk logits (VJP for attacks)', async () => {
    const { config, weights } = tinyUNet({ seed: 6 });
    const graph = dcChunkGraph(config);
    const feeds = feedsFor(graph, { S: 5 }, 7, ['sigma', 'weights']);
    feeds.guidance = { data: Float32Array.of(0.5), dims: [1] };
    await compare(graph, weights, 'logits', ['x'], feeds, { data: Float32Array.of(0.3, -1, 2), dims: [1, 3] });
  });

  it('the LM objective (input gradient)', async () => {
    const { config, weights } = tinyUNet({ seed: 8 });
    const graph = lmObjectiveGraph(config);
    await compare(graph, weights, 'loss', ['x'], feedsFor(graph, { B: 3 }, 9, ['sigma']));
  });

  it('the EDM training loss with dropout masks (every weight)', async () => {
    const { config, weights } = tinyUNet({ seed: 10 });
    const graph = edmLossGraph({ ...config, dropout: 0.2 }, { training: true });
    expect(graph.inputs.some((i) => i.dropout === 0.2)).toBe(true);
    const feeds = feedsFor(graph, { N: 3 }, 11, ['sigma', 'mask']);
    await compare(
      graph,
      weights,
      'loss',
      graph.params.map((p) => p.name),
      feeds,
    );
  });

  it('the CNN cross-entropy (relu, logsoftmax)', async () => {
    const network = CnnConfig.parse({ arch: 'cnn', widths: [4, 8], numClasses: 3, image: { channels: 3, height: 8, width: 8 } });
    const weights = initWeights(buildClassifierGraph(network), 3);
    const graph = crossEntropyGraph(network);
    const feeds = feedsFor(graph, { N: 5 }, 12);
    const labels = new Float32Array(15);
    [0, 2, 1, 1, 0].forEach((y, i) => (labels[i * 3 + y] = 1));
    feeds.labels = { data: labels, dims: [5, 3] };
    await compare(graph, weights, 'loss', ['x', ...graph.params.map((p) => p.name)], feeds);
  });
});
