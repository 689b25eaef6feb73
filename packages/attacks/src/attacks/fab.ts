/**
 * FAB-T (Croce & Hein 2020, AutoAttack's targeted `fab-t`), ℓ∞ and ℓ2: for each target class t (the
 * top-2… classes of the clean logits), linearise the decision boundary g = z_y − z_t at the iterate,
 * project both the iterate and the clean image onto that hyperplane inside [0, 1] (minimal norm, exact
 * for a linear boundary), step to a mix of the two projections biased towards the clean image
 * (α ≤ α_max, overshoot η), and when the step crosses the boundary pull back towards the clean
 * image (β). Unlike the minimum-norm original, every iterate is also projected onto the ε ball, so
 * the classifier only ever sees points of the threat model, and the answer is the best point inside
 * the ball, not the minimal-norm one that sits on the boundary: every misclassified iterate is also
 * tried with its perturbation scaled to the radius ε, and the answer is the point with the highest
 * margin loss max_{i≠y} z_i − z_y that was seen misclassified, else the highest-loss one. The search uses
 * its whole budget unless an iterate passes the confirmation draws (`AttackContext.confirm`).
 *
 * @example
 * await new Fab({ iterations: 100, targets: 9 }).run(x, y, ctx);
 */
import { BestIterate, offerAndConfirm, type Attack, type AttackContext, type AttackResult } from '../attack.js';
import { margin, predicted } from '../losses.js';
import { type Norm, project, randomStart, type ThreatModel } from '../threat.js';

export interface FabOptions {
  iterations?: number;
  restarts?: number;
  /** Number of target classes (AutoAttack: 9). */
  targets?: number;
  alphaMax?: number;
  eta?: number;
  beta?: number;
}

export class Fab implements Attack {
  readonly name = 'fab-t';
  readonly needs = 'gradients' as const;
  /** The settings, defaults filled in. */
  readonly o: Required<FabOptions>;

  constructor(opts: FabOptions = {}) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    this.o = { iterations: 100, restarts: 1, targets: 9, alphaMax: 0.1, eta: 1.05, beta: 0.9, ...given };
  }

  async run(x0: Float32Array, label: number, ctx: AttackContext): Promise<AttackResult> {
    const clf = ctx.classifier;
    const dims = [1, ...clf.imageDims];
    const clean = (await clf.logits({ data: x0, dims }, ctx.rng)).data;
    let queries = 1;
    let iterations = 0;
    const best = new BestIterate(x0);
    const order = Array.from(clean.keys()).sort((a, b) => clean[b] - clean[a]);
    const targets = order.filter((c) => c !== label).slice(0, Math.min(this.o.targets, order.length - 1));
    for (const target of targets) {
      for (let r = 0; r < this.o.restarts; r++) {
        let x: Float32Array = r === 0 ? Float32Array.from(x0) : randomStart({ ...ctx.threat, eps: ctx.threat.eps / 2 }, x0, ctx.rng);
        const cot = new Float32Array(clf.numClasses);
        cot[label] = 1;
        cot[target] = -1;
        for (let i = 0; i < this.o.iterations; i++) {
          const { logits, grad } = await clf.gradient({ data: x, dims }, () => cot, ctx.rng);
          const w = grad.data;
          const g = logits[label] - logits[target];
          let shift = 0; // w·(x0 − x)
          for (let j = 0; j < w.length; j++) shift += w[j] * (x0[j] - x[j]);
          const d1 = projectOnHyperplane(ctx.threat.norm, w, -g, x);
          const d2 = projectOnHyperplane(ctx.threat.norm, w, -g - shift, x0);
          const n1 = size(ctx.threat.norm, d1);
          const n2 = size(ctx.threat.norm, d2);
          const alpha = Math.min(Math.max(n1 / (n1 + n2 || 1), 0), this.o.alphaMax);
          x = x.map((v, j) => (1 - alpha) * (v + this.o.eta * d1[j]) + alpha * (x0[j] + this.o.eta * d2[j]));
          project(ctx.threat, x, x0);
          const z = (await clf.logits({ data: x, dims }, ctx.rng)).data;
          queries += 2;
          iterations++;
          ctx.onIteration?.(iterations, z[target] - z[label]);
          const c = await offerAndConfirm(ctx, best, x, label, -margin(z, label), z);
          queries += c.queries;
          if (c.stop) return { adv: best.adv, success: true, confirmed: true, iterations, queries, bestLoss: best.loss };
          if (predicted(z) !== label) {
            // Past the boundary: also try the same direction at the ball's radius, the deepest point along it.
            const far = toRadius(ctx.threat, x, x0);
            const zf = (await clf.logits({ data: far, dims }, ctx.rng)).data;
            const cf = await offerAndConfirm(ctx, best, far, label, -margin(zf, label), zf);
            queries += 1 + cf.queries;
            if (cf.stop) return { adv: best.adv, success: true, confirmed: true, iterations, queries, bestLoss: best.loss };
            x = x.map((v, j) => (1 - this.o.beta) * x0[j] + this.o.beta * v);
          }
        }
      }
    }
    return { adv: best.adv, success: best.misclassified, confirmed: false, iterations, queries, bestLoss: best.loss };
  }
}

/** x0 + δ scaled to the ball's radius (δ = x − x0), inside [0, 1]. */
function toRadius(t: ThreatModel, x: Float32Array, x0: Float32Array): Float32Array {
  const d = x.map((v, j) => v - x0[j]);
  const n = size(t.norm, d);
  const out = n > 0 ? x0.map((v, j) => v + (t.eps * d[j]) / n) : Float32Array.from(x);
  project(t, out, x0);
  return out;
}

function size(norm: Norm, d: Float32Array): number {
  let m = 0;
  for (const v of d) m = norm === 'linf' ? Math.max(m, Math.abs(v)) : m + v * v;
  return norm === 'linf' ? m : Math.sqrt(m);
}

/**
 * The smallest δ (ℓ∞ or ℓ2) with w·δ = b and base + δ in [0, 1]: δ_j = clip(s·sign(w_j)·t, box) for ℓ∞
 * and clip(s·λ·w_j, box) for ℓ2 (s = sign b), with t or λ found by bisection (w·δ is monotone in
 * them). When the box makes w·δ = b unreachable, the δ that comes closest.
 *
 * @example
 * const d = projectOnHyperplane('linf', grad, -margin, x);
 */
export function projectOnHyperplane(norm: Norm, w: Float32Array, b: number, base: Float32Array): Float32Array {
  const s = b < 0 ? -1 : 1;
  const target = Math.abs(b);
  const delta = (t: number) =>
    Float32Array.from(w, (wj, j) => {
      const v = norm === 'linf' ? s * Math.sign(wj) * t : s * wj * t;
      return Math.min(1 - base[j], Math.max(-base[j], v));
    });
  // s·w·δ(t): nondecreasing in t.
  const reach = (t: number) => delta(t).reduce((h, v, j) => h + s * w[j] * v, 0);
  if (target === 0) return new Float32Array(w.length);
  // An upper end where every coordinate is clipped (or the target is reached).
  let hi = 1;
  let wMin = Infinity;
  for (const v of w) if (v !== 0) wMin = Math.min(wMin, Math.abs(v));
  const saturated = norm === 'linf' ? 1 : 1 / wMin;
  while (reach(hi) < target && hi < saturated) hi = Math.min(2 * hi, saturated);
  if (reach(hi) < target) return delta(hi);
  let lo = 0;
  for (let k = 0; k < 60; k++) {
    const mid = (lo + hi) / 2;
    if (reach(mid) < target) lo = mid;
    else hi = mid;
  }
  return delta(hi);
}
