/**
 * Convolutions: conv2d (symmetric zero padding, optional bias, stride, dilation and groups) and the
 * two reverse-pass ops, its input gradient (a transposed convolution: for the plain stride-1 case a
 * plain convolution with the flipped, transposed filter) and its filter gradient (one batched
 * product per kernel offset; plain convolutions only, as only the project's own networks train).
 * Each is linear in each input, so their own gradients are convolutions again (second order).
 */
import { formatShape } from '../graph/shapes.js';
import type { ConvGeometry, Dim } from '../graph/types.js';
import { emitConv } from '../onnx/conv.js';
import { attrInt, attrInts, type Emitter } from '../onnx/emitter.js';
import { dilateNhwc, type Tensor4D } from './tfjs-nhwc.js';
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
const hwio = (tf: Tf, w: TfTensor) => tf.transpose(w, [2, 3, 1, 0]) as Tensor4D;

/** Stride, dilation and groups with their defaults. */
function geometry(n: ConvGeometry): { pad: number; stride: number; dilation: number; groups: number } {
  return { pad: n.pad, stride: n.stride ?? 1, dilation: n.dilation ?? 1, groups: n.groups ?? 1 };
}

/** A convolution the fast paths take: stride 1, no dilation, no groups, a square kernel. */
function plain(n: ConvGeometry, w: readonly Dim[]): boolean {
  const g = geometry(n);
  return g.stride === 1 && g.dilation === 1 && g.groups === 1 && w[2] === w[3];
}

function geometryAttrs(n: ConvGeometry): ReturnType<typeof attrInts>[] {
  const g = geometry(n);
  return [
    attrInts('pads', [g.pad, g.pad, g.pad, g.pad]),
    attrInts('strides', [g.stride, g.stride]),
    attrInts('dilations', [g.dilation, g.dilation]),
    attrInt('group', g.groups),
  ];
}

/** One spatial size of a convolution's output. */
const outSize = (size: number, k: number, g: ReturnType<typeof geometry>) => Math.floor((size + 2 * g.pad - g.dilation * (k - 1) - 1) / g.stride) + 1;

/** One spatial size of a transposed convolution's output (the convolution's input size). */
const inSize = (size: number, k: number, g: ReturnType<typeof geometry>, adj: number) => (size - 1) * g.stride - 2 * g.pad + g.dilation * (k - 1) + 1 + adj;

function refuseFilterGradient(n: ConvGeometry, w: readonly Dim[]): void {
  if (!plain(n, w))
    throw new Error(
      'conv2d: the filter gradient of a strided, dilated, grouped or non-square convolution is not implemented (imported networks are not trained here)',
    );
}

/**
 * A convolution in tfjs (NHWC in and out), any geometry: padded first; groups as one depthwise
 * convolution where each group has one input channel, else one convolution per group; a stride and
 * a dilation together (which tfjs refuses) as the dilated convolution subsampled.
 */
function tfConv(tf: Tf, x: Tensor4D, w: TfTensor, n: ConvGeometry): Tensor4D {
  const g = geometry(n);
  const xp = g.pad > 0 ? tf.pad(x, nhwcPadding(g.pad) as [number, number][]) : x;
  const stride = g.dilation > 1 ? 1 : g.stride;
  const [o, ipg, kh, kw] = w.shape as number[];
  let y: Tensor4D;
  if (g.groups === 1) y = tf.conv2d(xp, hwio(tf, w), stride, 'valid', 'NHWC', g.dilation);
  else if (ipg === 1 && g.groups === x.shape[3]) {
    // filter [kh, kw, C, multiplier] from OIHW with O = C·multiplier.
    const f = tf.reshape(tf.transpose(w, [2, 3, 0, 1]), [kh, kw, g.groups, o / g.groups]) as Tensor4D;
    y = tf.depthwiseConv2d(xp, f, stride, 'valid', 'NHWC', g.dilation);
  } else {
    const xs = tf.split(xp, g.groups, 3);
    const ws = tf.split(w, g.groups, 0);
    y = tf.concat(
      xs.map((xi, i) => tf.conv2d(xi as Tensor4D, hwio(tf, ws[i]), stride, 'valid', 'NHWC', g.dilation)),
      3,
    );
  }
  if (g.dilation > 1 && g.stride > 1) y = tf.stridedSlice(y, [0, 0, 0, 0], y.shape, [1, g.stride, g.stride, 1]) as Tensor4D;
  return y;
}

/** Pads (or, where negative, crops) the spatial axes of an NHWC tensor: [top, bottom, left, right]. */
function padOrCrop(tf: Tf, x: Tensor4D, [t, b, l, r]: number[]): Tensor4D {
  const crop = x.shape.map(() => 0);
  const size = [...x.shape];
  crop[1] = Math.max(0, -t);
  crop[2] = Math.max(0, -l);
  size[1] -= crop[1] + Math.max(0, -b);
  size[2] -= crop[2] + Math.max(0, -r);
  const cropped = crop[1] || crop[2] || size[1] !== x.shape[1] || size[2] !== x.shape[2] ? tf.slice(x, crop, size) : x;
  const p = [Math.max(0, t), Math.max(0, b), Math.max(0, l), Math.max(0, r)];
  return p.some((v) => v > 0)
    ? tf.pad(cropped, [
        [0, 0],
        [p[0], p[1]],
        [p[2], p[3]],
        [0, 0],
      ])
    : cropped;
}

/**
 * A transposed convolution in tfjs (NHWC), any geometry, as a stride-1 convolution: dy with zeros
 * inserted between its rows and columns, padded by d·(k − 1) − p (plus `adj` at the end), and the
 * filter flipped and transposed within each group.
 */
function tfConvTranspose(tf: Tf, dy: Tensor4D, w: TfTensor, n: ConvGeometry, adj: [number, number]): Tensor4D {
  const g = geometry(n);
  const [o, ipg, kh, kw] = w.shape;
  const ph = g.dilation * (kh - 1) - g.pad;
  const pw = g.dilation * (kw - 1) - g.pad;
  const z = padOrCrop(tf, dilateNhwc(tf, dy, [g.stride, g.stride]), [ph, ph + adj[0], pw, pw + adj[1]]);
  const wt = tf.reverse(
    tf.reshape(tf.transpose(tf.reshape(w, [g.groups, o / g.groups, ipg, kh, kw]), [0, 2, 1, 3, 4]), [g.groups * ipg, o / g.groups, kh, kw]),
    [2, 3],
  );
  return tfConv(tf, z, wt, { pad: 0, dilation: g.dilation, groups: g.groups });
}

/**
 * `tfConv` with its input gradient given as `tfConvTranspose` (tfjs's wasm backend has no strided,
 * dilated or depthwise input-gradient kernels). The filter gradient is NaN: imported networks are
 * not trained, and a NaN cannot pass for a gradient.
 */
function tfConvWithGradient(tf: Tf, x: Tensor4D, w: TfTensor, n: ConvGeometry): Tensor4D {
  const g = geometry(n);
  const [h, ww] = [x.shape[1], x.shape[2]];
  const [kh, kw] = [w.shape[2] as number, w.shape[3] as number];
  const adj: [number, number] = [(h + 2 * g.pad - g.dilation * (kh - 1) - 1) % g.stride, (ww + 2 * g.pad - g.dilation * (kw - 1) - 1) % g.stride];
  const f = tf.customGrad((...args: unknown[]) => {
    const [xi, wi, save] = args as [Tensor4D, TfTensor, (t: TfTensor[]) => void];
    save([wi]);
    return {
      value: tfConv(tf, xi, wi, n),
      gradFunc: (dy, saved) => [tfConvTranspose(tf, dy as Tensor4D, saved[0], n, adj), tf.fill(saved[0].shape, Number.NaN)],
    };
  });
  return f(x, w) as Tensor4D;
}

/** A node's geometry fields (only those it sets), to copy onto its gradient's node. */
function convFields(n: ConvGeometry): ConvGeometry {
  return { pad: n.pad, ...(n.stride ? { stride: n.stride } : {}), ...(n.dilation ? { dilation: n.dilation } : {}), ...(n.groups ? { groups: n.groups } : {}) };
}

/** ONNX's ConvTranspose for the input gradient of any convolution (its weight layout is the convolution's). */
function emitConvTranspose(e: Emitter, dy: string, w: string, out: string, n: ConvGeometry, adj: [number, number]): void {
  e.emit('ConvTranspose', [dy, w], out, [...geometryAttrs(n), attrInts('output_padding', adj)]);
}

export const CONV: OpTable<'conv2d' | 'conv2dInput' | 'conv2dFilter'> = {
  conv2d: {
    shape: (n, s) => {
      const [x, w] = s;
      const g = geometry(n);
      if (x.length !== 4 || w.length !== 4) throw new Error(`conv2d: needs NCHW input and OIHW filter, got ${formatShape(x)} and ${formatShape(w)}`);
      if (x[1] !== (w[1] as number) * g.groups) throw new Error(`conv2d: input has ${x[1]} channels but the filter expects ${(w[1] as number) * g.groups}`);
      if ((w[0] as number) % g.groups) throw new Error(`conv2d: ${w[0]} output channels do not split into ${g.groups} groups`);
      const [h, ww] = [outSize(x[2] as number, w[2] as number, g), outSize(x[3] as number, w[3] as number, g)];
      if (h < 1 || ww < 1) throw new Error(`conv2d: a ${w[2]}×${w[3]} kernel does not fit the input ${formatShape(x)}`);
      if (s[2] && (s[2].length !== 1 || s[2][0] !== w[0])) throw new Error(`conv2d: bias shape ${formatShape(s[2])} does not match ${w[0]} output channels`);
      return [x[0], w[0], h, ww];
    },
    vjp: ({ b, dy, x, needs }, n) => {
      const g = geometry(n);
      const [h, w] = [x[0].shape[2] as number, x[0].shape[3] as number];
      const [kh, kw] = [x[1].shape[2] as number, x[1].shape[3] as number];
      // Rows and columns at the end that no window reached (strided convolutions).
      const adj: [number, number] = [(h + 2 * g.pad - g.dilation * (kh - 1) - 1) % g.stride, (w + 2 * g.pad - g.dilation * (kw - 1) - 1) % g.stride];
      if (needs(1)) refuseFilterGradient(n, x[1].shape);
      return [
        needs(0) ? b.node({ op: 'conv2dInput', inputs: [dy.name, x[1].name], ...convFields(n), ...(adj[0] || adj[1] ? { adj } : {}) }) : null,
        needs(1) ? b.node({ op: 'conv2dFilter', inputs: [x[0].name, dy.name], pad: n.pad, k: kh }) : null,
        x[2] && needs(2) ? b.reduceSum(dy, [0, 2, 3]) : null,
      ];
    },
    onnx: (e, n, shapeOf) => {
      const w = shapeOf(n.inputs[1]);
      if (plain(n, w)) emitConv(e, n.inputs[0], n.inputs[1], n.inputs[2], n.output, n.pad, w);
      else e.emit('Conv', n.inputs, n.output, geometryAttrs(n));
    },
    tfjs: (c, n) => {
      const { tf } = c;
      const w = c.get(n.inputs[1]).t;
      let y: TfTensor = plain(n, w.shape)
        ? tf.conv2d(c.nhwc(c.get(n.inputs[0])), hwio(tf, w), 1, nhwcPadding(n.pad))
        : tfConvWithGradient(tf, c.nhwc(c.get(n.inputs[0])), w, n);
      if (n.inputs[2]) y = tf.add(y, c.get(n.inputs[2]).t);
      return { t: y, nhwc: true };
    },
  },
  conv2dInput: {
    shape: (n, [dy, w]) => {
      const g = geometry(n);
      const adj = n.adj ?? [0, 0];
      return [dy[0], (w[1] as number) * g.groups, inSize(dy[2] as number, w[2] as number, g, adj[0]), inSize(dy[3] as number, w[3] as number, g, adj[1])];
    },
    // dx = convᵀ(dy, w): ⟨g, convᵀ(dy, w)⟩ = ⟨conv(g, w), dy⟩.
    vjp: ({ b, dy, x, needs }, n) => {
      if (needs(1)) refuseFilterGradient(n, x[1].shape);
      return [
        needs(0) ? b.node({ op: 'conv2d', inputs: [dy.name, x[1].name], ...convFields(n) }) : null,
        needs(1) ? b.node({ op: 'conv2dFilter', inputs: [dy.name, x[0].name], pad: n.pad, k: x[1].shape[2] as number }) : null,
      ];
    },
    onnx: (e, n, shapeOf) => {
      const w = n.inputs[1];
      const ws = shapeOf(w) as number[];
      if (!plain(n, ws)) return emitConvTranspose(e, n.inputs[0], w, n.output, n, n.adj ?? [0, 0]);
      // dx = conv(dy, W′) with W′[i, o] = W[o, i] flipped in space and padding k − 1 − p: a plain
      // convolution, which ONNX Runtime runs much faster than ConvTranspose.
      const k = ws[2];
      const big = -(2 ** 31);
      const flipped = e.tmp('Slice', [
        e.tmp('Transpose', [w], [attrInts('perm', [1, 0, 2, 3])]),
        e.int64([-1, -1]),
        e.int64([big, big]),
        e.int64([2, 3]),
        e.int64([-1, -1]),
      ]);
      const [o, i] = ws;
      emitConv(e, n.inputs[0], flipped, undefined, n.output, k - 1 - n.pad, [i, o, k, k]);
    },
    tfjs: (c, n) => {
      const dy = c.nhwc(c.get(n.inputs[0]));
      const wt = c.get(n.inputs[1]).t;
      if (!plain(n, wt.shape)) return { t: tfConvTranspose(c.tf, dy, wt, n, n.adj ?? [0, 0]), nhwc: true };
      const w = hwio(c.tf, wt);
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
