/**
 * APGD (Croce & Hein 2020) exactly as AutoAttack's `autopgd_base.py` runs it (ℓ∞ and ℓ2), checked
 * against AutoAttack's own traces (`../shared/fixtures/apgd/`): the random start scaled to the
 * ball's boundary, step size 2ε, momentum 0.75 after the first step, and checkpoints (first after
 * 22 % of the iterations, then 3 % closer each time, at least 6 % apart) at which the step is halved
 * and the search restarts from the best point when at most ρ = 75 % of the last k steps increased the
 * loss, or when the step was not halved at the last checkpoint and the best loss did not improve.
 * AutoAttack's details are kept: the "halved last time" flag starts true, and at the first
 * checkpoint the oldest term compares the first loss with 0 (its loss history excludes the start).
 * ℓ∞ arithmetic is float32, op by op, as in torch.
 *
 * Unlike AutoAttack it works one image at a time and never trusts one noisy evaluation: every
 * single run uses its whole budget unless an iterate passes the confirmation draws
 * (`AttackContext.confirm`); the answer is the highest-loss misclassified iterate, else the
 * highest-loss one. Losses: CE, DLR, and the targeted DLR (`apgd-t`: one run per target class, the
 * 2nd, 3rd, … largest clean logits). Restarts, and EOT through the classifier wrapper.
 *
 * @example
 * await new Apgd({ loss: 'dlr', iterations: 100, restarts: 5 }).run(x, y, ctx);
 */
import { type AttackName, BestIterate, lossAt, lossGradient, offerAndConfirm, type Attack, type AttackContext, type AttackResult } from '../attack.js';
import type { LossName } from '../losses.js';
import { project } from '../threat.js';

export interface ApgdOptions {
  loss?: LossName;
  iterations?: number;
  restarts?: number;
  /** apgd-t: number of target classes (AutoAttack: 9). */
  targets?: number;
  rho?: number;
}

/** What one single run evaluated (for comparing with AutoAttack's traces). */
export interface ApgdTrace {
  /** Every evaluated point: [0] the start, [i + 1] the iterate after step i. */
  xEval: Float32Array[];
  /** The loss at each evaluated point (float32). */
  loss: number[];
  logits: Float32Array[];
  /** The loss gradient at each evaluated point. */
  grad: Float32Array[];
  /** The step size of step i. */
  stepSize: number[];
  /** Whether the iterate was reset to the best point just before step i. */
  resetBeforeStep: boolean[];
}

export interface ApgdSingleRun {
  best: BestIterate;
  /** The best iterate passed the confirmation draws and the run stopped on it. */
  confirmed: boolean;
  /** Some evaluated iterate was misclassified (AutoAttack's "fooled"). */
  fooled: boolean;
  iterations: number;
  queries: number;
}

const f32 = Math.fround;

export class Apgd implements Attack {
  readonly name: AttackName;
  readonly needs = 'gradients' as const;
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
    this.name = this.loss === 'dlr-t' ? 'apgd-t' : this.loss === 'ce' ? 'apgd-ce' : 'apgd-dlr';
  }

  /** The target classes of `apgd-t` from the clean logits: the 2nd, 3rd, … largest (AutoAttack's rule). */
  targetClasses(clean: Float32Array, label: number): number[] {
    const order = Array.from(clean.keys()).sort((a, b) => clean[b] - clean[a]);
    return order.filter((c) => c !== label).slice(0, Math.min(this.targets, order.length - 1));
  }

  /**
   * Every target and restart in turn until an iterate is confirmed misclassified. `starts(t)` may
   * give the start of single run t (0, 1, … over targets, then restarts) instead of a random one.
   */
  async run(x0: Float32Array, label: number, ctx: AttackContext, starts?: (run: number) => Float32Array | undefined): Promise<AttackResult> {
    let queries = 0;
    let iterations = 0;
    const best = new BestIterate(x0);
    let targets: (number | undefined)[] = [undefined];
    if (this.loss === 'dlr-t') {
      const clean = await lossAt(ctx, x0, label, 'dlr');
      queries++;
      targets = this.targetClasses(clean.logits, label);
    }
    let t = 0;
    for (const target of targets) {
      for (let r = 0; r < this.restarts; r++) {
        const out = await this.singleRun(x0, label, ctx, { target, start: starts?.(t++) });
        queries += out.queries;
        iterations += out.iterations;
        if (out.confirmed) return { adv: out.best.adv, success: true, confirmed: true, iterations, queries, bestLoss: out.best.loss };
        best.merge(out.best);
      }
    }
    return { adv: best.adv, success: best.misclassified, confirmed: false, iterations, queries, bestLoss: best.loss };
  }

  /** AutoAttack's random start: t uniform in [−1, 1] (ℓ∞) or Gaussian (ℓ2), scaled to the ball's boundary, clamped. */
  randomStart(x0: Float32Array, ctx: AttackContext): Float32Array {
    const d = x0.length;
    const eps = f32(ctx.threat.eps);
    const x = new Float32Array(d);
    if (ctx.threat.norm === 'linf') {
      const t = Float32Array.from({ length: d }, () => 2 * ctx.rng.uniform() - 1);
      const m = f32(t.reduce((a, v) => Math.max(a, Math.abs(v)), 0) + 1e-12);
      for (let i = 0; i < d; i++) x[i] = Math.min(1, Math.max(0, f32(x0[i] + f32(eps * f32(t[i] / m)))));
    } else {
      const t = ctx.rng.normal(d);
      const m = Math.sqrt(t.reduce((a, v) => a + v * v, 0)) + 1e-12;
      for (let i = 0; i < d; i++) x[i] = Math.min(1, Math.max(0, x0[i] + (eps * t[i]) / m));
    }
    return x;
  }

  /**
   * One run (AutoAttack's `attack_single_run`) from `start` (default: a random start), toward
   * `target` for `apgd-t`; `trace` collects what it evaluated.
   */
  async singleRun(
    x0: Float32Array,
    y: number,
    ctx: AttackContext,
    o: { target?: number; start?: Float32Array; trace?: ApgdTrace } = {},
  ): Promise<ApgdSingleRun> {
    const { threat } = ctx;
    const n = this.iterations;
    const d = x0.length;
    const k0 = Math.max(Math.floor(0.22 * n), 1);
    const kMin = Math.max(Math.floor(0.06 * n), 1);
    const decrease = Math.max(Math.floor(0.03 * n), 1);
    const eps = f32(threat.eps);
    const lo = x0.map((v) => f32(v - eps));
    const hi = x0.map((v) => f32(v + eps));
    const best = new BestIterate(x0);
    let queries = 0;
    let iterations = 0;
    let fooled = false;

    const evaluate = async (x: Float32Array) => {
      const g = await lossGradient(ctx, x, y, this.loss, o.target);
      const loss = f32(g.value);
      queries++;
      o.trace?.xEval.push(Float32Array.from(x));
      o.trace?.loss.push(loss);
      o.trace?.logits.push(Float32Array.from(g.logits));
      o.trace?.grad.push(Float32Array.from(g.grad));
      const c = await offerAndConfirm(ctx, best, x, y, loss, g.logits);
      queries += c.queries;
      if (best.misclassified) fooled = true;
      return { loss, grad: g.grad, logits: g.logits, stop: c.stop };
    };
    const done = (confirmed: boolean): ApgdSingleRun => ({ best, confirmed, fooled, iterations, queries });

    let x: Float32Array = o.start ? Float32Array.from(o.start) : this.randomStart(x0, ctx);
    let e = await evaluate(x);
    // Iteration 0: the starting point.
    ctx.onIteration?.(0, e.loss, e.logits);
    if (e.stop) return done(true);
    let grad = e.grad;
    let lossBest = e.loss;
    let xBest = Float32Array.from(x);
    let gradBest = grad;
    let step = f32(2 * eps);
    let xOld: Float32Array = Float32Array.from(x);
    const lossSteps = new Float32Array(n);
    let k = k0;
    let counter = 0;
    let reducedAtCheck = true;
    let lossBestAtCheck = lossBest;
    let reset = false;

    for (let i = 0; i < n; i++) {
      o.trace?.stepSize.push(step);
      o.trace?.resetBeforeStep.push(reset);
      reset = false;
      const a = i > 0 ? 0.75 : 1;
      const next = new Float32Array(d);
      if (threat.norm === 'linf') {
        for (let j = 0; j < d; j++) {
          const momentum = f32(f32(x[j] - xOld[j]) * (1 - a));
          const z = Math.min(1, Math.max(0, Math.min(hi[j], Math.max(lo[j], f32(x[j] + f32(step * Math.sign(grad[j])))))));
          const v = f32(f32(x[j] + f32(f32(z - x[j]) * a)) + momentum);
          next[j] = Math.min(1, Math.max(0, Math.min(hi[j], Math.max(lo[j], v))));
        }
      } else {
        const gn = Math.sqrt(grad.reduce((s, v) => s + v * v, 0)) + 1e-12;
        const z = x.map((v, j) => v + (step * grad[j]) / gn);
        project(threat, z, x0);
        for (let j = 0; j < d; j++) next[j] = x[j] + (z[j] - x[j]) * a + (x[j] - xOld[j]) * (1 - a);
        project(threat, next, x0);
      }
      xOld = x;
      x = next;

      e = await evaluate(x);
      iterations++;
      ctx.onIteration?.(i + 1, e.loss, e.logits);
      if (e.stop) return done(true);
      grad = e.grad;
      lossSteps[i] = e.loss;
      if (e.loss > lossBest) {
        lossBest = e.loss;
        xBest = Float32Array.from(x);
        gradBest = grad;
      }

      counter++;
      if (counter === k) {
        // Steps among the last k that increased the loss; the history wraps (Python's index −1), as in AutoAttack.
        let ups = 0;
        for (let c = 0; c < k; c++) if (lossSteps[i - c] > lossSteps[(i - c - 1 + n) % n]) ups++;
        const cut: boolean = ups <= k * this.rho || (!reducedAtCheck && lossBestAtCheck >= lossBest);
        reducedAtCheck = cut;
        lossBestAtCheck = lossBest;
        if (cut) {
          step = f32(step / 2);
          x = Float32Array.from(xBest);
          grad = gradBest;
          reset = true;
        }
        k = Math.max(k - decrease, kMin);
        counter = 0;
      }
    }
    return done(false);
  }
}
