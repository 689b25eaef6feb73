/**
 * Projection onto an ℓ∞ or ℓ2 ball around a centre, the one host implementation: attacks keep their
 * iterates in the ε ball of the threat model (pixel units, clamped to [0, 1] in the same pass) and
 * likelihood maximization keeps its iterates in its ball (model units). Its graph twin is
 * `projectBallGraph` (nn/objectives.ts).
 *
 * @example
 * projectBall(adv, clean, { norm: 'linf', radius: 8 / 255 }, { range: [0, 1] });
 */
import { z } from 'zod';

/** The norms of a ball: ℓ∞ and ℓ2 (threat models, LM's ball). */
export const NormName = z.enum(['linf', 'l2']);
export type Norm = z.infer<typeof NormName>;

export interface Ball {
  norm: Norm;
  /** In the units of x (pixels for attacks; model units, twice the pixel radius, for LM). */
  radius: number;
}

/**
 * In place: each of `images` equal parts of x onto the ball around the same part of x0 (ℓ2 per
 * image), then into `range` if given (in the same pass, so that ℓ∞ needs one rounding).
 */
export function projectBall(x: Float32Array, x0: ArrayLike<number>, ball: Ball, opts: { images?: number; range?: [number, number] } = {}): void {
  const r = ball.radius;
  const range = opts.range;
  if (ball.norm === 'linf') {
    if (range) for (let i = 0; i < x.length; i++) x[i] = Math.min(range[1], Math.max(range[0], Math.min(x0[i] + r, Math.max(x0[i] - r, x[i]))));
    else for (let i = 0; i < x.length; i++) x[i] = Math.min(x0[i] + r, Math.max(x0[i] - r, x[i]));
    return;
  }
  const b = opts.images ?? 1;
  const d = x.length / b;
  for (let k = 0; k < b; k++) {
    const o = k * d;
    let s = 0;
    for (let i = o; i < o + d; i++) s += (x[i] - x0[i]) ** 2;
    const n = Math.sqrt(s);
    if (range) {
      const f = n > r ? r / n : 1;
      for (let i = o; i < o + d; i++) x[i] = Math.min(range[1], Math.max(range[0], x0[i] + (x[i] - x0[i]) * f));
    } else if (n > r) {
      const f = r / n;
      for (let i = o; i < o + d; i++) x[i] = x0[i] + (x[i] - x0[i]) * f;
    }
  }
}
