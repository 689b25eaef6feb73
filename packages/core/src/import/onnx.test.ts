import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageSpec } from '../config/schema.js';
import type { Engine } from '../engines/engine.js';
import { OrtEngine } from '../engines/ort.js';
import { TfjsEngine } from '../engines/tfjs.js';
import { gradientGraph } from '../nn/autodiff.js';
import { buildClassifierGraph } from '../nn/cnn.js';
import { relativeError } from '../tensor.js';
import { ONNX_FIXTURES, readOnnxFixture } from '../testing.js';
import { importOnnxClassifier } from './onnx.js';

const engines: [string, () => Promise<Engine>][] = [
  ['ONNX Runtime', () => OrtEngine.create({ threads: 1 })],
  ['TensorFlow.js (wasm)', () => TfjsEngine.create('wasm')],
  ['TensorFlow.js (cpu)', () => TfjsEngine.create('cpu')],
];

function importFixture(name: string) {
  const fx = readOnnxFixture(name);
  const { network, weights } = importOnnxClassifier(join(ONNX_FIXTURES, `${name}.onnx`), {
    image: ImageSpec.parse({}),
    numClasses: 10,
    inputRange: fx.inputRange,
  });
  // Pixels in the network's range → model units [−1, 1]; the graph maps them back.
  const [lo, hi] = fx.inputRange;
  const x = { dims: fx.input.dims, data: fx.input.data.map((v) => ((v - lo) / (hi - lo)) * 2 - 1) };
  return { fx, network, weights, x, graph: buildClassifierGraph(network) };
}

describe.each(engines)('an imported ONNX classifier matches PyTorch on %s', (_name, create) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await create();
  });
  afterAll(async () => engine.dispose?.());

  it.each(['resnet', 'separable', 'pooling'])('%s: logits within 1e-4 and input gradients within 1e-3 (relative)', async (name) => {
    const { fx, weights, x, graph } = importFixture(name);
    const [lo, hi] = fx.inputRange;
    const forward = await engine.compile(graph, { weights });
    const { logits } = await forward.run({ x });
    expect(logits.dims).toEqual([4, 10]);
    expect(relativeError(logits.data, fx.logits.data)).toBeLessThan(1e-4);
    const grad = await engine.compileGradient(graph, { of: 'logits', wrt: ['x'] }, { weights });
    const { grads } = await grad.run({ x }, { cotangent: fx.cotangent });
    // d/d(model units) = d/d(pixels) · (hi − lo)/2.
    const perPixel = grads.x.data.map((g) => (g * 2) / (hi - lo));
    expect(relativeError(perPixel, fx.inputGradient.data)).toBeLessThan(1e-3);
    await forward.dispose?.();
    await grad.dispose?.();
  });
});

describe("the op table's reverse pass of imported networks", () => {
  it.each(['resnet', 'separable', 'pooling'])(
    '%s: the gradient graph (strided, grouped and dilated transposed convolutions, max-pooling gradients) gives the same on TensorFlow.js as on ONNX Runtime',
    async (name) => {
      const { fx, weights, x, graph } = importFixture(name);
      const backward = gradientGraph(graph, { of: 'logits', wrt: ['x'] });
      const feeds = { x, cotangent: fx.cotangent };
      const tfjs = await TfjsEngine.create('wasm');
      const ort = await OrtEngine.create({ threads: 1 });
      const a = await (await tfjs.compile(backward, { weights })).run(feeds);
      const b = await (await ort.compile(backward, { weights })).run(feeds);
      expect(relativeError(a['grad.x'].data, b['grad.x'].data)).toBeLessThan(1e-5);
    },
  );
});
