import { arch } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradientGraph } from '../nn/autodiff.js';
import { GraphBuilder } from '../nn/graph/index.js';
import { initWeights } from '../nn/weights.js';
import { edmLossGraph } from '../nn/objectives.js';
import { decodeOnnx, graphToOnnx } from '../nn/onnx/writer.js';
import { Random } from '../rng/random.js';
import { relativeError, type Tensor } from '../tensor.js';
import { tinyUNet } from '../testing.js';
import { nchwcBlockSize, OrtEngine } from './ort.js';

// Graphs with weights as inputs run their convolutions in MLAS's blocked layout (NCHWc) on the CPU;
// these compare them with the same graphs on ONNX Runtime's plain convolution.
let block = 0;
let blocked: OrtEngine;
let plain: OrtEngine;
beforeAll(async () => {
  block = await nchwcBlockSize();
  blocked = await OrtEngine.create({ threads: 1 });
  plain = await OrtEngine.create({ threads: 1, blockedConvolutions: false });
});

const ci = !!process.env.CI;
const x64 = arch() === 'x64';

function random(shape: number[], rng: Random, scale = 1): Tensor {
  return { data: rng.normal(shape.reduce((a, b) => a * b, 1)).map((v) => scale * v), dims: shape };
}

describe('blocked (NCHWc) convolutions for graphs with weights as inputs', () => {
  it.skipIf(!x64 && !ci)('the block size is found on this CPU (x64: 8 with AVX2, 16 with AVX-512)', () => {
    expect([8, 16]).toContain(block);
  });

  it('a convolution and its input and filter gradients match the plain ones, for channel counts on and off the block', async () => {
    // 3 → fewer channels than a block (unblocked input); 20 and 33 → padded to the block; 16, 32 on it.
    for (const [ci0, co, k] of [
      [3, 16, 3],
      [16, 32, 3],
      [20, 33, 3],
      [32, 16, 1],
      [33, 8, 3],
    ]) {
      const g = new GraphBuilder();
      const x = g.input('x', ['N', ci0, 6, 6]);
      const w = g.param('w', [co, ci0, k, k], { kind: 'normal', std: 0.2 });
      const bias = g.param('b', [co], { kind: 'normal', std: 0.1 });
      g.output('y', g.reduceSum(g.square(g.conv2d(x, w, bias)), [1, 2, 3], false));
      const graph = gradientGraph(g.build(), { of: 'y', wrt: ['x', 'w', 'b'] });
      const rng = new Random(ci0 * 100 + co);
      const weights = initWeights(graph, ci0 + co);
      const feeds = { x: random([2, ci0, 6, 6], rng), cotangent: { data: Float32Array.of(1, 1), dims: [2] } };
      const [a, b] = await Promise.all([blocked, plain].map(async (e) => (await e.compile(graph)).run(feeds, weights)));
      for (const name of ['value', 'grad.x', 'grad.w', 'grad.b']) {
        expect(relativeError(a[name].data, b[name].data), `${ci0}→${co} k=${k} ${name}`).toBeLessThan(1e-5);
        expect(Math.max(...b[name].data.map(Math.abs))).toBeGreaterThan(1e-3);
      }
    }
  });

  it('the UNet training step: loss and every weight gradient match the plain convolutions, and every convolution is blocked', async () => {
    const { config, weights } = tinyUNet({ seed: 5 });
    const loss = edmLossGraph(config, { training: true });
    const graph = gradientGraph(loss, { of: 'loss', wrt: loss.params.map((p) => p.name) });
    const rng = new Random(9);
    const n = 3;
    const x = random([n, 3, 8, 8], rng, 0.5);
    const target = new Float32Array(n * 4 * 192);
    for (let i = 0; i < n * 4; i++) target.set(x.data.subarray(Math.floor(i / 4) * 192, (Math.floor(i / 4) + 1) * 192), i * 192);
    const feeds: Record<string, Tensor> = {
      x,
      noise: random([n, 3, 8, 8], rng),
      sigma: { data: Float32Array.of(0.3, 1, 3), dims: [n] },
      target: { data: target, dims: [n, 4, 3, 8, 8] },
      mask: { data: new Float32Array(n * 4).fill(1), dims: [n, 4] },
      cotangent: { data: Float32Array.of(1), dims: [] },
    };
    const [a, b] = await Promise.all([blocked, plain].map(async (e) => (await e.compile(graph)).run(feeds, weights)));
    expect(relativeError(a.value.data, b.value.data)).toBeLessThan(1e-5);
    for (const p of loss.params) expect(relativeError(a[`grad.${p.name}`].data, b[`grad.${p.name}`].data), p.name).toBeLessThan(1e-4);

    const convs = graph.nodes.filter((nd) => nd.op === 'conv2d' || nd.op === 'conv2dInput').length;
    const nodes = decodeOnnx(graphToOnnx(graph, { weights: { mode: 'inputs' }, nchwcBlock: block || 8 })).graph!.node!;
    expect(nodes.filter((nd) => nd.opType === 'Conv' && nd.domain === 'com.microsoft.nchwc').length).toBe(convs);
    expect(nodes.filter((nd) => nd.opType === 'Conv' && !nd.domain).length).toBe(0);
  });
});
