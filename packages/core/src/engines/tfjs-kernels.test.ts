import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Random } from '../rng/random.js';
import { relativeError } from '../tensor.js';
import { initTfjs } from './tfjs-backend.js';

/** Input and filter gradients of Σ (conv(x, w) ⊙ r) on the active backend. */
async function convGrads(xs: number[], x: Float32Array, ws: number[], w: Float32Array, r: Float32Array, pad: number | 'same' | 'valid') {
  const xt = tf.tensor4d(x, xs as [number, number, number, number]);
  const wt = tf.tensor4d(w, ws as [number, number, number, number]);
  const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.sum(tf.mul(tf.conv2d(a, b, 1, pad), tf.tensor(r, tf.conv2d(a, b, 1, pad).shape)));
  const [gx, gw] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([xt, wt]);
  const out = { gx: (await gx.data()) as Float32Array, gw: (await gw.data()) as Float32Array };
  tf.dispose([xt, wt, gx, gw]);
  return out;
}

describe('wasm convolution gradient kernels', () => {
  for (const [k, pad] of [
    [3, 1],
    [1, 0],
    [3, 'same'],
    [3, 'valid'],
  ] as const) {
    it(`match the cpu backend (k=${k}, pad=${pad})`, async () => {
      const rng = new Random(k);
      const xs = [3, 6, 5, 4];
      const ws = [k, k, 4, 7];
      const x = rng.normal(xs.reduce((a, b) => a * b));
      const w = rng.normal(ws.reduce((a, b) => a * b));
      const out = (n: number) => (pad === 'valid' ? n - k + 1 : pad === 'same' ? n : n + 2 * pad - k + 1);
      const [outH, outW] = [out(6), out(5)];
      const r = rng.normal(3 * outH * outW * 7);
      await initTfjs('cpu');
      const ref = await convGrads(xs, x, ws, w, r, pad);
      await initTfjs('wasm');
      const got = await convGrads(xs, x, ws, w, r, pad);
      expect(relativeError(got.gx, ref.gx)).toBeLessThan(1e-5);
      expect(relativeError(got.gw, ref.gw)).toBeLessThan(1e-5);
    });
  }

  it('refuses strided convolutions clearly', async () => {
    await initTfjs('wasm');
    const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
    const w = tf.ones([3, 3, 1, 1]) as tf.Tensor4D;
    expect(() => tf.grad((a: tf.Tensor) => tf.sum(tf.conv2d(x, a as tf.Tensor4D, 2, 'same')))(w)).toThrow(/stride 1/);
  });
});
