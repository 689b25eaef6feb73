/** Sums and means over axes (the mean over a symbolic axis counts its elements at run time in its gradient). */
import { normAxis } from '../graph/shapes.js';
import { attrInt, attrInts } from '../onnx/emitter.js';
import type { OpDef, OpTable } from './types.js';
import { reshapeTo, sameShape } from './vjp-helpers.js';

const shape: OpDef<'reduceSum' | 'reduceMean'>['shape'] = (n, s) => {
  const axes = n.axes.map((a) => normAxis(a, s[0].length, n.op));
  if (n.keepDims) return s[0].map((d, i) => (axes.includes(i) ? 1 : d));
  return s[0].filter((_, i) => !axes.includes(i));
};

const vjp: OpDef<'reduceSum' | 'reduceMean'>['vjp'] = ({ b, dy, x }, n) => {
  const rank = x[0].shape.length;
  const axes = n.axes.map((a) => (a < 0 ? a + rank : a));
  const keep = x[0].shape.map((d, i) => (axes.includes(i) ? 1 : d));
  let g = n.keepDims ? dy : reshapeTo(b, dy, keep);
  if (n.op === 'reduceMean') {
    if (axes.every((a) => typeof x[0].shape[a] === 'number')) {
      g = b.mul(g, 1 / axes.reduce((p, a) => p * (x[0].shape[a] as number), 1));
    } else {
      // A symbolic axis (the batch): count its elements at run time.
      const ones = b.node({ op: 'expandLike', inputs: [b.scalar(1).name, x[0].name] });
      g = b.div(g, b.reduceSum(ones, axes, true));
    }
  }
  return [sameShape(g.shape, x[0].shape) ? g : b.node({ op: 'expandLike', inputs: [g.name, x[0].name] })];
};

export const REDUCE: OpTable<'reduceSum' | 'reduceMean'> = {
  reduceSum: {
    shape,
    vjp,
    onnx: (e, n) => void e.emit('ReduceSum', [n.inputs[0], e.int64(n.axes)], n.output, [attrInt('keepdims', n.keepDims ? 1 : 0)]),
    tfjs: (c, n) => ({ t: c.tf.sum(c.nchw(c.get(n.inputs[0])), n.axes, n.keepDims), nhwc: false }),
  },
  reduceMean: {
    shape,
    vjp,
    onnx: (e, n) => void e.emit('ReduceMean', n.inputs, n.output, [attrInts('axes', n.axes), attrInt('keepdims', n.keepDims ? 1 : 0)]),
    tfjs: (c, n) => ({ t: c.tf.mean(c.nchw(c.get(n.inputs[0])), n.axes, n.keepDims), nhwc: false }),
  },
};
