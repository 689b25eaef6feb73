/**
 * Log-sum-exp, row-wise softmax and argmax of [N, K] logit buffers: the one implementation that
 * probabilities, cross-entropies (calibration, learned weights, the attacks' CE loss) and predictions use.
 *
 * @example
 * const p = softmax(logits, 10);
 * const top = argmax(logits, 10)[0];
 * const nll = logSumExp(row) - row[label];
 */

/** ln Σ_j exp(scale·v_j) over v[from..to), the largest term shifted out (no overflow). */
export function logSumExp(v: ArrayLike<number>, from = 0, to = v.length, scale = 1): number {
  let max = -Infinity;
  for (let j = from; j < to; j++) max = Math.max(max, scale * v[j]);
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (let j = from; j < to; j++) s += Math.exp(scale * v[j] - max);
  return max + Math.log(s);
}

/** Row-wise softmax of a [N, K] buffer. */
export function softmax(logits: ArrayLike<number>, k: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / k; r++) {
    const lse = logSumExp(logits, r * k, (r + 1) * k);
    for (let j = 0; j < k; j++) out[r * k + j] = Math.exp(logits[r * k + j] - lse);
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
