/**
 * Logits [N, K] of a network on pixels, through the classifier factory: the DC (`levels` σ levels
 * of the released grid) for a diffusion network, the plain forward pass for a CNN.
 */
import {
  argmax,
  ClassifierFactory,
  Denoiser,
  memoryModel,
  generativeGuard,
  Random,
  type GuardReport,
  type DcConfig,
  type Engine,
  type NetworkConfig,
  type Tensor,
  type Weights,
  isClassifierNetwork,
} from '@rdc/core';
import type { Cifar10 } from '../data/cifar10.js';

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
  const factory = new ClassifierFactory(memoryModel(network, weights), engine);
  try {
    const clf = factory.get({ defense: isClassifierNetwork(network) ? 'none' : 'dc', dc: { chunk: Math.min(levels, 25), ...dc, levels } });
    if (!onProgress) return await clf.logits(pixels, new Random(seed));
    // One image at a time, for the progress bar (the same draws: the DC takes each image's noise in order).
    const n = pixels.dims[0];
    const d = pixels.data.length / n;
    const rng = new Random(seed);
    const rows: Float32Array[] = [];
    for (let i = 0; i < n; i++) {
      rows.push((await clf.logits({ data: pixels.data.subarray(i * d, (i + 1) * d), dims: [1, ...pixels.dims.slice(1)] }, rng)).data);
      onProgress(i + 1, n);
    }
    const k = rows[0].length;
    const out = new Float32Array(n * k);
    rows.forEach((r, i) => out.set(r, i * k));
    return { data: out, dims: [n, k] };
  } finally {
    await factory.dispose();
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
  if (isClassifierNetwork(network) || indices.length === 0) return null;
  const den = new Denoiser(engine, network, weights);
  try {
    return await generativeGuard(den, data.pixels(indices), data.labelsAt(indices), { seed, split: 'val' });
  } finally {
    await den.dispose();
  }
}
