import { beforeAll, describe, expect, it } from 'vitest';
import { Denoiser } from '../engines/denoiser.js';
import { OrtEngine } from '../engines/ort.js';
import { TfjsEngine } from '../engines/tfjs.js';
import { Random } from '../rng/random.js';
import { gaussianMixture, distancesToMeans, sampleMixture, tinyUNet } from '../testing.js';
import { DiffusionClassifier } from './dc.js';

const K = 3;
const STD = 0.2;
const image = { channels: 3, height: 4, width: 4 };
const D = 48;
const gmm = gaussianMixture({ classes: K, image, std: STD, meanScale: 0.4, seed: 1 });
let ortDen: Denoiser;
let tfjsDen: Denoiser;

beforeAll(async () => {
  ortDen = new Denoiser(await OrtEngine.create({ threads: 1 }), gmm.config, gmm.weights);
  tfjsDen = new Denoiser(await TfjsEngine.create('wasm'), gmm.config, gmm.weights);
});

/** Closed form E[logit_y − logit_y'] = −(‖x − μ_y‖² − ‖x − μ_y'‖²)/d · Σ w_i σ_i⁴/(s² + σ_i²)². */
function expectedDiff(dc: DiffusionClassifier, dist: Float64Array, y: number, y2: number): number {
  let c = 0;
  dc.sigmas.forEach((s, i) => (c += (dc.weights[i] * s ** 4) / (STD ** 2 + s ** 2) ** 2));
  return (-(dist[y] - dist[y2]) / D) * c;
}

describe('DC on the Gaussian-mixture oracle (exact denoiser)', () => {
  /** An image of class 0 (pixel units) drawn with standard deviation `spread` around μ_0. */
  function nearMean(seed: number, spread = 0.05): Float32Array {
    const rng = new Random(seed);
    return Float32Array.from({ length: D }, (_, j) => (Math.min(1, Math.max(-1, gmm.means[j] + spread * rng.gaussian())) + 1) / 2);
  }

  /** Σ_i (w_i/d)²·c_i/(s² + σ_i²)⁴ for per-level variances c_i. */
  function levelSum(dc: DiffusionClassifier, c: (s: number) => number): number {
    let v = 0;
    dc.sigmas.forEach((s, i) => (v += ((dc.weights[i] / D) ** 2 * c(s)) / (STD ** 2 + s ** 2) ** 4));
    return v;
  }

  function sqDist(a: number, b: number): number {
    let s = 0;
    for (let j = 0; j < D; j++) s += (gmm.means[a * D + j] - gmm.means[b * D + j]) ** 2;
    return s;
  }

  async function drawDiffs(dc: DiffusionClassifier, pixels: Float32Array, m: number, seed: number, y: number): Promise<number[]> {
    const rng = new Random(seed);
    const out: number[] = [];
    for (let r = 0; r < m; r++) {
      const l = (await dc.logits({ data: pixels, dims: [1, 3, 4, 4] }, { rng })).data;
      out.push(l[y] - l[0]);
    }
    return out;
  }

  const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const varOf = (v: number[]) => {
    const m = meanOf(v);
    return v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
  };

  it('expected logit differences match the closed form', async () => {
    const dc = new DiffusionClassifier(ortDen, { levels: 16 });
    const pixels = nearMean(2);
    const dist = distancesToMeans(pixels, 0, gmm.means, K);
    const m = 200;
    for (const y of [1, 2]) {
      const diffs = await drawDiffs(dc, pixels, m, 3 + y, y);
      const want = expectedDiff(dc, dist, y, 0);
      // Shared noise leaves only the cross term 2σ³s²⟨μ_y − μ_0, n⟩ per level: its variance is exact too.
      const sd = Math.sqrt(levelSum(dc, (s) => 4 * s ** 6 * STD ** 4 * sqDist(y, 0)));
      expect(Math.abs(meanOf(diffs) - want)).toBeLessThan(4 * (sd / Math.sqrt(m)));
      // The check is informative: the standard error is small next to the difference itself.
      expect(sd / Math.sqrt(m)).toBeLessThan(0.05 * Math.abs(want));
    }
  });

  it('agrees with the exact Bayes classifier on at least 99 % of fresh samples', async () => {
    const mix = gaussianMixture({ classes: K, image, std: 0.2, meanScale: 0.2, seed: 1 });
    const dc = new DiffusionClassifier(new Denoiser(ortDen.engine, mix.config, mix.weights), {});
    expect(dc.sigmas.length).toBe(125);
    const n = 1000;
    const { pixels, labels } = sampleMixture(mix.means, K, 0.2, n, new Random(4));
    const logits = (await dc.logits({ data: pixels, dims: [n, 3, 4, 4] }, { rng: new Random(5) })).data;
    let agree = 0;
    let bayesCorrect = 0;
    for (let i = 0; i < n; i++) {
      const dist = distancesToMeans(pixels, i, mix.means, K);
      const bayes = dist.indexOf(Math.min(...dist));
      const row = Array.from(logits.subarray(i * K, (i + 1) * K));
      if (row.indexOf(Math.max(...row)) === bayes) agree++;
      if (bayes === labels[i]) bayesCorrect++;
    }
    expect(agree / n).toBeGreaterThanOrEqual(0.99);
    // The task is not trivial: Bayes itself errs on some samples.
    expect(bayesCorrect / n).toBeLessThan(1);
  });

  it('shared noise gives a smaller variance of logit differences than independent noise', async () => {
    const shared = new DiffusionClassifier(ortDen, { levels: 16 });
    const indep = new DiffusionClassifier(ortDen, { levels: 16, noise: 'independent' });
    const pixels = nearMean(6, STD); // a typical sample of class 0
    const m = 300;
    const vs = varOf(await drawDiffs(shared, pixels, m, 7, 1));
    const vi = varOf(await drawDiffs(indep, pixels, m, 8, 1));
    // Closed forms: shared keeps only the cross term; independent adds both classes' full variance,
    // 4σ⁶s⁴‖μ_y − x‖² + 2d·s⁸σ⁴ each.
    const x = pixels.map((p) => 2 * p - 1);
    const dist = (y: number) => x.reduce((a, v, j) => a + (v - gmm.means[y * D + j]) ** 2, 0);
    const wantShared = levelSum(shared, (s) => 4 * s ** 6 * STD ** 4 * sqDist(1, 0));
    const wantIndep = [0, 1].reduce((a, y) => a + levelSum(indep, (s) => 4 * s ** 6 * STD ** 4 * dist(y) + 2 * D * STD ** 8 * s ** 4), 0);
    // Sample variances of 300 draws are within ±35 % of the truth with overwhelming probability.
    expect(Math.abs(vs / wantShared - 1)).toBeLessThan(0.35);
    expect(Math.abs(vi / wantIndep - 1)).toBeLessThan(0.35);
    // Measurably smaller: an F-test at p < 0.001 needs a ratio above ~1.45 for 299/299 degrees of freedom.
    expect(vs * 1.7).toBeLessThan(vi);
  });

  it('one seed reproduces a prediction bit for bit on each engine (one thread)', async () => {
    for (const den of [ortDen, tfjsDen]) {
      const dc = new DiffusionClassifier(den, { levels: 8 });
      const { pixels } = sampleMixture(gmm.means, K, STD, 2, new Random(9));
      const a = await dc.logits({ data: pixels, dims: [2, 3, 4, 4] }, { rng: new Random(42) });
      const b = await dc.logits({ data: pixels, dims: [2, 3, 4, 4] }, { rng: new Random(42) });
      expect(Array.from(a.data)).toEqual(Array.from(b.data));
      const c = await dc.logits({ data: pixels, dims: [2, 3, 4, 4] }, { rng: new Random(43) });
      expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
    }
  });

  it('chunking over σ does not change the logits', async () => {
    const { pixels } = sampleMixture(gmm.means, K, STD, 1, new Random(10));
    const a = await new DiffusionClassifier(ortDen, { levels: 12, chunk: 12 }).logits({ data: pixels, dims: [1, 3, 4, 4] }, { rng: new Random(1) });
    const b = await new DiffusionClassifier(ortDen, { levels: 12, chunk: 5 }).logits({ data: pixels, dims: [1, 3, 4, 4] }, { rng: new Random(1) });
    for (let i = 0; i < K; i++) expect(b.data[i]).toBeCloseTo(a.data[i], 5);
  });

  it('guidance w: the logits of (1 + w)·D_y − w·D_∅ match the Gaussian-mixture closed form', async () => {
    // D_y(z) = (s²z + σ²μ_y)/(s² + σ²); D_∅(z) = Σ_y p(y | z)·D_y(z), p(y | z) ∝ exp(−‖z − μ_y‖²/(2(s² + σ²))).
    const { pixels } = sampleMixture(gmm.means, K, STD, 1, new Random(11));
    const x = Array.from(pixels, (p) => 2 * p - 1);
    for (const w of [0, 0.5, 2]) {
      const dc = new DiffusionClassifier(ortDen, { levels: 6, guidance: w });
      const noise = dc.drawNoise(new Random(12));
      const got = (await dc.logits({ data: pixels, dims: [1, 3, 4, 4] }, { noise: [noise] })).data;
      const want = new Float64Array(K);
      dc.sigmas.forEach((sigma, i) => {
        const z = x.map((v, j) => v + sigma * noise[i * D + j]);
        const v = STD ** 2 + sigma ** 2;
        const heads = Array.from({ length: K }, (_, y) => z.map((zj, j) => (STD ** 2 * zj + sigma ** 2 * gmm.means[y * D + j]) / v));
        const e = heads.map((_, y) => -z.reduce((a, zj, j) => a + (zj - gmm.means[y * D + j]) ** 2, 0) / (2 * v));
        const m = Math.max(...e);
        const post = e.map((t) => Math.exp(t - m));
        const total = post.reduce((a, b) => a + b, 0);
        const uncond = z.map((_, j) => heads.reduce((a, h, y) => a + (post[y] / total) * h[j], 0));
        for (let y = 0; y < K; y++) {
          const mse = heads[y].reduce((a, h, j) => a + ((1 + w) * h - w * uncond[j] - x[j]) ** 2, 0) / D;
          want[y] -= dc.weights[i] * mse;
        }
      });
      for (let y = 0; y < K; y++) expect(Math.abs(got[y] - want[y])).toBeLessThan(1e-5 * Math.max(1, Math.abs(want[y])));
      // Guidance matters here: the closed forms for w and w = 0 differ by far more than the tolerance.
      if (w > 0)
        expect(
          Math.abs(want[0] - (await new DiffusionClassifier(ortDen, { levels: 6 }).logits({ data: pixels, dims: [1, 3, 4, 4] }, { noise: [noise] })).data[0]),
        ).toBeGreaterThan(1e-3);
    }
  });

  it('the per-level errors, weighted and summed, are the logits of the DC graph (with and without guidance, on a tiny UNet too)', async () => {
    const unet = tinyUNet({ seed: 3 });
    const dens = [ortDen, new Denoiser(ortDen.engine, unet.config, unet.weights)];
    for (const den of dens)
      for (const guidance of [0, 0.5]) {
        const dc = new DiffusionClassifier(den, { levels: 7, chunk: 3, guidance });
        const [c, h, w] = den.imageDims;
        const pixels = { data: new Random(9).normal(c * h * w).map((v) => 0.5 + 0.2 * Math.tanh(v)), dims: [1, c, h, w] };
        const logits = (await dc.logits(pixels, { rng: new Random(4) })).data;
        const errors = await dc.levelErrorsOf(pixels, new Random(4));
        const k = dc.numClasses;
        expect(errors.length).toBe(k * 7);
        for (let y = 0; y < k; y++) {
          let sum = 0;
          for (let l = 0; l < 7; l++) sum -= dc.weights[l] * errors[y * 7 + l];
          expect(Math.abs(sum - logits[y])).toBeLessThan(1e-5 * Math.max(1, Math.abs(logits[y])));
        }
      }
  });

  it('rejects pixels outside [0, 1] and NaN with a clear error', async () => {
    const dc = new DiffusionClassifier(ortDen, { levels: 4 });
    const bad = new Float32Array(D).fill(0.5);
    bad[3] = 1.5;
    await expect(dc.logits({ data: bad, dims: [1, 3, 4, 4] }, { rng: new Random(0) })).rejects.toThrow(/outside \[0, 1\]/);
    bad[3] = NaN;
    await expect(dc.logits({ data: bad, dims: [1, 3, 4, 4] }, { rng: new Random(0) })).rejects.toThrow(/NaN/);
    await expect(dc.logits({ data: bad.subarray(0, 16), dims: [1, 1, 4, 4] }, { rng: new Random(0) })).rejects.toThrow(/expected shape/);
  });
});

describe('exact DC input gradient', () => {
  /** ⟨c, logits(x)⟩ and its gradient vs the central difference along a random direction. */
  async function check(den: Denoiser, fwd: Denoiser, dims: number[], levels: number, seed: number) {
    const dc = new DiffusionClassifier(den, { levels, chunk: Math.ceil(levels / 2) });
    const dcFwd = new DiffusionClassifier(fwd, { levels, chunk: Math.ceil(levels / 2) });
    const rng = new Random(seed);
    const n = dims.reduce((a, b) => a * b, 1);
    const pixels = Float32Array.from({ length: n }, () => 0.25 + 0.5 * rng.uniform());
    const noise = dc.drawNoise(rng);
    const cot = Float32Array.from({ length: dc.numClasses }, () => rng.gaussian());
    const { logits, grad } = await dc.logitsAndGrad({ data: pixels, dims }, () => cot, { noise });
    const f = async (p: Float32Array) => {
      const l = (await dcFwd.logits({ data: p, dims }, { noise: [noise] })).data;
      return l.reduce((a, v, i) => a + v * cot[i], 0);
    };
    expect((await f(pixels)) - logits.reduce((a, v, i) => a + v * cot[i], 0)).toBeCloseTo(0, 4);
    for (let trial = 0; trial < 3; trial++) {
      const v = Float32Array.from({ length: n }, () => rng.gaussian());
      const norm = Math.sqrt(v.reduce((a, b) => a + b * b, 0));
      v.forEach((_, i) => (v[i] /= norm));
      const h = 1e-2;
      const plus = pixels.map((p, i) => p + h * v[i]);
      const minus = pixels.map((p, i) => p - h * v[i]);
      const fd = ((await f(plus)) - (await f(minus))) / (2 * h);
      const an = grad.data.reduce((a, g, i) => a + g * v[i], 0);
      expect(Math.abs(fd - an)).toBeLessThan(1e-2 * Math.max(Math.abs(fd), 1e-3 * Math.sqrt(grad.data.reduce((a, g) => a + g * g, 0))));
    }
  }

  it('matches directional central differences on the Gaussian-mixture oracle', async () => {
    await check(tfjsDen, ortDen, [1, 3, 4, 4], 6, 12);
  });

  it('matches directional central differences on a tiny multi-head UNet with attention', async () => {
    const { config, weights } = tinyUNet({ seed: 3 });
    const den = new Denoiser(tfjsDen.engine, config, weights);
    const fwd = new Denoiser(ortDen.engine, config, weights);
    await check(den, fwd, [1, 3, 8, 8], 4, 13);
  });
});
