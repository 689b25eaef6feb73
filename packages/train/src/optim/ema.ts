import type { Weights } from '@rdc/core';

/**
 * Exponential moving average of the weights with EDM's half-life in images and its ramp-up:
 * half-life = min(halflifeImages, imagesSeen·rampup); β = 0.5^(batch / half-life). The EMA copy is
 * what gets exported. A short half-life suits short CPU runs.
 *
 * @example
 * ema.update(weights, imagesSeen, batch);
 */
export class Ema {
  readonly weights: Weights;

  constructor(
    weights: Weights,
    readonly halflifeImages: number,
    readonly rampup: number | null,
  ) {
    this.weights = Object.fromEntries(Object.entries(weights).map(([k, w]) => [k, { data: Float32Array.from(w.data), dims: [...w.dims] }]));
  }

  beta(imagesSeen: number, batch: number): number {
    let h = this.halflifeImages;
    if (this.rampup !== null) h = Math.min(h, imagesSeen * this.rampup);
    return 0.5 ** (batch / Math.max(h, 1e-8));
  }

  update(weights: Weights, imagesSeen: number, batch: number): void {
    const b = this.beta(imagesSeen, batch);
    for (const [k, w] of Object.entries(weights)) {
      const e = this.weights[k].data;
      const p = w.data;
      for (let i = 0; i < p.length; i++) e[i] = b * e[i] + (1 - b) * p[i];
    }
  }
}
