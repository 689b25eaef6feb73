import { buildDenoiserGraph, ClassifierFactory, initWeights, memoryModel, Random, type Engine, type DenoiserNetworkConfig, type Tensor, type Weights } from '@rdc/core';

type DiffusionNetwork = DenoiserNetworkConfig;

/**
 * What the gradient and attack suites time: the given weights (or seeded random ones), a random
 * image, and per engine the classifiers of the model (the DC at S levels, the RDC with the released LM).
 *
 * @example
 * const { weights, image } = benchInputs(network, o.weights, 3);
 * const dc = diffusionClassifiers(engine, network, weights).get({ defense: 'dc', dc: { levels: 125 } });
 */
export function benchInputs(network: DiffusionNetwork, weights: Weights | undefined, seed: number): { weights: Weights; image: Tensor } {
  const rng = new Random(seed);
  const { channels: c, height: h, width: w } = network.image;
  return {
    weights: weights ?? initWeights(buildDenoiserGraph(network), 0),
    image: { data: Float32Array.from({ length: c * h * w }, () => rng.uniform()), dims: [1, c, h, w] },
  };
}

/** The classifier factory of an in-memory model with the released LM preset (what the suites time). */
export function diffusionClassifiers(engine: Engine, network: DiffusionNetwork, weights: Weights): ClassifierFactory {
  return new ClassifierFactory(memoryModel(network, weights, { lmMethod: 'released' }), engine);
}
