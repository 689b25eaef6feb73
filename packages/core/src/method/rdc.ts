import type { Random } from '../rng/random.js';
import type { Tensor } from '../tensor.js';
import type { DiffusionClassifier } from './dc.js';
import type { LikelihoodMaximizer } from './lm.js';

/**
 * The robust diffusion classifier: RDC(x) = DC(LM(x)) (rdc-method.md §3).
 *
 * @example
 * const rdc = new RobustDiffusionClassifier(dc, lm);
 * const { logits, purified } = await rdc.logits(pixels, new Random(0));
 */
export class RobustDiffusionClassifier {
  constructor(
    readonly dc: DiffusionClassifier,
    readonly lm: LikelihoodMaximizer,
  ) {}

  get numClasses(): number {
    return this.dc.numClasses;
  }

  /** Logits [B, K] of LM(pixels), and the purified pixels. LM draws first, then the DC, from `rng`. */
  async logits(pixels: Tensor, rng: Random): Promise<{ logits: Tensor; purified: Tensor }> {
    const purified = await this.lm.run(pixels, rng);
    const logits = await this.dc.logits(purified, { rng });
    return { logits, purified };
  }
}
