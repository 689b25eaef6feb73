import { describe, expect, it } from 'vitest';
import { AdamW, clipScale, globalNorm } from './adamw.js';
import { Ema } from './ema.js';
import { learningRate } from './schedule.js';

/** Golden values worked out by hand from the textbook formulas (not from the code under test). */
describe('AdamW', () => {
  it('a constant gradient moves every step by lr/(1 + ε), and weight decay shrinks matrices only', () => {
    // m̂ = g and v̂ = g² at every step when g is constant: the step is lr·g/(|g| + ε).
    const w = { m: { data: Float32Array.of(1, -1, 0.5, 2), dims: [2, 2] }, b: { data: Float32Array.of(1), dims: [1] } };
    const opt = new AdamW(w, { weightDecay: 0.5 });
    const g = { m: { data: Float32Array.of(1, 1, 1, 1) }, b: { data: Float32Array.of(-4) } };
    const lr = 0.1;
    const expectM = [1, -1, 0.5, 2].map(Number);
    let expectB = 1;
    for (let t = 0; t < 3; t++) {
      opt.step(w, g, lr);
      for (let i = 0; i < 4; i++) expectM[i] = expectM[i] * (1 - lr * 0.5) - lr / (1 + 1e-8);
      expectB = expectB + lr * (4 / (4 + 1e-8));
      w.m.data.forEach((v, i) => expect(v).toBeCloseTo(expectM[i], 6));
      expect(w.b.data[0]).toBeCloseTo(expectB, 6);
    }
    expect(opt.t).toBe(3);
  });

  it('an alternating gradient +1, −1: the second step goes back by lr/19', () => {
    // Step 1: m = 0.1, v = 0.001 → m̂ = 1, v̂ = 1. Step 2: m = 0.09 − 0.1 = −0.01, v = 0.000999 + 0.001
    // → m̂ = −0.01/0.19 = −1/19, v̂ = 0.001999/0.001999 = 1.
    const w = { x: { data: Float32Array.of(0), dims: [1] } };
    const opt = new AdamW(w);
    opt.step(w, { x: { data: Float32Array.of(1) } }, 0.1);
    expect(w.x.data[0]).toBeCloseTo(-0.1, 7);
    opt.step(w, { x: { data: Float32Array.of(-1) } }, 0.1);
    expect(w.x.data[0]).toBeCloseTo(-0.1 + 0.1 / 19, 7);
    // gradScale (clipping) scales the gradient: Adam is scale-invariant, so the same steps result.
    const w2 = { x: { data: Float32Array.of(0), dims: [1] } };
    const opt2 = new AdamW(w2);
    opt2.step(w2, { x: { data: Float32Array.of(1) } }, 0.1, 0.25);
    opt2.step(w2, { x: { data: Float32Array.of(-1) } }, 0.1, 0.25);
    expect(w2.x.data[0]).toBeCloseTo(-0.1 + 0.1 / 19, 6);
  });

  it('clipping: the global norm and its scale', () => {
    expect(globalNorm({ a: { data: Float32Array.of(3) }, b: { data: Float32Array.of(0, 4) } })).toBe(5);
    expect(clipScale(5, 1)).toBe(0.2);
    expect(clipScale(0.5, 1)).toBe(1);
    expect(clipScale(5, null)).toBe(1);
  });
});

describe('EMA', () => {
  it('after one half-life of images the average is halfway to a constant target', () => {
    const w = { x: { data: Float32Array.of(0), dims: [1] } };
    const ema = new Ema(w, 1000, null);
    w.x.data[0] = 1;
    for (let seen = 100; seen <= 1000; seen += 100) ema.update(w, seen, 100);
    expect(ema.weights.x.data[0]).toBeCloseTo(0.5, 6);
    for (let seen = 1100; seen <= 2000; seen += 100) ema.update(w, seen, 100);
    expect(ema.weights.x.data[0]).toBeCloseTo(0.75, 6);
    // The copy is independent of the live weights.
    expect(w.x.data[0]).toBe(1);
  });

  it('ramp-up: the half-life is min(halflife, images seen × ramp-up)', () => {
    const ema = new Ema({ x: { data: Float32Array.of(0), dims: [1] } }, 1000, 0.1);
    expect(ema.beta(500, 50)).toBeCloseTo(0.5, 12); // half-life 50 images, batch 50
    expect(ema.beta(20_000, 100)).toBeCloseTo(0.5 ** 0.1, 12); // capped at 1000
  });
});

describe('learning-rate schedule', () => {
  it('linear warm-up, then constant', () => {
    expect(learningRate(9, { lr: 1e-3, warmup: 100 })).toBeCloseTo(1e-4, 15);
    expect(learningRate(99, { lr: 1e-3, warmup: 100 })).toBeCloseTo(1e-3, 15);
    expect(learningRate(5000, { lr: 1e-3, warmup: 100 })).toBe(1e-3);
    expect(learningRate(0, { lr: 1e-3, warmup: 0 })).toBe(1e-3);
  });

  it('cosine: full at the end of warm-up, (0.05 + 0.95·½)·lr half way, 0.05·lr at the end', () => {
    const s = { lr: 2e-3, warmup: 100, schedule: 'cosine' as const, total: 1100 };
    expect(learningRate(100, s)).toBeCloseTo(2e-3, 15);
    expect(learningRate(600, s)).toBeCloseTo(2e-3 * 0.525, 15);
    expect(learningRate(1100, s)).toBeCloseTo(2e-3 * 0.05, 15);
    expect(learningRate(5000, s)).toBeCloseTo(2e-3 * 0.05, 15);
    expect(learningRate(350, { ...s, minFactor: 0 })).toBeCloseTo(2e-3 * 0.5 * (1 + Math.cos(Math.PI / 4)), 15);
  });
});
