import {
  buildDenoiserGraph,
  edmLossGraph,
  forwardFlops,
  GraphBuilder,
  initWeights,
  OrtEngine,
  parameterCount,
  Random,
  takesLabels,
  TfjsEngine,
  type Engine,
  type Tensor,
  type UNetConfig,
  type Weights,
} from '@rdc/core';
import { round, time } from './timing.js';

/** Random feeds for the EDM loss graph of a network (batch n). */
export function lossFeeds(network: UNetConfig, graph: ReturnType<typeof edmLossGraph>, n: number, seed = 0): Record<string, Tensor> {
  const rng = new Random(seed);
  const { channels: c, height: h, width: w } = network.image;
  const d = c * h * w;
  const k1 = network.numClasses + 1;
  const mask = new Float32Array(n * k1);
  for (let i = 0; i < n; i++) {
    mask[i * k1 + (i % network.numClasses)] = 1;
    mask[i * k1 + k1 - 1] = 1;
  }
  const x = rng.normal(n * d).map((v) => Math.tanh(v));
  const target = new Float32Array(n * k1 * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < k1; k++) target.set(x.subarray(i * d, (i + 1) * d), (i * k1 + k) * d);
  const feeds: Record<string, Tensor> = {
    x: { data: x, dims: [n, c, h, w] },
    noise: { data: rng.normal(n * d), dims: [n, c, h, w] },
    sigma: { data: Float32Array.from({ length: n }, () => Math.exp(-1.2 + 1.2 * rng.gaussian())), dims: [n] },
    target: { data: target, dims: [n, k1, c, h, w] },
    mask: { data: mask, dims: [n, k1] },
  };
  for (const i of graph.inputs) {
    if (i.dropout === undefined) continue;
    const dims = i.shape.map((s) => (typeof s === 'number' ? s : n));
    feeds[i.name] = { data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(1 / (1 - i.dropout)), dims };
  }
  return feeds;
}

/** Forward images/s of the denoiser on an engine (batch n). */
export async function forwardRate(engine: Engine, network: UNetConfig, weights: Weights, n: number, minSeconds: number): Promise<number> {
  const f = await engine.compile(buildDenoiserGraph(network), { weights });
  const rng = new Random(1);
  const { channels: c, height: h, width: w } = network.image;
  const feeds: Record<string, Tensor> = {
    x: { data: rng.normal(n * c * h * w), dims: [n, c, h, w] },
    sigma: { data: new Float32Array(n).fill(0.5), dims: [n] },
  };
  if (takesLabels(network)) {
    const k = network.numClasses;
    feeds.labels = { data: Float32Array.from({ length: n * k }, (_, i) => (i % k === Math.floor(i / k) % k ? 1 : 0)), dims: [n, k] };
  }
  const t = await time(() => f.run(feeds), { minSeconds, minReps: 2 });
  f.dispose();
  return n / t.medianSeconds;
}

/** Training images/s (loss + every weight gradient; the optimizer is the same TypeScript on every engine). */
export async function trainRate(engine: Engine, network: UNetConfig, weights: Weights, n: number, minSeconds: number): Promise<number> {
  const graph = edmLossGraph(network, { training: true });
  const f = await engine.compileGradient(graph, { of: 'loss', wrt: Object.keys(weights) });
  const feeds = lossFeeds(network, graph, n);
  const t = await time(() => f.run(feeds, { weights }), { minSeconds, minReps: 2 });
  f.dispose();
  return n / t.medianSeconds;
}

/** GFLOP/s of one 3×3 convolution (64 → 64 channels, 32×32, batch 32) and of a 512³ matrix product on ONNX Runtime. */
export async function referenceRates(engine: OrtEngine, minSeconds: number): Promise<{ convGflops: number; matmulGflops: number }> {
  const rng = new Random(2);
  const g = new GraphBuilder();
  const x = g.input('x', ['N', 64, 32, 32]);
  const w = g.param('w', [64, 64, 3, 3], { kind: 'normal', std: 0.05 });
  g.output('y', g.conv2d(x, w));
  const conv = await engine.compile(g.build(), { weights: { w: { data: rng.normal(64 * 64 * 9), dims: [64, 64, 3, 3] } } });
  const n = 32;
  const tc = await time(() => conv.run({ x: { data: rng.normal(n * 64 * 1024), dims: [n, 64, 32, 32] } }), { minSeconds, minReps: 3 });
  const m = new GraphBuilder();
  const a = m.input('a', [512, 512]);
  const b = m.param('b', [512, 512], { kind: 'normal', std: 0.05 });
  m.output('c', m.matmul(a, b));
  const mm = await engine.compile(m.build(), { weights: { b: { data: rng.normal(512 * 512), dims: [512, 512] } } });
  const tm = await time(() => mm.run({ a: { data: rng.normal(512 * 512), dims: [512, 512] } }), { minSeconds, minReps: 3 });
  conv.dispose();
  mm.dispose();
  return { convGflops: (2 * n * 64 * 1024 * 64 * 9) / tc.medianSeconds / 1e9, matmulGflops: (2 * 512 ** 3) / tm.medianSeconds / 1e9 };
}

/** The backbone suite: forward and training throughput per engine, with GFLOP/s against references. */
export async function benchBackbone(network: UNetConfig, o: { minSeconds: number; batch: number; cpuBackend: boolean }) {
  const graph = buildDenoiserGraph(network);
  const weights = initWeights(graph, 0);
  const flops = forwardFlops(graph);
  const ort = await OrtEngine.create({ threads: 1 });
  const ref = await referenceRates(ort, o.minSeconds);
  const forward: Record<string, number> = {};
  const training: Record<string, number> = {};
  forward.ort = await forwardRate(ort, network, weights, o.batch, o.minSeconds);
  training.ort = await trainRate(ort, network, weights, o.batch, o.minSeconds);
  const wasm = await TfjsEngine.create('wasm');
  forward['tfjs-wasm'] = await forwardRate(wasm, network, weights, o.batch, o.minSeconds);
  training['tfjs-wasm'] = await trainRate(wasm, network, weights, o.batch, o.minSeconds);
  if (o.cpuBackend) forward['tfjs-cpu'] = await forwardRate(await TfjsEngine.create('cpu'), network, weights, 2, 0);
  for (const native of ['node', 'node-gpu'] as const) {
    try {
      const e = await TfjsEngine.create(native);
      forward[`tfjs-${native}`] = await forwardRate(e, network, weights, o.batch, o.minSeconds);
      training[`tfjs-${native}`] = await trainRate(e, network, weights, o.batch, o.minSeconds);
    } catch {
      // not installed: nothing to measure
    }
  }
  await TfjsEngine.create('wasm');
  const gflops = (rate: number, factor = 1) => round((rate * flops * factor) / 1e9);
  return {
    network,
    parameters: parameterCount(graph),
    gflopPerImage: round(flops / 1e9),
    batch: o.batch,
    threads: 1,
    forwardImagesPerSecond: Object.fromEntries(Object.entries(forward).map(([k, v]) => [k, round(v)])),
    forwardGflops: Object.fromEntries(Object.entries(forward).map(([k, v]) => [k, gflops(v)])),
    trainingImagesPerSecond: Object.fromEntries(Object.entries(training).map(([k, v]) => [k, round(v)])),
    /** Training counts ≈ 3 forward passes of work (forward, input and weight gradients). */
    trainingGflops: Object.fromEntries(Object.entries(training).map(([k, v]) => [k, gflops(v, 3)])),
    reference: { ortConv3x3Gflops: round(ref.convGflops), ortMatmul512Gflops: round(ref.matmulGflops) },
    ratios: {
      trainingOrtOverTfjsWasm: round(training.ort / training['tfjs-wasm']),
      forwardOrtOverTfjsWasm: round(forward.ort / forward['tfjs-wasm']),
    },
  };
}
