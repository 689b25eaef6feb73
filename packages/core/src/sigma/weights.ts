import { edmLossWeight, P_MEAN, P_STD } from '../edm/coefficients.js';
import type { SigmaGrid } from './grid.js';

/**
 * Weightings of the per-σ denoising errors in the diffusion classifier (docs/method.md §2):
 *
 * - `released`: w_i = λ(σ_i)·p̃(σ_i)·Δσ_i with the released code's density
 *   p̃(σ) = exp(−(ln σ − P_mean)²/2·P_std²) / (σ·P_std·√(2π)) (its operator precedence multiplies by
 *   P_std²/2). The paper's numbers were measured with it, so it is the default.
 * - `lognormal`: the same with the exact log-normal density (divides by 2·P_std²). Pair it with a
 *   `log` grid: on the linear grid it puts most weight on near-noiseless levels.
 * - `uniform`: w_i = 1/S.
 *
 * @example
 * const w = sigmaWeights(sigmaGrid({ kind: 'linear', levels: 125, min: 1e-4, max: 3 }), 'released');
 */
export type Weighting = 'released' | 'lognormal' | 'uniform';

/** The released code's density (see above). */
export function releasedDensity(sigma: number): number {
  const z = Math.log(sigma) - P_MEAN;
  return Math.exp((-(z * z) / 2) * P_STD * P_STD) / (sigma * P_STD * Math.sqrt(2 * Math.PI));
}

/** The exact log-normal density of σ with ln σ ~ N(P_mean, P_std²). */
export function lognormalDensity(sigma: number): number {
  const z = Math.log(sigma) - P_MEAN;
  return Math.exp(-(z * z) / (2 * P_STD * P_STD)) / (sigma * P_STD * Math.sqrt(2 * Math.PI));
}

export function sigmaWeights(grid: SigmaGrid, weighting: Weighting): Float64Array {
  const S = grid.sigmas.length;
  const w = new Float64Array(S);
  for (let i = 0; i < S; i++) {
    const s = grid.sigmas[i];
    if (weighting === 'uniform') w[i] = 1 / S;
    else {
      const p = weighting === 'released' ? releasedDensity(s) : lognormalDensity(s);
      w[i] = edmLossWeight(s) * p * grid.deltas[i];
    }
  }
  return w;
}

/** Summary of a weight profile: total, and the share of the weight below given σ thresholds. */
export function weightProfile(grid: SigmaGrid, w: Float64Array): { total: number; rows: { sigma: number; weight: number; cumulativeShare: number }[] } {
  let total = 0;
  for (const v of w) total += v;
  let cum = 0;
  const rows = Array.from(grid.sigmas, (sigma, i) => {
    cum += w[i];
    return { sigma, weight: w[i], cumulativeShare: cum / total };
  });
  return { total, rows };
}
