/**
 * Noise-level grids for the diffusion classifiers' Euler integral over σ. A level count always means
 * evaluated levels; each level is one Euler step [σ_i, σ_{i+1}] of a linspace (or geometric) grid
 * from `min` to `max`, evaluated at one end (docs/method.md §2, §8):
 *
 * - `lower` (the DC, the authors' DiffusionClassifier code): points = linspace(min, max, S + 1); the
 *   levels are points[0 .. S − 1], each with weight λ(σ_i)·p(σ_i)·Δσ_i. The paper's 126-point grid
 *   is `--levels 125`, and σ_min = 1e-4 is the first level.
 * - `upper` (APNDC and EPNDC, the authors' NoisedDiffusionClassifiers code): points =
 *   linspace(min, max, steps) without its last point, the loop pairs (σ_i, σ_{i+1}) and evaluates
 *   σ_{i+1} only, with weight λ(σ_{i+1})·p(σ_i)·Δσ_i; so steps = S + skip + 2, the levels are
 *   points[skip + 1 .. skip + S], and `min` (2τ, the input's own noise) is never a level. `skip`
 *   drops the first intervals (EPNDC's first one is singular).
 *
 * @example
 * const dc = sigmaGrid({ kind: 'linear', levels: 125, min: 1e-4, max: 3, at: 'lower' }); // the paper's DC
 * const apndc = sigmaGrid({ kind: 'linear', levels: 10, min: 0.5, max: 3, at: 'upper' }); // authors' steps = 12
 * apndc.sigmas[0]; // 0.5 + 2.5/11, the second point of linspace(0.5, 3, 12)
 */
export type GridKind = 'linear' | 'log';

/** Which end of its Euler step a level is evaluated at. */
export type GridEnd = 'lower' | 'upper';

export interface GridSpec {
  kind: GridKind;
  /** Number of evaluated σ levels S. */
  levels: number;
  min: number;
  max: number;
  /** The end of each step that is evaluated (default `lower`, the DC's). */
  at?: GridEnd;
  /** Intervals dropped at the low end before the first level (`upper` only; default 0). */
  skip?: number;
}

export interface SigmaGrid {
  /** The S evaluated noise levels, ascending. */
  sigmas: Float64Array;
  /** The lower end σ_i of each level's Euler step (where the density is evaluated). */
  lower: Float64Array;
  /** The Euler step Δσ_i = σ_{i+1} − σ_i belonging to each level. */
  deltas: Float64Array;
}

/** The authors' `steps` (points of their linspace, the last one included) of a grid of S evaluated levels. */
export function gridSteps(levels: number, at: GridEnd = 'lower', skip = 0): number {
  return at === 'lower' ? levels + 1 : levels + skip + 2;
}

export function sigmaGrid(spec: GridSpec): SigmaGrid {
  const { kind, levels, min, max } = spec;
  const at = spec.at ?? 'lower';
  const skip = spec.skip ?? 0;
  if (!Number.isInteger(levels) || levels < 1) throw new Error(`sigmaGrid: levels must be a positive integer, got ${levels}`);
  if (!Number.isInteger(skip) || skip < 0) throw new Error(`sigmaGrid: skip must be a non-negative integer, got ${skip}`);
  if (skip > 0 && at === 'lower') throw new Error('sigmaGrid: skip applies to grids evaluated at the upper end');
  if (!(min > 0) || !(max > min)) throw new Error(`sigmaGrid: need 0 < min < max, got min=${min}, max=${max}`);
  const steps = gridSteps(levels, at, skip);
  const point = (i: number) => {
    const t = i / (steps - 1);
    return kind === 'linear' ? min + (max - min) * t : Math.exp(Math.log(min) + (Math.log(max) - Math.log(min)) * t);
  };
  const sigmas = new Float64Array(levels);
  const lower = new Float64Array(levels);
  const deltas = new Float64Array(levels);
  for (let i = 0; i < levels; i++) {
    lower[i] = point(skip + i);
    deltas[i] = point(skip + i + 1) - lower[i];
    sigmas[i] = at === 'lower' ? lower[i] : point(skip + i + 1);
  }
  return { sigmas, lower, deltas };
}
