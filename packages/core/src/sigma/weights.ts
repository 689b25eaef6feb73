import { edmLossWeight, P_MEAN, P_STD } from '../edm/coefficients.js';
import type { SigmaGrid } from './grid.js';

/**
 * Weightings of the per-σ denoising errors in the diffusion classifier (docs/method.md §2), on a grid
 * of Euler steps [σ_i, σ_{i+1}] evaluated at one end s (`sigmaGrid`):
 *
 * - `released`: w_i = λ(s)·p̃(σ_i)·Δσ_i (s = σ_i for the DC, σ_{i+1} for the noised DCs, as in the
 *   authors' code) with the released code's density
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

function density(weighting: 'released' | 'lognormal'): (sigma: number) => number {
  return weighting === 'released' ? releasedDensity : lognormalDensity;
}

export function sigmaWeights(grid: SigmaGrid, weighting: Weighting): Float64Array {
  const S = grid.sigmas.length;
  const w = new Float64Array(S);
  for (let i = 0; i < S; i++) {
    const s = grid.sigmas[i];
    if (weighting === 'uniform') w[i] = 1 / S;
    else {
      const p = density(weighting)(grid.lower[i]);
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

/**
 * EPNDC's weights (docs/method.md §8): for the step (σ_i, σ_{i+1}) above the input's own noise σ_t,
 * v_i = λ(σ_i)·p(σ_i)·Δσ_i · σ_{i+1}²·(σ_{i+1}² − σ_t²) / (4·Δσ_i²·(σ_i² − σ_t²)) (`uniform`: 1/S
 * in place of λ·p·Δσ). Needs σ_i > σ_t at every level: the grid skips its first interval.
 *
 * @example
 * const g = sigmaGrid({ kind: 'linear', levels: 10, min: 0.5, max: 3, skip: 1 });
 * const v = epndcWeights(g, 0.5, 'released');
 */
export function epndcWeights(grid: SigmaGrid, sigmaT: number, weighting: Weighting): Float64Array {
  const S = grid.sigmas.length;
  const v = new Float64Array(S);
  for (let i = 0; i < S; i++) {
    const lo = grid.lower[i];
    const hi = grid.sigmas[i];
    const d = grid.deltas[i];
    if (!(lo > sigmaT)) throw new Error(`epndcWeights: every step must start above σ_t = ${sigmaT}, got ${lo} (skip the first interval)`);
    const base = weighting === 'uniform' ? 1 / S : edmLossWeight(lo) * density(weighting)(lo) * d;
    v[i] = (base * hi * hi * (hi * hi - sigmaT * sigmaT)) / (4 * d * d * (lo * lo - sigmaT * sigmaT));
  }
  return v;
}
