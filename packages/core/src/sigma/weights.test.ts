import { describe, expect, it } from 'vitest';
import { sigmaGrid } from './grid.js';
import { lognormalDensity, releasedDensity, sigmaWeights, weightProfile } from './weights.js';

const released125 = sigmaGrid({ kind: 'linear', levels: 125, min: 1e-4, max: 3 });

function shareBelow(w: Float64Array, grid: { sigmas: Float64Array }, pred: (s: number, i: number) => boolean): number {
  let part = 0;
  let total = 0;
  w.forEach((v, i) => {
    total += v;
    if (pred(grid.sigmas[i], i)) part += v;
  });
  return part / total;
}

describe('σ grid', () => {
  it('is the released linspace(1e-4, 3, 126) without its last point', () => {
    expect(released125.sigmas.length).toBe(125);
    expect(released125.sigmas[0]).toBeCloseTo(1e-4, 12);
    expect(released125.sigmas[124]).toBeCloseTo(1e-4 + (124 * (3 - 1e-4)) / 125, 12);
    for (const d of released125.deltas) expect(d).toBeCloseTo((3 - 1e-4) / 125, 12);
  });

  it('log grid is geometric', () => {
    const g = sigmaGrid({ kind: 'log', levels: 10, min: 0.01, max: 10 });
    const ratio = g.sigmas[1] / g.sigmas[0];
    for (let i = 1; i < 10; i++) expect(g.sigmas[i] / g.sigmas[i - 1]).toBeCloseTo(ratio, 10);
    expect(g.sigmas[0] + g.deltas.reduce((a, b) => a + b, 0)).toBeCloseTo(10, 10);
  });

  it('rejects bad specs', () => {
    expect(() => sigmaGrid({ kind: 'linear', levels: 0, min: 1e-4, max: 3 })).toThrow(/levels/);
    expect(() => sigmaGrid({ kind: 'log', levels: 5, min: 3, max: 1 })).toThrow(/min < max/);
  });
});

describe('σ weights on the 125-level grid (docs/method.md §2)', () => {
  it('released weights sum to 33.4 with 17 % on the two smallest σ', () => {
    const w = sigmaWeights(released125, 'released');
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(33.4, 1);
    expect(shareBelow(w, released125, (_, i) => i < 2)).toBeCloseTo(0.17, 2);
  });

  it('exact log-normal weights sum to 118, 54 % on the two smallest σ and 87 % below 0.1', () => {
    const w = sigmaWeights(released125, 'lognormal');
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(118, 0);
    expect(shareBelow(w, released125, (_, i) => i < 2)).toBeCloseTo(0.54, 2);
    expect(shareBelow(w, released125, (s) => s < 0.1)).toBeCloseTo(0.87, 2);
  });

  it('uniform weights are 1/S', () => {
    const w = sigmaWeights(released125, 'uniform');
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
    const w = sigmaWeights(released125, 'released');
    const prof = weightProfile(released125, w);
    expect(prof.rows[124].cumulativeShare).toBeCloseTo(1, 12);
    expect(prof.total).toBeCloseTo(33.42, 2);
  });
});
