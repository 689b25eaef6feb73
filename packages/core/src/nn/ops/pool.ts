/**
 * Max pooling (ONNX MaxPool: windows of any size, stride and padding, the padding never a window's
 * maximum) and its input gradient, which sends each window's gradient to its first maximum in
 * row-major order, as PyTorch and ONNX Runtime do. (Average pooling needs no op of its own: the
 * importer writes it as a grouped convolution with a constant filter.)
 */
import { formatShape } from '../graph/shapes.js';
import type { Dim, PoolGeometry, Shape } from '../graph/types.js';
import { attrInt, attrInts, attrString, onnx, type Emitter } from '../onnx/emitter.js';
import { dilateNhwc, type Tensor4D } from './tfjs-nhwc.js';
import type { OpTable, Tf, TfTensor } from './types.js';

function pooledShape(op: string, n: PoolGeometry, s: Shape): Dim[] {
  const [b, c, h, w] = s;
  if (s.length !== 4 || typeof h !== 'number' || typeof w !== 'number') throw new Error(`${op}: needs NCHW with static H, W, got ${formatShape(s)}`);
  const [kh, kw] = n.kernel;
  const [sh, sw] = n.stride;
  const [t, l, bo, r] = n.pads;
  if (Math.max(t, bo) >= kh || Math.max(l, r) >= kw) throw new Error(`${op}: padding ${formatShape(n.pads)} must be smaller than the ${kh}×${kw} window`);
  const ho = Math.floor((h + t + bo - kh) / sh) + 1;
  const wo = Math.floor((w + l + r - kw) / sw) + 1;
  if (ho < 1 || wo < 1) throw new Error(`${op}: a ${kh}×${kw} window does not fit ${formatShape(s)}`);
  return [b, c, ho, wo];
}

const poolAttrs = (n: PoolGeometry) => [attrInts('kernel_shape', n.kernel), attrInts('strides', n.stride), attrInts('pads', n.pads)];

/** x padded with −∞ (NHWC). */
function padNegInf(tf: Tf, x: Tensor4D, [t, l, b, r]: PoolGeometry['pads']): Tensor4D {
  return t || l || b || r
    ? tf.pad(
        x,
        [
          [0, 0],
          [t, b],
          [l, r],
          [0, 0],
        ],
        -Infinity,
      )
    : x;
}

/** ONNX: the indices of MaxPool's maxima (flat over the whole input), and dy added at them into zeros. */
function emitMaxpoolGrad(e: Emitter, dy: string, x: string, out: string, n: PoolGeometry): void {
  const indices = e.fresh('maxpool_indices');
  e.nodes.push({ opType: 'MaxPool', input: [x], output: [e.fresh('maxpool_values'), indices], name: e.fresh('MaxPool'), attribute: poolAttrs(n) });
  const flat = e.int64([-1]);
  const shape = e.tmp('Shape', [x]);
  const zeros = e.tmp(
    'ConstantOfShape',
    [e.tmp('ReduceProd', [shape], [attrInt('keepdims', 1)])],
    [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { dataType: 1, dims: [1], floatData: [0] } }],
  );
  const scattered = e.tmp(
    'ScatterElements',
    [zeros, e.tmp('Reshape', [indices, flat]), e.tmp('Reshape', [dy, flat])],
    [attrInt('axis', 0), attrString('reduction', 'add')],
  );
  e.emit('Reshape', [scattered, shape], out);
}

/**
 * tfjs: for each window offset in row-major order, the outputs whose maximum sits there and was not
 * taken by an earlier offset receive dy, placed back at that offset with the stride's gaps.
 */
function tfMaxpoolGrad(tf: Tf, dy: Tensor4D, x: Tensor4D, n: PoolGeometry): Tensor4D {
  const [t, l, b, r] = n.pads;
  const xp = padNegInf(tf, x, n.pads);
  const y = tf.maxPool(xp, n.kernel, n.stride, 'valid');
  const [, ho, wo] = y.shape;
  const [N, hp, wp, C] = xp.shape;
  const [sh, sw] = n.stride;
  const spanH = (ho - 1) * sh + 1;
  const spanW = (wo - 1) * sw + 1;
  let taken: TfTensor = tf.zerosLike(y);
  let dx: TfTensor = tf.zeros(xp.shape);
  for (let a = 0; a < n.kernel[0]; a++) {
    for (let c = 0; c < n.kernel[1]; c++) {
      const window = tf.stridedSlice(xp, [0, a, c, 0], [N, a + spanH, c + spanW, C], [1, sh, sw, 1]);
      const mask = tf.mul(tf.cast(tf.equal(window, y), 'float32'), tf.sub(1, taken));
      taken = tf.add(taken, mask);
      // Gaps of the stride, then the offset: the contribution at its place in the padded input.
      const placed = dilateNhwc(tf, tf.mul(mask, dy) as Tensor4D, [sh, sw]);
      dx = tf.add(
        dx,
        tf.pad(placed, [
          [0, 0],
          [a, hp - a - spanH],
          [c, wp - c - spanW],
          [0, 0],
        ]),
      );
    }
  }
  return (t || l || b || r ? tf.slice(dx, [0, t, l, 0], [N, hp - t - b, wp - l - r, C]) : dx) as Tensor4D;
}

export const POOL: OpTable<'maxpool' | 'maxpoolGrad'> = {
  maxpool: {
    shape: (n, s) => pooledShape('maxpool', n, s[0]),
    vjp: ({ b, dy, x }, n) => [b.node({ op: 'maxpoolGrad', inputs: [dy.name, x[0].name], kernel: n.kernel, stride: n.stride, pads: n.pads })],
    onnx: (e, n) => void e.emit('MaxPool', n.inputs, n.output, poolAttrs(n)),
    // The gradient as maxpoolGrad's (tfjs's wasm backend has no max-pooling gradient kernel).
    tfjs: (c, n) => {
      const { tf } = c;
      const f = tf.customGrad((...args: unknown[]) => {
        const [x, save] = args as [Tensor4D, (t: TfTensor[]) => void];
        save([x]);
        return {
          value: tf.maxPool(padNegInf(tf, x, n.pads), n.kernel, n.stride, 'valid'),
          gradFunc: (dy, saved) => tfMaxpoolGrad(tf, dy as Tensor4D, saved[0] as Tensor4D, n),
        };
      });
      return { t: f(c.nhwc(c.get(n.inputs[0]))), nhwc: true };
    },
  },
  maxpoolGrad: {
    shape: (n, [dy, x]) => {
      const expected = pooledShape('maxpoolGrad', n, x);
      if (formatShape(dy) !== formatShape(expected)) throw new Error(`maxpoolGrad: dy ${formatShape(dy)} is not the pooled shape ${formatShape(expected)}`);
      return [...x];
    },
    vjp: () => {
      throw new Error('maxpool: second-order gradients through max pooling are not implemented');
    },
    onnx: (e, n) => emitMaxpoolGrad(e, n.inputs[0], n.inputs[1], n.output, n),
    tfjs: (c, n) => ({ t: tfMaxpoolGrad(c.tf, c.nhwc(c.get(n.inputs[0])), c.nhwc(c.get(n.inputs[1])), n), nhwc: true }),
  },
};
