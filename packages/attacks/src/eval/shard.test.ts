import { describe, expect, it } from 'vitest';
import { parseShard, resolveShard, selectImages, shardIndices } from './shard.js';

describe('shards', () => {
  it('--shard I/N is 1-based; bad specs are refused with the expected form', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3, source: '--shard' });
    for (const bad of ['0/3', '4/3', '3', '1/0', 'a/b', '-1/2']) expect(() => parseShard(bad), bad).toThrow(/I\/N|between 1 and N/);
  });

  it('shards partition the selection, round robin, whatever N', () => {
    for (const n of [1, 2, 3, 7]) {
      const sel = selectImages({ range: '5:18' }, 10_000);
      const parts = Array.from({ length: n }, (_, i) => shardIndices(sel, { index: i + 1, count: n, source: '--shard' }));
      expect(parts.flat().sort((a, b) => a - b)).toEqual(shardIndices(sel, null));
      expect(Math.max(...parts.map((p) => p.length)) - Math.min(...parts.map((p) => p.length))).toBeLessThanOrEqual(1);
    }
    expect(shardIndices(selectImages({ limit: 6 }, 10_000), { index: 2, count: 3, source: '--shard' })).toEqual([1, 4]);
    expect(selectImages({ limit: 20 }, 8)).toEqual({ begin: 0, end: 8 });
    expect(() => selectImages({ range: '0:20' }, 8)).toThrow(/past the 8 images/);
    expect(() => selectImages({ range: '5:5' }, 8)).toThrow(/BEGIN < END/);
  });

  it('--images selects a list of dataset indices (sorted, each once), shardable; bad lists are refused', () => {
    const sel = selectImages({ images: '12, 3,7,3' }, 100);
    expect(sel).toEqual({ begin: 3, end: 13, images: [3, 7, 12] });
    expect(shardIndices(sel, null)).toEqual([3, 7, 12]);
    expect(
      [...shardIndices(sel, { index: 1, count: 2, source: '--shard' }), ...shardIndices(sel, { index: 2, count: 2, source: '--shard' })].sort((a, b) => a - b),
    ).toEqual([3, 7, 12]);
    expect(() => selectImages({ images: '3,100' }, 100)).toThrow(/the split has 100 images/);
    expect(() => selectImages({ images: '3;4' }, 100)).toThrow(/separated by commas/);
    expect(() => selectImages({ images: '3', range: '0:5' }, 100)).toThrow(/not both/);
  });

  it('honours Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX, 0-based, with --shards) and Slurm arrays', () => {
    expect(resolveShard({}, {})).toBeNull();
    expect(resolveShard({ shards: 4 }, { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 1, count: 4, source: 'JOB_COMPLETION_INDEX' });
    expect(resolveShard({ shards: 4 }, { JOB_COMPLETION_INDEX: '3' })).toMatchObject({ index: 4, count: 4 });
    expect(() => resolveShard({}, { JOB_COMPLETION_INDEX: '1' })).toThrow(/--shards N/);
    expect(() => resolveShard({ shards: 4 }, { JOB_COMPLETION_INDEX: '4' })).toThrow(/not below/);
    expect(resolveShard({}, { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '8' })).toEqual({ index: 3, count: 8, source: 'SLURM_ARRAY_TASK_ID' });
    // --array=1-8: ids start at SLURM_ARRAY_TASK_MIN.
    expect(resolveShard({}, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '8', SLURM_ARRAY_TASK_MIN: '1' })).toMatchObject({ index: 1, count: 8 });
    expect(() => resolveShard({}, { SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_COUNT: '8' })).toThrow(/outside an array of 8/);
    expect(() => resolveShard({}, { SLURM_ARRAY_TASK_ID: 'x', SLURM_ARRAY_TASK_COUNT: '8' })).toThrow(/not a non-negative integer/);
    // An explicit --shard wins over the environment.
    expect(resolveShard({ shard: '1/2' }, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '2' })).toMatchObject({ index: 1, source: '--shard' });
    expect(() => resolveShard({ shard: '1/2', shards: 3 }, {})).toThrow(/disagree/);
    expect(() => resolveShard({ shards: 3 }, {})).toThrow(/needs an index/);
  });
});
