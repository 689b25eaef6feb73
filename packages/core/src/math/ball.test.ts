import { describe, expect, it } from 'vitest';
import { projectBall } from './ball.js';

describe('ball projection', () => {
  it('projects onto ℓ∞ and ℓ2 balls per image', () => {
    const x0 = new Float32Array([0, 0, 1, 1]);
    const x = new Float32Array([0.5, -0.5, 1, 4]);
    projectBall(x, x0, { norm: 'linf', radius: 0.1 }, { images: 2 });
    expect(Array.from(x).map((v) => +v.toFixed(6))).toEqual([0.1, -0.1, 1, 1.1]);
    const y = new Float32Array([3, 4, 1, 1.5]);
    projectBall(y, x0, { norm: 'l2', radius: 1 }, { images: 2 });
    expect(Array.from(y).map((v) => +v.toFixed(6))).toEqual([0.6, 0.8, 1, 1.5]);
  });

  it('clamps into a range in the same pass (the attacks: pixel units, [0, 1])', () => {
    const x0 = new Float32Array([0.98, 0.02, 0.5]);
    const x = new Float32Array([1.2, -0.3, 0.6]);
    projectBall(x, x0, { norm: 'linf', radius: 0.05 }, { range: [0, 1] });
    expect(Array.from(x).map((v) => +v.toFixed(6))).toEqual([1, 0, 0.55]);
    const y = new Float32Array([0.98, 0.02, 3.5]);
    projectBall(y, x0, { norm: 'l2', radius: 0.3 }, { range: [0, 1] });
    expect(Array.from(y).map((v) => +v.toFixed(6))).toEqual([0.98, 0.02, 0.8]);
  });
});
