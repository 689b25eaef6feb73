import { beforeAll, describe, expect, it } from 'vitest';
import { lmPreset } from '../config/schema.js';
import { Denoiser } from '../engines/denoiser.js';
import { TfjsEngine } from '../engines/tfjs.js';
import { Random } from '../rng/random.js';
import { gaussianMixture, mixtureLogDensity, sampleMixture, tinyUNet } from '../testing.js';
import { LikelihoodMaximizer } from './lm.js';

const K = 3;
const STD = 0.2;
const image = { channels: 3, height: 4, width: 4 };
const gmm = gaussianMixture({ classes: K, image, std: STD, meanScale: 0.4, seed: 1 });
let den: Denoiser;

beforeAll(async () => {
  den = new Denoiser(await TfjsEngine.create('wasm'), gmm.config, gmm.weights);
});

describe('likelihood maximization on the Gaussian-mixture oracle', () => {
  it('raises the true log-likelihood (paper preset)', async () => {
    const n = 64;
    const { pixels } = sampleMixture(gmm.means, K, STD, n, new Random(2));
    const lm = new LikelihoodMaximizer(den, lmPreset('paper'));
    const out = await lm.run({ data: pixels, dims: [n, 3, 4, 4] }, new Random(3));
    let improved = 0;
    let gain = 0;
    for (let i = 0; i < n; i++) {
      const before = mixtureLogDensity(pixels, i, gmm.means, K, STD);
      const after = mixtureLogDensity(out.data, i, gmm.means, K, STD);
      gain += (after - before) / n;
      if (after > before) improved++;
    }
    expect(gain).toBeGreaterThan(0);
    expect(improved / n).toBeGreaterThan(0.9);
  });

  it('lowers its own objective over the steps', async () => {
    const { pixels } = sampleMixture(gmm.means, K, STD, 16, new Random(4));
    const lm = new LikelihoodMaximizer(den, { ...lmPreset('released'), steps: 8, lr: 0.02 });
    const losses: number[] = [];
    await lm.run({ data: pixels, dims: [16, 3, 4, 4] }, undefined, (_, loss) => losses.push(loss.reduce((a, b) => a + b, 0)));
    expect(losses.length).toBe(8);
    expect(losses[7]).toBeLessThan(losses[0]);
  });

  it('paper preset stays in the ℓ∞ ball of 8/255 and in [0, 1]', async () => {
    const { config, weights } = tinyUNet();
    const lm = new LikelihoodMaximizer(new Denoiser(den.engine, config, weights), lmPreset('paper'));
    const rng = new Random(5);
    const pixels = Float32Array.from({ length: 2 * 192 }, () => rng.uniform());
    pixels[0] = 0;
    pixels[1] = 1;
    const out = await lm.run({ data: pixels, dims: [2, 3, 8, 8] }, new Random(6));
    let maxMove = 0;
    out.data.forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
      maxMove = Math.max(maxMove, Math.abs(v - pixels[i]));
    });
    expect(maxMove).toBeLessThanOrEqual(8 / 255 + 1e-6);
    // Adam's first step (lr 0.1 in model units) is larger than η, so the ball is reached.
    expect(maxMove).toBeGreaterThan(8 / 255 - 1e-3);
  });

  it('released preset reuses the same noise on every call (seed 1), paper draws fresh noise', async () => {
    const { pixels } = sampleMixture(gmm.means, K, STD, 2, new Random(7));
    const t = { data: pixels, dims: [2, 3, 4, 4] };
    const released = new LikelihoodMaximizer(den, lmPreset('released'));
    const a = await released.run(t);
    const b = await released.run(t, new Random(99));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    const paper = new LikelihoodMaximizer(den, lmPreset('paper'));
    const c = await paper.run(t, new Random(1));
    const d = await paper.run(t, new Random(2));
    expect(Array.from(c.data)).not.toEqual(Array.from(d.data));
    await expect(paper.run(t)).rejects.toThrow(/seeded Random/);
  });
});
