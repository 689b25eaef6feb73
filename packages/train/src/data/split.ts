import { Random } from '@rdc/core';

/**
 * A seeded train/validation split of the training batches (the test batch is never part of it:
 * it is for reporting, not tuning). The same seed and size always give the same split.
 *
 * @example
 * const { train, val } = trainValSplit(30_000, 1_000, 0);
 */
export function trainValSplit(n: number, valSize: number, seed: number): { train: Int32Array; val: Int32Array } {
  if (!Number.isInteger(valSize) || valSize < 0 || valSize >= n) throw new Error(`split: validation size ${valSize} must be in [0, ${n})`);
  const perm = new Random(seed).permutation(n);
  const val = perm.slice(0, valSize).sort();
  const train = perm.slice(valSize).sort();
  return { train, val };
}
