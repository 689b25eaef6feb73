import { beforeAll, describe, expect, it } from 'vitest';
import { OrtEngine } from '../engines/ort.js';
import { Random } from '../rng/random.js';
import type { Tensor } from '../tensor.js';
import { GraphBuilder, type Graph, type V } from './graph/index.js';

/**
 * Every op with a vector–Jacobian rule, alone in a small graph: its reverse pass (run on ONNX
 * Runtime) against central differences of ⟨c, op(inputs)⟩ along random directions, for every input.
 * The reverse-pass ops themselves (conv2dInput, conv2dFilter, padAxis, expandLike) are checked the
 * same way, since second-order gradients differentiate them.
 */
let ort: OrtEngine;
beforeAll(async () => {
  ort = await OrtEngine.create({ threads: 1 });
});

interface InputSpec {
  shape: number[];
  /** Values in [lo, hi] (default: standard normal). */
  range?: [number, number];
}

async function check(build: (g: GraphBuilder, x: Record<string, V>) => V, specs: Record<string, InputSpec>, seed = 1): Promise<void> {
  const g = new GraphBuilder();
  const vals: Record<string, V> = {};
  for (const [name, s] of Object.entries(specs)) vals[name] = g.input(name, s.shape);
  const y = build(g, vals);
  g.output('y', y);
  const graph: Graph = g.build();
  const names = Object.keys(specs);
  const rng = new Random(seed);
  const feeds: Record<string, Tensor> = {};
  for (const [name, s] of Object.entries(specs)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = s.range ? Float32Array.from({ length: n }, () => s.range![0] + (s.range![1] - s.range![0]) * rng.uniform()) : rng.normal(n);
    feeds[name] = { data, dims: s.shape };
  }
  const outShape = graph.shapes[graph.outputs[0].value] as number[];
  const cot: Tensor = { data: rng.normal(outShape.reduce((a, b) => a * b, 1)), dims: outShape };
  const grad = await ort.compileGradient(graph, { of: 'y', wrt: names });
  const fwd = await ort.compile(graph);
  const { grads } = await grad.run(feeds, { cotangent: cot });
  const f = async (fs: Record<string, Tensor>) => (await fwd.run(fs)).y.data.reduce((a, v, i) => a + v * cot.data[i], 0);
  for (const name of names) {
    expect(grads[name].dims, name).toEqual(specs[name].shape);
    const v = rng.normal(feeds[name].data.length);
    const norm = Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    const h = 1e-2 * (specs[name].range ? Math.min(1, (specs[name].range![1] - specs[name].range![0]) / 4) : 1);
    const shifted = (t: number) => ({ ...feeds, [name]: { data: feeds[name].data.map((x, i) => x + (t * v[i]) / norm), dims: feeds[name].dims } });
    const fd = ((await f(shifted(h))) - (await f(shifted(-h)))) / (2 * h);
    const an = grads[name].data.reduce((a, gi, i) => a + (gi * v[i]) / norm, 0);
    const scale = Math.sqrt(grads[name].data.reduce((a, gi) => a + gi * gi, 0));
    expect(Math.abs(an - fd), `d/d${name}: analytic ${an}, finite difference ${fd}`).toBeLessThan(1e-2 * Math.max(Math.abs(fd), 1e-2 * scale) + 1e-5);
  }
}

const X = { shape: [2, 3, 4, 4] };
const POS = { shape: [2, 3, 4, 4], range: [0.5, 2] as [number, number] };

describe('reverse-mode rules against finite differences, op by op', () => {
  it('add, sub, mul, div with broadcasting', async () => {
    const b = { shape: [1, 3, 1, 1] };
    await check((g, x) => g.add(x.a, x.b), { a: X, b });
    await check((g, x) => g.sub(x.a, x.b), { a: X, b });
    await check((g, x) => g.mul(x.a, x.b), { a: X, b });
    await check((g, x) => g.div(x.a, x.b), { a: X, b: { shape: [1, 3, 1, 1], range: [0.5, 2] } });
  });

  it('unary ops: neg, exp, log, sqrt, sigmoid, silu, relu, sin, cos, square', async () => {
    await check((g, x) => g.neg(x.a), { a: X });
    await check((g, x) => g.exp(x.a), { a: X });
    await check((g, x) => g.log(x.a), { a: POS });
    await check((g, x) => g.sqrt(x.a), { a: POS });
    await check((g, x) => g.sigmoid(x.a), { a: X });
    await check((g, x) => g.silu(x.a), { a: X });
    // Away from the kink at 0: values in [0.2, 1] and their negatives.
    await check((g, x) => g.relu(g.mul(x.a, x.s)), { a: { shape: [2, 3, 4, 4], range: [0.2, 1] }, s: { shape: [1, 3, 1, 1], range: [-1, -0.5] } });
    await check((g, x) => g.relu(x.a), { a: { shape: [2, 3, 4, 4], range: [0.2, 1] } });
    await check((g, x) => g.sin(x.a), { a: X });
    await check((g, x) => g.cos(x.a), { a: X });
    await check((g, x) => g.square(x.a), { a: X });
  });

  it('step has a zero gradient (and passes none on)', async () => {
    await check((g, x) => g.add(g.step(x.a), x.b), { a: { shape: [2, 3, 4, 4], range: [0.2, 1] }, b: X });
  });

  it('avgpool2 and upsample2', async () => {
    await check((g, x) => g.avgpool2(x.a), { a: X });
    await check((g, x) => g.upsample2(x.a), { a: X });
  });

  it('conv2d: input, filter and bias; 3×3 padded and 1×1', async () => {
    await check((g, x) => g.conv2d(x.a, x.w, x.b), { a: X, w: { shape: [5, 3, 3, 3] }, b: { shape: [5] } });
    await check((g, x) => g.conv2d(x.a, x.w), { a: X, w: { shape: [4, 3, 1, 1] } });
    await check((g, x) => g.conv2d(x.a, x.w, undefined, 0), { a: X, w: { shape: [2, 3, 3, 3] } });
  });

  it('groupnorm: input, scale and shift', async () => {
    await check((g, x) => g.groupnorm(x.a, x.gamma, x.beta, 2, 1e-6), { a: { shape: [2, 4, 4, 4] }, gamma: { shape: [4] }, beta: { shape: [4] } });
  });

  it('matmul with every transpose flag and a broadcast batch', async () => {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const a = { shape: ta ? [2, 3, 5, 4] : [2, 3, 4, 5] };
      const b = { shape: tb ? [1, 3, 6, 5] : [1, 3, 5, 6] };
      await check((g, x) => g.matmul(x.a, x.b, ta, tb), { a, b });
    }
  });

  it('softmax and logsoftmax', async () => {
    await check((g, x) => g.softmax(x.a, -1), { a: X });
    await check((g, x) => g.softmax(x.a, 1), { a: X });
    await check((g, x) => g.logsoftmax(x.a, -1), { a: X });
  });

  it('transpose, reshape, concat, slice', async () => {
    await check((g, x) => g.transpose(x.a, [0, 2, 3, 1]), { a: X });
    await check((g, x) => g.reshape(x.a, [0, -1]), { a: X });
    await check((g, x) => g.concat([x.a, x.b], 1), { a: X, b: { shape: [2, 2, 4, 4] } });
    await check((g, x) => g.slice(x.a, 2, 1, 3), { a: X });
  });

  it('reduceSum and reduceMean, with and without kept dimensions, over static and symbolic axes', async () => {
    await check((g, x) => g.reduceSum(x.a, [1, 2]), { a: X });
    await check((g, x) => g.reduceMean(x.a, [2, 3], true), { a: X });
    // A symbolic batch axis: the mean's count comes from the run-time shape.
    const g = new GraphBuilder();
    const a = g.input('a', ['N', 3]);
    g.output('y', g.reduceMean(a, [0]));
    const grad = await ort.compileGradient(g.build(), { of: 'y', wrt: ['a'] });
    const r = await grad.run({ a: { data: new Random(2).normal(12), dims: [4, 3] } }, { cotangent: { data: Float32Array.of(1, 2, 3), dims: [3] } });
    expect(Array.from(r.grads.a.data)).toEqual([0.25, 0.5, 0.75, 0.25, 0.5, 0.75, 0.25, 0.5, 0.75, 0.25, 0.5, 0.75]);
  });

  it('the reverse-pass ops: conv2dInput, conv2dFilter, padAxis, expandLike', async () => {
    await check((g, x) => g.node({ op: 'conv2dInput', inputs: [x.dy.name, x.w.name], pad: 1 }), { dy: { shape: [2, 5, 4, 4] }, w: { shape: [5, 3, 3, 3] } });
    await check((g, x) => g.node({ op: 'conv2dFilter', inputs: [x.a.name, x.dy.name], pad: 1, k: 3 }), { a: X, dy: { shape: [2, 5, 4, 4] } });
    await check((g, x) => g.node({ op: 'padAxis', inputs: [x.a.name], axis: 2, before: 1, after: 2 }), { a: X });
    await check((g, x) => g.node({ op: 'expandLike', inputs: [x.a.name, x.b.name] }), { a: { shape: [1, 3, 1, 4] }, b: X });
  });
});
