import { describe, expect, it } from 'vitest';
import { Random } from '../rng/random.js';
import { fitTemperature, meanNll } from './calibration.js';
import { softmax, argmax } from '../math/logits.js';

describe('temperature calibration', () => {
  it('recovers the temperature that generated the labels', () => {
    const rng = new Random(0);
    const k = 5;
    const n = 20_000;
    const T = 3.5;
    const logits = new Float32Array(n * k);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < k; j++) logits[i * k + j] = 4 * rng.gaussian();
      const p = softmax(
        logits.subarray(i * k, (i + 1) * k).map((v) => v / T),
        k,
      );
      let u = rng.uniform();
      let y = 0;
      while (y < k - 1 && u > p[y]) u -= p[y++];
      labels[i] = y;
    }
    const fitted = fitTemperature(logits, labels, k);
    expect(Math.abs(fitted - T) / T).toBeLessThan(0.05);
    expect(meanNll(logits, labels, k, 1 / fitted)).toBeLessThanOrEqual(meanNll(logits, labels, k, 1 / T) + 1e-9);
  });

  it('softmax rows sum to one and argmax picks the largest', () => {
    const p = softmax([1, 2, 3, 1000, 0, -1000], 3);
    expect(p[0] + p[1] + p[2]).toBeCloseTo(1, 6);
    expect(p[3]).toBeCloseTo(1, 6);
    expect(Array.from(argmax([1, 3, 2, 0, -1, -2], 3))).toEqual([1, 0]);
  });

  it('rejects mismatched sizes', () => {
    expect(() => fitTemperature([1, 2, 3], [0, 1], 2)).toThrow(/logits/);
  });
});
