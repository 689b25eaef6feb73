import { beforeAll, describe, expect, it } from 'vitest';
import { Denoiser } from '../engines/denoiser.js';
import { OrtEngine } from '../engines/ort.js';
import { Random } from '../rng/random.js';
import { gaussianMixture } from '../testing.js';
import { edmSample, karrasSigmas } from './edm-sampler.js';

const STD = 0.15;
const gmm = gaussianMixture({ classes: 2, image: { channels: 1, height: 2, width: 2 }, std: STD, meanScale: 0.5, seed: 3 });
let den: Denoiser;
beforeAll(async () => {
  den = new Denoiser(await OrtEngine.create({ threads: 1 }), gmm.config, gmm.weights);
});

describe('EDM sampler', () => {
  it('uses the Karras schedule from σ_max to σ_min, then 0', () => {
    const s = karrasSigmas(18);
    expect(s[0]).toBeCloseTo(80, 10);
    expect(s[17]).toBeCloseTo(0.002, 10);
    expect(s[18]).toBe(0);
    for (let i = 1; i < 18; i++) expect(s[i]).toBeLessThan(s[i - 1]);
  });

  it('draws class-conditional samples with the mixture component’s mean and spread (exact denoiser)', async () => {
    for (const head of [0, 1]) {
      const n = 400;
      const x = await edmSample(den, { head, count: n, rng: new Random(head), steps: 32 });
      for (let j = 0; j < 4; j++) {
        let m = 0;
        let v = 0;
        for (let i = 0; i < n; i++) m += (2 * x.data[i * 4 + j] - 1) / n;
        for (let i = 0; i < n; i++) v += (2 * x.data[i * 4 + j] - 1 - m) ** 2 / n;
        expect(Math.abs(m - gmm.means[head * 4 + j])).toBeLessThan(4 * (STD / Math.sqrt(n)));
        expect(Math.abs(Math.sqrt(v) - STD) / STD).toBeLessThan(0.15);
      }
    }
  });

  it('the unconditional head draws both classes about equally', async () => {
    const n = 300;
    const x = await edmSample(den, { head: 2, count: n, rng: new Random(9), steps: 32 });
    let first = 0;
    for (let i = 0; i < n; i++) {
      const d = [0, 1].map((y) => [0, 1, 2, 3].reduce((a, j) => a + (2 * x.data[i * 4 + j] - 1 - gmm.means[y * 4 + j]) ** 2, 0));
      if (d[0] < d[1]) first++;
    }
    expect(first / n).toBeGreaterThan(0.38);
    expect(first / n).toBeLessThan(0.62);
  });
});
