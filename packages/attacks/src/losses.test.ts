import { Random } from '@rdc/core/runtime';
import { describe, expect, it } from 'vitest';
import { lossAndGrad, type LossName } from './losses.js';

describe('attack losses', () => {
  for (const [name, opts] of [
    ['ce', { temperature: 0.7 }],
    ['dlr', {}],
    ['dlr-t', { target: 4 }],
  ] as [LossName, { temperature?: number; target?: number }][]) {
    it(`${name}: the gradient matches central differences`, () => {
      const rng = new Random(1);
      for (let t = 0; t < 5; t++) {
        const z = rng.normal(10).map((v) => 3 * v);
        const y = t % 3;
        const { grad } = lossAndGrad(name, z, y, opts);
        for (let i = 0; i < 10; i++) {
          const h = 1e-3;
          const zp = Float32Array.from(z);
          const zm = Float32Array.from(z);
          zp[i] += h;
          zm[i] -= h;
          const fd = (lossAndGrad(name, zp, y, opts).value - lossAndGrad(name, zm, y, opts).value) / (2 * h);
          expect(Math.abs(fd - grad[i])).toBeLessThan(1e-2 * Math.max(1, Math.abs(fd)));
        }
      }
    });
  }

  it('DLR is positive exactly when the input is misclassified, and scale-invariant', () => {
    const z = Float32Array.of(3, 1, 0.5, 0.2);
    expect(lossAndGrad('dlr', z, 0).value).toBeLessThan(0);
    expect(lossAndGrad('dlr', z, 1).value).toBeGreaterThan(0);
    expect(
      lossAndGrad(
        'dlr',
        z.map((v) => 10 * v),
        1,
      ).value,
    ).toBeCloseTo(lossAndGrad('dlr', z, 1).value, 5);
  });
});
