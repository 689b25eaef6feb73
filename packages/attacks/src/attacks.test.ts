import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CnnConfig, buildClassifierGraph, initWeights, NetworkClassifier, OrtEngine, Random, type Classifier, type Tensor } from '@rdc/core/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Attack } from './attack.js';
import { Apgd } from './attacks/apgd.js';
import { Fab, projectOnHyperplane } from './attacks/fab.js';
import { Fgsm } from './attacks/fgsm.js';
import { Pgd } from './attacks/pgd.js';
import { Square } from './attacks/square.js';
import { JsonlLog } from './eval/log.js';
import { evaluateRobustness } from './eval/robust.js';
import { correctUnder, isRobust, RECHECK_RULES, type ImageRecord } from './eval/rules.js';
import { lossAndGrad } from './losses.js';
import { inThreat, type ThreatModel } from './threat.js';
import { StubClassifier } from './testing.js';
import { EotClassifier, FixedNoiseClassifier, WrappedClassifier } from './wrappers.js';

/** logits = W·x + b on 1×4×4 images: exact gradients, known optimum. */
class LinearClassifier extends StubClassifier {
  gradientCalls = 0;
  constructor(
    readonly w: Float32Array[],
    readonly b: number[],
  ) {
    super({ stochastic: false, imageDims: [1, 4, 4] });
  }
  get numClasses() {
    return this.w.length;
  }
  z(x: Float32Array): Float32Array {
    return Float32Array.from(this.w.map((wk, k) => wk.reduce((a, v, i) => a + v * x[i], this.b[k])));
  }
  async logits(p: Tensor): Promise<Tensor> {
    return { data: this.z(p.data), dims: [1, this.numClasses] };
  }
  async gradient(p: Tensor, cot: (l: Float32Array) => Float32Array) {
    this.gradientCalls++;
    const z = this.z(p.data);
    const c = cot(z);
    const g = new Float32Array(16);
    this.w.forEach((wk, k) => wk.forEach((v, i) => (g[i] += c[k] * v)));
    return { logits: z, grad: { data: g, dims: p.dims } };
  }
}

/** Records every input an attack shows the classifier, and checks it is inside the threat model. */
class Watch extends WrappedClassifier {
  seen: Float32Array[] = [];
  constructor(
    inner: Classifier,
    readonly x0: Float32Array,
    readonly threat: ThreatModel,
  ) {
    super(inner);
  }
  private check(x: Float32Array) {
    if (!inThreat(this.threat, x, this.x0)) throw new Error('an iterate left the ε ball or [0, 1]');
    this.seen.push(x);
  }
  logits(p: Tensor, rng: Random) {
    this.check(p.data);
    return this.inner.logits(p, rng);
  }
  gradient(p: Tensor, cot: (l: Float32Array) => Float32Array, rng: Random) {
    this.check(p.data);
    return this.inner.gradient(p, cot, rng);
  }
}

const rng0 = new Random(0);
const linear = new LinearClassifier([rng0.normal(16), rng0.normal(16), rng0.normal(16), rng0.normal(16)], [0.3, 0, -0.2, -0.4]);

function attacks(n = 10): Attack[] {
  return [
    new Fgsm(),
    new Pgd({ steps: n }),
    new Apgd({ loss: 'ce', iterations: n }),
    new Apgd({ loss: 'dlr', iterations: n }),
    new Apgd({ loss: 'dlr-t', iterations: n, targets: 2 }),
    new Fab({ iterations: n, targets: 2 }),
    new Square({ queries: 5 * n }),
  ];
}

describe('PGD on a linear model', () => {
  for (const norm of ['linf', 'l2'] as const) {
    it(`reaches the known optimum of the margin (${norm})`, async () => {
      // Two classes: the loss increases along d = w1 − w0; the optimum in the ball is x0 + ε·sign(d) (ℓ∞) or x0 + ε·d/‖d‖ (ℓ2).
      const clf = new LinearClassifier([linear.w[0], linear.w[1]], [5, 0]);
      const x0 = new Float32Array(16).fill(0.5);
      const threat = { norm, eps: norm === 'linf' ? 0.05 : 0.2 };
      const r = await new Pgd({ steps: 30, randomStart: false, loss: 'ce' }).run(x0, 0, { classifier: clf, threat, rng: new Random(1) });
      const d = clf.w[1].map((v, i) => v - clf.w[0][i]);
      const norm2 = Math.sqrt(d.reduce((a, v) => a + v * v, 0));
      const optimum = x0.map((v, i) => v + (norm === 'linf' ? threat.eps * Math.sign(d[i]) : (threat.eps * d[i]) / norm2));
      const gap = (x: Float32Array) => d.reduce((a, v, i) => a + v * (x[i] - x0[i]), 0);
      expect(r.success).toBe(false);
      expect(gap(r.adv)).toBeGreaterThan(gap(optimum) * (1 - 1e-3));
      for (let i = 0; i < 16; i++) expect(r.adv[i]).toBeCloseTo(optimum[i], norm === 'linf' ? 6 : 2);
    });
  }
});

describe('FAB-T', () => {
  it('projects onto a hyperplane with the minimal norm inside [0, 1]', () => {
    const w = linear.w[0];
    const base = new Float32Array(16).fill(0.5);
    const l1 = w.reduce((a, v) => a + Math.abs(v), 0);
    const l2 = Math.sqrt(w.reduce((a, v) => a + v * v, 0));
    const b = -0.1;
    const dot = (d: Float32Array) => d.reduce((a, v, i) => a + v * w[i], 0);
    // Box inactive: the closed forms |b|/‖w‖₁ (ℓ∞) and |b|/‖w‖₂ (ℓ2).
    const dInf = projectOnHyperplane('linf', w, b, base);
    expect(dot(dInf)).toBeCloseTo(b, 6);
    expect(Math.max(...dInf.map(Math.abs))).toBeCloseTo(Math.abs(b) / l1, 6);
    const d2 = projectOnHyperplane('l2', w, b, base);
    expect(dot(d2)).toBeCloseTo(b, 6);
    expect(Math.sqrt(d2.reduce((a, v) => a + v * v, 0))).toBeCloseTo(Math.abs(b) / l2, 6);
    // Box active: still on the hyperplane, and base + δ stays in [0, 1].
    const edge = Float32Array.from({ length: 16 }, (_, i) => (i % 2 ? 0 : 1));
    const dBox = projectOnHyperplane('linf', w, 0.5, edge);
    expect(dot(dBox)).toBeCloseTo(0.5, 5);
    expect(dBox.every((v, i) => edge[i] + v >= 0 && edge[i] + v <= 1)).toBe(true);
  });

  it('returns its best point inside the ε ball, not the minimal-norm one on the boundary', async () => {
    // Two classes; the boundary is at ℓ∞ distance m/‖w0 − w1‖₁ from x0, the deepest point of the ball at margin m − ε‖w0 − w1‖₁.
    const clf = new LinearClassifier([linear.w[0], linear.w[1]], [0.2, 0]);
    const x0 = new Float32Array(16).fill(0.5);
    const d = clf.w[0].map((v, i) => v - clf.w[1][i]);
    const margin = clf.z(x0)[0] - clf.z(x0)[1];
    const distance = margin / d.reduce((a, v) => a + Math.abs(v), 0);
    const eps = 1.5 * distance;
    // confirm 0: no early stop, the whole budget (what a randomized classifier gets until an iterate is confirmed).
    const found = await new Fab({ iterations: 10 }).run(x0, 0, { classifier: clf, threat: { norm: 'linf', eps }, rng: new Random(4), confirm: 0 });
    expect(found.success).toBe(true);
    const z = clf.z(found.adv);
    expect(z[1]).toBeGreaterThan(z[0]);
    expect(Math.max(...found.adv.map((v, i) => Math.abs(v - x0[i])))).toBeLessThanOrEqual(eps + 1e-6);
    // Well past the boundary: the minimal-norm adversarial has a margin loss of about 0, the deepest point 0.5·m.
    expect(z[1] - z[0]).toBeGreaterThan(0.2 * margin);
    // Below the distance nothing exists to find.
    const none = await new Fab({ iterations: 10 }).run(x0, 0, { classifier: clf, threat: { norm: 'linf', eps: 0.9 * distance }, rng: new Random(4) });
    expect(none.success).toBe(false);
  });
});

describe('every attack stays in the threat model', () => {
  for (const norm of ['linf', 'l2'] as const) {
    it(`never leaves the ε ball or [0, 1] (${norm}), even from pixels at 0 and 1`, async () => {
      const x0 = Float32Array.from({ length: 16 }, (_, i) => (i % 4 === 0 ? 0 : i % 4 === 1 ? 1 : 0.3 + 0.02 * i));
      const threat = { norm, eps: norm === 'linf' ? 8 / 255 : 0.5 };
      for (const a of attacks()) {
        const watch = new Watch(linear, x0, threat);
        const r = await a.run(x0, 0, { classifier: watch, threat, rng: new Random(2) });
        expect(inThreat(threat, r.adv, x0), a.name).toBe(true);
        expect(watch.seen.length, a.name).toBeGreaterThan(0);
      }
    });
  }
});

describe('Square needs no gradient', () => {
  it('breaks an easy linear model with scores only', async () => {
    const noGrad = new LinearClassifier(linear.w, [0.05, 0, 0, 0]);
    noGrad.gradient = () => Promise.reject(new Error('no gradients here'));
    const x0 = new Float32Array(16).fill(0.5);
    const r = await new Square({ queries: 300 }).run(x0, 0, { classifier: noGrad, threat: { norm: 'linf', eps: 0.1 }, rng: new Random(3) });
    expect(r.success).toBe(true);
    expect(
      (await noGrad.logits({ data: r.adv, dims: [1, 1, 4, 4] })).data.indexOf(Math.max(...(await noGrad.logits({ data: r.adv, dims: [1, 1, 4, 4] })).data)),
    ).not.toBe(0);
  });
});

describe('APGD against PGD on a small network', () => {
  let cnn: NetworkClassifier;
  beforeAll(async () => {
    const network = CnnConfig.parse({ arch: 'cnn', widths: [8, 16], numClasses: 10, image: { channels: 3, height: 8, width: 8 } });
    cnn = new NetworkClassifier(await OrtEngine.create({ threads: 1 }), network, initWeights(buildClassifierGraph(network), 5));
  });

  it('with a fixed seed, APGD reaches at least PGD’s loss (within a margin)', async () => {
    const threat = { norm: 'linf' as const, eps: 2 / 255 };
    let apgdWins = 0;
    for (let s = 0; s < 4; s++) {
      const r = new Random(10 + s);
      const x0 = Float32Array.from({ length: 192 }, () => r.uniform());
      const label = (await cnn.logits({ data: x0, dims: [1, 3, 8, 8] })).data.reduce((b, v, i, a) => (v > a[b] ? i : b), 0);
      const ctx = { classifier: cnn, threat, rng: new Random(s) };
      const loss = async (x: Float32Array) => lossAndGrad('ce', (await cnn.logits({ data: x, dims: [1, 3, 8, 8] })).data, label).value;
      const pgd = await new Pgd({ steps: 20, loss: 'ce' }).run(x0, label, ctx);
      const apgd = await new Apgd({ loss: 'ce', iterations: 20 }).run(x0, label, ctx);
      const [lp, la] = [await loss(pgd.adv), await loss(apgd.adv)];
      expect(la).toBeGreaterThanOrEqual(lp - 0.05 * Math.abs(lp) - 1e-3);
      if (la >= lp) apgdWins++;
    }
    expect(apgdWins).toBeGreaterThanOrEqual(2);
  });

  it('EOT averages gradients over draws', async () => {
    const eot = new EotClassifier(cnn, 3);
    const x = { data: new Float32Array(192).fill(0.5), dims: [1, 3, 8, 8] };
    const a = await eot.gradient(x, (l) => l.map((_, i) => (i === 0 ? 1 : 0)), new Random(0));
    const b = await cnn.gradient(x, (l) => l.map((_, i) => (i === 0 ? 1 : 0)));
    // A deterministic network: the average of identical draws is the gradient itself.
    a.grad.data.forEach((v, i) => expect(v).toBeCloseTo(b.grad.data[i], 5));
  });
});

/**
 * A randomized two-class linear classifier: logits W·x + b plus fresh N(0, τ²) noise on every call
 * (drawn from the caller's generator), like the DC. Counts its calls.
 */
class NoisyLinear extends StubClassifier {
  forwardCalls = 0;
  gradientCalls = 0;
  constructor(
    readonly base: LinearClassifier,
    readonly tau: number,
  ) {
    super({ stochastic: true, imageDims: [1, 4, 4] });
  }
  get numClasses() {
    return this.base.numClasses;
  }
  private noisy(x: Float32Array, rng: Random): Float32Array {
    const z = this.base.z(x);
    return z.map((v) => v + this.tau * rng.gaussian());
  }
  async logits(p: Tensor, rng: Random): Promise<Tensor> {
    this.forwardCalls++;
    return { data: this.noisy(p.data, rng), dims: [1, this.numClasses] };
  }
  async gradient(p: Tensor, cot: (l: Float32Array) => Float32Array, rng: Random) {
    this.gradientCalls++;
    const z = this.noisy(p.data, rng);
    const { grad } = await this.base.gradient(p, () => cot(z));
    return { logits: z, grad };
  }
}

/** Φ(x), the standard normal distribution function (Abramowitz–Stegun 7.1.26, error < 1.5e-7). */
function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp((-x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

describe('no early return on a noisy success', () => {
  // Margin 0.5 at x0 against noise of std τ√2 = 1.41 on it: one draw misclassifies x0 itself 36 % of
  // the time. The corner of the ε ball sits at margin ≈ −4.5, where fresh draws misclassify for sure.
  const base = new LinearClassifier([linear.w[0], linear.w[1]], [0, 0]);
  const x0 = new Float32Array(16).fill(0.5);
  const d = base.w[1].map((v, i) => v - base.w[0][i]);
  const l1 = d.reduce((a, v) => a + Math.abs(v), 0);
  base.b[0] = 0.5 - (base.z(x0)[0] - base.z(x0)[1]);
  const eps = 5 / l1;
  const marginOf = (x: Float32Array) => base.z(x)[0] - base.z(x)[1];

  for (const make of [() => new Apgd({ loss: 'ce', iterations: 10 }), () => new Pgd({ steps: 10 }), () => new Square({ queries: 60 })]) {
    it(`${make().name} returns a point that fresh draws misclassify, not the first noisy success`, async () => {
      let misclassified = 0;
      for (let seed = 0; seed < 20; seed++) {
        const clf = new NoisyLinear(base, 1);
        const attack = make();
        const seen = attack.name === 'square' ? new FixedNoiseClassifier(clf, seed) : clf;
        const r = await attack.run(x0, 0, { classifier: seen, judge: clf, threat: { norm: 'linf', eps }, rng: new Random(seed) });
        expect(r.success).toBe(true);
        // Stopping at the first noisy success would often return a point near the start (margin ≈ 0.5,
        // correct on 64 % of fresh draws); the answer is past the boundary every time.
        expect(marginOf(r.adv), `seed ${seed}`).toBeLessThan(0);
        misclassified += normalCdf(-marginOf(r.adv) / Math.SQRT2);
      }
      // The chance that a fresh draw misclassifies the answer, averaged over the 20 runs.
      expect(misclassified / 20).toBeGreaterThan(0.8);
    });
  }

  it('confirms with forward passes only, and never stops early with confirm 0', async () => {
    const clf = new NoisyLinear(base, 1);
    const r = await new Apgd({ loss: 'ce', iterations: 10 }).run(x0, 0, { classifier: clf, threat: { norm: 'linf', eps }, rng: new Random(1), confirm: 3 });
    expect(r.confirmed).toBe(true);
    expect(clf.gradientCalls).toBeLessThan(11);
    // The last three queries were the confirmation draws: forward passes, all misclassifying.
    expect(clf.forwardCalls).toBeGreaterThanOrEqual(3);
    expect(r.queries).toBe(clf.gradientCalls + clf.forwardCalls);
    const never = new NoisyLinear(base, 1);
    const all = await new Apgd({ loss: 'ce', iterations: 10, restarts: 2 }).run(x0, 0, {
      classifier: never,
      threat: { norm: 'linf', eps },
      rng: new Random(1),
      confirm: 0,
    });
    expect(all.confirmed).toBe(false);
    expect(never.gradientCalls).toBe(2 * 11);
    expect(never.forwardCalls).toBe(0);
    expect(all.success).toBe(true);
    expect(marginOf(all.adv)).toBeLessThan(-2);
  });

  it('on a deterministic classifier the first misclassified iterate is confirmed at no cost', async () => {
    const clf = new LinearClassifier([linear.w[0], linear.w[1]], [base.b[0], 0]);
    const r = await new Apgd({ loss: 'ce', iterations: 10 }).run(x0, 0, { classifier: clf, threat: { norm: 'linf', eps }, rng: new Random(1) });
    expect(r.confirmed).toBe(true);
    expect(r.queries).toBe(clf.gradientCalls);
    expect(clf.gradientCalls).toBeLessThan(11);
  });

  it('FGSM reads success off the adversarial logits', async () => {
    const clf = new LinearClassifier([linear.w[0], linear.w[1]], [base.b[0], 0]);
    const far = await new Fgsm().run(x0, 0, { classifier: clf, threat: { norm: 'linf', eps }, rng: new Random(1) });
    expect(marginOf(far.adv)).toBeLessThan(0);
    expect(far.success).toBe(true);
    const near = await new Fgsm().run(x0, 0, { classifier: clf, threat: { norm: 'linf', eps: eps / 100 }, rng: new Random(1) });
    expect(marginOf(near.adv)).toBeGreaterThan(0);
    expect(near.success).toBe(false);
  });
});

describe('EOT and fixed noise on a stochastic classifier', () => {
  /** Logits fixed; gradient μ + σ·n with fresh standard normal n per call. */
  class NoisyGradient extends StubClassifier {
    readonly numClasses = 3;
    calls = 0;
    constructor() {
      super({ stochastic: true, imageDims: [1, 4, 4] });
    }
    readonly mu = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
    async logits(_p: Tensor, rng: Random): Promise<Tensor> {
      this.calls++;
      return { data: Float32Array.of(1 + rng.gaussian(), 0, -1), dims: [1, 3] };
    }
    async gradient(p: Tensor, _cot: (l: Float32Array) => Float32Array, rng: Random) {
      this.calls++;
      return { logits: Float32Array.of(1, 0, -1), grad: { data: this.mu.map((m) => m + 2 * rng.gaussian()), dims: p.dims } };
    }
  }

  it('EOT takes k draws per call and the variance of the averaged gradient falls as 1/k', async () => {
    const x = { data: new Float32Array(16).fill(0.5), dims: [1, 1, 4, 4] };
    const reps = 400;
    const variance: Record<number, number> = {};
    for (const k of [1, 4, 16]) {
      const stub = new NoisyGradient();
      const eot = new EotClassifier(stub, k);
      const rng = new Random(k);
      const sum = new Float64Array(16);
      const sq = new Float64Array(16);
      for (let r = 0; r < reps; r++) {
        const g = (await eot.gradient(x, (l) => l, rng)).grad.data;
        g.forEach((v, i) => ((sum[i] += v), (sq[i] += v * v)));
      }
      expect(stub.calls).toBe(reps * k);
      // Unbiased: the mean is μ within 5 standard errors.
      sum.forEach((s, i) => expect(Math.abs(s / reps - stub.mu[i])).toBeLessThan(5 * Math.sqrt(4 / k / reps)));
      variance[k] = sq.reduce((a, s, i) => a + (s - (sum[i] * sum[i]) / reps) / (reps - 1), 0) / 16;
      // σ² = 4: the averaged gradient has variance 4/k (the estimate is within ±2 % here; ±15 % allowed).
      expect(variance[k] * k).toBeGreaterThan(4 * 0.85);
      expect(variance[k] * k).toBeLessThan(4 * 1.15);
    }
    expect(variance[1] / variance[16]).toBeGreaterThan(16 * 0.75);
  });

  it('FixedNoiseClassifier averages the same m draws on every call', async () => {
    const stub = new NoisyGradient();
    const x = { data: new Float32Array(16).fill(0.5), dims: [1, 1, 4, 4] };
    const fixed = new FixedNoiseClassifier(stub, 7, 4);
    expect(fixed.stochastic).toBe(false);
    const a = (await fixed.logits(x)).data;
    const b = (await fixed.logits(x)).data;
    expect(Array.from(a)).toEqual(Array.from(b));
    const rng = new Random(7);
    let m = 0;
    for (let i = 0; i < 4; i++) m += (await stub.logits(x, rng)).data[0];
    expect(a[0]).toBeCloseTo(m / 4, 6);
    expect(stub.calls).toBe(12);
  });
});

describe('robust-accuracy evaluation', () => {
  const images = Array.from({ length: 6 }, (_, i) => Float32Array.from({ length: 16 }, (_, j) => 0.2 + (0.6 * (((i + 1) * (j + 3)) % 7)) / 7));
  const labels = images.map((x) => linear.z(x).reduce((b, v, i, a) => (v > a[b] ? i : b), 0));
  const run = (
    o: { classifier?: Classifier; log?: JsonlLog<ImageRecord>; onAttack?: (i: number) => void; recheck?: number; keep?: number; cascade?: 'single' } = {},
  ) =>
    evaluateRobustness({
      classifier: o.classifier ?? linear,
      attacks: [new Apgd({ loss: 'ce', iterations: 5 }), new Square({ queries: 20 })],
      threat: { norm: 'linf', eps: 0.02 },
      images: (p) => ({ data: images[p], dims: [1, 1, 4, 4] }),
      labels,
      indices: labels.map((_, i) => 100 + i),
      seed: 3,
      recheck: o.recheck ?? 3,
      log: o.log,
      onAttack: o.onAttack,
      keepAdversarial: o.keep,
      cascade: o.cascade,
    });

  it('the re-check rules: the first draw, the majority, all of them', () => {
    expect(correctUnder('single', [1, 0, 0], 1)).toBe(true);
    expect(correctUnder('majority', [1, 0, 0], 1)).toBe(false);
    expect(correctUnder('majority', [1, 0, 1], 1)).toBe(true);
    expect(correctUnder('majority', [1, 0, 1, 0], 1)).toBe(false);
    expect(correctUnder('all', [1, 1, 0], 1)).toBe(false);
    expect(correctUnder('all', [1, 1, 1], 1)).toBe(true);
    expect(correctUnder('single', [], 1)).toBe(false);
  });

  it('counts an image robust only if it is clean and every attack failed; on a deterministic model the null attack is clean accuracy', async () => {
    const s = await run();
    expect(s.clean.rate).toBe(1);
    for (const rule of RECHECK_RULES) {
      const r = s.rules[rule];
      expect(r.nullAttack).toEqual(r.clean);
      expect(r.worstCase.correct).toBe(s.records.filter((rec) => isRobust(rec, ['apgd-ce', 'square'], rule)).length);
      expect(r.worstCase.correct).toBeLessThanOrEqual(Math.min(...Object.values(r.attacks).map((a) => a.correct)));
    }
    // The linear model falls to APGD on some images, and not on others: the figure is informative.
    expect(s.worstCase.correct).toBeGreaterThan(0);
    expect(s.worstCase.correct).toBeLessThan(6);
    expect(s.worstCase.ci95[0]).toBeLessThanOrEqual(s.worstCase.rate);
    expect(s.attacks['apgd-ce'].meanLinf).toBeLessThanOrEqual(0.02 + 1e-6);
    expect(s.nullDraws).toBe(2 * 3);
  });

  it('a cascade (protocol standard) runs each attack only on the images the earlier ones left correct: the same worst case, cumulative per-attack rows', async () => {
    const all = await run();
    const cascade = await run({ cascade: 'single' });
    // The same APGD runs (same seeds): the same images fall to it, and Square never runs on them.
    const fell = cascade.records.filter((r) => r.attacks['apgd-ce'] && !correctUnder('single', r.attacks['apgd-ce'].predictions, r.label));
    expect(fell.length).toBeGreaterThan(0);
    for (const r of fell) {
      expect(r.attacks.square?.from).toBe('apgd-ce');
      expect(r.attacks.square?.queries).toBe(0);
    }
    for (const r of cascade.records.filter((x) => !fell.includes(x))) expect(r.attacks.square?.from).toBeUndefined();
    expect(cascade.worstCase.correct).toBe(cascade.attacks.square.correct);
    expect(cascade.attacks.square.correct).toBeLessThanOrEqual(cascade.attacks['apgd-ce'].correct);
    expect(cascade.attacks['apgd-ce']).toEqual(all.attacks['apgd-ce']);
    expect(cascade.worstCase.correct).toBeGreaterThanOrEqual(all.worstCase.correct);
  });

  it('on a randomized classifier the null attack re-checks the clean image with the worst case’s draws', async () => {
    const noisy = new NoisyLinear(linear, 0.3);
    const s = await run({ classifier: noisy, recheck: 5 });
    for (const rec of s.records) {
      if (rec.nullPredictions.length === 0) continue;
      expect(rec.nullPredictions.length).toBe(2);
      for (const p of rec.nullPredictions) expect(p.length).toBe(5);
    }
    for (const rule of RECHECK_RULES) expect(s.rules[rule].nullAttack.correct).toBeLessThanOrEqual(s.rules[rule].clean.correct);
    expect(s.rules.all.nullAttack.correct).toBeLessThanOrEqual(s.rules.single.nullAttack.correct);
  });

  it('a resumed run attacks only the images missing from the log, after cutting a torn last line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rdc-attack-'));
    let attacked = 0;
    // The report's example grid keeps the first images' adversarials: they come back from the log too.
    const straight = await run({ log: new JsonlLog(join(dir, 'a.jsonl')), onAttack: () => attacked++, keep: 2 });
    expect(straight.adversarial.map((a) => a.index)).toEqual([100, 101]);
    expect(attacked).toBe(6);
    // Interrupted after 3 images, in the middle of writing the fourth.
    const lines = readFileSync(join(dir, 'a.jsonl'), 'utf8').trim().split('\n');
    writeFileSync(join(dir, 'b.jsonl'), `${lines.slice(0, 3).join('\n')}\n${lines[3].slice(0, 20)}`);
    const warnings: string[] = [];
    const redone: number[] = [];
    const resumed = await run({ log: new JsonlLog(join(dir, 'b.jsonl'), (m) => warnings.push(m)), onAttack: (i) => redone.push(i), keep: 2 });
    expect(redone).toEqual([103, 104, 105]);
    expect(warnings.join()).toMatch(/torn last line/);
    const strip = (s: typeof straight) =>
      JSON.stringify({
        ...s,
        secondsPerImage: 0,
        records: s.records.map((r) => ({
          ...r,
          seconds: 0,
          attacks: Object.fromEntries(Object.entries(r.attacks).map(([k, a]) => [k, a && { ...a, seconds: 0 }])),
        })),
      });
    expect(strip(resumed)).toBe(strip(straight));
    expect(resumed.adversarial.map((a) => Array.from(a.adv['apgd-ce']))).toEqual(straight.adversarial.map((a) => Array.from(a.adv['apgd-ce'])));
    const after = readFileSync(join(dir, 'b.jsonl'), 'utf8');
    expect(after.endsWith('\n')).toBe(true);
    const indices = after
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as ImageRecord).index);
    expect(indices).toEqual([100, 101, 102, 103, 104, 105]);
    // Read again: nothing torn, nothing redone.
    let again = 0;
    await run({ log: new JsonlLog(join(dir, 'b.jsonl'), (m) => warnings.push(m)), onAttack: () => again++ });
    expect(again).toBe(0);
    expect(warnings.length).toBe(1);
  });
});
