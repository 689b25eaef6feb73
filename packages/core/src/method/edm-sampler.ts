/**
 * EDM's deterministic sampler (Karras et al. 2022, Algorithm 1: Heun's 2nd-order method on the
 * probability-flow ODE, σ_i = (σ_max^(1/ρ) + i/(N−1)·(σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ, then σ_N = 0),
 * using one head of the denoiser: a class head y (class-conditional samples) or the unconditional
 * head K. With guidance w the class head becomes (1 + w)·D_y − w·D_∅.
 *
 * @example
 * const images = await edmSample(denoiser, { head: 3, count: 8, rng: new Random(0) }); // pixels in [0, 1]
 */
import type { Denoiser } from '../engines/denoiser.js';
import type { Random } from '../rng/random.js';
import { modelToPixels, type Tensor } from '../tensor.js';

export interface SampleOptions {
  /** 0..K−1 for a class, K for the unconditional head. */
  head: number;
  count: number;
  rng: Random;
  steps?: number;
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
  guidance?: number;
}

export function karrasSigmas(steps: number, sigmaMin = 0.002, sigmaMax = 80, rho = 7): Float64Array {
  const out = new Float64Array(steps + 1);
  for (let i = 0; i < steps; i++) {
    const t = steps === 1 ? 0 : i / (steps - 1);
    out[i] = (sigmaMax ** (1 / rho) + t * (sigmaMin ** (1 / rho) - sigmaMax ** (1 / rho))) ** rho;
  }
  out[steps] = 0;
  return out;
}

export async function edmSample(den: Denoiser, opts: SampleOptions): Promise<Tensor> {
  const k = den.numClasses;
  if (!Number.isInteger(opts.head) || opts.head < 0 || opts.head > k) throw new Error(`sample: head must be in 0..${k} (${k} = unconditional)`);
  const [c, h, w] = den.imageDims;
  const d = c * h * w;
  const n = opts.count;
  const sig = karrasSigmas(opts.steps ?? 18, opts.sigmaMin, opts.sigmaMax, opts.rho);
  const g = opts.guidance ?? 0;
  const x = opts.rng.normal(n * d).map((v) => v * sig[0]);

  const denoise = async (xs: Float32Array, s: number): Promise<Float32Array> => {
    const input = { data: xs, dims: [n, c, h, w] };
    const sigma = new Float32Array(n).fill(s);
    const y = await den.denoiseHead(input, sigma, opts.head);
    if (!g || opts.head === k) return y;
    const u = await den.denoiseHead(input, sigma, k);
    return y.map((v, j) => (1 + g) * v - g * u[j]);
  };

  for (let i = 0; i + 1 < sig.length; i++) {
    const [s0, s1] = [sig[i], sig[i + 1]];
    const d0 = await denoise(x, s0);
    const slope0 = x.map((v, j) => (v - d0[j]) / s0);
    const next = x.map((v, j) => v + (s1 - s0) * slope0[j]);
    if (s1 > 0) {
      const d1 = await denoise(next, s1);
      for (let j = 0; j < x.length; j++) x[j] += (s1 - s0) * 0.5 * (slope0[j] + (next[j] - d1[j]) / s1);
    } else {
      x.set(next);
    }
  }
  return { data: modelToPixels(x, { clamp: true }), dims: [n, c, h, w] };
}
