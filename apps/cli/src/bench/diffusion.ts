import {
  buildDenoiserGraph,
  Denoiser,
  DiffusionClassifier,
  initWeights,
  LikelihoodMaximizer,
  lmPreset,
  Random,
  type Engine,
  type NetworkConfig,
  type Tensor,
  type Weights,
} from '@rdc/core';

type DiffusionNetwork = Exclude<NetworkConfig, { arch: 'cnn' }>;

/**
 * What the gradient and attack suites time: the given weights (or seeded random ones), a random
 * image, and per engine the denoiser with its DC at S levels and the released LM.
 *
 * @example
 * const { weights, image } = benchInputs(network, o.weights, 3);
 * const { den, dc, lm } = diffusionParts(engine, network, weights, 125);
 */
export function benchInputs(network: DiffusionNetwork, weights: Weights | undefined, seed: number): { weights: Weights; image: Tensor } {
  const rng = new Random(seed);
  const { channels: c, height: h, width: w } = network.image;
  return {
    weights: weights ?? initWeights(buildDenoiserGraph(network), 0),
    image: { data: Float32Array.from({ length: c * h * w }, () => rng.uniform()), dims: [1, c, h, w] },
  };
}

export function diffusionParts(engine: Engine, network: DiffusionNetwork, weights: Weights, levels: number) {
  const den = new Denoiser(engine, network, weights);
  return { den, dc: new DiffusionClassifier(den, { levels }), lm: new LikelihoodMaximizer(den, lmPreset('released')) };
}
