import { buildDenoiserGraph, Denoiser, DiffusionClassifier, initWeights, OrtEngine, Random, type DeviceSelection, type UNetConfig } from '@rdc/core';
import { forwardRate, trainRate } from './backbone.js';
import { round, time } from './timing.js';

/**
 * ONNX Runtime on a GPU provider beside its CPU provider, in the same run: forward and training
 * images/s and the seconds of one DC prediction (`levels` σ levels), with the adapter named. On a
 * software adapter (lavapipe) the GPU figures are slower than the CPU's; that is expected.
 */
export async function benchDevice(network: UNetConfig, device: DeviceSelection, o: { batch: number; minSeconds: number; levels: number }) {
  const weights = initWeights(buildDenoiserGraph(network), 0);
  const rng = new Random(5);
  const { channels: c, height: h, width: w } = network.image;
  const pixels = { data: Float32Array.from({ length: c * h * w }, () => rng.uniform()), dims: [1, c, h, w] };
  const measure = async (engine: OrtEngine) => {
    const dc = new DiffusionClassifier(new Denoiser(engine, network, weights), { levels: o.levels, chunk: Math.min(o.levels, 25) });
    const t = await time(() => dc.logits(pixels, { rng: new Random(6) }), { minSeconds: o.minSeconds, minReps: 2 });
    return {
      forwardImagesPerSecond: round(await forwardRate(engine, network, weights, o.batch, o.minSeconds)),
      trainingImagesPerSecond: round(await trainRate(engine, network, weights, o.batch, o.minSeconds)),
      dcSecondsPerImage: round(t.medianSeconds),
    };
  };
  const cpu = await measure(await OrtEngine.create({ threads: 1 }));
  const gpu = await measure(await OrtEngine.create({ threads: 1, device }));
  return {
    device: device.device,
    adapter: device.adapter,
    reason: device.reason,
    batch: o.batch,
    levels: o.levels,
    cpu,
    [device.device]: gpu,
    ratios: {
      forward: round(gpu.forwardImagesPerSecond / cpu.forwardImagesPerSecond),
      training: round(gpu.trainingImagesPerSecond / cpu.trainingImagesPerSecond),
      dc: round(cpu.dcSecondsPerImage / gpu.dcSecondsPerImage),
    },
  };
}
