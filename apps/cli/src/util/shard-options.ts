import { resolveShard, selectImages, shardIndices, type Selection, type Shard } from '@rdc/attacks';
import { loadCifar10, modelValidationSplit, type Cifar10 } from '@rdc/train';

/**
 * The images of `--split`: the test batch (only its first `--limit` read when no --range is given)
 * or the model's validation split; `at(p)` maps a position in the split to an index in `data`.
 */
export function splitImages(
  o: { split: 'test' | 'val'; limit?: number; range?: string; images?: string },
  model: { training?: unknown },
  dataDir: string,
): { data: Cifar10; size: number; at: (p: number) => number } {
  if (o.split === 'test') {
    const data = loadCifar10(dataDir, 'test', { limit: o.range === undefined && o.images === undefined ? o.limit : undefined });
    return { data, size: data.size, at: (p) => p };
  }
  const { data, indices } = modelValidationSplit(model, dataDir);
  return { data, size: indices.length, at: (p) => indices[p] };
}

/** Whether this process was asked for one shard, by option or environment (its figures are not the whole selection's). */
export function asksForShard(o: { shard?: string; shards?: number }, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(o.shard || o.shards || env.JOB_COMPLETION_INDEX || env.SLURM_ARRAY_TASK_ID);
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
export function shardedSelection(o: { limit?: number; range?: string; images?: string; shard?: string; shards?: number }, size: number): ShardedSelection {
  const selection = selectImages(o, size);
  const shard = resolveShard(o);
  const indices = shardIndices(selection, shard);
  const all = describeSelection(selection);
  const label = shard
    ? `${all}, shard ${shard.index}/${shard.count} (one image in ${shard.count}, from image ${selection.begin + shard.index - 1}: ${indices.length} images)`
    : all;
  return { selection, shard, indices, label };
}

/**
 * The selection in words, for reports: 'the first 100 images', 'images 200–299', 'images 2, 11, 18'.
 * @example describeSelection({ begin: 0, end: 100 }) // 'the first 100 images'
 */
export function describeSelection(selection: Selection): string {
  if (selection.images) return `images ${selection.images.join(', ')}`;
  return selection.begin === 0 ? `the first ${selection.end} images` : `images ${selection.begin}–${selection.end - 1}`;
}

/** The selection and the split it was taken from, as reports name them: 'the first 100 images of the CIFAR-10 test batch'. */
export function imagesLabel(selection: string | Selection, split: 'test' | 'val' | undefined): string {
  const words = typeof selection === 'string' ? selection : describeSelection(selection);
  return `${words} ${split === 'val' ? "of the model's validation split" : 'of the CIFAR-10 test batch'}`;
}

/** The folder of one shard inside the run's folder: shard-002-of-008. */
export function shardFolder(shard: Shard): string {
  const w = String(shard.count).length;
  return `shard-${String(shard.index).padStart(Math.max(3, w), '0')}-of-${String(shard.count).padStart(Math.max(3, w), '0')}`;
}
