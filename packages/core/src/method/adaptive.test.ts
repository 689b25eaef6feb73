import { describe, expect, it } from 'vitest';
import { DiffusionClassifier } from './dc.js';
import { levelOrder, SequentialLeader } from './adaptive.js';
import { Denoiser } from '../engines/denoiser.js';
import { OrtEngine } from '../engines/ort.js';
import { Random } from '../rng/random.js';
import { relativeError } from '../tensor.js';
import { tinyUNet } from '../testing.js';

/** Runs the test over units in the given order; returns the decided leader and the units used. */
function run(units: Float64Array[], order: number[], alpha: number, minUnits = 3) {
  const t = new SequentialLeader({ units: units.length, classes: units[0].length, alpha, minUnits });
  for (const u of order) {
    t.add(units[u]);
    if (t.decided()) break;
  }
  return { leader: t.leader, used: t.unitsSeen };
}

/** U units of K class sums: class means `mu`, unit-to-unit spread `sd`. */
function population(rng: Random, u: number, mu: number[], sd: number): Float64Array[] {
  return Array.from({ length: u }, () => Float64Array.from(mu, (m) => m + sd * rng.gaussian()));
}
const shuffled = (rng: Random, n: number) => {
  const o = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [o[i], o[j]] = [o[j], o[i]];
  }
  return o;
};
const argmax = (v: ArrayLike<number>) => Array.from(v).reduce((b, x, i, a) => (x > a[b] ? i : b), 0);

describe('adaptive σ evaluation', () => {
  it('visits every level once, in the same fixed order each time', () => {
    const units = levelOrder(125, 5);
    expect(units.length).toBe(25);
    expect(units.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 125 }, (_, i) => i));
    expect(levelOrder(125, 5)).toEqual(units);
    expect(units.flat()).not.toEqual(Array.from({ length: 125 }, (_, i) => i));
  });

  it('stops early on a clear leader, runs to the end on a tie, and gives the exact total when it sees everything', () => {
    const rng = new Random(1);
    const clear = population(rng, 25, [0, -3, -4], 0.5);
    const r = run(clear, shuffled(rng, 25), 0.01);
    expect(r.leader).toBe(0);
    expect(r.used).toBeLessThan(10);
    const tie = population(rng, 25, [0, 0, 0], 1);
    expect(run(tie, shuffled(rng, 25), 0.01).used).toBeGreaterThan(15);
    const t = new SequentialLeader({ units: 25, classes: 3, alpha: 0.01, minUnits: 3 });
    for (const u of tie) t.add(u);
    expect(t.decided()).toBe(true);
    const exact = [0, 1, 2].map((k) => tie.reduce((s, u) => s + u[k], 0));
    expect(relativeError(t.estimate(125, 125), exact)).toBeLessThan(1e-6);
  });

  it('disagrees with the full grid at most about α of the time, near the decision boundary', () => {
    const rng = new Random(2);
    const alpha = 0.05;
    let wrong = 0;
    let early = 0;
    const trials = 2000;
    for (let i = 0; i < trials; i++) {
      // Margins of the order of the spread of the total: hard cases.
      const pop = population(rng, 25, [0, -0.1 * rng.uniform(), -0.2, -1], 1);
      const full = argmax([0, 1, 2, 3].map((k) => pop.reduce((s, u) => s + u[k], 0)));
      const r = run(pop, shuffled(rng, 25), alpha);
      if (r.leader !== full) wrong++;
      if (r.used < 25) early++;
    }
    expect(wrong / trials).toBeLessThan(alpha);
    expect(early).toBeGreaterThan(0); // the test is not vacuous: it does stop early sometimes
  });

  it('in the DC: predictions only; gradients use the full grid; with every unit seen the logits are the full grid', async () => {
    const engine = await OrtEngine.create({ threads: 1 });
    const { config, weights } = tinyUNet({ seed: 5 });
    const den = new Denoiser(engine, config, weights);
    const full = new DiffusionClassifier(den, { levels: 20, chunk: 20 });
    // alpha so small the test never stops early: the adaptive sum is the full one, visited in another order.
    const exhaustive = new DiffusionClassifier(den, { levels: 20, adaptive: { alpha: 1e-12, chunk: 4, minUnits: 2 } });
    const adaptive = new DiffusionClassifier(den, { levels: 20, adaptive: { alpha: 0.01, chunk: 4, minUnits: 2 } });
    const rng = new Random(3);
    const pixels = { data: Float32Array.from({ length: 192 }, () => rng.uniform()), dims: [1, 3, 8, 8] };
    const noise = full.drawNoise(new Random(4));
    const a = await full.logits(pixels, { noise: [noise] });
    const b = await exhaustive.logits(pixels, { noise: [noise] });
    expect(relativeError(b.data, a.data)).toBeLessThan(1e-5);
    expect(exhaustive.adaptiveStats).toEqual({ images: 1, levels: 20 });
    await adaptive.logits(pixels, { noise: [noise] });
    expect(adaptive.adaptiveStats.levels).toBeLessThanOrEqual(20);
    const g = await adaptive.logitsAndGrad(pixels, () => Float32Array.of(1, 0, 0), { noise });
    expect(relativeError(g.logits, a.data)).toBeLessThan(1e-5);
    expect(adaptive.adaptiveStats.images).toBe(1); // the gradient did not go through the adaptive path
  });
});
