import { sigmaGrid, type SigmaGrid } from './grid.js';
import { epndcWeights, type Weighting } from './weights.js';

/**
 * The per-level terms of a diffusion classifier of noisy images, in the one form the batch graph
 * computes (`dcBatchGraph`): z = x + scale·n, term = α·D(z; σ) + β·z − γ·x, logit = −Σ w·mean(term²).
 *
 * - the DC (and APNDC, on its denoised input): scale = σ, α = γ = 1, β = 0;
 * - EPNDC (docs/method.md §8), for the step (σ_i, σ_{i+1}) above the input's noise σ_t:
 *   scale = √(σ_{i+1}² − σ_t²) and term = μ_θ − μ_q, the model's posterior mean of the level-σ_i
 *   sample minus the exact Gaussian one given x_t:
 *   α = (σ_{i+1}² − σ_i²)/σ_{i+1}², β = σ_i²/σ_{i+1}² − (σ_i² − σ_t²)/(σ_{i+1}² − σ_t²),
 *   γ = (σ_{i+1}² − σ_i²)/(σ_{i+1}² − σ_t²).
 *
 * @example
 * const t = epndcTerms({ levels: 10, sigmaT: 0.5, max: 3, weighting: 'released' });
 */
export interface LevelTerms {
  /** σ the denoiser is evaluated at. */
  sigmas: Float32Array;
  scale: Float32Array;
  alpha: Float32Array;
  beta: Float32Array;
  gamma: Float32Array;
  weights: Float32Array;
}

/** The DC's terms on its σ levels and weights. */
export function dcTerms(sigmas: Float32Array, weights: Float32Array): LevelTerms {
  const s = sigmas.length;
  return { sigmas, scale: sigmas, alpha: new Float32Array(s).fill(1), beta: new Float32Array(s), gamma: new Float32Array(s).fill(1), weights };
}

/** EPNDC's grid: `levels` levels from σ_t to `max` in the authors' convention, the first (singular) interval skipped. */
export function epndcGrid(o: { levels: number; sigmaT: number; max: number }): SigmaGrid {
  return sigmaGrid({ kind: 'linear', levels: o.levels, min: o.sigmaT, max: o.max, at: 'upper', skip: 1 });
}

/** EPNDC's terms for inputs of noise σ_t (model units: 2τ). */
export function epndcTerms(o: { levels: number; sigmaT: number; max: number; weighting: Weighting }): LevelTerms {
  const grid = epndcGrid(o);
  const t2 = o.sigmaT * o.sigmaT;
  const s = o.levels;
  const out: LevelTerms = {
    sigmas: Float32Array.from(grid.sigmas),
    scale: new Float32Array(s),
    alpha: new Float32Array(s),
    beta: new Float32Array(s),
    gamma: new Float32Array(s),
    weights: Float32Array.from(epndcWeights(grid, o.sigmaT, o.weighting)),
  };
  for (let i = 0; i < s; i++) {
    const hi2 = grid.sigmas[i] ** 2;
    const lo2 = grid.lower[i] ** 2;
    out.scale[i] = Math.sqrt(hi2 - t2);
    out.alpha[i] = (hi2 - lo2) / hi2;
    out.beta[i] = lo2 / hi2 - (lo2 - t2) / (hi2 - t2);
    out.gamma[i] = (hi2 - lo2) / (hi2 - t2);
  }
  return out;
}
