/** NHWC helpers of the tfjs evaluators that move gradients back through strides (transposed convolutions, max pooling). */
import type { Tf } from './types.js';

export type Tensor4D = ReturnType<Tf['tensor4d']>;

/** Zeros inserted between the rows and the columns of an NHWC tensor: (H − 1)·sh + 1 rows, (W − 1)·sw + 1 columns. */
export function dilateNhwc(tf: Tf, x: Tensor4D, [sh, sw]: [number, number]): Tensor4D {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const cols = tf.reshape(
    tf.pad(tf.reshape(x, [n * h, w, 1, c]), [
      [0, 0],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]),
    [n, h, 1, w * sw * c],
  );
  const rows = tf.reshape(
    tf.pad(cols, [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
    ]),
    [n, h * sh, w * sw, c],
  );
  return tf.slice(rows, [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]) as Tensor4D;
}
