/**
 * Noise levels for training:
 * - `edm`: ln σ ~ N(P_mean, P_std²) (EDM's default);
 * - `dc`: concentrated where the diffusion classifier's weights are: a level of the released
 *   125-level grid drawn with probability ∝ its weight w_i, then σ uniform within its Euler cell.
 *
 * @example
 * const draw = sigmaSampler('dc', -1.2, 1.2);
 * const sigma = draw(rng);
 */
import { P_MEAN, P_STD, sigmaGrid, sigmaWeights, type Random } from '@rdc/core';

export type SigmaSampling = 'edm' | 'dc';

export function sigmaSampler(kind: SigmaSampling, pMean = P_MEAN, pStd = P_STD): (rng: Random) => number {
  if (kind === 'edm') return (rng) => Math.exp(pMean + pStd * rng.gaussian());
  const grid = sigmaGrid({ kind: 'linear', levels: 125, min: 1e-4, max: 3 });
  const w = sigmaWeights(grid, 'released');
  const cdf = new Float64Array(w.length);
  let s = 0;
  w.forEach((v, i) => (cdf[i] = s += v));
  return (rng) => {
    const u = rng.uniform() * s;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return grid.sigmas[lo] + rng.uniform() * grid.deltas[lo];
  };
}
