import { GmmConfig, UNetConfig } from './config/schema.js';
import type { Weights } from './engines/engine.js';
import { buildDenoiserGraph } from './nn/denoiser.js';
import { initWeights } from './nn/init.js';
import { Random } from './rng/random.js';

/**
 * Small fixtures for tests across packages: tiny networks (a few MFLOP) whose every layer is
 * active, and a Gaussian-mixture oracle with known means.
 *
 * @example
 * const { config, weights } = tinyUNet();
 */

/** A tiny UNet with attention (8×8 images, 2 levels) and weights that exercise every layer. */
export function tinyUNet(opts: { classes?: number; seed?: number; attention?: boolean; size?: number } = {}): { config: UNetConfig; weights: Weights } {
  const size = opts.size ?? 8;
  const config = UNetConfig.parse({
    arch: 'unet',
    image: { channels: 3, height: size, width: size },
    numClasses: opts.classes ?? 3,
    modelChannels: 8,
    channelMult: [1, 2],
    numBlocks: 1,
    attnResolutions: opts.attention === false ? [] : [size / 2],
    channelsPerHead: 8,
  });
  const graph = buildDenoiserGraph(config);
  const weights = initWeights(graph, opts.seed ?? 0);
  // EDM initialises the last layer of each branch near zero; give them real values so that
  // gradients and parity tests see every layer.
  const rng = new Random((opts.seed ?? 0) + 1000);
  for (const [name, w] of Object.entries(weights)) {
    if (/conv1\.weight|proj\.weight|out\.conv\.weight/.test(name)) for (let i = 0; i < w.data.length; i++) w.data[i] = 0.1 * rng.gaussian();
    if (/bias$/.test(name)) for (let i = 0; i < w.data.length; i++) w.data[i] = 0.05 * rng.gaussian();
  }
  return { config, weights };
}

/** A Gaussian mixture with K classes on C×H×W images, means uniform in [−m, m], std s (model units). */
export function gaussianMixture(opts: { classes: number; image: { channels: number; height: number; width: number }; std: number; meanScale: number; seed: number }): {
  config: GmmConfig;
  weights: Weights;
  means: Float32Array;
} {
  const { channels, height, width } = opts.image;
  const d = channels * height * width;
  const config = GmmConfig.parse({ arch: 'gmm', image: opts.image, numClasses: opts.classes, std: opts.std });
  const rng = new Random(opts.seed);
  const means = new Float32Array(opts.classes * d);
  for (let i = 0; i < means.length; i++) means[i] = opts.meanScale * (2 * rng.uniform() - 1);
  return { config, weights: { means: { data: means, dims: [opts.classes, d] } }, means };
}
