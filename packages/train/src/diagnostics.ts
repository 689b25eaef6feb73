import { edmLossWeight, type Denoiser, type Random } from '@rdc/core';
import type { Cifar10 } from './data/cifar10.js';

/**
 * The per-σ validation loss: for each noise level, the EDM-weighted denoising error λ(σ)·mean((D − x)²)
 * of the true-class head and of the unconditional head, averaged over held-out images. A trained
 * backbone shows a smooth curve well below the untrained value (~1 per head) at small and mid σ.
 *
 * @example
 * const curve = await perSigmaLoss(denoiser, data, valIdx, [0.01, 0.1, 1, 10], new Random(0));
 */
export interface SigmaLossPoint {
  sigma: number;
  classHead: number;
  unconditional: number;
}

export async function perSigmaLoss(den: Denoiser, data: Cifar10, indices: Int32Array, sigmas: number[], rng: Random, batch = 32): Promise<SigmaLossPoint[]> {
  const k = den.numClasses;
  const [c, h, w] = den.imageDims;
  const d = c * h * w;
  const out: SigmaLossPoint[] = [];
  for (const sigma of sigmas) {
    let cls = 0;
    let unc = 0;
    for (let a = 0; a < indices.length; a += batch) {
      const idx = indices.subarray(a, Math.min(indices.length, a + batch));
      const n = idx.length;
      const x = data.pixels(idx).data.map((p) => 2 * p - 1);
      const noise = rng.normal(n * d);
      const xs = x.map((v, j) => v + sigma * noise[j]);
      const D = (await den.denoise({ data: xs, dims: [n, c, h, w] }, new Float32Array(n).fill(sigma))).data;
      const labels = data.labelsAt(idx);
      for (let i = 0; i < n; i++) {
        let ec = 0;
        let eu = 0;
        const yo = (i * (k + 1) + labels[i]) * d;
        const uo = (i * (k + 1) + k) * d;
        for (let j = 0; j < d; j++) {
          ec += (D[yo + j] - x[i * d + j]) ** 2;
          eu += (D[uo + j] - x[i * d + j]) ** 2;
        }
        cls += ec / d;
        unc += eu / d;
      }
    }
    const lam = edmLossWeight(sigma);
    out.push({ sigma, classHead: (lam * cls) / indices.length, unconditional: (lam * unc) / indices.length });
  }
  return out;
}
