/**
 * AdamW over named float32 weights (decoupled weight decay, applied to matrices and filters only,
 * not to biases and norm scales). State is plain arrays, saved and restored by checkpoints.
 *
 * @example
 * const opt = new AdamW(weights, { lr: 1e-3 });
 * opt.step(weights, grads, lrNow);
 */
import { adamUpdate, type Weights } from '@rdc/core';

export interface AdamWOptions {
  weightDecay?: number;
}

export class AdamW {
  readonly weightDecay: number;
  /** Steps taken (for bias correction). */
  t = 0;
  readonly m: Record<string, Float32Array> = {};
  readonly v: Record<string, Float32Array> = {};

  constructor(weights: Weights, opts: AdamWOptions = {}) {
    this.weightDecay = opts.weightDecay ?? 0;
    for (const [name, w] of Object.entries(weights)) {
      this.m[name] = new Float32Array(w.data.length);
      this.v[name] = new Float32Array(w.data.length);
    }
  }

  /** Updates `weights` in place with `grads` (scaled by `gradScale`, e.g. for clipping): core's `adamUpdate` per parameter. */
  step(weights: Weights, grads: Record<string, { data: Float32Array }>, lr: number, gradScale = 1): void {
    this.t += 1;
    for (const [name, w] of Object.entries(weights)) {
      const g = grads[name]?.data;
      if (!g) throw new Error(`optimizer: no gradient for '${name}'`);
      const decay = w.dims.length >= 2 ? 1 - lr * this.weightDecay : 1;
      adamUpdate(w.data, g, this.m[name], this.v[name], { t: this.t, lr, gradScale, decay });
    }
  }
}

/** Global ℓ2 norm of a set of gradients. */
export function globalNorm(grads: Record<string, { data: Float32Array }>): number {
  let s = 0;
  for (const g of Object.values(grads)) for (const v of g.data) s += v * v;
  return Math.sqrt(s);
}

/** The factor that clips a gradient of norm `norm` to at most `max` (1 when no clipping). */
export function clipScale(norm: number, max: number | null): number {
  if (!max || !(norm > max)) return 1;
  return max / norm;
}
