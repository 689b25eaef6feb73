import type { Attack, AttackContext, AttackResult } from '../attack.js';
import { lossAt, lossGradient } from '../attack.js';
import { predicted, type LossName } from '../losses.js';
import { project } from '../threat.js';

/**
 * APGD (Croce & Hein 2020, AutoAttack's `autopgd_base.py`), ℓ∞ and ℓ2: step size starting at 2ε,
 * momentum α = 0.75, and checkpoints (first after 22 % of the iterations, then closer by 3 % each
 * time, at least 6 % apart) at which the step is halved and the search restarts from the best point
 * when fewer than ρ = 75 % of the steps since the last checkpoint increased the loss, or when the
 * step was not halved last time and the best loss did not improve. Losses: CE, DLR, and the targeted
 * DLR (`apgd-t`: one run per target class, the top-2… classes of the clean logits). Random start,
 * restarts, and EOT through the classifier wrapper.
 *
 * @example
 * await new Apgd({ loss: 'dlr', iterations: 100, restarts: 5 }).run(x, y, ctx);
 */
export interface ApgdOptions {
  loss?: LossName;
  iterations?: number;
  restarts?: number;
  /** apgd-t: number of target classes (AutoAttack: 9). */
  targets?: number;
  rho?: number;
}

export class Apgd implements Attack {
  readonly name: string;
  readonly loss: LossName;
  readonly iterations: number;
  readonly restarts: number;
  readonly targets: number;
  readonly rho: number;

  constructor(opts: ApgdOptions = {}) {
    this.loss = opts.loss ?? 'ce';
    this.iterations = opts.iterations ?? 100;
    this.restarts = opts.restarts ?? 1;
    this.targets = opts.targets ?? 9;
    this.rho = opts.rho ?? 0.75;
    this.name = this.loss === 'dlr-t' ? 'apgd-t' : `apgd-${this.loss}`;
  }

  async run(x0: Float32Array, label: number, ctx: AttackContext): Promise<AttackResult> {
    let queries = 0;
    let iterations = 0;
    let best = { adv: Float32Array.from(x0), loss: -Infinity };
    let targets: (number | undefined)[] = [undefined];
    if (this.loss === 'dlr-t') {
      const clean = await lossAt(ctx, x0, label, 'dlr');
      queries++;
      const order = Array.from(clean.logits.keys()).sort((a, b) => clean.logits[b] - clean.logits[a]);
      targets = order.filter((c) => c !== label).slice(0, Math.min(this.targets, order.length - 1));
    }
    for (const target of targets) {
      for (let r = 0; r < this.restarts; r++) {
        const out = await this.single(x0, label, ctx, target, (n) => (iterations += n));
        queries += out.queries;
        if (out.success) return { adv: out.adv, success: true, iterations, queries, bestLoss: out.bestLoss };
        if (out.bestLoss > best.loss) best = { adv: out.adv, loss: out.bestLoss };
      }
    }
    return { adv: best.adv, success: false, iterations, queries, bestLoss: best.loss };
  }

  /** One run from a random start (AutoAttack's attack_single_run). */
  private async single(x0: Float32Array, y: number, ctx: AttackContext, target: number | undefined, count: (n: number) => void) {
    const { threat, rng } = ctx;
    const n = this.iterations;
    const eps = threat.eps;
    const d = x0.length;
    const check = Math.max(Math.floor(0.22 * n), 1);
    const minCheck = Math.max(Math.floor(0.06 * n), 1);
    const decrease = Math.max(Math.floor(0.03 * n), 1);

    // Random start: AutoAttack draws t and scales it to the ball's boundary.
    let x = new Float32Array(d);
    if (threat.norm === 'linf') {
      const t = Float32Array.from({ length: d }, () => 2 * rng.uniform() - 1);
      const m = t.reduce((a, v) => Math.max(a, Math.abs(v)), 0) || 1;
      for (let i = 0; i < d; i++) x[i] = x0[i] + (eps * t[i]) / m;
    } else {
      const t = rng.normal(d);
      const m = Math.sqrt(t.reduce((a, v) => a + v * v, 0)) || 1;
      for (let i = 0; i < d; i++) x[i] = x0[i] + (eps * t[i]) / m;
    }
    project(threat, x, x0);

    let queries = 0;
    let g = await lossGradient(ctx, x, y, this.loss, target);
    queries++;
    let grad = g.grad;
    let bestLoss = g.value;
    let xBest = Float32Array.from(x);
    let gradBest = grad;
    if (predicted(g.logits) !== y) return { adv: x, success: true, bestLoss, queries };

    let step = 2 * eps;
    let xOld = Float32Array.from(x);
    const losses: number[] = [g.value];
    let k = check;
    let sinceCheck = 0;
    let reducedLast = false;
    let bestLastCheck = bestLoss;

    const unit = (v: Float32Array): Float32Array => {
      if (threat.norm === 'linf') return v.map(Math.sign);
      const m = Math.sqrt(v.reduce((a, b) => a + b * b, 0)) || 1e-12;
      return v.map((b) => b / m);
    };

    for (let i = 0; i < n; i++) {
      const a = i > 0 ? 0.75 : 1;
      const dir = unit(grad);
      const z = x.map((v, j) => v + step * dir[j]);
      project(threat, z, x0);
      const next = x.map((v, j) => v + (z[j] - v) * a + (v - xOld[j]) * (1 - a));
      project(threat, next, x0);
      xOld = x;
      x = next;

      g = await lossGradient(ctx, x, y, this.loss, target);
      queries++;
      count(1);
      ctx.onIteration?.(i + 1, g.value);
      grad = g.grad;
      if (predicted(g.logits) !== y) return { adv: x, success: true, bestLoss: Math.max(bestLoss, g.value), queries };
      losses.push(g.value);
      if (g.value > bestLoss) {
        bestLoss = g.value;
        xBest = Float32Array.from(x);
        gradBest = grad;
      }

      sinceCheck++;
      if (sinceCheck === k) {
        // Fraction of the last k steps that increased the loss.
        let increases = 0;
        for (let j = losses.length - k; j < losses.length; j++) if (j > 0 && losses[j] > losses[j - 1]) increases++;
        const oscillating = increases <= k * this.rho;
        const stalled: boolean = !reducedLast && bestLastCheck >= bestLoss;
        const reduce: boolean = oscillating || stalled;
        reducedLast = reduce;
        bestLastCheck = bestLoss;
        if (reduce) {
          step /= 2;
          x = Float32Array.from(xBest);
          grad = gradBest;
        }
        sinceCheck = 0;
        k = Math.max(k - decrease, minCheck);
      }
    }
    return { adv: xBest, success: false, bestLoss, queries };
  }
}
