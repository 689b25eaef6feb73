import type { Attack, AttackContext, AttackResult } from '../attack.js';
import { lossAt, lossGradient } from '../attack.js';
import { predicted, type LossName } from '../losses.js';
import { ascentDirection, project, randomStart } from '../threat.js';

/**
 * PGD (Madry et al. 2018), ℓ∞ or ℓ2: `steps` projected ascent steps of size `stepSize`
 * (default 2.5·ε/steps), from a random point of the ball (`randomStart`), `restarts` times. Returns
 * the first misclassified iterate found, else the iterate with the highest loss.
 *
 * @example
 * new Pgd({ steps: 20, restarts: 2 }).run(x, y, ctx);
 */
export interface PgdOptions {
  steps?: number;
  stepSize?: number;
  restarts?: number;
  randomStart?: boolean;
  loss?: LossName;
}

export class Pgd implements Attack {
  readonly name = 'pgd';
  readonly steps: number;
  readonly restarts: number;
  readonly loss: LossName;
  readonly randomStart: boolean;
  constructor(readonly opts: PgdOptions = {}) {
    this.steps = opts.steps ?? 10;
    this.restarts = opts.restarts ?? 1;
    this.loss = opts.loss ?? 'ce';
    this.randomStart = opts.randomStart ?? true;
  }

  async run(x0: Float32Array, label: number, ctx: AttackContext): Promise<AttackResult> {
    const alpha = this.opts.stepSize ?? (2.5 * ctx.threat.eps) / this.steps;
    let best = { adv: Float32Array.from(x0), loss: -Infinity };
    let queries = 0;
    let iterations = 0;
    for (let r = 0; r < this.restarts; r++) {
      const x = this.randomStart ? randomStart(ctx.threat, x0, ctx.rng) : Float32Array.from(x0);
      for (let s = 0; s < this.steps; s++) {
        const g = await lossGradient(ctx, x, label, this.loss);
        queries++;
        iterations++;
        ctx.onIteration?.(iterations, g.value);
        if (predicted(g.logits) !== label) return { adv: x, success: true, iterations, queries, bestLoss: Math.max(best.loss, g.value) };
        if (g.value > best.loss) best = { adv: Float32Array.from(x), loss: g.value };
        const dir = ascentDirection(ctx.threat.norm, g.grad);
        for (let i = 0; i < x.length; i++) x[i] += alpha * dir[i];
        project(ctx.threat, x, x0);
      }
      // The last iterate is checked too (forward only).
      const g = await lossAt(ctx, x, label, this.loss);
      queries++;
      if (predicted(g.logits) !== label) return { adv: x, success: true, iterations, queries, bestLoss: Math.max(best.loss, g.value) };
      if (g.value > best.loss) best = { adv: Float32Array.from(x), loss: g.value };
    }
    return { adv: best.adv, success: false, iterations, queries, bestLoss: best.loss };
  }
}
