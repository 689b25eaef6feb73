import type { Attack, AttackContext, AttackResult } from '../attack.js';
import { lossAt, lossGradient } from '../attack.js';
import { predicted, type LossName } from '../losses.js';
import { ascentDirection, project } from '../threat.js';

/**
 * FGSM (Goodfellow et al. 2015): one step of size ε along the sign of the gradient (ℓ∞) or the
 * normalised gradient (ℓ2). `success` is read off the adversarial image's own logits (one more
 * forward pass), never the clean image's.
 *
 * @example
 * const r = await new Fgsm().run(x, y, { classifier, threat: { norm: 'linf', eps: 8 / 255 }, rng });
 */
export class Fgsm implements Attack {
  readonly name = 'fgsm';
  readonly needs = 'gradients' as const;
  constructor(readonly loss: LossName = 'ce') {}

  async run(x0: Float32Array, label: number, ctx: AttackContext): Promise<AttackResult> {
    const g = await lossGradient(ctx, x0, label, this.loss);
    const dir = ascentDirection(ctx.threat.norm, g.grad);
    const adv = x0.map((v, i) => v + ctx.threat.eps * dir[i]);
    project(ctx.threat, adv, x0);
    const at = await lossAt(ctx, adv, label, this.loss);
    return { adv, success: predicted(at.logits) !== label, confirmed: false, iterations: 1, queries: 2, bestLoss: at.value };
  }
}
