import { describe, expect, it } from 'vitest';
import { wilson } from './stats.js';

describe('Wilson interval', () => {
  it('its bounds are where the score test is exactly at z = 1.96', () => {
    // Wilson's interval inverts the score test: (p̂ − p)² = z²·p(1 − p)/n at both ends.
    const z = 1.959963984540054;
    for (const [k, n] of [
      [460, 512],
      [3, 40],
      [97, 100],
    ]) {
      const r = wilson(k, n);
      for (const p of [r.low, r.high]) expect((k / n - p) ** 2).toBeCloseTo((z * z * p * (1 - p)) / n, 10);
      expect(r.low).toBeLessThan(k / n);
      expect(r.high).toBeGreaterThan(k / n);
    }
    // 0 successes: the upper end is z²/(n + z²).
    expect(wilson(0, 20).high).toBeCloseTo((z * z) / (20 + z * z), 10);
    expect(wilson(0, 20).low).toBe(0);
  });

  it('covers the true rate about 95 % of the time', () => {
    let seed = 1;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    let covered = 0;
    const trials = 2000;
    for (let t = 0; t < trials; t++) {
      let k = 0;
      for (let i = 0; i < 100; i++) if (rand() < 0.3) k++;
      const r = wilson(k, 100);
      if (r.low <= 0.3 && 0.3 <= r.high) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.93);
    expect(covered / trials).toBeLessThan(0.975);
  });
});
