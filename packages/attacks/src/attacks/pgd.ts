import { BestIterate, lossAt, lossGradient, offerAndConfirm, type Attack, type AttackContext, type AttackResult } from '../attack.js';
import type { LossName } from '../losses.js';
import { ascentDirection, project, randomStart } from '../threat.js';

/**
 * PGD (Madry et al. 2018), ℓ∞ or ℓ2: `steps` projected ascent steps of size `stepSize`
 * (default 2.5·ε/steps), from a random point of the ball (`randomStart`), `restarts` times. Every
 * restart runs all its steps unless an iterate passes the confirmation draws
 * (`AttackContext.confirm`); the answer is the highest-loss misclassified iterate, else the
 * highest-loss iterate.
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
  readonly needs = 'gradients' as const;
  /** The settings, defaults filled in (no step size: 2.5·ε / steps unless given). */
  readonly o: Required<Omit<PgdOptions, 'stepSize'>> & Pick<PgdOptions, 'stepSize'>;
  constructor(opts: PgdOptions = {}) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    this.o = { steps: 10, restarts: 1, loss: 'ce', randomStart: true, ...given };
  }

  async run(x0: Float32Array, label: number, ctx: AttackContext): Promise<AttackResult> {
    const alpha = this.o.stepSize ?? (2.5 * ctx.threat.eps) / this.o.steps;
    const best = new BestIterate(x0);
    let queries = 0;
    let iterations = 0;
    const stop = async (x: Float32Array, value: number, logits: Float32Array) => {
      const c = await offerAndConfirm(ctx, best, x, label, value, logits);
      queries += c.queries;
      return c.stop;
    };
    const confirmed = (): AttackResult => ({ adv: best.adv, success: true, confirmed: true, iterations, queries, bestLoss: best.loss });
    for (let r = 0; r < this.o.restarts; r++) {
      const x = this.o.randomStart ? randomStart(ctx.threat, x0, ctx.rng) : Float32Array.from(x0);
      for (let s = 0; s < this.o.steps; s++) {
        const g = await lossGradient(ctx, x, label, this.o.loss);
        queries++;
        iterations++;
        ctx.onIteration?.(iterations, g.value, g.logits);
        if (await stop(x, g.value, g.logits)) return confirmed();
        const dir = ascentDirection(ctx.threat.norm, g.grad);
        for (let i = 0; i < x.length; i++) x[i] += alpha * dir[i];
        project(ctx.threat, x, x0);
      }
      // The last iterate is evaluated too (forward only).
      const g = await lossAt(ctx, x, label, this.o.loss);
      queries++;
      if (await stop(x, g.value, g.logits)) return confirmed();
    }
    return { adv: best.adv, success: best.misclassified, confirmed: false, iterations, queries, bestLoss: best.loss };
  }
}
