import { describe, expect, it } from 'vitest';
import { Random } from '../rng/random.js';
import { crossEntropy } from './calibration.js';
import { chooseSmoothness, fitLevelWeights, releasedScale, weightedLogits, type LevelData } from './weight-fit.js';

/** N images whose labels are drawn from softmax(−L·w) for known weights w (errors L positive, as denoising errors are). */
function synthetic(n: number, trueWeights: number[], seed: number, classes = 4): LevelData {
  const s = trueWeights.length;
  const rng = new Random(seed);
  const errors = new Float32Array(n * classes * s);
  for (let i = 0; i < errors.length; i++) errors[i] = 0.2 + Math.abs(rng.gaussian());
  const labels = new Int32Array(n);
  const data: LevelData = { errors, labels, classes, levels: s };
  const logits = weightedLogits(data, trueWeights);
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: classes }, (_, j) => Math.exp(logits[i * classes + j]));
    const total = row.reduce((a, b) => a + b, 0);
    let u = rng.uniform() * total;
    let y = 0;
    while (y < classes - 1 && (u -= row[y]) > 0) y++;
    labels[i] = y;
  }
  return data;
}

/** The objective's gradient in w without the penalty, by central differences. */
function nllGradient(data: LevelData, w: Float64Array): number[] {
  return Array.from(w, (_, l) => {
    const h = 1e-5;
    const a = Float64Array.from(w);
    const b = Float64Array.from(w);
    a[l] += h;
    b[l] -= h;
    return (
      (crossEntropy(weightedLogits(data, a), data.labels, data.classes).nll - crossEntropy(weightedLogits(data, b), data.labels, data.classes).nll) / (2 * h)
    );
  });
}

describe('learned σ weights (convex fit, w ≥ 0)', () => {
  it('recovers the weights that generated the labels (maximum likelihood, no penalty)', () => {
    const truth = [2, 1.5, 1, 0.5, 0.25];
    const data = synthetic(4000, truth, 1);
    const fit = fitLevelWeights(data, { released: [1, 1, 1, 1, 1], smoothness: 0 });
    truth.forEach((t, l) => expect(Math.abs(fit.weights[l] - t)).toBeLessThan(0.15 * t + 0.05));
  });

  it('satisfies the optimality conditions of the bounded problem: zero gradient where w > 0, non-negative where w = 0', () => {
    // Level 2 is anti-informative (its true weight is negative): the bound holds it at 0.
    const data = synthetic(3000, [1.5, 1, -1, 0.8], 2);
    const fit = fitLevelWeights(data, { released: [1, 1, 1, 1], smoothness: 0 });
    expect(fit.weights[2]).toBe(0);
    const grad = nllGradient(data, fit.weights);
    fit.weights.forEach((w, l) => {
      if (w > 0) expect(Math.abs(grad[l])).toBeLessThan(2e-4);
      else expect(grad[l]).toBeGreaterThan(-2e-4);
    });
    for (const w of fit.weights) expect(w).toBeGreaterThanOrEqual(0);
  });

  it('beats the released profile at its best temperature on the fit images; a large penalty keeps the released profile', () => {
    const released = [4, 2, 1, 0.5, 0.25, 0.125];
    const data = synthetic(1500, [0.5, 1, 1.5, 1, 0.5, 0.2], 3);
    const scale = releasedScale(data, released);
    const before = crossEntropy(
      weightedLogits(
        data,
        released.map((r) => r * scale),
      ),
      data.labels,
      4,
    ).nll;
    const free = fitLevelWeights(data, { released, smoothness: 0 });
    expect(free.nll).toBeLessThan(before - 0.01);
    const stiff = fitLevelWeights(data, { released, smoothness: 1e6 });
    const ratios = Array.from(stiff.weights, (w, l) => w / released[l]);
    for (const r of ratios) expect(Math.abs(r / ratios[0] - 1)).toBeLessThan(1e-3);
    expect(stiff.nll).toBeLessThanOrEqual(before + 1e-6);
  });

  it('chooses the smoothness by cross-validation: with little data it does not pick the unpenalized fit of noise', () => {
    const released = Array.from({ length: 20 }, () => 1);
    const data = synthetic(60, released, 4);
    const { smoothness, scores } = chooseSmoothness(data, released, { candidates: [0, 1, 100], folds: 3 });
    expect(scores).toHaveLength(3);
    expect(smoothness).toBeGreaterThan(0);
  });
});
