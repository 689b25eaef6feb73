import { Random, type Tensor } from '@rdc/core/runtime';
import { describe, expect, it } from 'vitest';
import { drawAnswer } from './eval/draws.js';
import { attackOneImage, roundIntoBall, roundTowards, toEightBits } from './one-image.js';
import { StubClassifier } from './testing.js';
import { perturbation } from './threat.js';
import { CancellableClassifier } from './wrappers.js';

/** Two classes on 16 pixels: z1 − z0 = w·x + b, so the ℓ∞ distance to the boundary is |w·x + b| / ‖w‖₁. */
class TwoClass extends StubClassifier {
  readonly numClasses = 2;
  constructor(
    readonly w: Float32Array,
    readonly b: number,
    readonly tau = 0,
  ) {
    super({ stochastic: tau > 0, imageDims: [1, 4, 4] });
  }
  margin(x: Float32Array, rng?: Random): number {
    return this.w.reduce((a, v, i) => a + v * x[i], this.b) + (rng && this.tau ? this.tau * rng.gaussian() : 0);
  }
  async logits(p: Tensor, rng: Random): Promise<Tensor> {
    return { data: Float32Array.of(0, this.margin(p.data, rng)), dims: [1, 2] };
  }
  async gradient(p: Tensor, cot: (l: Float32Array) => Float32Array, rng: Random) {
    const z = Float32Array.of(0, this.margin(p.data, rng));
    const c = cot(z);
    return { logits: z, grad: { data: this.w.map((v) => (c[1] - c[0]) * v), dims: p.dims } };
  }
}

const onGrid = (x: Float32Array) => x.every((v) => Math.abs(v * 255 - Math.round(v * 255)) < 1e-4);

describe('one-image attacks (the API and the page)', () => {
  it('rounding toward the input keeps every pixel on the 8-bit grid, no farther from the input, inside [0, 1]', () => {
    const rng = new Random(1);
    for (let t = 0; t < 50; t++) {
      const x0 = toEightBits(Float32Array.from({ length: 64 }, () => rng.uniform()));
      const x = x0.map((v) => Math.min(1, Math.max(0, v + (16 / 255) * (2 * rng.uniform() - 1))));
      const q = roundTowards(x, x0);
      expect(onGrid(q)).toBe(true);
      for (let i = 0; i < x.length; i++) {
        expect(Math.abs(q[i] - x0[i])).toBeLessThanOrEqual(Math.abs(x[i] - x0[i]) + 1e-7);
        expect(q[i]).toBeGreaterThanOrEqual(0);
        expect(q[i]).toBeLessThanOrEqual(1);
      }
      // A perturbation of exactly 8/255 (float32 error included) stays 8/255.
      const edge = x0.map((v) => Math.fround(v + 8 / 255));
      const e = roundTowards(edge, x0);
      for (let i = 0; i < x.length; i++) if (edge[i] <= 1) expect(Math.round((e[i] - x0[i]) * 255)).toBe(8);
    }
  });

  it('rounding into the ball takes the nearest level where it can: on the grid, inside the ball, closer to the attack than rounding toward the input', () => {
    const rng = new Random(5);
    const dist = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
    for (const t of [
      { norm: 'linf', eps: 8 / 255 },
      { norm: 'l2', eps: 0.5 },
    ] as const) {
      for (let k = 0; k < 30; k++) {
        const x0 = toEightBits(Float32Array.from({ length: 3072 }, () => rng.uniform()));
        // A point on the ball's surface (ℓ2) or at its corners (ℓ∞), inside [0, 1].
        const d = Float32Array.from({ length: 3072 }, () => rng.gaussian());
        const n = t.norm === 'l2' ? Math.sqrt(d.reduce((s, v) => s + v * v, 0)) : 1;
        const x = x0.map((v, i) => Math.min(1, Math.max(0, v + (t.norm === 'l2' ? (t.eps * d[i]) / n : t.eps * Math.sign(d[i])))));
        const q = roundIntoBall(x, x0, t);
        expect(onGrid(q)).toBe(true);
        const p = perturbation(q, x0);
        expect(t.norm === 'linf' ? p.linf : p.l2).toBeLessThanOrEqual(t.eps + 1e-6);
        const toward = roundTowards(x, x0);
        expect(dist(q, x)).toBeLessThanOrEqual(dist(toward, x) + 1e-9);
        for (let i = 0; i < q.length; i++) expect([Math.round(x[i] * 255), Math.round(toward[i] * 255)]).toContain(Math.round(q[i] * 255));
      }
    }
  });

  it('changes a linear classifier’s answer exactly when ε exceeds its ℓ∞ margin, with an 8-bit image inside the ball', async () => {
    const w = Float32Array.from({ length: 16 }, (_, i) => (i % 2 ? 1 : -1) * (0.5 + i / 32));
    const l1 = w.reduce((a, v) => a + Math.abs(v), 0);
    const x0 = new Float32Array(16).fill(0.5);
    const eps = 8 / 255;
    for (const [margin, expected] of [
      [0.5 * eps * l1, true],
      [2 * eps * l1, false],
    ] as const) {
      const clf = new TwoClass(w, -margin - w.reduce((a, v) => a + 0.5 * v, 0));
      const seen: number[] = [];
      const r = await attackOneImage({
        classifier: clf,
        x0,
        attack: 'apgd-ce',
        iterations: 10,
        threat: { norm: 'linf', eps },
        rng: new Random(2),
        onIteration: (i, _loss, logits) => logits && seen.push(i),
      });
      expect(r.clean.top).toBe(0);
      expect(r.changed).toBe(expected);
      expect(r.attacked.top).toBe(clf.margin(r.adv) > 0 ? 1 : 0);
      expect(onGrid(r.adv)).toBe(true);
      const p = perturbation(r.adv, r.x0);
      expect(p.linf).toBeLessThanOrEqual(eps + 1e-6);
      expect(r.linf).toBeCloseTo(p.linf, 6);
      expect(seen.length).toBeGreaterThan(0);
    }
  });

  it('counts a randomized classifier’s answers by k fresh draws under the rule', async () => {
    const w = new Float32Array(16).fill(1);
    // On the boundary: every draw is a coin flip, so the attack's own success says nothing.
    const clf = new TwoClass(w, -8, 1);
    const rng = new Random(3);
    const a = await drawAnswer(clf, new Float32Array(16).fill(0.5), 9, rng);
    expect(a.draws).toHaveLength(9);
    const counts = [0, 1].map((c) => a.draws.filter((d) => d === c).length);
    expect(counts[a.top]).toBeGreaterThanOrEqual(counts[1 - a.top]);
    expect(a.probabilities[0] + a.probabilities[1]).toBeCloseTo(1, 6);
    const r = await attackOneImage({
      classifier: clf,
      x0: new Float32Array(16).fill(0.5),
      attack: 'pgd',
      iterations: 3,
      threat: { norm: 'l2', eps: 0.5 },
      rng,
      recheck: 5,
      rule: 'all',
    });
    expect(r.attacked.draws).toHaveLength(5);
    expect(r.changed).toBe(!r.attacked.draws.every((d) => d === r.clean.top));
    expect(perturbation(r.adv, r.x0).l2).toBeLessThanOrEqual(0.5 + 1e-6);
  });

  it('stops at the next query once its signal is aborted', async () => {
    const ac = new AbortController();
    const clf = new TwoClass(new Float32Array(16).fill(1), -6);
    const r = attackOneImage({
      classifier: new CancellableClassifier(clf, ac.signal),
      x0: new Float32Array(16).fill(0.5),
      attack: 'apgd-ce',
      iterations: 50,
      threat: { norm: 'linf', eps: 8 / 255 },
      rng: new Random(4),
      onIteration: (i) => i === 2 && ac.abort(new Error('time limit')),
    });
    await expect(r).rejects.toThrow('time limit');
  });
});
