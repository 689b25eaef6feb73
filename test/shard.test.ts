import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeModelFolder } from '@rdc/core';
import { tinyUNet } from '@rdc/core/testing';
import { CIFAR10_CLASSES } from '@rdc/train';
import { beforeAll, describe, expect, it } from 'vitest';
import { data, rdc, tmp } from './helpers.js';

/**
 * Sharded attacks and evaluations: three shard processes (one per way of naming the shard: --shard,
 * a Kubernetes Indexed Job's JOB_COMPLETION_INDEX, a Slurm array's SLURM_ARRAY_TASK_ID), merged,
 * give the same per-image records as one unsharded run; merge refuses shards of another run.
 */
const main = resolve(dirname(fileURLToPath(import.meta.url)), '../apps/cli/dist/main.js');
const exec = promisify(execFile);
const dir = tmp('rdc-shard-it-');
// The shipped model: better than chance, so that images get attacked (a random network's are not).
const model = resolve(dirname(fileURLToPath(import.meta.url)), '../models/default');
const other = join(dir, 'other-model');

beforeAll(() => {
  if (!data) return;
  const { config, weights } = tinyUNet({ size: 32, classes: 10, seed: 3, attention: false });
  writeModelFolder(other, { network: config, weights, classes: CIFAR10_CLASSES, temperature: 0.5, dc: { levels: 3 }, card: '# tiny' });
});

const ATTACK = ['--defense', 'dc', '--protocol', 'quick', '--attacks', 'apgd-ce', '--iterations', '2', '--levels', '10', '--limit', '6', '--threads', '1'];
/** The three ways a shard is named, as each cluster sets it. */
const SHARDS: { args: string[]; env: Record<string, string> }[] = [
  { args: ['--shard', '1/3'], env: {} },
  { args: ['--shards', '3'], env: { JOB_COMPLETION_INDEX: '1' } },
  { args: [], env: { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '1' } },
];

/** Runs the CLI as its own process (a shard on another machine), with extra environment. */
const shardProcess = (args: string[], env: Record<string, string>) =>
  exec(process.execPath, [main, ...args], { env: { ...process.env, ...env }, maxBuffer: 16 << 20 });

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { index: number; seconds: number; examples?: unknown; attacks: Record<string, { seconds: number } | null> });
/** A record without its timings and kept examples (each shard keeps its own first few for its report). */
const stripped = (r: ReturnType<typeof lines>[number]) => ({
  ...r,
  examples: undefined,
  seconds: 0,
  attacks: Object.fromEntries(Object.entries(r.attacks).map(([k, a]) => [k, a && { ...a, seconds: 0 }])),
});
const json = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

describe.skipIf(!data)('sharded runs', () => {
  it('three attack shards (--shard, JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID) merge into the records of one run; merge refuses other ε and other models, and labels a partial merge', async () => {
    const whole = join(dir, 'whole');
    expect(await rdc('attack', '--model', model, ...ATTACK, '--out', whole)).toBe(0);
    const run = join(dir, 'sharded');
    await Promise.all(SHARDS.map((s) => shardProcess(['attack', '--model', model, ...ATTACK, '--out', run, ...s.args], s.env)));
    for (const [i, n] of [
      [1, 2],
      [2, 2],
      [3, 2],
    ])
      expect(lines(join(run, `shard-00${i}-of-003`, 'images.jsonl')).length).toBe(n);
    expect(lines(join(run, 'shard-002-of-003', 'images.jsonl')).map((r) => r.index)).toEqual([1, 4]);

    expect(await rdc('merge', run)).toBe(0);
    const merged = join(run, 'merged');
    expect(lines(join(merged, 'images.jsonl')).map(stripped)).toEqual(lines(join(whole, 'images.jsonl')).map(stripped));
    const report = json(join(merged, 'report.json'));
    const single = json(join(whole, 'report.json'));
    expect(report.partial).toBe(false);
    expect(report.missing).toEqual([]);
    expect(report.worstCase).toEqual(single.worstCase);
    expect(report.nullAttack).toEqual(single.nullAttack);
    expect(report.rules).toEqual(single.rules);
    expect(existsSync(join(merged, 'report.md'))).toBe(true);
    expect(single.clean.correct).toBeGreaterThan(0); // images were attacked: the comparison is not vacuous
    expect(existsSync(join(merged, 'examples.png'))).toBe(true);

    // Another ε, another model: refused, naming what differs.
    const wrongEps = join(dir, 'eps16');
    const wrongModel = join(dir, 'other');
    await shardProcess(['attack', '--model', model, ...ATTACK, '--eps', '16/255', '--out', wrongEps, '--shard', '3/3'], {});
    await shardProcess(['attack', '--model', other, ...ATTACK, '--out', wrongModel, '--shard', '3/3'], {});
    const out = join(dir, 'refused');
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await rdc('merge', join(run, 'shard-001-of-003'), join(run, 'shard-002-of-003'), join(wrongEps, 'shard-003-of-003'), '--out', out)).toBe(2);
      expect(await rdc('merge', join(run, 'shard-001-of-003'), join(wrongModel, 'shard-003-of-003'), '--out', out)).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(stderr.join('')).toMatch(/settings differ \(threat\.eps: 0\.031\d* ≠ 0\.062\d*/);
    expect(stderr.join('')).toMatch(/settings differ \(modelSha256/);

    // Two of three shards: a partial report that names the missing images.
    expect(await rdc('merge', join(run, 'shard-001-of-003'), join(run, 'shard-003-of-003'), '--out', out)).toBe(0);
    const partial = json(join(out, 'report.json'));
    expect(partial.partial).toBe(true);
    expect(partial.missing).toEqual([1, 4]);
    expect(partial.absentShards).toEqual([2]);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/PARTIAL: 4 of 6 images/);
  }, 300_000);

  it("attacks the model's validation split for choosing a recipe (and refuses to record it)", async () => {
    const out = join(dir, 'val');
    expect(
      await rdc(
        'attack',
        '--model',
        model,
        ...ATTACK.filter((a, i, all) => a !== '--limit' && all[i - 1] !== '--limit'),
        '--limit',
        '2',
        '--split',
        'val',
        '--out',
        out,
      ),
    ).toBe(0);
    expect(json(join(out, 'report.json')).settings.split).toBe('val');
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/the first 2 images of the model's validation split/);
    expect(await rdc('attack', '--model', model, '--split', 'val', '--record', '--out', join(dir, 'val2'))).toBe(2);
  }, 120_000);

  it('eval shards (--json) merge into the predictions of one run', async () => {
    const EVAL = ['eval', '--model', model, '--defense', 'dc', '--levels', '10', '--limit', '6', '--threads', '1'];
    const whole = join(dir, 'eval.json');
    expect(await rdc(...EVAL, '--json', whole)).toBe(0);
    const shards = join(dir, 'eval-shards');
    await Promise.all(SHARDS.map((s, i) => shardProcess([...EVAL, ...s.args, '--json', join(shards, `shard-${i + 1}.json`)], s.env)));
    const out = join(dir, 'eval-merged.json');
    expect(await rdc('merge', shards, '--json', out)).toBe(0);
    const merged = json(out);
    const single = json(whole);
    expect(merged.partial).toBe(false);
    expect(merged.records).toEqual(single.records);
    expect(merged.correct).toBe(single.correct);
    expect(single.correct).toBeGreaterThan(0);
    expect(merged.ci95).toEqual(single.ci95);
    // One file missing: partial.
    expect(await rdc('merge', join(shards, 'shard-1.json'), join(shards, 'shard-2.json'), '--json', out)).toBe(0);
    expect(json(out)).toMatchObject({ partial: true, missing: [2, 5] });
  }, 300_000);
});
