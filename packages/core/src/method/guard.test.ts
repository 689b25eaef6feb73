import { beforeAll, describe, expect, it } from 'vitest';
import { UNetConfig } from '../config/schema.js';
import { edmCoefficients, edmLossWeight } from '../edm/coefficients.js';
import { Denoiser } from '../engines/denoiser.js';
import { OrtEngine } from '../engines/ort.js';
import { buildDenoiserGraph } from '../nn/denoiser-graph.js';
import { initWeights } from '../nn/weights.js';
import { Random } from '../rng/random.js';
import { gaussianMixture } from '../testing.js';
import { denoisingLosses, generativeGuard, GUARD_SIGMAS, guardVerdict, type DenoisingLoss } from './guard.js';

let engine: OrtEngine;
beforeAll(async () => {
  engine = await OrtEngine.create({ threads: 1 });
});

describe('generative guard', () => {
  it("the exact denoisers of a Gaussian mixture: the true class's loss is λ(σ)·s²σ²/(s² + σ²), and the guard passes", async () => {
    const s = 0.1;
    const image = { channels: 3, height: 4, width: 4 };
    const d = 48;
    const { config, weights, means } = gaussianMixture({ classes: 4, image, std: s, meanScale: 0.6, seed: 3 });
    const den = new Denoiser(engine, config, weights);
    const n = 400;
    const rng = new Random(9);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 4);
    const pixels = new Float32Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) pixels[i * d + j] = (means[labels[i] * d + j] + s * rng.gaussian() + 1) / 2;
    const guard = await generativeGuard(den, { data: pixels, dims: [n, 3, 4, 4] }, labels, { seed: 1 });
    expect(guard.rows.map((r) => r.sigma)).toEqual([...GUARD_SIGMAS]);
    for (const r of guard.rows) {
      const exact = (edmLossWeight(r.sigma) * s * s * r.sigma * r.sigma) / (s * s + r.sigma * r.sigma);
      // Monte Carlo over 400·48 pixel draws of a χ²-like variable: a few per cent.
      expect(Math.abs(r.trueClass / exact - 1)).toBeLessThan(0.05);
      expect(r.trueClass).toBeLessThanOrEqual(r.unconditional! * 1.0001);
      expect(r.otherClasses).toBeGreaterThan(2 * r.trueClass);
    }
    expect(guard.denoises).toBe(true);
    expect(guard.failures).toEqual([]);
  });

  it('heads that output nothing (F = 0, D = c_skip·x) score the closed form and fail the guard, naming the figures', async () => {
    const config = UNetConfig.parse({ arch: 'unet', image: { channels: 3, height: 8, width: 8 }, numClasses: 3, modelChannels: 8, channelMult: [1, 2] });
    const weights = initWeights(buildDenoiserGraph(config), 0);
    for (const w of Object.values(weights)) w.data.fill(0);
    const den = new Denoiser(engine, config, weights);
    const n = 64;
    const d = 192;
    const rng = new Random(4);
    const pixels = Float32Array.from({ length: n * d }, () => rng.uniform());
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    const rows = await denoisingLosses(den, { data: pixels, dims: [n, 3, 8, 8] }, labels, [0.4], { seed: 2 });
    // E‖c_skip(x + σn) − x‖² per pixel = (c_skip − 1)²·mean(x²) + c_skip²·σ²
    const { cSkip } = edmCoefficients(0.4);
    const meanSq = pixels.reduce((a, p) => a + (2 * p - 1) ** 2, 0) / pixels.length;
    const exact = edmLossWeight(0.4) * ((cSkip - 1) ** 2 * meanSq + cSkip ** 2 * 0.16);
    expect(Math.abs(rows[0].trueClass / exact - 1)).toBeLessThan(0.03);
    expect(rows[0].trueClass).toBeCloseTo(rows[0].otherClasses, 6);
    expect(rows[0].trueClass).toBeCloseTo(rows[0].unconditional!, 6);
    const guard = await generativeGuard(den, { data: pixels, dims: [n, 3, 8, 8] }, labels);
    expect(guard.denoises).toBe(false);
    expect(guard.failures.join('\n')).toMatch(/at σ = 0.4 the true class's loss \d\.\d{3} is above 0.5/);
    expect(guard.failures.join('\n')).toMatch(/is not below the other heads' mean/);
  });

  it('verdict: the 1.05 × tolerance at every σ, the 0.5 bound and the other heads at σ = 0.4', () => {
    const row = (sigma: number, trueClass: number, otherClasses: number, unconditional: number | null): DenoisingLoss => ({
      sigma,
      trueClass,
      otherClasses,
      unconditional,
    });
    const good = [row(0.1, 0.05, 0.06, 0.05), row(0.4, 0.2, 0.21, 0.2), row(1.6, 0.6, 0.7, 0.58)];
    expect(guardVerdict(good)).toEqual({ denoises: true, failures: [] });
    expect(guardVerdict([row(0.1, 0.0526, 0.06, 0.05), ...good.slice(1)]).failures).toEqual([
      "at σ = 0.1 the true class's loss 0.053 exceeds 1.05 × the unconditional 0.050",
    ]);
    expect(guardVerdict([row(0.1, 0.0524, 0.06, 0.05), ...good.slice(1)]).denoises).toBe(true);
    expect(guardVerdict([good[0], row(0.4, 0.51, 0.6, 0.51), good[2]]).failures).toHaveLength(1);
    expect(guardVerdict([good[0], row(0.4, 0.2, 0.2, 0.2), good[2]]).failures[0]).toMatch(/not below the other heads' mean/);
    expect(guardVerdict([good[0], good[2]]).failures).toEqual(['σ = 0.4 was not measured']);
    expect(guardVerdict([row(0.4, 0.2, 0.3, null)]).denoises).toBe(false);
    // v2's figures (issue 21): 1.016 / 1.020 / 0.236 at σ = 0.4.
    expect(guardVerdict([row(0.4, 1.016, 1.02, 0.236)]).failures).toHaveLength(2);
  });
});
