/**
 * Learned σ weights (docs/method.md §8): the DC's logits −L·w of an image's per-level denoising
 * errors L (classes × levels), with one weight per level shared by all classes, fitted by
 * cross-entropy on held-out images. The weights are kept non-negative, so the score stays a weighted
 * sum of denoising errors (a generative classifier). They are parametrized as w = r ⊙ v, r the
 * released weights and v ≥ 0 a multiplier per level, with a smoothness penalty
 * λ·Σ((v_{i+1} − v_i)/v̄)² across neighbouring σ (v̄: the released weights' best single scale, so λ
 * does not depend on the logit scale); λ → ∞ gives the released profile at its best temperature.
 * The problem is convex in v (log-sum-exp of linear functions plus a quadratic), solved by
 * projected Newton steps (Bertsekas 1982: Newton on the variables off their bound, an Armijo search
 * along the projection arc); λ is chosen by k-fold cross-validation on the fit images (the one-SE rule).
 *
 * @example
 * const fit = fitLevelWeights({ errors, labels, classes: 10, levels: 25 }, { released, smoothness: 0.1 });
 * fit.weights; // Float64Array(25), all ≥ 0
 */
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { logSumExp } from '../math/logits.js';
import { crossEntropy, fitTemperature } from './calibration.js';

/** Per-level errors of N images: `errors` [N, K, S] (row-major), `labels` [N]. */
export interface LevelData {
  errors: Float32Array;
  labels: Int32Array;
  classes: number;
  levels: number;
}

/** Logits [N, K] = −L·w. */
export function weightedLogits(data: LevelData, w: ArrayLike<number>): Float64Array {
  const { classes: k, levels: s } = data;
  const n = data.labels.length;
  const out = new Float64Array(n * k);
  for (let r = 0; r < n * k; r++) {
    let z = 0;
    for (let l = 0; l < s; l++) z -= data.errors[r * s + l] * w[l];
    out[r] = z;
  }
  return out;
}

/** The images of `data` at `rows`. */
export function subset(data: LevelData, rows: readonly number[]): LevelData {
  const per = data.classes * data.levels;
  const errors = new Float32Array(rows.length * per);
  rows.forEach((r, i) => errors.set(data.errors.subarray(r * per, (r + 1) * per), i * per));
  return { ...data, errors, labels: Int32Array.from(rows, (r) => data.labels[r]) };
}

/** The released weights' best single scale on `data`: 1/T of the temperature fit. */
export function releasedScale(data: LevelData, released: ArrayLike<number>): number {
  return 1 / fitTemperature(weightedLogits(data, released), data.labels, data.classes);
}

export interface WeightFit {
  weights: Float64Array;
  /** The objective's cross-entropy part on the fit images at the end. */
  nll: number;
  iterations: number;
}

/**
 * Non-negative weights w = r ⊙ v minimizing the mean cross-entropy of −L·w plus
 * λ·Σ((v_{i+1} − v_i)/v̄)² on `data`, starting from the released profile at its best scale v̄.
 */
export function fitLevelWeights(
  data: LevelData,
  o: { released: ArrayLike<number>; smoothness: number; scale?: number; maxIterations?: number; tolerance?: number },
): WeightFit {
  const { classes: k, levels: s } = data;
  const n = data.labels.length;
  const r = Float64Array.from(o.released);
  const vbar = o.scale ?? releasedScale(data, r);
  const lam = o.smoothness;
  // In units of v̄ (u = v/v̄, 1 at the start), features M = v̄·L ⊙ r: logits −M·u.
  const m = new Float64Array(data.errors.length);
  for (let i = 0; i < m.length; i++) m[i] = data.errors[i] * r[i % s] * vbar;
  /** The objective, and with `derivatives` its gradient and Hessian. */
  const evaluate = (v: Float64Array, derivatives: boolean): { f: number; g: Float64Array; h: Float64Array } => {
    const g = new Float64Array(derivatives ? s : 0);
    const h = new Float64Array(derivatives ? s * s : 0);
    const p = new Float64Array(k);
    const mean = new Float64Array(s);
    let total = 0;
    for (let row = 0; row < n; row++) {
      for (let j = 0; j < k; j++) {
        let z = 0;
        const at = (row * k + j) * s;
        for (let l = 0; l < s; l++) z -= m[at + l] * v[l];
        p[j] = z;
      }
      const lse = logSumExp(p);
      total += lse - p[data.labels[row]];
      if (!derivatives) continue;
      // d/dv of the row's cross-entropy: Σ_j (p_j − δ_jy)·(−M_j); Hessian Σ_j p_j M_j M_jᵀ − m̄ m̄ᵀ with m̄ = Σ_j p_j M_j.
      mean.fill(0);
      for (let j = 0; j < k; j++) {
        const pj = Math.exp(p[j] - lse);
        const at = (row * k + j) * s;
        for (let l = 0; l < s; l++) {
          mean[l] += pj * m[at + l];
          if (j === data.labels[row]) g[l] += m[at + l] / n;
        }
        for (let a = 0; a < s; a++) {
          const pa = (pj * m[at + a]) / n;
          if (pa === 0) continue;
          for (let b = a; b < s; b++) h[a * s + b] += pa * m[at + b];
        }
      }
      for (let l = 0; l < s; l++) g[l] -= mean[l] / n;
      for (let a = 0; a < s; a++) for (let b = a; b < s; b++) h[a * s + b] -= (mean[a] * mean[b]) / n;
    }
    let pen = 0;
    for (let l = 0; l + 1 < s; l++) {
      const d = v[l + 1] - v[l];
      pen += d * d;
      if (!derivatives) continue;
      g[l + 1] += 2 * lam * d;
      g[l] -= 2 * lam * d;
      h[l * s + l] += 2 * lam;
      h[(l + 1) * s + l + 1] += 2 * lam;
      h[l * s + l + 1] -= 2 * lam;
    }
    for (let a = 0; a < s; a++) for (let b = 0; b < a; b++) h[a * s + b] = h[b * s + a];
    return { f: total / n + lam * pen, g, h };
  };
  const maxIterations = o.maxIterations ?? 200;
  const tolerance = o.tolerance ?? 1e-7;
  let v = new Float64Array(s).fill(1);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const { f, g, h } = evaluate(v, true);
    // Stationarity of the bounded problem: the projected gradient step vanishes.
    let stationarity = 0;
    for (let l = 0; l < s; l++) stationarity = Math.max(stationarity, Math.abs(v[l] - Math.max(0, v[l] - g[l])));
    if (stationarity <= tolerance * Math.max(1, ...v)) break;
    // Variables at (or within ε of) the bound whose gradient pushes them out stay put; Newton on the rest.
    const eps = Math.min(1e-6, stationarity);
    const free = Array.from({ length: s }, (_, l) => l).filter((l) => !(v[l] <= eps && g[l] > 0));
    const direction = new Float64Array(s);
    if (free.length) {
      const hf = new Matrix(free.map((a) => free.map((b) => h[a * s + b] + (a === b ? 1e-12 * (1 + Math.abs(h[a * s + a])) : 0))));
      const chol = new CholeskyDecomposition(hf);
      const rhs = Matrix.columnVector(free.map((l) => -g[l]));
      const d = chol.isPositiveDefinite() ? chol.solve(rhs).to1DArray() : free.map((l) => -g[l]);
      free.forEach((l, i) => (direction[l] = d[i]));
    }
    for (let l = 0; l < s; l++) if (!free.includes(l)) direction[l] = -g[l];
    let step = 1;
    let next = v;
    let fNext = f;
    for (let tries = 0; tries < 40; tries++, step /= 2) {
      next = Float64Array.from(v, (vl, l) => Math.max(0, vl + step * direction[l]));
      let decrease = 0;
      for (let l = 0; l < s; l++) decrease += g[l] * (v[l] - next[l]);
      fNext = evaluate(next, false).f;
      if (fNext <= f - 1e-4 * decrease) break;
    }
    // No progress left at float precision: done.
    if (!(fNext < f - 1e-14 * Math.abs(f))) {
      if (fNext < f) v = next;
      break;
    }
    v = next;
  }
  const weights = Float64Array.from(v, (vi, l) => vi * vbar * r[l]);
  return { weights, nll: crossEntropy(weightedLogits(data, weights), data.labels, k).nll, iterations };
}

/**
 * The smoothness λ (of `candidates`) by k-fold cross-validation on `data` (image i in fold i mod
 * folds), with the one-standard-error rule: the largest λ whose mean held-out cross-entropy is within
 * one standard error (over images) of the lowest one. The lowest alone picks λ = 0 on noisy
 * per-level errors and a jagged profile (levels switched off between heavy neighbours); the rule
 * takes the smoothest profile the data cannot tell from it.
 */
export function chooseSmoothness(
  data: LevelData,
  released: ArrayLike<number>,
  o: { candidates?: readonly number[]; folds?: number; maxIterations?: number } = {},
): { smoothness: number; scores: { smoothness: number; nll: number; se: number }[] } {
  const candidates = o.candidates ?? [0, 1e-3, 1e-2, 1e-1, 1, 10, 100];
  const folds = o.folds ?? 5;
  const n = data.labels.length;
  const k = data.classes;
  const scores = candidates.map((smoothness) => {
    const losses = new Float64Array(n);
    for (let f = 0; f < folds; f++) {
      const rows = Array.from({ length: n }, (_, i) => i).filter((i) => i % folds === f);
      const train = subset(
        data,
        Array.from({ length: n }, (_, i) => i).filter((i) => i % folds !== f),
      );
      const fit = fitLevelWeights(train, { released, smoothness, maxIterations: o.maxIterations });
      const held = subset(data, rows);
      const logits = weightedLogits(held, fit.weights);
      rows.forEach((r, j) => (losses[r] = logSumExp(logits.subarray(j * k, (j + 1) * k)) - logits[j * k + held.labels[j]]));
    }
    const mean = losses.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(losses.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, n - 1));
    return { smoothness, nll: mean, se: sd / Math.sqrt(n) };
  });
  const best = scores.reduce((a, b) => (b.nll < a.nll ? b : a));
  const chosen = scores.filter((c) => c.nll <= best.nll + best.se).reduce((a, b) => (b.smoothness > a.smoothness ? b : a));
  return { smoothness: chosen.smoothness, scores };
}
