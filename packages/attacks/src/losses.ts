/**
 * Attack losses on logits (to maximise) and their gradients with respect to the logits, which the
 * classifier turns into input gradients (its cotangent).
 * - `ce`: cross-entropy of softmax(logits / T) with the true label (T: the model's temperature);
 * - `dlr`: AutoAttack's difference-of-logits ratio, −(z_y − max_{i≠y} z_i)/(z_π1 − z_π3 + 1e-12);
 *   scale-invariant, so temperature does not matter;
 * - `dlr-t`: the targeted version toward class t: −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2 + 1e-12).
 *
 * @example
 * const { value, grad } = lossAndGrad('dlr', logits, label);
 */
import { argmax, logSumExp } from '@rdc/core/runtime';

export type LossName = 'ce' | 'dlr' | 'dlr-t';

export interface LossOptions {
  temperature?: number;
  /** Target class for 'dlr-t'. */
  target?: number;
}

function order(z: ArrayLike<number>): number[] {
  return Array.from({ length: z.length }, (_, i) => i).sort((a, b) => z[b] - z[a]);
}

export function lossAndGrad(name: LossName, z: Float32Array, y: number, o: LossOptions = {}): { value: number; grad: Float32Array } {
  const k = z.length;
  const grad = new Float32Array(k);
  if (name === 'ce') {
    const T = o.temperature ?? 1;
    const lse = logSumExp(z, 0, k, 1 / T);
    const value = lse - z[y] / T;
    for (let i = 0; i < k; i++) grad[i] = (Math.exp(z[i] / T - lse) - (i === y ? 1 : 0)) / T;
    return { value, grad };
  }
  const pi = order(z);
  if (name === 'dlr') {
    if (k < 3) throw new Error('the DLR loss needs at least 3 classes');
    const other = pi[0] === y ? pi[1] : pi[0];
    const den = z[pi[0]] - z[pi[2]] + 1e-12;
    const num = z[y] - z[other];
    const value = -num / den;
    // With the label third, num = −(den − 1e-12): the loss is the constant 1 and its gradient exactly
    // 0 (as float32 autograd finds; the 1e-12 would otherwise leave a tiny gradient of random sign).
    if (pi[2] === y) return { value, grad };
    // d(−num/den) = −dnum/den + num·dden/den²
    grad[y] -= 1 / den;
    grad[other] += 1 / den;
    grad[pi[0]] += num / (den * den);
    grad[pi[2]] -= num / (den * den);
    return { value, grad };
  }
  if (k < 4) throw new Error('the targeted DLR loss needs at least 4 classes');
  const t = o.target;
  if (t === undefined || t === y) throw new Error('dlr-t needs a target class other than the label');
  const den = z[pi[0]] - (z[pi[2]] + z[pi[3]]) / 2 + 1e-12;
  const num = z[y] - z[t];
  grad[y] -= 1 / den;
  grad[t] += 1 / den;
  grad[pi[0]] += num / (den * den);
  grad[pi[2]] -= num / (2 * den * den);
  grad[pi[3]] -= num / (2 * den * den);
  return { value: -num / den, grad };
}

/** The predicted class. */
export function predicted(z: ArrayLike<number>): number {
  return argmax(z, z.length)[0];
}

/** The margin z_y − max_{i≠y} z_i: negative exactly when misclassified (Square's and FAB's loss is its negative). */
export function margin(z: ArrayLike<number>, y: number): number {
  let other = -Infinity;
  for (let i = 0; i < z.length; i++) if (i !== y) other = Math.max(other, z[i]);
  return z[y] - other;
}
