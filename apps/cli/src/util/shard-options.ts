import { Option, type Command, type OptionValues } from '@commander-js/extra-typings';
import { resolveShard, selectImages, shardIndices, type Selection, type Shard } from '@rdc/attacks';
import { loadCifar10, modelValidationSplit, type Cifar10 } from '@rdc/train';
import { parseIntArg } from './parse.js';

/** `--split test|val` of eval and attack; `purpose` says what the validation split is for. */
export function splitOption(purpose: string) {
  return new Option('--split <split>', `test: the CIFAR-10 test batch (for reporting); val: the model's held-out training images (for ${purpose})`)
    .choices(['test', 'val'] as const)
    .default('test' as const);
}

/**
 * The images of `--split`: the test batch (only its first `--limit` read when no --range is given)
 * or the model's validation split; `at(p)` maps a position in the split to an index in `data`.
 */
export function splitImages(
  o: { split: 'test' | 'val'; limit?: number; range?: string },
  model: { training?: unknown },
  dataDir: string,
): { data: Cifar10; size: number; at: (p: number) => number } {
  if (o.split === 'test') {
    const data = loadCifar10(dataDir, 'test', { limit: o.range === undefined ? o.limit : undefined });
    return { data, size: data.size, at: (p) => p };
  }
  const { data, indices } = modelValidationSplit(model, dataDir);
  return { data, size: indices.length, at: (p) => indices[p] };
}

/** Whether this process was asked for one shard, by option or environment (its figures are not the whole selection's). */
export function asksForShard(o: { shard?: string; shards?: number }, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(o.shard || o.shards || env.JOB_COMPLETION_INDEX || env.SLURM_ARRAY_TASK_ID);
}

/** The image-selection and sharding options shared by eval and attack. */
export function shardOptions<A extends any[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return cmd
    .option('--range <begin:end>', 'images BEGIN to END-1 of the split instead of the first --limit')
    .option('--shard <I/N>', 'take shard I of N (1-based) of the selected images; merge the shards with rdc merge')
    .option(
      '--shards <n>',
      'shard count for a Kubernetes Indexed Job (the index comes from JOB_COMPLETION_INDEX); Slurm arrays need neither (SLURM_ARRAY_TASK_ID/COUNT)',
      parseIntArg,
    );
}

export interface ShardedSelection {
  selection: Selection;
  shard: Shard | null;
  /** The dataset positions this process takes. */
  indices: number[];
  /** For reports: 'the first 16 images', 'images 0–511, shard 2/8 (one image in 8, from image 1: 64 images)'. */
  label: string;
}

/** Resolves the selection and this process's shard of it, over a split of `size` images. */
export function shardedSelection(o: { limit?: number; range?: string; shard?: string; shards?: number }, size: number): ShardedSelection {
  const selection = selectImages(o, size);
  const shard = resolveShard(o);
  const indices = shardIndices(selection, shard);
  const all = o.range !== undefined ? `images ${selection.begin}–${selection.end - 1}` : `the first ${selection.end} images`;
  const label = shard
    ? `${all}, shard ${shard.index}/${shard.count} (one image in ${shard.count}, from image ${selection.begin + shard.index - 1}: ${indices.length} images)`
    : all;
  return { selection, shard, indices, label };
}

/** The folder of one shard inside the run's folder: shard-002-of-008. */
export function shardFolder(shard: Shard): string {
  const w = String(shard.count).length;
  return `shard-${String(shard.index).padStart(Math.max(3, w), '0')}-of-${String(shard.count).padStart(Math.max(3, w), '0')}`;
}
