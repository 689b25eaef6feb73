/**
 * Test classifiers' common fields: the tests of attacks and of the evaluation define small
 * classifiers with known logits and gradients (linear, noisy, a tanh network) on top of this.
 *
 * @example
 * class Linear extends StubClassifier { constructor() { super({ stochastic: false, imageDims: [1, 4, 4] }); } … }
 */
import type { Classifier, DefenseName, Random, Tensor } from '@rdc/core/runtime';

export abstract class StubClassifier implements Classifier {
  readonly defense: DefenseName;
  readonly stochastic: boolean;
  readonly imageDims: readonly [number, number, number];
  readonly temperature = 1;
  readonly settings = {};
  constructor(o: { stochastic: boolean; imageDims: readonly [number, number, number] }) {
    this.stochastic = o.stochastic;
    this.defense = o.stochastic ? 'dc' : 'none';
    this.imageDims = o.imageDims;
  }
  abstract get numClasses(): number;
  abstract logits(pixels: Tensor, rng: Random): Promise<Tensor>;
  abstract gradient(pixels: Tensor, cotangent: (logits: Float32Array) => Float32Array, rng: Random): Promise<{ logits: Float32Array; grad: Tensor }>;
}
