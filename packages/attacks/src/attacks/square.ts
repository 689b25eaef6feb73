/**
 * Square Attack (Andriushchenko et al. 2020), score-based: no gradients. Random square windows of
 * the perturbation are redrawn (ℓ∞: ±ε per channel, AutoAttack's p schedule from p_init = 0.8) and
 * kept when the margin z_y − max_{i≠y} z_i decreases. For ℓ2 the window gets a random Gaussian
 * pattern and the whole perturbation is rescaled to the ε sphere (a square-window random search in
 * the ℓ2 ball). Compare scores across queries only with a deterministic classifier: run it through
 * `FixedNoiseClassifier` (the evaluation does: one fixed draw by default, or the average of m fixed
 * draws with `--square-draws m`, so the search does not overfit one draw), then re-check the
 * result with fresh noise. The search uses its whole budget unless an accepted candidate passes the
 * confirmation draws of the real classifier (`AttackContext.judge`).
 *
 * @example
 * await new Square({ queries: 1000 }).run(x, y, { classifier: new FixedNoiseClassifier(clf, 0), threat, rng });
 */
import { BestIterate, offerAndConfirm, type Attack, type AttackContext, type AttackResult } from '../attack.js';
import { margin } from '../losses.js';
import { project } from '../threat.js';

export interface SquareOptions {
  queries?: number;
  pInit?: number;
}

/** AutoAttack's schedule of the fraction of pixels changed per query. */
export function squareP(pInit: number, it: number, total: number): number {
  const i = Math.floor((it / total) * 10000);
  const div =
    i <= 10 ? 1 : i <= 50 ? 2 : i <= 200 ? 4 : i <= 500 ? 8 : i <= 1000 ? 16 : i <= 2000 ? 32 : i <= 4000 ? 64 : i <= 6000 ? 128 : i <= 8000 ? 256 : 512;
  return pInit / div;
}

export class Square implements Attack {
  readonly name = 'square';
  readonly needs = 'scores' as const;
  readonly queries: number;
  readonly pInit: number;
  constructor(opts: SquareOptions = {}) {
    this.queries = opts.queries ?? 1000;
    this.pInit = opts.pInit ?? 0.8;
  }

  async run(x0: Float32Array, y: number, ctx: AttackContext): Promise<AttackResult> {
    const { threat, rng, classifier } = ctx;
    const [c, h, w] = classifier.imageDims;
    const eps = threat.eps;
    const score = async (x: Float32Array) => (await classifier.logits({ data: x, dims: [1, c, h, w] }, rng)).data;

    // Initialisation: vertical stripes of ±ε (ℓ∞), or a random pattern on the ε sphere (ℓ2).
    let best = new Float32Array(x0.length);
    if (threat.norm === 'linf') {
      for (let k = 0; k < c; k++)
        for (let col = 0; col < w; col++) {
          const s = rng.uniform() < 0.5 ? -eps : eps;
          for (let row = 0; row < h; row++) best[(k * h + row) * w + col] = x0[(k * h + row) * w + col] + s;
        }
    } else {
      const t = rng.normal(x0.length);
      const m = Math.sqrt(t.reduce((a, v) => a + v * v, 0));
      for (let i = 0; i < x0.length; i++) best[i] = x0[i] + (eps * t[i]) / m;
    }
    project(threat, best, x0);
    let z = await score(best);
    let queries = 1;
    let bestMargin = margin(z, y);
    const answer = new BestIterate(x0);
    const accept = async (x: Float32Array, logits: Float32Array) => {
      const c = await offerAndConfirm(ctx, answer, x, y, -margin(logits, y), logits);
      queries += c.queries;
      return c.stop;
    };
    const confirmed = (it: number): AttackResult => ({ adv: answer.adv, success: true, confirmed: true, iterations: it, queries, bestLoss: answer.loss });
    if (await accept(best, z)) return confirmed(0);

    for (let it = 1; it < this.queries; it++) {
      const p = squareP(this.pInit, it, this.queries);
      const s = Math.min(Math.max(Math.round(Math.sqrt(p * h * w)), 1), h - 1);
      const vh = rng.int(h - s + 1);
      const vw = rng.int(w - s + 1);
      const cand = Float32Array.from(best);
      if (threat.norm === 'linf') {
        // Redraw until the window actually changes (as the reference implementation does).
        for (let tries = 0; tries < 10; tries++) {
          let changed = false;
          for (let k = 0; k < c; k++) {
            const sign = rng.uniform() < 0.5 ? -1 : 1;
            for (let row = vh; row < vh + s; row++)
              for (let col = vw; col < vw + s; col++) {
                const i = (k * h + row) * w + col;
                const v = Math.min(1, Math.max(0, x0[i] + sign * eps));
                if (Math.abs(v - best[i]) > 1e-7) changed = true;
                cand[i] = v;
              }
          }
          if (changed) break;
        }
      } else {
        for (let k = 0; k < c; k++)
          for (let row = vh; row < vh + s; row++)
            for (let col = vw; col < vw + s; col++) {
              const i = (k * h + row) * w + col;
              cand[i] = x0[i] + (eps / Math.sqrt(s * s * c)) * rng.gaussian() * 3;
            }
        // Back onto the ε sphere: scale the whole perturbation to norm ε.
        let n2 = 0;
        for (let i = 0; i < cand.length; i++) n2 += (cand[i] - x0[i]) ** 2;
        const f = eps / (Math.sqrt(n2) || 1);
        for (let i = 0; i < cand.length; i++) cand[i] = x0[i] + (cand[i] - x0[i]) * f;
      }
      project(threat, cand, x0);
      z = await score(cand);
      queries++;
      const m = margin(z, y);
      ctx.onIteration?.(it, -m);
      if (m < bestMargin) {
        bestMargin = m;
        best = cand;
        if (await accept(best, z)) return confirmed(it);
      }
    }
    return { adv: answer.adv, success: answer.misclassified, confirmed: false, iterations: this.queries - 1, queries, bestLoss: answer.loss };
  }
}
