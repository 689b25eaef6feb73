/**
 * Convolutions: conv2d (stride 1, symmetric zero padding, optional bias) and the two reverse-pass
 * ops, its input gradient (a plain convolution with the flipped, transposed filter) and its filter
 * gradient (one batched product per kernel offset). Each is linear in each input, so their own
 * gradients are convolutions again (second order).
 */
import { formatShape } from '../graph/shapes.js';
import type { Dim } from '../graph/types.js';
import { emitConv } from '../onnx/conv.js';
import { attrInt, attrInts } from '../onnx/emitter.js';
import type { OpTable, Tf, TfTensor } from './types.js';

/** tfjs conv2d padding for a symmetric spatial pad of an NHWC tensor. */
function nhwcPadding(pad: number): 'valid' | [[number, number], [number, number], [number, number], [number, number]] {
  return pad === 0
    ? 'valid'
    : [
        [0, 0],
        [pad, pad],
        [pad, pad],
        [0, 0],
      ];
}

/** An OIHW filter as tfjs's HWIO. */
const hwio = (tf: Tf, w: TfTensor) => tf.transpose(w, [2, 3, 1, 0]) as ReturnType<Tf['tensor4d']>;

export const CONV: OpTable<'conv2d' | 'conv2dInput' | 'conv2dFilter'> = {
  conv2d: {
    shape: (n, s) => {
      const [x, w] = s;
      if (x.length !== 4 || w.length !== 4) throw new Error(`conv2d: needs NCHW input and OIHW filter, got ${formatShape(x)} and ${formatShape(w)}`);
      if (x[1] !== w[1]) throw new Error(`conv2d: input has ${x[1]} channels but the filter expects ${w[1]}`);
      const [kh, kw] = [w[2] as number, w[3] as number];
      const h = (x[2] as number) + 2 * n.pad - kh + 1;
      const ww = (x[3] as number) + 2 * n.pad - kw + 1;
      if (s[2] && (s[2].length !== 1 || s[2][0] !== w[0])) throw new Error(`conv2d: bias shape ${formatShape(s[2])} does not match ${w[0]} output channels`);
      return [x[0], w[0], h, ww];
    },
    vjp: ({ b, dy, x, needs }, n) => {
      const k = x[1].shape[2] as number;
      return [
        needs(0) ? b.node({ op: 'conv2dInput', inputs: [dy.name, x[1].name], pad: n.pad }) : null,
        needs(1) ? b.node({ op: 'conv2dFilter', inputs: [x[0].name, dy.name], pad: n.pad, k }) : null,
        x[2] && needs(2) ? b.reduceSum(dy, [0, 2, 3]) : null,
      ];
    },
    onnx: (e, n, shapeOf) => emitConv(e, n.inputs[0], n.inputs[1], n.inputs[2], n.output, n.pad, shapeOf(n.inputs[1])),
    tfjs: (c, n) => {
      const { tf } = c;
      let y: TfTensor = tf.conv2d(c.nhwc(c.get(n.inputs[0])), hwio(tf, c.get(n.inputs[1]).t), 1, nhwcPadding(n.pad));
      if (n.inputs[2]) y = tf.add(y, c.get(n.inputs[2]).t);
      return { t: y, nhwc: true };
    },
  },
  conv2dInput: {
    shape: (n, [dy, w]) => {
      const k = w[2] as number;
      return [dy[0], w[1], (dy[2] as number) + k - 1 - 2 * n.pad, (dy[3] as number) + k - 1 - 2 * n.pad];
    },
    // dx = convᵀ(dy, w): ⟨g, convᵀ(dy, w)⟩ = ⟨conv(g, w), dy⟩.
    vjp: ({ b, dy, x, needs }, n) => {
      const k = x[1].shape[2] as number;
      return [
        needs(0) ? b.conv2d(dy, x[1], undefined, n.pad) : null,
        needs(1) ? b.node({ op: 'conv2dFilter', inputs: [dy.name, x[0].name], pad: n.pad, k }) : null,
      ];
    },
    onnx: (e, n, shapeOf) => {
      // dx = conv(dy, W′) with W′[i, o] = W[o, i] flipped in space and padding k − 1 − p: a plain
      // convolution, which ONNX Runtime runs much faster than ConvTranspose.
      const w = n.inputs[1];
      const k = shapeOf(w)[2] as number;
      const big = -(2 ** 31);
      const flipped = e.tmp('Slice', [
        e.tmp('Transpose', [w], [attrInts('perm', [1, 0, 2, 3])]),
        e.int64([-1, -1]),
        e.int64([big, big]),
        e.int64([2, 3]),
        e.int64([-1, -1]),
      ]);
      const [o, i] = shapeOf(w) as number[];
      emitConv(e, n.inputs[0], flipped, undefined, n.output, k - 1 - n.pad, [i, o, k, k]);
    },
    tfjs: (c, n) => {
      const dy = c.nhwc(c.get(n.inputs[0]));
      const w = hwio(c.tf, c.get(n.inputs[1]).t);
      const [kh] = w.shape;
      const [b, h, ww] = dy.shape;
      const out: [number, number, number, number] = [b, h + kh - 1 - 2 * n.pad, ww + kh - 1 - 2 * n.pad, w.shape[2]];
      return { t: c.tf.conv2dTranspose(dy, w, out, 1, n.pad === 0 ? 'valid' : n.pad), nhwc: true };
    },
  },
  conv2dFilter: {
    shape: (n, s) => [s[1][1], s[0][1], n.k, n.k],
    // dW(x, e): ⟨G, dW(x, e)⟩ = ⟨conv(x, G), e⟩ = ⟨x, convᵀ(e, G)⟩.
    vjp: ({ b, dy, x, needs }, n) => [
      needs(0) ? b.node({ op: 'conv2dInput', inputs: [x[1].name, dy.name], pad: n.pad }) : null,
      needs(1) ? b.conv2d(x[0], dy, undefined, n.pad) : null,
    ],
    onnx: (e, n, shapeOf) => {
      // dW[o, i, a, b] = Σ_{n, y, x} dy[n, o, y, x]·x_pad[n, i, y + a, x + b]: for each of the k² shifts,
      // a batched product dy [N, O, H·W] × shifted xᵀ [N, H·W, I] (ONNX Runtime fuses the transpose
      // into the product), summed over the batch; no transposed copies of x or dy and no k²-times
      // larger im2col buffer. (Measured against one GEMM per shift over transposed copies: the same
      // or a little faster; shifting whichever of x and dy is smaller saved nothing measurable.)
      const [x, dy] = n.inputs;
      const [, ci, h, w] = shapeOf(x) as [Dim, number, number, number];
      const co = shapeOf(dy)[1] as number;
      const k = n.k;
      const p = n.pad;
      const xp = p > 0 ? e.tmp('Pad', [x, e.int64([0, 0, p, p, 0, 0, p, p])]) : x;
      const hy = h + 2 * p - k + 1;
      const wy = w + 2 * p - k + 1;
      const dyf = e.tmp('Reshape', [dy, e.int64([0, co, hy * wy])]); // [N, O, H·W]
      const flat = e.int64([0, ci, hy * wy]);
      const parts: string[] = [];
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          // The unshifted window of the padded x is x itself: no copy.
          const shifted = a === p && b === p && hy === h && wy === w ? x : e.tmp('Slice', [xp, e.int64([a, b]), e.int64([a + hy, b + wy]), e.int64([2, 3])]);
          const xt = e.tmp('Transpose', [e.tmp('Reshape', [shifted, flat])], [attrInts('perm', [0, 2, 1])]); // [N, H·W, I]
          const g = e.tmp('ReduceSum', [e.tmp('MatMul', [dyf, xt]), e.int64([0])], [attrInt('keepdims', 0)]); // [O, I]
          parts.push(e.tmp('Unsqueeze', [g, e.int64([2])]));
        }
      }
      const all = parts.length > 1 ? e.tmp('Concat', parts, [attrInt('axis', 2)]) : parts[0]; // [O, I, k²]
      e.emit('Reshape', [all, e.int64([co, ci, k, k])], n.output);
    },
    tfjs: (c, n) => {
      const { tf } = c;
      const xt = tf.transpose(c.nhwc(c.get(n.inputs[0])), [3, 1, 2, 0]) as ReturnType<Tf['tensor4d']>; // [I, H, W, N]
      const dyt = tf.transpose(c.nhwc(c.get(n.inputs[1])), [1, 2, 0, 3]) as ReturnType<Tf['tensor4d']>; // [Hy, Wy, N, O]
      const r = tf.conv2d(xt, dyt, 1, nhwcPadding(n.pad)); // [I, k, k, O]
      return { t: tf.transpose(r, [3, 0, 1, 2]), nhwc: false };
    },
  },
};
