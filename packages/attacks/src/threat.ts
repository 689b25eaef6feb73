import { projectBall, type Norm, type Random } from '@rdc/core/runtime';

export type { Norm };

/**
 * Threat models in pixel units: ℓ∞ (default ε = 8/255) and ℓ2 (default ε = 0.5). Every attack keeps
 * its iterates inside the ε ball around the clean image and inside [0, 1] (project, then clamp; for
 * ℓ∞ the result of both is again inside the ball, for ℓ2 the clamp only shrinks the perturbation).
 *
 * @example
 * const t: ThreatModel = { norm: 'linf', eps: 8 / 255 };
 * project(t, adv, clean);
 */
export interface ThreatModel {
  norm: Norm;
  eps: number;
}

export const DEFAULT_EPS: Record<Norm, number> = { linf: 8 / 255, l2: 0.5 };

/** In place: x ← clip_[0,1](Π_{B(x0, ε)}(x)) (core's `projectBall`). */
export function project(t: ThreatModel, x: Float32Array, x0: Float32Array): void {
  projectBall(x, x0, { norm: t.norm, radius: t.eps }, { range: [0, 1] });
}

/** A uniformly random point of the ball (ℓ∞: uniform per pixel; ℓ2: uniform in the ball), clamped. */
export function randomStart(t: ThreatModel, x0: Float32Array, rng: Random): Float32Array {
  const x = new Float32Array(x0.length);
  if (t.norm === 'linf') {
    for (let i = 0; i < x.length; i++) x[i] = x0[i] + t.eps * (2 * rng.uniform() - 1);
  } else {
    // A uniform direction, and a radius with the density of a uniform point in the d-ball.
    const d = rng.normal(x.length);
    let s = 0;
    for (const v of d) s += v * v;
    const r = (t.eps * Math.pow(rng.uniform(), 1 / x.length)) / Math.sqrt(s);
    for (let i = 0; i < x.length; i++) x[i] = x0[i] + r * d[i];
  }
  project(t, x, x0);
  return x;
}

/** The steepest-ascent step direction for a gradient: sign (ℓ∞) or normalised (ℓ2). */
export function ascentDirection(norm: Norm, g: Float32Array): Float32Array {
  if (norm === 'linf') return g.map((v) => Math.sign(v));
  let s = 0;
  for (const v of g) s += v * v;
  const n = Math.sqrt(s) || 1;
  return g.map((v) => v / n);
}

/** ℓ∞ and ℓ2 size of x − x0 (pixel units). */
export function perturbation(x: Float32Array, x0: Float32Array): { linf: number; l2: number } {
  let linf = 0;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - x0[i]);
    linf = Math.max(linf, d);
    s += d * d;
  }
  return { linf, l2: Math.sqrt(s) };
}

/** Whether x is inside the ball (with float32 slack) and inside [0, 1]. */
export function inThreat(t: ThreatModel, x: Float32Array, x0: Float32Array): boolean {
  const p = perturbation(x, x0);
  const slack = 1e-6;
  if ((t.norm === 'linf' ? p.linf : p.l2) > t.eps + slack) return false;
  return x.every((v) => v >= 0 && v <= 1);
}
