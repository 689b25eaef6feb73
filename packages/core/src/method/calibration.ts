/**
 * Temperature calibration: the DC's logit scale depends on the σ weights (Σw ≈ 33 or 118), so
 * probabilities shown to users and cross-entropy losses are taken of logits / T with T fitted on a
 * validation split (minimum negative log-likelihood) and stored with the model.
 *
 * @example
 * const T = fitTemperature(valLogits, valLabels, 10);
 * const p = softmax(scaleLogits(logits, 1 / T), 10);
 */

import { argmax, logSumExp } from '../math/logits.js';

/** Mean negative log-likelihood of softmax(a·logits). */
export function meanNll(logits: ArrayLike<number>, labels: ArrayLike<number>, k: number, a = 1): number {
  const n = labels.length;
  let total = 0;
  for (let r = 0; r < n; r++) total += logSumExp(logits, r * k, (r + 1) * k, a) - a * logits[r * k + labels[r]];
  return total / n;
}

/** Mean cross-entropy and accuracy of logits [N, K] against labels. */
export function crossEntropy(logits: ArrayLike<number>, labels: ArrayLike<number>, k: number): { nll: number; accuracy: number } {
  const correct = argmax(logits, k).filter((p, i) => p === labels[i]).length;
  return { nll: meanNll(logits, labels, k), accuracy: correct / labels.length };
}

/**
 * The temperature fitted on validation logits and its record (config.json's `calibration`, the
 * card's sentence): NLL before and after, accuracy. `rdc export` and `rdc calibrate` write it.
 *
 * @example
 * const { temperature, calibration } = calibrationRecord(logits, labels, 10, { levels: 125, split: 'validation' });
 */
export function calibrationRecord(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  k: number,
  o: { levels: number; split: string },
): { temperature: number; calibration: { images: number; split: string; levels: number; nllBefore: number; nllAfter: number; accuracy: number } } {
  const temperature = fitTemperature(logits, labels, k);
  return {
    temperature,
    calibration: {
      images: labels.length,
      split: o.split,
      levels: o.levels,
      nllBefore: meanNll(logits, labels, k),
      nllAfter: meanNll(logits, labels, k, 1 / temperature),
      accuracy: crossEntropy(logits, labels, k).accuracy,
    },
  };
}

/**
 * The temperature T > 0 minimising the mean NLL of softmax(logits / T). The NLL is convex in 1/T,
 * so a golden-section search over ln(1/T) finds the global minimum.
 */
export function fitTemperature(logits: ArrayLike<number>, labels: ArrayLike<number>, k: number): number {
  if (labels.length === 0 || logits.length !== labels.length * k) throw new Error(`fitTemperature: need ${labels.length}×${k} logits, got ${logits.length}`);
  const f = (u: number) => meanNll(logits, labels, k, Math.exp(u));
  let lo = -12;
  let hi = 12;
  const phi = (Math.sqrt(5) - 1) / 2;
  let c = hi - phi * (hi - lo);
  let d = lo + phi * (hi - lo);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < 100 && hi - lo > 1e-7; i++) {
    if (fc < fd) {
      hi = d;
      d = c;
      fd = fc;
      c = hi - phi * (hi - lo);
      fc = f(c);
    } else {
      lo = c;
      c = d;
      fc = fd;
      d = lo + phi * (hi - lo);
      fd = f(d);
    }
  }
  return 1 / Math.exp((lo + hi) / 2);
}
