/**
 * Whole training steps per second (gradient, clipping, AdamW and the EMA) with the optimizer on the
 * host (TypeScript over the downloaded gradients) or inside the step graph (`--optimizer device`).
 */
import {
  buildDenoiserGraph,
  Denoiser,
  edmLossGraph,
  initWeights,
  memoryModel,
  openClassifier,
  OrtEngine,
  Random,
  relativeError,
  type DeviceSelection,
  type UNetConfig,
  type Weights,
} from '@rdc/core';
import { AdamW, clipScale, DeviceOptimizer, Ema, globalNorm } from '@rdc/train';
import { forwardRate, lossFeeds, trainRate } from './backbone.js';
import { round, time } from './timing.js';

async function stepRate(engine: OrtEngine, network: UNetConfig, weights: Weights, n: number, minSeconds: number, where: 'host' | 'device'): Promise<number> {
  const graph = edmLossGraph(network, { training: true });
  const feeds = lossFeeds(network, graph, n);
  const w: Weights = Object.fromEntries(Object.entries(weights).map(([k, t]) => [k, { data: Float32Array.from(t.data), dims: [...t.dims] }]));
  const opt = new AdamW(w, { weightDecay: 0.01 });
  const ema = new Ema(w, 500_000, null);
  if (where === 'device') {
    const d = await DeviceOptimizer.create(engine, graph, { weights: w, m: opt.m, v: opt.v, ema: ema.weights });
    let t = 0;
    const r = await time(() => d.step(feeds, { lr: 1e-4, t: ++t, clip: 1, weightDecay: 0.01, emaBeta: 0.999 }), { minSeconds, minReps: 2 });
    d.dispose();
    return n / r.medianSeconds;
  }
  const f = await engine.compileGradient(graph, { of: 'loss', wrt: Object.keys(w) });
  const r = await time(
    async () => {
      const { grads } = await f.run(feeds, { weights: w });
      opt.step(w, grads, 1e-4, clipScale(globalNorm(grads), 1));
      ema.update(w, 1e9, n);
    },
    { minSeconds, minReps: 2 },
  );
  f.dispose();
  return n / r.medianSeconds;
}

/**
 * ONNX Runtime on a GPU provider beside its CPU provider, in the same run: forward and training
 * images/s (gradients alone, and whole steps with AdamW on the host or in the graph) and the seconds
 * of one DC prediction (`levels` σ levels), with the adapter named. On a
 * software adapter (lavapipe) the GPU figures are slower than the CPU's; that is expected.
 */
export async function benchDevice(
  network: UNetConfig,
  device: DeviceSelection,
  o: { batch: number; minSeconds: number; levels: number; cpuThreads?: number; fp16?: boolean },
) {
  const weights = initWeights(buildDenoiserGraph(network), 0);
  const rng = new Random(5);
  const { channels: c, height: h, width: w } = network.image;
  const pixels = { data: Float32Array.from({ length: c * h * w }, () => rng.uniform()), dims: [1, c, h, w] };
  const measure = async (engine: OrtEngine) => {
    const dc = openClassifier(memoryModel(network, weights), engine, { defense: 'dc', dc: { levels: o.levels, chunk: Math.min(o.levels, 25) } });
    const t = await time(() => dc.logits(pixels, new Random(6)), { minSeconds: o.minSeconds, minReps: 2 });
    return {
      forwardImagesPerSecond: round(await forwardRate(engine, network, weights, o.batch, o.minSeconds)),
      trainingImagesPerSecond: round(await trainRate(engine, network, weights, o.batch, o.minSeconds)),
      stepImagesPerSecond: {
        hostOptimizer: round(await stepRate(engine, network, weights, o.batch, o.minSeconds, 'host')),
        graphOptimizer: round(await stepRate(engine, network, weights, o.batch, o.minSeconds, 'device')),
      },
      dcSecondsPerImage: round(t.medianSeconds),
    };
  };
  const cpu = await measure(await OrtEngine.create({ threads: o.cpuThreads ?? 1 }));
  const gpuEngine = await OrtEngine.create({ threads: 1, device });
  const gpu = await measure(gpuEngine);
  let fp16: Record<string, number> | undefined;
  if (o.fp16) {
    // Inference in half precision beside float32 on the same provider: speed, and D's error.
    const half = await OrtEngine.create({ threads: 1, device, precision: 'fp16' });
    const dc = openClassifier(memoryModel(network, weights), half, { defense: 'dc', dc: { levels: o.levels, chunk: Math.min(o.levels, 25) } });
    const t = await time(() => dc.logits(pixels, new Random(6)), { minSeconds: o.minSeconds, minReps: 2 });
    const x = { data: Float32Array.from({ length: o.batch * c * h * w }, () => rng.normal(1)[0]), dims: [o.batch, c, h, w] };
    const sigma = new Float32Array(o.batch).fill(0.5);
    const d32 = await new Denoiser(gpuEngine, network, weights).denoise(x, sigma);
    const d16 = await new Denoiser(half, network, weights).denoise(x, sigma);
    fp16 = {
      forwardImagesPerSecond: round(await forwardRate(half, network, weights, o.batch, o.minSeconds)),
      dcSecondsPerImage: round(t.medianSeconds),
      denoiserRelativeError: round(relativeError(d16.data, d32.data)),
    };
  }
  return {
    device: device.device,
    adapter: device.adapter,
    reason: device.reason,
    batch: o.batch,
    levels: o.levels,
    cpuThreads: o.cpuThreads ?? 1,
    cpu,
    [device.device]: gpu,
    ...(fp16 ? { [`${device.device}-fp16`]: fp16 } : {}),
    ratios: {
      forward: round(gpu.forwardImagesPerSecond / cpu.forwardImagesPerSecond),
      training: round(gpu.trainingImagesPerSecond / cpu.trainingImagesPerSecond),
      dc: round(cpu.dcSecondsPerImage / gpu.dcSecondsPerImage),
    },
  };
}
