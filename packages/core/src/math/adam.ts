/**
 * Adam's update on host arrays (Kingma & Ba; decoupled weight decay as in AdamW), the one TypeScript
 * implementation: the trainer's host optimizer and likelihood maximization both call it. Its graph
 * twin, for optimizers that run inside a graph, is `adamGraphStep` (nn/optimizer.ts), with the same
 * constants.
 *
 * @example
 * adamUpdate(x, grad, m, v, { t: 1, lr: 0.1 }); // x, m, v updated in place
 */

/** β1, β2 and ε of every Adam in the project. */
export const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

export interface AdamStep {
  /** The step number, from 1 (bias correction). */
  t: number;
  lr: number;
  /** Multiplies the gradient first (gradient clipping). */
  gradScale?: number;
  /** Multiplies the parameter first (decoupled weight decay: 1 − lr·λ). */
  decay?: number;
}

/** In place: m, v ← moments of g; p ← p·decay − lr·m̂ / (√v̂ + ε). */
export function adamUpdate(p: Float32Array, g: ArrayLike<number>, m: Float32Array, v: Float32Array, s: AdamStep): void {
  const { beta1, beta2, eps } = ADAM;
  const c1 = 1 - beta1 ** s.t;
  const c2 = 1 - beta2 ** s.t;
  const scale = s.gradScale ?? 1;
  const decay = s.decay ?? 1;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * scale;
    m[i] = beta1 * m[i] + (1 - beta1) * gi;
    v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
    p[i] = p[i] * decay - (s.lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
  }
}
