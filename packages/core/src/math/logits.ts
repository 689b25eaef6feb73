/**
 * Row-wise softmax and argmax of [N, K] logit buffers.
 *
 * @example
 * const p = softmax(logits, 10);
 * const top = argmax(logits, 10)[0];
 */

/** Row-wise softmax of a [N, K] buffer. */
export function softmax(logits: ArrayLike<number>, k: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / k; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[r * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(logits[r * k + j] - max);
    for (let j = 0; j < k; j++) out[r * k + j] = Math.exp(logits[r * k + j] - max) / s;
  }
  return out;
}

/** Row-wise argmax of a [N, K] buffer. */
export function argmax(logits: ArrayLike<number>, k: number): Int32Array {
  const n = logits.length / k;
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[r * k + j] > logits[r * k + best]) best = j;
    out[r] = best;
  }
  return out;
}
