/**
 * Noise-level grids for the diffusion classifier's Euler integral over σ.
 *
 * `linear` is the released code's grid: σ = linspace(σ_min, σ_max, S + 1) with the last point
 * dropped, Δσ_i = σ_{i+1} − σ_i. `log` spaces the S + 1 points geometrically instead, which is the
 * grid to pair with the exact log-normal density.
 *
 * @example
 * const g = sigmaGrid({ kind: 'linear', levels: 125, min: 1e-4, max: 3 });
 * g.sigmas.length; // 125
 */
export type GridKind = 'linear' | 'log';

export interface GridSpec {
  kind: GridKind;
  /** Number of σ levels S (the grid has S + 1 points; the last is dropped). */
  levels: number;
  min: number;
  max: number;
}

export interface SigmaGrid {
  /** The S noise levels, ascending. */
  sigmas: Float64Array;
  /** The Euler step Δσ_i belonging to each level. */
  deltas: Float64Array;
}

export function sigmaGrid(spec: GridSpec): SigmaGrid {
  const { kind, levels, min, max } = spec;
  if (!Number.isInteger(levels) || levels < 1) throw new Error(`sigmaGrid: levels must be a positive integer, got ${levels}`);
  if (!(min > 0) || !(max > min)) throw new Error(`sigmaGrid: need 0 < min < max, got min=${min}, max=${max}`);
  const points = new Float64Array(levels + 1);
  for (let i = 0; i <= levels; i++) {
    const t = i / levels;
    points[i] = kind === 'linear' ? min + (max - min) * t : Math.exp(Math.log(min) + (Math.log(max) - Math.log(min)) * t);
  }
  const sigmas = points.slice(0, levels);
  const deltas = new Float64Array(levels);
  for (let i = 0; i < levels; i++) deltas[i] = points[i + 1] - points[i];
  return { sigmas, deltas };
}
