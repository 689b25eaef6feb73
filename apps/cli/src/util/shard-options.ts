import type { Command, OptionValues } from '@commander-js/extra-typings';
import { resolveShard, selectImages, shardIndices, type Selection, type Shard } from '@rdc/attacks';
import { parseIntArg } from './parse.js';

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
