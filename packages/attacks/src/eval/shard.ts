import { InputError } from '@rdc/core/runtime';

/**
 * Which images a run covers and which of them this process takes. The run's selection is the first
 * `limit` images or an explicit range; a shard takes every N-th image of it (round robin, so shards
 * cost about the same whatever the order of hard and easy images). Each image keeps its own seed
 * (from its dataset index), so sharded runs give the same per-image records as one unsharded run.
 *
 * The shard comes from `--shard I/N` (1-based, as Jest and Playwright spell it), else from the
 * environment of a cluster's array job: a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` (0-based)
 * with `--shards N` (its `completions`), or a Slurm array's `SLURM_ARRAY_TASK_ID` with
 * `SLURM_ARRAY_TASK_COUNT` (and `SLURM_ARRAY_TASK_MIN` when the array does not start at 0).
 *
 * @example
 * const shard = resolveShard({ shard: '2/3' });            // { index: 2, count: 3, source: '--shard' }
 * const mine = shardIndices(selectImages({ limit: 6 }, 10000), shard); // [1, 4]
 */
export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
  /** Where it came from, for logs: '--shard', 'JOB_COMPLETION_INDEX', 'SLURM_ARRAY_TASK_ID'. */
  source: string;
}

/** "I/N" → { index: I, count: N } (1 ≤ I ≤ N). */
export function parseShard(spec: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec);
  if (!m) throw new InputError(`--shard expects I/N (1-based, e.g. 2/8), got '${spec}'`, 'bad_option');
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!(count >= 1 && index >= 1 && index <= count)) throw new InputError(`--shard ${spec}: I must be between 1 and N (1-based), N at least 1`, 'bad_option');
  return { index, count, source: '--shard' };
}

const int = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim())) throw new InputError(`${name}='${v}' is not a non-negative integer`, 'bad_option');
  return Number(v);
};

/** The shard of this process, or null for an unsharded run (see the module comment for the order). */
export function resolveShard(o: { shard?: string; shards?: number }, env: NodeJS.ProcessEnv = process.env): Shard | null {
  if (o.shard !== undefined) {
    const s = parseShard(o.shard);
    if (o.shards !== undefined && o.shards !== s.count) throw new InputError(`--shard ${o.shard} and --shards ${o.shards} disagree`, 'bad_option');
    return s;
  }
  const k8s = int('JOB_COMPLETION_INDEX', env.JOB_COMPLETION_INDEX);
  if (k8s !== undefined) {
    if (o.shards === undefined)
      throw new InputError("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): pass --shards N, the Job's completions", 'bad_option');
    if (k8s >= o.shards) throw new InputError(`JOB_COMPLETION_INDEX=${k8s} is not below --shards ${o.shards}`, 'bad_option');
    return { index: k8s + 1, count: o.shards, source: 'JOB_COMPLETION_INDEX' };
  }
  const task = int('SLURM_ARRAY_TASK_ID', env.SLURM_ARRAY_TASK_ID);
  if (task !== undefined) {
    const count = o.shards ?? int('SLURM_ARRAY_TASK_COUNT', env.SLURM_ARRAY_TASK_COUNT);
    if (count === undefined) throw new InputError('SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT: pass --shards N', 'bad_option');
    const index = task - (int('SLURM_ARRAY_TASK_MIN', env.SLURM_ARRAY_TASK_MIN) ?? 0);
    if (!(index >= 0 && index < count))
      throw new InputError(
        `SLURM_ARRAY_TASK_ID=${task} is outside an array of ${count} tasks (use --array=0-${count - 1}, or set SLURM_ARRAY_TASK_MIN)`,
        'bad_option',
      );
    return { index: index + 1, count, source: 'SLURM_ARRAY_TASK_ID' };
  }
  if (o.shards !== undefined && o.shards !== 1)
    throw new InputError(`--shards ${o.shards} needs an index: --shard I/N, or JOB_COMPLETION_INDEX / SLURM_ARRAY_TASK_ID in the environment`, 'bad_option');
  return null;
}

/** "A:B" → images A to B−1 (dataset indices, B exclusive). */
export function parseRange(spec: string): { begin: number; end: number } {
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(spec);
  if (!m || Number(m[1]) >= Number(m[2]))
    throw new InputError(`--range expects BEGIN:END with BEGIN < END (END exclusive, e.g. 0:512), got '${spec}'`, 'bad_option');
  return { begin: Number(m[1]), end: Number(m[2]) };
}

/** The run's selection, as it is recorded: the first `limit` images, `range`, or a list of `images` (begin and end then span it). */
export interface Selection {
  begin: number;
  end: number;
  images?: number[];
}

/** "3,7,12" → those dataset indices, in increasing order, each once. */
export function parseImageList(spec: string): number[] {
  const parts = spec.split(',').map((p) => p.trim());
  if (!parts.every((p) => /^\d{1,9}$/.test(p)))
    throw new InputError(`--images expects dataset indices separated by commas (e.g. 3,7,12), got '${spec}'`, 'bad_option');
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

/** The selection of a run over a dataset of `size` images (a range or an image past the end is an error). */
export function selectImages(o: { limit?: number; range?: string; images?: string }, size: number): Selection {
  if (o.images !== undefined) {
    if (o.range !== undefined) throw new InputError('give --images or --range, not both', 'bad_option');
    const images = parseImageList(o.images);
    if (images[images.length - 1] >= size) throw new InputError(`--images ${o.images}: the split has ${size} images (0–${size - 1})`, 'bad_option');
    return { begin: images[0], end: images[images.length - 1] + 1, images };
  }
  if (o.range !== undefined) {
    const r = parseRange(o.range);
    if (r.end > size) throw new InputError(`--range ${o.range} goes past the ${size} images of the split`, 'bad_option');
    return r;
  }
  return { begin: 0, end: Math.min(o.limit ?? size, size) };
}

/** The dataset indices of a selection that a shard takes (all of them when unsharded). */
export function shardIndices(sel: Selection, shard: Shard | null): number[] {
  const all = sel.images ?? Array.from({ length: sel.end - sel.begin }, (_, i) => sel.begin + i);
  return all.filter((_, i) => !shard || i % shard.count === shard.index - 1);
}
