/** 2×2 resampling with EDM's [1, 1] filter: average pooling down, nearest-neighbour up (NCHW). */
import { formatShape } from '../graph/shapes.js';
import type { Dim, Shape } from '../graph/types.js';
import { attrInts, attrString } from '../onnx/emitter.js';
import type { OpTable, Tf, TfTensor } from './types.js';

function checked(op: string, s: Shape): [Dim, Dim, number, number] {
  const [n, c, h, w] = s;
  if (s.length !== 4 || typeof h !== 'number' || typeof w !== 'number') throw new Error(`${op}: needs NCHW with static H, W, got ${formatShape(s)}`);
  return [n, c, h, w];
}

/** Nearest-neighbour 2× upsampling (NHWC) with two rank-4 tiles (the cpu backend's resize gradient is wrong for batch > 1). */
function upsampleNhwc(tf: Tf, x: TfTensor): TfTensor {
  const [n, h, w, c] = x.shape;
  const a = tf.tile(tf.reshape(x, [n * h, w, 1, c]), [1, 1, 2, 1]);
  const b = tf.tile(tf.reshape(a, [n, h, 1, 2 * w * c]), [1, 1, 2, 1]);
  return tf.reshape(b, [n, 2 * h, 2 * w, c]);
}

export const RESAMPLE: OpTable<'avgpool2' | 'upsample2'> = {
  avgpool2: {
    shape: (_n, s) => {
      const [n, c, h, w] = checked('avgpool2', s[0]);
      if (h % 2 || w % 2) throw new Error(`avgpool2: H and W must be even, got ${formatShape(s[0])}`);
      return [n, c, h / 2, w / 2];
    },
    vjp: ({ b, dy }) => [b.mul(b.upsample2(dy), 0.25)],
    onnx: (e, n) => void e.emit('AveragePool', n.inputs, n.output, [attrInts('kernel_shape', [2, 2]), attrInts('strides', [2, 2])]),
    tfjs: (c, n) => ({ t: c.tf.avgPool(c.nhwc(c.get(n.inputs[0])), 2, 2, 'valid'), nhwc: true }),
  },
  upsample2: {
    shape: (_n, s) => {
      const [n, c, h, w] = checked('upsample2', s[0]);
      return [n, c, h * 2, w * 2];
    },
    vjp: ({ b, dy }) => [b.mul(b.avgpool2(dy), 4)],
    onnx: (e, n) =>
      void e.emit('Resize', [n.inputs[0], '', e.float([1, 1, 2, 2], [4])], n.output, [
        attrString('mode', 'nearest'),
        attrString('coordinate_transformation_mode', 'asymmetric'),
        attrString('nearest_mode', 'floor'),
      ]),
    tfjs: (c, n) => ({ t: upsampleNhwc(c.tf, c.nhwc(c.get(n.inputs[0]))), nhwc: true }),
  },
};
