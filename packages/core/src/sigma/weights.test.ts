import { describe, expect, it } from 'vitest';
import { gridSteps, sigmaGrid } from './grid.js';
import { epndcWeights, lognormalDensity, releasedDensity, sigmaWeights, weightProfile } from './weights.js';

// The oracle numbers below were computed with NumPy from a line-by-line transcription of the authors'
// loops, not from this code: the DC from DiffusionClassifier's EDMEulerIntegralDC (levels σ_i = g[i],
// weight λ(σ_i)·p(σ_i)·Δσ_i; ../shared/fixtures/edm pins the same), APNDC from
// NoisedDiffusionClassifiers' EDMEulerIntegralDC with the grid from 2τ (levels σ_{i+1}, weight
// λ(σ_{i+1})·p(σ_i)·Δσ_i), EPNDC from its EPNDC.unet_loss_without_grad with `count` = 1.

/** The paper's DC: linspace(1e-4, 3, 126) without its last point, 125 levels. */
const paperDc = sigmaGrid({ kind: 'linear', levels: 125, min: 1e-4, max: 3 });

function shareBelow(w: Float64Array, grid: { sigmas: Float64Array }, pred: (s: number, i: number) => boolean): number {
  let part = 0;
  let total = 0;
  w.forEach((v, i) => {
    total += v;
    if (pred(grid.sigmas[i], i)) part += v;
  });
  return part / total;
}

function expectClose(actual: ArrayLike<number>, expected: number[], rel = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs(actual[i] - e)).toBeLessThanOrEqual(rel * Math.abs(e) + 1e-300));
}

describe('σ grid (a level count means evaluated levels)', () => {
  it('steps: S + 1 for the DC, S + skip + 2 for the noised DCs', () => {
    expect(gridSteps(125)).toBe(126);
    expect(gridSteps(10, 'upper')).toBe(12);
    expect(gridSteps(10, 'upper', 1)).toBe(13);
  });

  it("the paper's DC (126 steps): the levels are linspace(1e-4, 3, 126) without its last point", () => {
    expect(paperDc.sigmas.length).toBe(125);
    expectClose(
      [0, 1, 62, 124].map((i) => paperDc.sigmas[i]),
      [1e-4, 0.0240992, 1.4880504, 2.9760008],
    );
    expect(paperDc.lower).toEqual(paperDc.sigmas);
    for (const d of paperDc.deltas) expect(d).toBeCloseTo((3 - 1e-4) / 125, 12);
  });

  it('APNDC at τ = 0.25, 10 levels (the authors’ steps = 12): 2τ = 0.5 is not a level', () => {
    const g = sigmaGrid({ kind: 'linear', levels: 10, min: 0.5, max: 3, at: 'upper' });
    expectClose(
      g.sigmas,
      [
        0.7272727272727273, 0.9545454545454546, 1.1818181818181817, 1.4090909090909092, 1.6363636363636362, 1.8636363636363635, 2.090909090909091,
        2.3181818181818183, 2.5454545454545454, 2.7727272727272725,
      ],
    );
    expect(g.lower[0]).toBe(0.5);
    for (let i = 1; i < 10; i++) expect(g.lower[i]).toBe(g.sigmas[i - 1]);
  });

  it('log grid is geometric', () => {
    const g = sigmaGrid({ kind: 'log', levels: 10, min: 0.01, max: 10, at: 'upper' });
    const ratio = g.sigmas[1] / g.sigmas[0];
    for (let i = 1; i < 10; i++) expect(g.sigmas[i] / g.sigmas[i - 1]).toBeCloseTo(ratio, 10);
    expect(g.sigmas[0] / g.lower[0]).toBeCloseTo(ratio, 10);
    expect(g.lower[0]).toBeCloseTo(0.01, 12);
    const d = sigmaGrid({ kind: 'log', levels: 10, min: 0.01, max: 10 });
    expect(d.sigmas[0]).toBeCloseTo(0.01, 12);
    expect(d.sigmas[9] + d.deltas[9]).toBeCloseTo(10, 10);
  });

  it('rejects bad specs', () => {
    expect(() => sigmaGrid({ kind: 'linear', levels: 0, min: 1e-4, max: 3 })).toThrow(/levels/);
    expect(() => sigmaGrid({ kind: 'log', levels: 5, min: 3, max: 1 })).toThrow(/min < max/);
    expect(() => sigmaGrid({ kind: 'log', levels: 5, min: 1, max: 3, at: 'upper', skip: -1 })).toThrow(/skip/);
    expect(() => sigmaGrid({ kind: 'log', levels: 5, min: 1, max: 3, skip: 1 })).toThrow(/upper/);
  });
});

describe('σ weights (docs/method.md §2, §8)', () => {
  it("the paper's DC, released weights λ(σ_i)·p̃(σ_i)·Δσ_i: sum 33.42, peak 6.41 at σ = 0.048, 17 % on the two smallest σ", () => {
    const w = sigmaWeights(paperDc, 'released');
    expectClose(
      [0, 1, 2, 62, 124].map((i) => w[i]),
      [6.88444306e-11, 5.78638961, 6.41499166, 3.80072394e-3, 2.52244809e-4],
      1e-8,
    );
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(33.42006957663012, 9);
    expect(shareBelow(w, paperDc, (_, i) => i < 2)).toBeCloseTo(0.1731, 4);
  });

  it('APNDC at τ = 0.25, 10 levels: the authors’ weights (the first level no longer carries 62 %)', () => {
    const g = sigmaGrid({ kind: 'linear', levels: 10, min: 0.5, max: 3, at: 'upper' });
    const w = sigmaWeights(g, 'released');
    expectClose(
      w,
      [
        0.7398386269249351, 0.30264683399433745, 0.14322188256254484, 0.0749754276311205, 0.0422418356978378, 0.02517354493606325, 0.01568494517797581,
        0.01013473290090249, 0.00675043633007039, 0.00461391955141801,
      ],
      1e-9,
    );
  });

  it('EPNDC at τ = 0.25, 10 levels, the first (singular) interval skipped: the authors’ weights', () => {
    const g = sigmaGrid({ kind: 'linear', levels: 10, min: 0.5, max: 3, at: 'upper', skip: 1 });
    expectClose(
      g.sigmas,
      [
        0.9166666666666667, 1.125, 1.3333333333333335, 1.5416666666666667, 1.75, 1.9583333333333335, 2.166666666666667, 2.375, 2.5833333333333335,
        2.791666666666667,
      ],
    );
    const v = epndcWeights(g, 0.5, 'released');
    expectClose(
      v,
      [
        3.9281244143682685, 2.0160886442941504, 1.3010755756945112, 0.9178236311878204, 0.6794484146755252, 0.518821656525804, 0.4050522477076694,
        0.3216625403563014, 0.2589737569555749, 0.21090829630368346,
      ],
      1e-9,
    );
    expect(() => epndcWeights(sigmaGrid({ kind: 'linear', levels: 10, min: 0.5, max: 3, at: 'upper' }), 0.5, 'released')).toThrow(/skip/);
  });

  it('exact log-normal weights sum to 118, 54 % on the two smallest σ and 87 % below 0.1', () => {
    const w = sigmaWeights(paperDc, 'lognormal');
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(118, 0);
    expect(shareBelow(w, paperDc, (_, i) => i < 2)).toBeCloseTo(0.54, 2);
    expect(shareBelow(w, paperDc, (s) => s < 0.1)).toBeCloseTo(0.87, 2);
  });

  it('uniform weights are 1/S', () => {
    const w = sigmaWeights(paperDc, 'uniform');
    for (const v of w) expect(v).toBeCloseTo(1 / 125, 12);
  });

  it('the exact density integrates to 1; the released form to 1/P_std²', () => {
    // ∫ p(σ) dσ over (0, ∞) by the substitution u = ln σ on a fine grid.
    const integrate = (p: (s: number) => number) => {
      let s = 0;
      const du = 1e-3;
      for (let u = -20; u < 20; u += du) s += p(Math.exp(u)) * Math.exp(u) * du;
      return s;
    };
    expect(integrate(lognormalDensity)).toBeCloseTo(1, 6);
    // The released form is a Gaussian in ln σ with variance 1/P_std² instead of P_std²: its mass is 1/P_std².
    expect(integrate(releasedDensity)).toBeCloseTo(1 / 1.2 ** 2, 6);
  });

  it('weightProfile reports the cumulative share', () => {
    const w = sigmaWeights(paperDc, 'released');
    const prof = weightProfile(paperDc, w);
    expect(prof.rows[124].cumulativeShare).toBeCloseTo(1, 12);
    expect(prof.total).toBeCloseTo(33.42, 2);
  });
});
