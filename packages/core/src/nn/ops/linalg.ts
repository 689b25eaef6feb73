/** Matrix products (batch dimensions broadcast, either operand transposed). */
import { broadcastShapes, formatShape } from '../graph/shapes.js';
import type { V } from '../graph/types.js';
import { attrInts } from '../onnx/emitter.js';
import type { OpTable } from './types.js';
import { unbroadcast } from './vjp-helpers.js';

function sameBatch(a: number[], b: number[]): boolean {
  return a.length === b.length && a.slice(0, -2).every((d, i) => d === b[i]);
}

export const LINALG: OpTable<'matmul'> = {
  matmul: {
    shape: (n, [a, b]) => {
      if (a.length < 2 || b.length < 2) throw new Error(`matmul: needs rank ≥ 2, got ${formatShape(a)} and ${formatShape(b)}`);
      const m = n.transA ? a[a.length - 1] : a[a.length - 2];
      const ka = n.transA ? a[a.length - 2] : a[a.length - 1];
      const kb = n.transB ? b[b.length - 1] : b[b.length - 2];
      const cols = n.transB ? b[b.length - 2] : b[b.length - 1];
      if (ka !== kb) throw new Error(`matmul: inner dimensions differ (${ka} vs ${kb}) for ${formatShape(a)} × ${formatShape(b)}`);
      return [...broadcastShapes(a.slice(0, -2), b.slice(0, -2)), m, cols];
    },
    vjp: ({ b, dy, x, needs }, n) => {
      const [a, bb] = x;
      const { transA: tA, transB: tB } = n;
      let da: V | null = null;
      let db: V | null = null;
      if (needs(0)) da = tA ? (tB ? b.matmul(bb, dy, true, true) : b.matmul(bb, dy, false, true)) : tB ? b.matmul(dy, bb) : b.matmul(dy, bb, false, true);
      if (needs(1)) db = tB ? (tA ? b.matmul(dy, a, true, true) : b.matmul(dy, a, true, false)) : tA ? b.matmul(a, dy) : b.matmul(a, dy, true, false);
      return [da && unbroadcast(b, da, a.shape), db && unbroadcast(b, db, bb.shape)];
    },
    onnx: (e, n, shapeOf) => {
      const t = (name: string): string => {
        const r = shapeOf(name).length;
        const perm = [...Array(r).keys()];
        [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
        return e.tmp('Transpose', [name], [attrInts('perm', perm)]);
      };
      e.emit('MatMul', [n.transA ? t(n.inputs[0]) : n.inputs[0], n.transB ? t(n.inputs[1]) : n.inputs[1]], n.output);
    },
    tfjs: (c, n) => {
      const { tf } = c;
      let a = c.nchw(c.get(n.inputs[0]));
      let b = c.nchw(c.get(n.inputs[1]));
      // Broadcast batch dimensions explicitly: tf.matMul's gradient does not reduce them back.
      if (a.rank > 2 && b.rank > 2 && !sameBatch(a.shape, b.shape)) {
        const batch = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
        a = tf.broadcastTo(a, [...batch, ...a.shape.slice(-2)]);
        b = tf.broadcastTo(b, [...batch, ...b.shape.slice(-2)]);
      }
      return { t: tf.matMul(a, b, n.transA, n.transB), nhwc: false };
    },
  },
};
