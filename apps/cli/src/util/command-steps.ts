/**
 * The steps the measuring commands share, written once: open a model folder on an engine with its
 * classifier factory, the defense a command runs, the images it takes (split, selection, shard),
 * `--record`'s conditions, its run folder, and its end (report.json, `--json`, the printed lines
 * with the generative guard's label first).
 *
 * @example
 * const { model, engine, factory } = await openModel(o);
 * const images = openImages(o, model);
 * finish(o, model, result, ['dc: 55.9 % …'], out);
 */
import { join } from 'node:path';
import {
  ClassifierFactory,
  createEngine,
  guardLabel,
  InputError,
  readModelFolder,
  resolveEngineChoice,
  type DefenseName,
  type ModelFolder,
  type RuntimeOptions,
} from '@rdc/core';
import type { RunManifest, Selection, Shard } from '@rdc/attacks';
import { modelValidationSplit, resolveDataDir } from '@rdc/train';
import { ModelOption, SeedOption } from './measure-options.js';
import { humanOutput, writeJson } from './output.js';
import { prepareRunFolder } from './run-folder.js';
import { parseOptions, readShared } from './schema-options.js';
import { asksForShard, imagesLabel, shardedSelection, shardFolder, splitImages } from './shard-options.js';

/** A model folder on its engine, with the factory of its classifiers. */
export async function openModel(o: { model: string; precision?: 'fp32' | 'fp16' } & Partial<RuntimeOptions>) {
  const model = readModelFolder(o.model);
  const engine = await createEngine(resolveEngineChoice(o.engine), { threads: o.threads, device: o.device, precision: o.precision });
  return { model, engine, factory: new ClassifierFactory(model, engine) };
}

/**
 * For the commands that fit something on a model's validation split (calibrate, fit-weights): the
 * options `--model`, `--seed` and the shared ones parsed, the model opened, and its validation split.
 */
export async function openOnValidation(o: Record<string, unknown>) {
  const shared = readShared(o);
  const { model: dir, seed } = { ...parseOptions(o, ModelOption), ...parseOptions(o, SeedOption) };
  const opened = await openModel({ ...shared, model: dir });
  return { dir, seed, ...opened, ...modelValidationSplit(opened.model.config, resolveDataDir(shared.dataDir)) };
}

/** The defense a command runs: the one given, else the model's own (`ClassifierFactory.defaultDefense`). */
export function defenseOf(o: { defense?: DefenseName }, factory: ClassifierFactory): DefenseName {
  return o.defense ?? factory.defaultDefense;
}

export interface Images {
  selection: Selection;
  shard: Shard | null;
  /** The positions this process takes (in the split; for `val`, in its list of training images). */
  indices: number[];
  /** For reports: 'the first 100 images of the CIFAR-10 test batch'. */
  words: string;
  /** The selection alone: 'the first 100 images', with the shard. */
  selected: string;
  label(index: number): number;
  pixels(index: number): ReturnType<ReturnType<typeof splitImages>['data']['pixels']>;
}

/** The images of `--split`, `--limit`/`--range`/`--images` and `--shard` for a model. */
export function openImages(
  o: { split: 'test' | 'val'; limit?: number; range?: string; images?: string; shard?: string; shards?: number; dataDir?: string },
  model: ModelFolder,
): Images {
  const { data, size, at } = splitImages(o, model.config, resolveDataDir(o.dataDir));
  const { selection, shard, indices, label } = shardedSelection(o, size);
  return {
    selection,
    shard,
    indices,
    words: imagesLabel(label, o.split),
    selected: label,
    label: (index) => data.labels[at(index)],
    pixels: (index) => data.pixels([at(index)]),
  };
}

/** `--record` writes test-set figures of a whole selection into the card: refused on the validation split or a shard. */
export function checkRecord(o: { record?: boolean; split: 'test' | 'val'; shard?: string; shards?: number }): void {
  if (!o.record) return;
  if (o.split !== 'test') throw new InputError('--record reports test-set figures: drop --split val');
  if (asksForShard(o)) throw new InputError('--record needs the whole selection: run it unsharded (rdc merge reports merged figures but does not record them)');
}

/**
 * The run folder of a resumable run (`--out`, default runs/NAME-TIME; a shard writes its own
 * shard-I-of-N inside it), prepared with its settings (other settings in it are refused).
 */
export function runFolder(
  o: { out?: string },
  name: string,
  kind: RunManifest['kind'],
  settings: Record<string, unknown> & { model: unknown; selection: Selection },
  shard: Shard | null,
): string {
  if (shard && !o.out) throw new InputError('a sharded run needs --out DIR, the same for every shard (each writes DIR/shard-I-of-N; rdc merge DIR joins them)');
  const base = o.out ?? join('runs', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const out = shard ? join(base, shardFolder(shard)) : base;
  prepareRunFolder(out, kind, settings, shard);
  return out;
}

/**
 * A command's end: `result` into OUT/report.json (with a run folder) and `--json`, and its lines
 * printed (to stderr when stdout carries the JSON), the model's guard label first.
 */
export function finish(o: { json?: string; model: string }, model: ModelFolder, result: unknown, lines: string[], out?: string): void {
  if (out) writeJson(join(out, 'report.json'), result);
  if (o.json) writeJson(o.json, result);
  const label = guardLabel(model.config);
  humanOutput(o.json).write([...(label ? [`${o.model}: ${label}`] : []), ...lines, ''].join('\n'));
}
