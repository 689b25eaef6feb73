/**
 * Ops that move values without arithmetic: transpose, reshape, concat, repeat, slice, and the
 * reverse pass's padAxis (slice's gradient) and expandLike (a broadcast to another value's shape).
 */
import { broadcastShapes, formatShape, monomial, normAxis, reshapeShape, toDim } from '../graph/shapes.js';
import type { Dim } from '../graph/types.js';
import { attrInt, attrInts } from '../onnx/emitter.js';
import type { OpTable } from './types.js';
import { reshapeTo, unbroadcast } from './vjp-helpers.js';

/** Logical NCHW axis → physical NHWC axis. */
const NHWC_AXIS = [0, 3, 1, 2];

/** Resolves ONNX reshape semantics (0 copies, −1 infers) against a concrete shape. */
function concreteShape(input: readonly number[], target: readonly number[]): number[] {
  return target.map((t, i) => (t === 0 ? input[i] : t));
}

export const LAYOUT: OpTable<'transpose' | 'reshape' | 'concat' | 'repeat' | 'slice' | 'padAxis' | 'expandLike'> = {
  transpose: {
    shape: (n, s) => {
      if (n.perm.length !== s[0].length) throw new Error(`transpose: perm ${formatShape(n.perm)} does not fit rank ${s[0].length}`);
      return n.perm.map((p) => s[0][p]);
    },
    vjp: ({ b, dy }, n) => {
      const inv = new Array<number>(n.perm.length);
      n.perm.forEach((p, i) => (inv[p] = i));
      return [b.transpose(dy, inv)];
    },
    onnx: (e, n) => void e.emit('Transpose', n.inputs, n.output, [attrInts('perm', n.perm)]),
    tfjs: (c, n) => ({ t: c.tf.transpose(c.nchw(c.get(n.inputs[0])), n.perm), nhwc: false }),
  },
  reshape: {
    shape: (n, s) => reshapeShape(s[0], n.shape),
    vjp: ({ b, dy, x }) => [reshapeTo(b, dy, x[0].shape)],
    onnx: (e, n) => void e.emit('Reshape', [n.inputs[0], e.int64(n.shape)], n.output),
    tfjs: (c, n) => {
      const x = c.nchw(c.get(n.inputs[0]));
      return { t: c.tf.reshape(x, concreteShape(x.shape, n.shape)), nhwc: false };
    },
  },
  concat: {
    shape: (n, s) => {
      const axis = normAxis(n.axis, s[0].length, 'concat');
      let total: Dim = 0;
      for (const sh of s) {
        if (sh.length !== s[0].length) throw new Error(`concat: ranks differ: ${s.map(formatShape).join(', ')}`);
        sh.forEach((d, i) => {
          if (i !== axis && d !== s[0][i]) throw new Error(`concat: shapes ${s.map(formatShape).join(', ')} differ off axis ${axis}`);
        });
        const d = sh[axis];
        total = typeof total === 'number' && typeof d === 'number' ? total + d : `${total}+${d}`;
      }
      const out = [...s[0]];
      out[axis] = total;
      return out;
    },
    vjp: ({ b, dy, x, needs }, n) => {
      const axis = n.axis < 0 ? n.axis + x[0].shape.length : n.axis;
      let start = 0;
      return x.map((xi, i) => {
        const d = xi.shape[axis] as number;
        const r = needs(i) ? b.slice(dy, axis, start, start + d) : null;
        start += d;
        return r;
      });
    },
    onnx: (e, n) => void e.emit('Concat', n.inputs, n.output, [attrInt('axis', n.axis)]),
    tfjs: (c, n) => {
      const vals = n.inputs.map(c.get);
      const axis = n.axis < 0 ? n.axis + vals[0].t.rank : n.axis;
      if (vals[0].t.rank === 4 && vals.some((v) => v.nhwc)) return { t: c.tf.concat(vals.map(c.nhwc), NHWC_AXIS[axis]), nhwc: true };
      return { t: c.tf.concat(vals.map(c.nchw), axis), nhwc: false };
    },
  },
  repeat: {
    shape: (n, s) => {
      if (!Number.isInteger(n.times) || n.times < 1) throw new Error(`repeat: times must be a positive integer, got ${n.times}`);
      const m = monomial(s[0][0]);
      return [toDim({ k: m.k * n.times, syms: m.syms }), ...s[0].slice(1)];
    },
    // The copies' gradients summed: [t·n, …] → [t, n, …] → Σ over t.
    vjp: ({ b, dy, x }, n) => [reshapeTo(b, b.reduceSum(b.reshape(dy, [n.times, -1, ...(x[0].shape.slice(1) as number[])]), [0]), x[0].shape)],
    onnx: (e, n, shapeOf) => void e.emit('Tile', [n.inputs[0], e.int64([n.times, ...new Array(shapeOf(n.inputs[0]).length - 1).fill(1)])], n.output),
    tfjs: (c, n) => {
      const v = c.get(n.inputs[0]);
      return { t: c.tf.tile(v.t, [n.times, ...new Array(v.t.rank - 1).fill(1)]), nhwc: v.nhwc };
    },
  },
  slice: {
    shape: (n, s) => {
      const axis = normAxis(n.axis, s[0].length, 'slice');
      const d = s[0][axis];
      if (typeof d !== 'number' || n.start < 0 || n.end > d || n.start >= n.end)
        throw new Error(`slice: [${n.start}, ${n.end}) is not inside axis ${axis} of ${formatShape(s[0])}`);
      const out = [...s[0]];
      out[axis] = n.end - n.start;
      return out;
    },
    vjp: ({ b, dy, x }, n) => {
      const axis = n.axis < 0 ? n.axis + x[0].shape.length : n.axis;
      const d = x[0].shape[axis] as number;
      return [b.node({ op: 'padAxis', inputs: [dy.name], axis, before: n.start, after: d - n.end })];
    },
    onnx: (e, n) => void e.emit('Slice', [n.inputs[0], e.int64([n.start]), e.int64([n.end]), e.int64([n.axis])], n.output),
    tfjs: (c, n) => {
      const x = c.nchw(c.get(n.inputs[0]));
      const begin = x.shape.map(() => 0);
      const size = x.shape.map(() => -1);
      const axis = n.axis < 0 ? n.axis + x.rank : n.axis;
      begin[axis] = n.start;
      size[axis] = n.end - n.start;
      return { t: c.tf.slice(x, begin, size), nhwc: false };
    },
  },
  padAxis: {
    shape: (n, s) => {
      const axis = normAxis(n.axis, s[0].length, 'padAxis');
      const d = s[0][axis];
      if (typeof d !== 'number') throw new Error(`padAxis: axis ${axis} of ${formatShape(s[0])} must be static`);
      const out = [...s[0]];
      out[axis] = d + n.before + n.after;
      return out;
    },
    vjp: ({ b, dy, x }, n) => {
      const axis = n.axis < 0 ? n.axis + x[0].shape.length : n.axis;
      return [b.slice(dy, axis, n.before, n.before + (x[0].shape[axis] as number))];
    },
    onnx: (e, n, shapeOf) => {
      const r = shapeOf(n.inputs[0]).length;
      const axis = n.axis < 0 ? n.axis + r : n.axis;
      const pads = new Array(2 * r).fill(0);
      pads[axis] = n.before;
      pads[r + axis] = n.after;
      e.emit('Pad', [n.inputs[0], e.int64(pads)], n.output);
    },
    tfjs: (c, n) => {
      const x = c.nchw(c.get(n.inputs[0]));
      const axis = n.axis < 0 ? n.axis + x.rank : n.axis;
      const pads = x.shape.map((_, i) => (i === axis ? [n.before, n.after] : [0, 0]) as [number, number]);
      return { t: c.tf.pad(x, pads), nhwc: false };
    },
  },
  expandLike: {
    shape: (_n, s) => {
      broadcastShapes(s[0], s[1]);
      return [...s[1]];
    },
    vjp: ({ b, dy, x, needs }) => [needs(0) ? unbroadcast(b, dy, x[0].shape) : null, null],
    onnx: (e, n) => void e.emit('Expand', [n.inputs[0], e.tmp('Shape', [n.inputs[1]])], n.output),
    tfjs: (c, n) => {
      const like = c.nchw(c.get(n.inputs[1]));
      return { t: c.tf.broadcastTo(c.nchw(c.get(n.inputs[0])), like.shape), nhwc: false };
    },
  },
};
