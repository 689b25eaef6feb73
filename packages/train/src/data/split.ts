import { Random } from '@rdc/core';
import { TrainConfig } from '@rdc/core';
import { type Cifar10, loadCifar10 } from './cifar10.js';

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

/**
 * The validation images a model was trained without: its run's split (size and seed from the model's
 * training record) of the training batches in `dir`.
 *
 * @example
 * const { data, indices } = modelValidationSplit(readModelFolder('models/default').config, dataDir);
 */
export function modelValidationSplit(model: { training?: unknown }, dir: string): { data: Cifar10; indices: Int32Array } {
  const data = loadCifar10(dir, 'train');
  const { valSize, seed } = TrainConfig.pick({ valSize: true, seed: true }).parse((model.training as { train?: unknown } | undefined)?.train ?? {});
  return { data, indices: trainValSplit(data.size, valSize, seed).val };
}
