import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import {
  buildDenoiserGraph,
  edmLossGraph,
  forwardFlops,
  GraphBuilder,
  initWeights,
  InputError,
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

/**
 * The ceiling: GFLOP/s that ONNX Runtime reaches on this machine on work where call overhead is
 * negligible: a 3×3 convolution of 128 → 128 channels on a batch of 32 32×32 images (9.7 GFLOP a
 * call), with its weights compiled in (the forward pass's case) and fed at run time (the training
 * step's case, where ONNX Runtime cannot pre-pack them), and a 2048³ matrix product (17.2 GFLOP).
 * Inputs are made before the clock starts.
 */
async function ceilingRates(
  engine: OrtEngine,
  minSeconds: number,
): Promise<{ conv3x3Gflops: number; conv3x3RuntimeWeightsGflops: number; matmulGflops: number }> {
  const rng = new Random(2);
  const n = 32;
  const c = 128;
  const g = new GraphBuilder();
  g.output('y', g.conv2d(g.input('x', [n, c, 32, 32]), g.param('w', [c, c, 3, 3], { kind: 'normal', std: 0.05 })));
  const convGraph = g.build();
  const w = { w: { data: rng.normal(c * c * 9), dims: [c, c, 3, 3] } };
  const x = { x: { data: rng.normal(n * c * 1024), dims: [n, c, 32, 32] } };
  const convFlops = 2 * n * c * 1024 * c * 9;
  const inline = await engine.compile(convGraph, { weights: w });
  const tInline = await time(() => inline.run(x), { minSeconds, minReps: 3 });
  const runtime = await engine.compile(convGraph);
  const tRuntime = await time(() => runtime.run(x, w), { minSeconds, minReps: 3 });
  const m = new GraphBuilder();
  m.output('c', m.matmul(m.input('a', [2048, 2048]), m.param('b', [2048, 2048], { kind: 'normal', std: 0.05 })));
  const mm = await engine.compile(m.build(), { weights: { b: { data: rng.normal(2048 * 2048), dims: [2048, 2048] } } });
  const a = { a: { data: rng.normal(2048 * 2048), dims: [2048, 2048] } };
  const tm = await time(() => mm.run(a), { minSeconds, minReps: 3 });
  for (const f of [inline, runtime, mm]) f.dispose();
  return {
    conv3x3Gflops: convFlops / tInline.medianSeconds / 1e9,
    conv3x3RuntimeWeightsGflops: convFlops / tRuntime.medianSeconds / 1e9,
    matmulGflops: (2 * 2048 ** 3) / tm.medianSeconds / 1e9,
  };
}

/** What the PyTorch reference script (`../shared/bench/torch_unet.py`) prints, one JSON line. */
interface PytorchFigures {
  engine: string;
  threads: number;
  gflop_per_image: number;
  fwd_img_s: number;
  fwd_gflops: number;
  fwdbwd_img_s: number;
  fwdbwd_gflops: number;
}

const lastLine = (text: string) => text.trim().split('\n').slice(-1)[0];

/**
 * Runs the PyTorch reference script on a network of the same shape (channels, multipliers, blocks,
 * attention resolutions) and reads its JSON line. Its network is PyTorch's own UNet, not EDM's, so
 * the comparison is in GFLOP/s, each side by its own MAC count.
 */
export function pytorchReference(script: string, python: string, network: UNetConfig, batch: number, threads: number): PytorchFigures {
  const args = [script, '--ch', String(network.modelChannels), '--mult', network.channelMult.join(','), '--blocks', String(network.numBlocks)];
  args.push('--attn', network.attnResolutions.join(','), '--threads', String(threads), '--batch', String(batch));
  let out: string;
  try {
    out = execFileSync(python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new InputError(`the PyTorch reference failed (${python} ${script}): ${lastLine(e.stderr || e.message)}`, 'bad_option');
  }
  return JSON.parse(lastLine(out)) as PytorchFigures;
}

export interface BackboneOptions {
  minSeconds: number;
  batch: number;
  cpuBackend: boolean;
  /** The PyTorch reference script, run beside each ONNX Runtime measurement (1 thread, then every core). */
  pytorch?: { script: string; python: string };
}

/** The backbone suite: forward and training throughput per engine, with GFLOP/s against references. */
export async function benchBackbone(network: UNetConfig, o: BackboneOptions) {
  const graph = buildDenoiserGraph(network);
  const weights = initWeights(graph, 0);
  const flops = forwardFlops(graph);
  const ort = await OrtEngine.create({ threads: 1 });
  const ceiling = await ceilingRates(ort, o.minSeconds);
  const forward: Record<string, number> = {};
  const training: Record<string, number> = {};
  const pytorch: Record<string, PytorchFigures> = {};
  const cores = availableParallelism();
  const torch = (threads: number) => {
    if (o.pytorch) pytorch[`${threads}-thread${threads > 1 ? 's' : ''}`] = pytorchReference(o.pytorch.script, o.pytorch.python, network, o.batch, threads);
  };
  forward.ort = await forwardRate(ort, network, weights, o.batch, o.minSeconds);
  training.ort = await trainRate(ort, network, weights, o.batch, o.minSeconds);
  torch(1);
  // The same training step with ONNX Runtime's plain convolutions, to show what the blocked ones save.
  training['ort-plain-conv'] = await trainRate(await OrtEngine.create({ threads: 1, blockedConvolutions: false }), network, weights, o.batch, o.minSeconds);
  if (cores > 1) {
    const all = await OrtEngine.create({ threads: cores });
    forward[`ort-${cores}-threads`] = await forwardRate(all, network, weights, o.batch, o.minSeconds);
    training[`ort-${cores}-threads`] = await trainRate(all, network, weights, o.batch, o.minSeconds);
    torch(cores);
  }
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
  const forwardGflops = Object.fromEntries(Object.entries(forward).map(([k, v]) => [k, gflops(v)]));
  /** Training counts ≈ 3 forward passes of work (forward, input and weight gradients). */
  const trainingGflops = Object.fromEntries(Object.entries(training).map(([k, v]) => [k, gflops(v, 3)]));
  const againstPytorch = Object.fromEntries(
    Object.entries(pytorch).map(([k, p]) => {
      const ours = p.threads === 1 ? 'ort' : `ort-${p.threads}-threads`;
      return [k, { forward: round(forwardGflops[ours] / p.fwd_gflops), training: round(trainingGflops[ours] / p.fwdbwd_gflops) }];
    }),
  );
  return {
    network,
    parameters: parameterCount(graph),
    gflopPerImage: round(flops / 1e9),
    batch: o.batch,
    threads: 1,
    cores,
    forwardImagesPerSecond: Object.fromEntries(Object.entries(forward).map(([k, v]) => [k, round(v)])),
    forwardGflops,
    trainingImagesPerSecond: Object.fromEntries(Object.entries(training).map(([k, v]) => [k, round(v)])),
    trainingGflops,
    /** ONNX Runtime's own ceiling on this machine, one thread (see `ceilingRates`). */
    ceiling: Object.fromEntries(Object.entries(ceiling).map(([k, v]) => [k, round(v)])),
    /** Forward against the compiled-in convolution; training against the run-time-weights one (its case). */
    fractionOfCeiling: {
      forward: round((forward.ort * flops) / 1e9 / ceiling.conv3x3Gflops),
      training: round((3 * training.ort * flops) / 1e9 / ceiling.conv3x3RuntimeWeightsGflops),
    },
    ratios: {
      trainingOrtOverTfjsWasm: round(training.ort / training['tfjs-wasm']),
      forwardOrtOverTfjsWasm: round(forward.ort / forward['tfjs-wasm']),
      trainingBlockedOverPlainConv: round(training.ort / training['ort-plain-conv']),
    },
    /** With --pytorch: the reference's figures and ours over its, in GFLOP/s by each side's MAC count (target: forward ≥ 1.2, training ≥ 1.0). */
    ...(o.pytorch ? { pytorch, againstPytorch } : {}),
  };
}
