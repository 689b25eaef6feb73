/** Normalisations: GroupNorm (NCHW, per-channel scale and bias), softmax and log-softmax along an axis. */
import { normAxis } from '../graph/shapes.js';
import type { V } from '../graph/types.js';
import { attrFloat, attrInt } from '../onnx/emitter.js';
import type { OpTable, Tf, TfTensor } from './types.js';

function groupnormNhwc(tf: Tf, x: TfTensor, gamma: TfTensor, beta: TfTensor, groups: number, eps: number): TfTensor {
  const [n, h, w, c] = x.shape;
  const xg = tf.reshape(x, [n, h * w, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 3], true);
  const y = tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(tf.reshape(y, [n, h, w, c]), gamma), beta);
}

function softmaxAxis(tf: Tf, x: TfTensor, axis: number): TfTensor {
  const a = axis < 0 ? axis + x.rank : axis;
  if (a === x.rank - 1) return tf.softmax(x);
  const m = tf.max(x, a, true);
  const e = tf.exp(tf.sub(x, m));
  return tf.div(e, tf.sum(e, a, true));
}

export const NORM: OpTable<'groupnorm' | 'softmax' | 'logsoftmax'> = {
  groupnorm: {
    shape: (n, s) => {
      const c = s[0][1];
      if (typeof c !== 'number' || c % n.groups) throw new Error(`groupnorm: ${c} channels do not split into ${n.groups} groups`);
      if (s[1].length !== 1 || s[1][0] !== c || s[2].length !== 1 || s[2][0] !== c) throw new Error(`groupnorm: scale/bias must be [${c}]`);
      return [...s[0]];
    },
    vjp: ({ b, dy, x, needs }, n) => {
      // With x̂ the normalized input, ĝ = γ·dy: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), the means over
      // each group. The group means come from per-channel sums S = Σ dy·x̂ and D = Σ dy (which also give
      // dγ and dβ), so the full-size work is x̂, dy·x̂ and one combination pass.
      const [xv, gamma] = x;
      const [, c, h, w] = xv.shape as number[];
      const g = n.groups;
      const cg = c / g;
      const hw = h * w;
      const xg = b.reshape(xv, [0, g, cg * hw]);
      const mean = b.reduceMean(xg, [2], true);
      const centered = b.sub(xg, mean);
      const rstd = b.div(1, b.sqrt(b.add(b.reduceMean(b.square(centered), [2], true), n.eps))); // [N, G, 1]
      const xhat = b.reshape(b.mul(centered, rstd), [0, g, cg, hw]);
      const dy4 = b.reshape(dy, [0, g, cg, hw]);
      const sums = needs(0) || needs(1) ? b.reduceSum(b.mul(dy4, xhat), [3], true) : null; // S [N, G, cg, 1]
      const dsum = needs(0) || needs(2) ? b.reduceSum(dy4, [3], true) : null; // D [N, G, cg, 1]
      const out: (V | null)[] = [null, null, null];
      if (needs(1)) out[1] = b.reshape(b.reduceSum(sums!, [0], false), [c]);
      if (needs(2)) out[2] = b.reshape(b.reduceSum(dsum!, [0], false), [c]);
      if (needs(0)) {
        const g4 = b.reshape(gamma, [g, cg, 1]);
        const r4 = b.reshape(rstd, [0, g, 1, 1]);
        const a = b.mul(b.reduceSum(b.mul(dsum!, g4), [2], true), 1 / (cg * hw)); // mean(ĝ) [N, G, 1, 1]
        const m = b.mul(b.reduceSum(b.mul(sums!, g4), [2], true), 1 / (cg * hw)); // mean(ĝ·x̂)
        const dx = b.sub(b.sub(b.mul(dy4, b.mul(r4, g4)), b.mul(xhat, b.mul(r4, m))), b.mul(r4, a));
        out[0] = b.reshape(dx, [0, c, h, w]);
      }
      return out;
    },
    onnx: (e, n) => {
      const [x, gamma, beta] = n.inputs;
      const grouped = e.tmp('Reshape', [x, e.int64([0, n.groups, -1])]);
      const normed = e.tmp(
        'InstanceNormalization',
        [grouped, e.float(new Array(n.groups).fill(1), [n.groups]), e.float(new Array(n.groups).fill(0), [n.groups])],
        [attrFloat('epsilon', n.eps)],
      );
      const back = e.tmp('Reshape', [normed, e.tmp('Shape', [x])]);
      const cShape = e.int64([-1, 1, 1]);
      const scaled = e.tmp('Mul', [back, e.tmp('Reshape', [gamma, cShape])]);
      e.emit('Add', [scaled, e.tmp('Reshape', [beta, cShape])], n.output);
    },
    tfjs: (c, n) => ({
      t: groupnormNhwc(c.tf, c.nhwc(c.get(n.inputs[0])), c.get(n.inputs[1]).t, c.get(n.inputs[2]).t, n.groups, n.eps),
      nhwc: true,
    }),
  },
  softmax: {
    shape: (n, s) => {
      normAxis(n.axis, s[0].length, 'softmax');
      return [...s[0]];
    },
    vjp: ({ b, dy, y }, n) => [b.mul(y, b.sub(dy, b.reduceSum(b.mul(dy, y), [n.axis], true)))],
    onnx: (e, n) => void e.emit('Softmax', n.inputs, n.output, [attrInt('axis', n.axis)]),
    tfjs: (c, n) => ({ t: softmaxAxis(c.tf, c.nchw(c.get(n.inputs[0])), n.axis), nhwc: false }),
  },
  logsoftmax: {
    shape: (n, s) => {
      normAxis(n.axis, s[0].length, 'logsoftmax');
      return [...s[0]];
    },
    vjp: ({ b, dy, y }, n) => [b.sub(dy, b.mul(b.exp(y), b.reduceSum(dy, [n.axis], true)))],
    onnx: (e, n) => void e.emit('LogSoftmax', n.inputs, n.output, [attrInt('axis', n.axis)]),
    tfjs: (c, n) => {
      const x = c.nchw(c.get(n.inputs[0]));
      const a = n.axis < 0 ? n.axis + x.rank : n.axis;
      if (a !== x.rank - 1) throw new Error('tfjs evaluator: logsoftmax over a non-last axis is not supported');
      return { t: c.tf.logSoftmax(x), nhwc: false };
    },
  },
};
