import {
  argmax,
  buildClassifierGraph,
  Denoiser,
  DiffusionClassifier,
  generativeGuard,
  Random,
  type GuardReport,
  type DcConfig,
  type Engine,
  type NetworkConfig,
  type Tensor,
  type Weights,
} from '@rdc/core';
import type { Cifar10 } from '../data/cifar10.js';

/**
 * Logits [N, K] of a network on pixels: the DC (`levels` σ levels of the released grid, one chunk)
 * for a diffusion network, the plain forward pass for a CNN.
 */
export async function networkLogits(
  network: NetworkConfig,
  weights: Weights,
  engine: Engine,
  pixels: Tensor,
  levels: number,
  seed: number,
  dc: Partial<DcConfig> = {},
  onProgress?: (done: number, total: number) => void,
): Promise<Tensor> {
  if (network.arch === 'cnn') {
    const f = await engine.compile(buildClassifierGraph(network), { weights });
    try {
      const x = pixels.data.map((p) => 2 * p - 1);
      return (await f.run({ x: { data: x, dims: pixels.dims } })).logits;
    } finally {
      f.dispose();
    }
  }
  const den = new Denoiser(engine, network, weights);
  try {
    return await new DiffusionClassifier(den, { chunk: Math.min(levels, 25), ...dc, levels }).logits(pixels, { rng: new Random(seed), onProgress });
  } finally {
    await den.dispose();
  }
}

/** Accuracy on held-out training images (the validation split; never the test batch). */
export async function validationAccuracy(
  network: NetworkConfig,
  weights: Weights,
  engine: Engine,
  data: Cifar10,
  indices: Int32Array,
  levels: number,
  seed: number,
): Promise<number> {
  if (indices.length === 0) return NaN;
  const logits = await networkLogits(network, weights, engine, data.pixels(indices), levels, seed);
  const pred = argmax(logits.data, network.numClasses);
  const labels = data.labelsAt(indices);
  let ok = 0;
  pred.forEach((p, i) => (ok += p === labels[i] ? 1 : 0));
  return ok / indices.length;
}

/**
 * The generative guard (core's `generativeGuard`) on validation images: null for a CNN.
 *
 * @example
 * const guard = await validationGuard(network, ema, engine, data, split.val.subarray(0, 256), 0);
 */
export async function validationGuard(
  network: NetworkConfig,
  weights: Weights,
  engine: Engine,
  data: Cifar10,
  indices: Int32Array,
  seed: number,
): Promise<GuardReport | null> {
  if (network.arch === 'cnn' || indices.length === 0) return null;
  const den = new Denoiser(engine, network, weights);
  try {
    return await generativeGuard(den, data.pixels(indices), data.labelsAt(indices), { seed, split: 'val' });
  } finally {
    await den.dispose();
  }
}
