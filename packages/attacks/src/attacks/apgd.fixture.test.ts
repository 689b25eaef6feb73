import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Random, type Tensor } from '@rdc/core/runtime';
import { sharedFixture } from '@rdc/core/testing';
import { describe, expect, it } from 'vitest';
import type { AttackContext } from '../attack.js';
import { StubClassifier } from '../testing.js';
import { Apgd, type ApgdTrace } from './apgd.js';

/**
 * APGD against AutoAttack's own traces (../shared/fixtures/apgd, see its README): a fixed tanh
 * network, 64 inputs, APGD-CE, APGD-DLR and APGD-T (3 targets) at 8/255 and 16/255, 20 iterations,
 * from AutoAttack's captured start points.
 */
const dir = sharedFixture('apgd');

interface ArrayRef {
  file: string;
  dtype: 'float32' | 'int32';
  shape: number[];
}
interface PerImage {
  image: number;
  trusted_prefix_evals: number;
  fooled: boolean;
}
interface SingleRunIndex {
  target_class_rank: number | null;
  n_attacked: number;
  arrays: Record<string, ArrayRef>;
  per_image: PerImage[];
}
interface RunIndex {
  kind: 'untargeted' | 'targeted';
  eps: number;
  robust_final: ArrayRef;
  single_runs: SingleRunIndex[];
}
interface Index {
  model: { arrays: Record<'W1' | 'b1' | 'W2' | 'b2', ArrayRef> };
  inputs: Record<'x' | 'y' | 'clean_logits', ArrayRef> & { initially_correct: number[] };
  runs: Record<string, RunIndex>;
}

function load(ref: ArrayRef): Float32Array | Int32Array {
  const b = readFileSync(join(dir!, ref.file));
  const buf = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return ref.dtype === 'int32' ? new Int32Array(buf) : new Float32Array(buf);
}
const f32 = (ref: ArrayRef) => load(ref) as Float32Array;
const i32 = (ref: ArrayRef) => load(ref) as Int32Array;

/** f(x) = W2·tanh(W1·x + b1) + b2 in float32 (each dot product rounded once), with its exact input gradient. */
class TanhNet extends StubClassifier {
  readonly numClasses = 10;
  constructor(
    readonly W1: Float32Array,
    readonly b1: Float32Array,
    readonly W2: Float32Array,
    readonly b2: Float32Array,
  ) {
    super({ stochastic: false, imageDims: [3, 8, 8] });
  }
  private forward(x: Float32Array): { h: Float32Array; z: Float32Array } {
    const h = new Float32Array(32);
    for (let j = 0; j < 32; j++) {
      let s = 0;
      for (let i = 0; i < 192; i++) s += this.W1[j * 192 + i] * x[i];
      h[j] = Math.tanh(Math.fround(Math.fround(s) + this.b1[j]));
    }
    const z = new Float32Array(10);
    for (let k = 0; k < 10; k++) {
      let s = 0;
      for (let j = 0; j < 32; j++) s += this.W2[k * 32 + j] * h[j];
      z[k] = Math.fround(s) + this.b2[k];
    }
    return { h, z };
  }
  async logits(p: Tensor): Promise<Tensor> {
    return { data: this.forward(p.data).z, dims: [1, 10] };
  }
  async gradient(p: Tensor, cotangent: (l: Float32Array) => Float32Array) {
    const { h, z } = this.forward(p.data);
    const c = cotangent(z);
    const a = new Float64Array(32);
    for (let j = 0; j < 32; j++) {
      let s = 0;
      for (let k = 0; k < 10; k++) s += this.W2[k * 32 + j] * c[k];
      a[j] = s * (1 - h[j] * h[j]);
    }
    const g = new Float32Array(192);
    for (let i = 0; i < 192; i++) {
      let s = 0;
      for (let j = 0; j < 32; j++) s += this.W1[j * 192 + i] * a[j];
      g[i] = s;
    }
    return { logits: z, grad: { data: g, dims: p.dims } };
  }
}

/**
 * The number of leading evaluations of our run that no near-tie of ours can have changed: after
 * evaluation e, the next iterate depends on comparisons of its loss with earlier ones (and 0) and on
 * the signs of its gradient. A loss within 4 float32 ulps of an earlier one, or a gradient component
 * below 1e-6 of the largest, is a near-tie: iterates after it may differ by rounding alone.
 */
function nearTiePrefix(t: ApgdTrace): number {
  for (let e = 0; e < t.loss.length; e++) {
    const l = t.loss[e];
    const ulp = 4 * Math.max(Math.abs(l), 1e-30) * 2 ** -23;
    if ([0, ...t.loss.slice(1, e)].some((o) => o !== l && Math.abs(o - l) <= ulp)) return e + 1;
    const g = t.grad[e];
    const max = g.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    if (g.some((v) => v !== 0 && Math.abs(v) < 1e-6 * max)) return e + 1;
  }
  return t.loss.length;
}

const LOSS = { 'apgd-ce': 'ce', 'apgd-dlr': 'dlr', 'apgd-t': 'dlr-t' } as const;

describe.skipIf(!dir)('APGD exactly as AutoAttack (fixture traces)', () => {
  const index = dir ? (JSON.parse(readFileSync(join(dir, 'apgd-traces.json'), 'utf8')) as Index) : null;
  const m = index?.model.arrays;
  const net = m ? new TanhNet(f32(m.W1), f32(m.b1), f32(m.W2), f32(m.b2)) : null;
  const xs = index ? f32(index.inputs.x) : new Float32Array();
  const ys = index ? i32(index.inputs.y) : new Int32Array();
  const image = (i: number) => xs.subarray(i * 192, (i + 1) * 192);
  const ctx = (eps: number, confirm?: number): AttackContext => ({ classifier: net!, threat: { norm: 'linf', eps }, rng: new Random(0), confirm });

  it('the network reproduces the clean logits (within 1e-5)', async () => {
    const clean = f32(index!.inputs.clean_logits);
    for (let i = 0; i < 64; i++) {
      const z = (await net!.logits({ data: image(i), dims: [1, 3, 8, 8] })).data;
      for (let k = 0; k < 10; k++) expect(Math.abs(z[k] - clean[i * 10 + k])).toBeLessThan(1e-5);
    }
  });

  for (const name of ['apgd-ce.eps8', 'apgd-dlr.eps8', 'apgd-t.eps8', 'apgd-ce.eps16', 'apgd-dlr.eps16', 'apgd-t.eps16']) {
    it(`${name}: from AutoAttack's start, the same iterates, step sizes and losses over each trusted prefix, and the same fooled images`, async () => {
      const run = index!.runs[name];
      const loss = LOSS[name.split('.')[0] as keyof typeof LOSS];
      const apgd = new Apgd({ loss, iterations: 20, restarts: 1, targets: 3 });
      let compared = 0;
      const cut: number[] = [];
      let trustedTotal = 0;
      for (const s of run.single_runs) {
        const idx = i32(s.arrays.idx);
        const start = f32(s.arrays.x_start);
        const xEval = f32(s.arrays.x_eval);
        const lossStart = f32(s.arrays.loss_start);
        const losses = f32(s.arrays.loss);
        const steps = f32(s.arrays.step_size);
        const fooled = i32(s.arrays.fooled);
        const yTarget = s.arrays.y_target ? i32(s.arrays.y_target) : null;
        for (let r = 0; r < idx.length; r++) {
          const i = idx[r];
          const target = yTarget ? yTarget[r] : undefined;
          if (yTarget) {
            // AutoAttack's target rule: the 2nd, 3rd, 4th largest clean logit.
            const clean = (await net!.logits({ data: image(i), dims: [1, 3, 8, 8] })).data;
            expect(apgd.targetClasses(clean, ys[i])[s.target_class_rank! - 2]).toBe(target);
          }
          const trace: ApgdTrace = { xEval: [], loss: [], logits: [], grad: [], stepSize: [], resetBeforeStep: [] };
          // Never stop early: the whole trace, as AutoAttack runs it.
          const out = await apgd.singleRun(image(i), ys[i], ctx(run.eps, 0), { target, start: start.subarray(r * 192, (r + 1) * 192), trace });
          expect(out.fooled, `image ${i}: fooled`).toBe(fooled[r] === 1);
          expect(trace.xEval.length).toBe(21);
          // Our own float32 rounding differs from torch's (another summation order), so our run has
          // near-ties of its own (the fixture README's two causes): compare up to the first of them too.
          const ours = nearTiePrefix(trace);
          if (ours < s.per_image[r].trusted_prefix_evals) cut.push(i);
          const trusted = Math.min(s.per_image[r].trusted_prefix_evals, ours);
          trustedTotal += s.per_image[r].trusted_prefix_evals;
          for (let e = 0; e < trusted; e++) {
            const want = xEval.subarray((r * 21 + e) * 192, (r * 21 + e + 1) * 192);
            expect(Array.from(trace.xEval[e]), `image ${i}, evaluation ${e}: iterate`).toEqual(Array.from(want));
            const wantLoss = e === 0 ? lossStart[r] : losses[r * 20 + e - 1];
            expect(Math.abs(trace.loss[e] - wantLoss), `image ${i}, evaluation ${e}: loss`).toBeLessThan(1e-5 * Math.max(1, Math.abs(wantLoss)));
            if (e > 0) expect(trace.stepSize[e - 1], `image ${i}, step ${e - 1}: step size`).toBe(steps[r * 20 + e - 1]);
            compared++;
          }
        }
      }
      // Our own near-ties cut few traces short: over 90 % of AutoAttack's trusted evaluations are compared (91–99 % by run).
      expect(compared / trustedTotal, `traces cut short by our near-ties: images ${cut.join(', ')}`).toBeGreaterThan(0.9);
    });

    it(`${name}: Apgd.run from AutoAttack's starts gives AutoAttack's robust accuracy, image by image`, async () => {
      const run = index!.runs[name];
      const loss = LOSS[name.split('.')[0] as keyof typeof LOSS];
      const want = i32(run.robust_final);
      const starts = run.single_runs.map((s) => ({ idx: Array.from(i32(s.arrays.idx)), x: f32(s.arrays.x_start) }));
      const apgd = new Apgd({ loss, iterations: 20, restarts: 1, targets: 3 });
      const correct = new Set(index!.inputs.initially_correct);
      let robust = 0;
      for (let i = 0; i < 64; i++) {
        let ok = correct.has(i);
        if (ok) {
          // The default confirmation rule (one draw of a deterministic network, free): stop at the first misclassified iterate.
          const r = await apgd.run(image(i), ys[i], ctx(run.eps), (t) => {
            const s = starts[t];
            const row = s.idx.indexOf(i);
            expect(row, `image ${i} is attacked by single run ${t}`).toBeGreaterThanOrEqual(0);
            return s.x.subarray(row * 192, (row + 1) * 192);
          });
          ok = !r.success;
          if (r.success) expect(r.confirmed).toBe(true);
        }
        expect(ok ? 1 : 0, `image ${i}`).toBe(want[i]);
        robust += ok ? 1 : 0;
      }
      expect(robust / 64).toBeCloseTo(want.reduce((a, b) => a + b, 0) / 64, 10);
    });
  }
});
