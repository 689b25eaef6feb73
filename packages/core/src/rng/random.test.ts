import { describe, expect, it } from 'vitest';
import { Random } from './random.js';

describe('Random', () => {
  it('repeats for a seed and differs across seeds', () => {
    expect(Array.from(new Random(7).normal(5))).toEqual(Array.from(new Random(7).normal(5)));
    expect(Array.from(new Random(7).normal(5))).not.toEqual(Array.from(new Random(8).normal(5)));
  });

  it('restores its exact state (checkpoints)', () => {
    const a = new Random(3);
    a.normal(11); // leaves a spare normal pending
    const b = Random.fromState(JSON.parse(JSON.stringify(a.state())));
    expect(Array.from(b.normal(9))).toEqual(Array.from(a.normal(9)));
    expect(b.uniform()).toBe(a.uniform());
  });

  it('draws standard normals and uniforms with the right moments', () => {
    const r = new Random(1);
    const n = 200_000;
    const z = r.normal(n);
    let m = 0;
    let v = 0;
    for (const x of z) m += x / n;
    for (const x of z) v += (x - m) ** 2 / n;
    expect(Math.abs(m)).toBeLessThan(0.01);
    expect(Math.abs(v - 1)).toBeLessThan(0.01);
    let u = 0;
    for (let i = 0; i < n; i++) {
      const x = r.uniform();
      expect(x >= 0 && x < 1).toBe(true);
      u += x / n;
    }
    expect(Math.abs(u - 0.5)).toBeLessThan(0.005);
  });

  it('split streams are independent of each other and of the parent', () => {
    const r = new Random(5);
    const a = r.split();
    const b = r.split();
    const xs = [a.normal(1000), b.normal(1000), r.normal(1000)];
    const corr = (p: Float32Array, q: Float32Array) => p.reduce((s, v, i) => s + v * q[i], 0) / p.length;
    expect(Math.abs(corr(xs[0], xs[1]))).toBeLessThan(0.1);
    expect(Math.abs(corr(xs[0], xs[2]))).toBeLessThan(0.1);
  });

  it('permutation is a permutation', () => {
    const p = Array.from(new Random(2).permutation(100)).sort((a, b) => a - b);
    expect(p).toEqual([...Array(100).keys()]);
  });

  it('is well mixed from the first draw, even for small seeds', () => {
    // Over many small seeds, the first uniform and first normal have the right distribution.
    const u: number[] = [];
    const z: number[] = [];
    for (let s = 0; s < 2000; s++) {
      u.push(new Random(s).uniform());
      z.push(new Random(s).gaussian());
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(Math.abs(mean(u) - 0.5)).toBeLessThan(0.03);
    expect(u.filter((v) => v > 0.99).length).toBeLessThan(60);
    expect(Math.abs(mean(z.map((v) => v * v)) - 1)).toBeLessThan(0.1);
  });

  it('rejects non-integer seeds', () => {
    expect(() => new Random(0.5)).toThrow(/integer/);
  });
});
