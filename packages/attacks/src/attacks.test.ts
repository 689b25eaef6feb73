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
import { evaluateRobustness, type ImageRecord } from './eval/robust.js';
import { lossAndGrad } from './losses.js';
import { inThreat, type ThreatModel } from './threat.js';
import { EotClassifier, WrappedClassifier } from './wrappers.js';

/** logits = W·x + b on 1×4×4 images: exact gradients, known optimum. */
class LinearClassifier implements Classifier {
  readonly defense = 'none' as const;
  readonly imageDims = [1, 4, 4] as const;
  readonly temperature = 1;
  readonly settings = {};
  gradientCalls = 0;
  constructor(
    readonly w: Float32Array[],
    readonly b: number[],
  ) {}
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

  it('finds the closest adversarial of a linear model at radius ε', async () => {
    // Two classes; the boundary is at ℓ∞ distance m/‖w0 − w1‖₁ from x0.
    const clf = new LinearClassifier([linear.w[0], linear.w[1]], [0.2, 0]);
    const x0 = new Float32Array(16).fill(0.5);
    const d = clf.w[0].map((v, i) => v - clf.w[1][i]);
    const margin = clf.z(x0)[0] - clf.z(x0)[1];
    const distance = margin / d.reduce((a, v) => a + Math.abs(v), 0);
    const found = await new Fab({ iterations: 10 }).run(x0, 0, { classifier: clf, threat: { norm: 'linf', eps: 1.2 * distance }, rng: new Random(4) });
    expect(found.success).toBe(true);
    const z = clf.z(found.adv);
    expect(z[1]).toBeGreaterThan(z[0]);
    expect(Math.max(...found.adv.map((v, i) => Math.abs(v - x0[i])))).toBeLessThan(1.1 * distance);
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

describe('robust-accuracy evaluation', () => {
  const images = Array.from({ length: 6 }, (_, i) => Float32Array.from({ length: 16 }, (_, j) => 0.2 + (0.6 * (((i + 1) * (j + 3)) % 7)) / 7));
  const labels = images.map((x) => linear.z(x).reduce((b, v, i, a) => (v > a[b] ? i : b), 0));
  const run = (log?: JsonlLog<ImageRecord>, onImage?: (done: number) => void) =>
    evaluateRobustness({
      classifier: linear,
      attacks: [new Apgd({ loss: 'ce', iterations: 5 }), new Square({ queries: 20 })],
      threat: { norm: 'linf', eps: 0.02 },
      images: (p) => ({ data: images[p], dims: [1, 1, 4, 4] }),
      labels,
      indices: labels.map((_, i) => 100 + i),
      seed: 3,
      log,
      onImage,
    });

  it('counts an image robust only if every attack failed, with confidence intervals', async () => {
    const s = await run();
    expect(s.clean.rate).toBe(1);
    for (const r of s.records) expect(r.robust).toBe(Object.values(r.attacks).every((a) => a?.robust));
    expect(s.worstCase.correct).toBeLessThanOrEqual(Math.min(...Object.values(s.attacks).map((a) => a.correct)));
    expect(s.worstCase.ci95[0]).toBeLessThanOrEqual(s.worstCase.rate);
    expect(s.attacks['apgd-ce'].meanLinf).toBeLessThanOrEqual(0.02 + 1e-6);
  });

  it('resuming an interrupted run gives the same report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rdc-attack-'));
    const straight = await run(new JsonlLog(join(dir, 'a.jsonl')));
    // Interrupt after 3 images (simulated: keep the first 3 lines, plus a torn fourth).
    const lines = readFileSync(join(dir, 'a.jsonl'), 'utf8').trim().split('\n');
    writeFileSync(join(dir, 'b.jsonl'), `${lines.slice(0, 3).join('\n')}\n${lines[3].slice(0, 20)}`);
    let redone = 0;
    const resumed = await run(new JsonlLog(join(dir, 'b.jsonl')), () => redone++);
    expect(redone).toBe(6);
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
    expect(
      readFileSync(join(dir, 'b.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('{"index"')).length,
    ).toBeGreaterThanOrEqual(6);
  });
});
