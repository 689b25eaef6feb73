import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import { beforeAll, describe, expect, it } from 'vitest';
import { DiffusionClassifier } from './dc.js';
import { Denoiser } from '../engines/denoiser.js';
import { OrtEngine } from '../engines/ort.js';
import { Random } from '../rng/random.js';
import { gaussianMixture, sharedFixture } from '../testing.js';
import { ApndcBase, EpndcBase } from './smoothing-bases.js';
import { epndcTerms } from '../sigma/terms.js';
import { binomialTestHalf, certifiedRadius, certify, clopperPearsonLower, predictSmoothed, type SmoothingBase } from './smoothing.js';
import type { Tensor } from '../tensor.js';

const fixtures = sharedFixture('certify');

describe.skipIf(!fixtures)('certification statistics against SciPy (../shared/fixtures/certify)', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ref = fixtures ? (JSON.parse(readFileSync(join(fixtures, 'reference.json'), 'utf8')) as any) : null;

  it('the Clopper–Pearson lower bound of every row within 1e-8, and the radius from it', () => {
    expect(ref.clopperPearsonLower.length).toBeGreaterThan(100);
    for (const r of ref.clopperPearsonLower) {
      const p = clopperPearsonLower(r.nA, r.n, r.alpha);
      expect(Math.abs(p - r.pALower), JSON.stringify(r)).toBeLessThan(1e-8);
      for (const [sigma, key] of [
        [0.25, 'radius_sigma0.25'],
        [0.5, 'radius_sigma0.5'],
      ] as const) {
        const radius = certifiedRadius(p, sigma);
        if (r[key] === null) expect(radius, JSON.stringify(r)).toBeNull();
        else expect(Math.abs(radius! - r[key]), JSON.stringify(r)).toBeLessThan(1e-7);
      }
    }
  });

  it("PREDICT's two-sided binomial test", () => {
    for (const r of ref.predictBinomialTest) expect(Math.abs(binomialTestHalf(r.top, r.top + r.second) - r.pValue), JSON.stringify(r)).toBeLessThan(1e-10);
  });
});

/** A base classifier on 1×2×2 images from a linear rule: class 1 where w·x + b > 0 (model units). */
class LinearBase implements SmoothingBase {
  readonly name = 'none' as const;
  readonly numClasses = 2;
  readonly imageDims = [1, 2, 2] as const;
  readonly passesPerDraw = 1;
  constructor(
    readonly w: number[],
    readonly b: number,
  ) {}
  async predict(x: Tensor): Promise<Int32Array> {
    const n = x.dims[0];
    return Int32Array.from({ length: n }, (_, i) => (this.w.reduce((a, wj, j) => a + wj * x.data[i * 4 + j], this.b) > 0 ? 1 : 0));
  }
  /** Distance of pixels p (model units 2p − 1) to the decision hyperplane, in pixel units. */
  distance(p: number[]): number {
    const norm = Math.sqrt(this.w.reduce((a, v) => a + v * v, 0));
    const m = this.w.reduce((a, wj, j) => a + wj * (2 * p[j] - 1), this.b);
    return Math.abs(m) / (2 * norm);
  }
}

/**
 * 150 noisy inputs of a 3-class mixture: x ~ N(μ_y, s²) plus the smoothing noise 2τ (model units),
 * so x̃ ~ N(μ_y, s² + 4τ²), and the Bayes classifier's answer for each (the nearest mean).
 */
function noisyPopulation(means: Float32Array, s: number, tau: number, d: number) {
  const rng = new Random(11);
  const n = 150;
  const noisy = new Float32Array(n * d);
  const bayes: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = i % 3;
    for (let j = 0; j < d; j++) noisy[i * d + j] = means[y * d + j] + s * rng.gaussian() + 2 * tau * rng.gaussian();
    const dist = [0, 1, 2].map((k) => Array.from({ length: d }, (_, j) => (noisy[i * d + j] - means[k * d + j]) ** 2).reduce((a, b) => a + b, 0));
    bayes.push(dist.indexOf(Math.min(...dist)));
  }
  return { n, noisy, bayes };
}

describe('randomized smoothing', () => {
  const base = new LinearBase([1, -0.5, 0.25, 0.75], 0.1);
  const pixels = [0.6, 0.4, 0.5, 0.55];
  const image = { data: Float32Array.from(pixels), dims: [1, 1, 2, 2] };

  it('a linear base classifier: the smoothed p_A is Φ(distance / τ), the certificate stays below the distance except with probability α, and approaches it as N grows', async () => {
    const sigma = 0.25;
    const dist = base.distance(pixels);
    const pA = normalCdf(dist / sigma, 0, 1);
    expect(pA).toBeGreaterThan(0.6);
    // Monte Carlo over seeds: at α = 0.05 at most about 5 % of certificates may exceed the distance.
    const alpha = 0.05;
    let above = 0;
    const radii: number[] = [];
    for (let seed = 0; seed < 200; seed++) {
      const c = await certify(base, image, { sigma, n0: 20, n: 200, alpha, batch: 50 }, new Random(seed));
      if (c.radius > dist + 1e-12) above++;
      radii.push(c.radius);
      // The estimate the bound is built on: nA/n near Φ(distance/τ) for class 1 (N0 = 20 draws may pick class 0, rarely).
      expect(Math.abs(c.nA / c.n - (c.selected === 1 ? pA : 1 - pA))).toBeLessThan(0.15);
    }
    expect(above / 200).toBeLessThanOrEqual(alpha + 0.03);
    const small = radii.reduce((a, b) => a + b, 0) / radii.length;
    const large = (await certify(base, image, { sigma, n0: 50, n: 20_000, alpha: 0.001, batch: 2000 }, new Random(7))).radius;
    expect(large).toBeGreaterThan(small);
    expect(large).toBeLessThanOrEqual(dist);
    expect(large).toBeGreaterThan(0.9 * dist);
  });

  it('a base classifier that answers two classes with equal probability abstains in CERTIFY and PREDICT', async () => {
    const coin: SmoothingBase = {
      name: 'none',
      numClasses: 3,
      imageDims: [1, 2, 2],
      passesPerDraw: 1,
      predict: async (x, rng) => Int32Array.from({ length: x.dims[0] }, () => (rng.uniform() < 0.5 ? 0 : 2)),
    };
    for (let seed = 0; seed < 5; seed++) {
      const c = await certify(coin, image, { sigma: 0.25, n0: 50, n: 2000, alpha: 0.001, batch: 100 }, new Random(seed));
      expect(c.prediction).toBe(-1);
      expect(c.radius).toBe(0);
      const p = await predictSmoothed(coin, image, { sigma: 0.25, n: 2000, alpha: 0.001, batch: 100 }, new Random(seed));
      expect(p.prediction).toBe(-1);
      expect(p.pValue).toBeGreaterThan(0.001);
    }
    const sure = await predictSmoothed(base, image, { sigma: 0.05, n: 500, alpha: 0.001, batch: 100 }, new Random(1));
    expect(sure.prediction).toBe(1);
  });
});

describe('APNDC on the Gaussian-mixture oracle (the exact denoisers)', () => {
  let engine: OrtEngine;
  beforeAll(async () => {
    engine = await OrtEngine.create({ threads: 1 });
  });

  it('matches the Bayes classifier of the noisy input on a synthetic population', async () => {
    const s = 0.15;
    const tau = 0.1;
    const image = { channels: 1, height: 4, width: 4 };
    const d = 16;
    const { config, weights, means } = gaussianMixture({ classes: 3, image, std: s, meanScale: 0.5, seed: 5 });
    const den = new Denoiser(engine, config, weights);
    const dc = new DiffusionClassifier(den, { grid: 'linear', sigmaMin: 2 * tau, sigmaMax: 3, levels: 40, weighting: 'uniform', at: 'upper' });
    const apndc = new ApndcBase(dc, den, tau);
    const { n, noisy, bayes } = noisyPopulation(means, s, tau, d);
    const got = await apndc.predict({ data: noisy, dims: [n, 1, 4, 4] }, new Random(3));
    const agree = bayes.filter((b, i) => b === got[i]).length / n;
    expect(agree).toBeGreaterThan(0.95);
    expect(apndc.passesPerDraw).toBe(41);
  });
});

describe('EPNDC on the Gaussian-mixture oracle (the exact denoisers)', () => {
  let engine: OrtEngine;
  beforeAll(async () => {
    engine = await OrtEngine.create({ threads: 1 });
  });
  const s = 0.15;
  const tau = 0.1;
  const image = { channels: 1, height: 4, width: 4 };
  const d = 16;

  it('the expected logit differences are the closed form −Σ v·α²·(σ²/(s² + σ²))²·(‖x − μ_y‖² − ‖x − μ_y′‖²)/d', async () => {
    // With D_y(z; σ) = (s²·z + σ²·μ_y)/(s² + σ²), the term α·D + β·z − γ·x has α + β − γ = 0, so its
    // class-dependent part is α·σ²/(s² + σ²)·(μ_y − x): the expected score ranks classes by ‖x − μ_y‖.
    const { config, weights, means } = gaussianMixture({ classes: 3, image, std: s, meanScale: 0.5, seed: 8 });
    const den = new Denoiser(engine, config, weights);
    const terms = epndcTerms({ levels: 6, sigmaT: 2 * tau, max: 3, weighting: 'released' });
    const rng = new Random(4);
    const x = Float32Array.from({ length: d }, (_, j) => means[j] + 0.1 * rng.gaussian());
    const copies = 4000;
    const xs = new Float32Array(copies * d);
    for (let i = 0; i < copies; i++) xs.set(x, i * d);
    const logits = (await den.dcBatch({ data: xs, dims: [copies, 1, 4, 4] }, rng.normal(copies * 6 * d), terms)).data;
    let factor = 0;
    for (let i = 0; i < 6; i++) factor += terms.weights[i] * ((terms.alpha[i] * terms.sigmas[i] ** 2) / (s * s + terms.sigmas[i] ** 2)) ** 2;
    const dist = [0, 1, 2].map((y) => x.reduce((a, v, j) => a + (v - means[y * d + j]) ** 2, 0));
    for (const [y, z] of [
      [1, 0],
      [2, 0],
    ]) {
      let mean = 0;
      for (let i = 0; i < copies; i++) mean += logits[i * 3 + y] - logits[i * 3 + z];
      mean /= copies;
      const expected = (-factor * (dist[y] - dist[z])) / d;
      expect(Math.abs(mean - expected)).toBeLessThan(0.03 * Math.abs(expected));
    }
  });

  it('matches the Bayes classifier of the noisy input on a synthetic population', async () => {
    const { config, weights, means } = gaussianMixture({ classes: 3, image, std: s, meanScale: 0.5, seed: 5 });
    const den = new Denoiser(engine, config, weights);
    const epndc = new EpndcBase(den, epndcTerms({ levels: 40, sigmaT: 2 * tau, max: 3, weighting: 'uniform' }));
    const { n, noisy, bayes } = noisyPopulation(means, s, tau, d);
    const got = await epndc.predict({ data: noisy, dims: [n, 1, 4, 4] }, new Random(3));
    expect(bayes.filter((b, i) => b === got[i]).length / n).toBeGreaterThan(0.95);
    expect(epndc.passesPerDraw).toBe(40);
  });
});
