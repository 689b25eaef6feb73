/**
 * EDM preconditioning (Karras et al. 2022, σ_data = 0.5), as scalar functions of σ.
 * The graph form used inside networks lives in `nn/precond.ts`; both read these constants.
 *
 * @example
 * const { cSkip, cOut, cIn, cNoise } = edmCoefficients(0.5);
 */
export const SIGMA_DATA = 0.5;

/** EDM training distribution of σ: ln σ ~ N(P_MEAN, P_STD²). */
export const P_MEAN = -1.2;
export const P_STD = 1.2;

export interface EdmCoefficients {
  cSkip: number;
  cOut: number;
  cIn: number;
  cNoise: number;
}

/** c_skip, c_out, c_in, c_noise at noise level σ. */
export function edmCoefficients(sigma: number, sigmaData = SIGMA_DATA): EdmCoefficients {
  if (!(sigma > 0)) throw new Error(`edmCoefficients: σ must be > 0, got ${sigma}`);
  const s2 = sigma * sigma + sigmaData * sigmaData;
  return {
    cSkip: (sigmaData * sigmaData) / s2,
    cOut: (sigma * sigmaData) / Math.sqrt(s2),
    cIn: 1 / Math.sqrt(s2),
    cNoise: Math.log(sigma) / 4,
  };
}

/** EDM loss weight λ(σ) = (σ² + σ_d²) / (σ·σ_d)². */
export function edmLossWeight(sigma: number, sigmaData = SIGMA_DATA): number {
  return (sigma * sigma + sigmaData * sigmaData) / (sigma * sigmaData) ** 2;
}
