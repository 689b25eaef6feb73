/**
 * `rdc fit-weights --model DIR --levels 10,25,125`: learned σ weights (docs/method.md §8), one
 * non-negative weight per level for each level count, fitted by cross-entropy on the first `--fit`
 * images of the model's validation split (held out of training; never the test batch) and checked on
 * the rest of `--images`. The per-level errors are computed once and kept in `--dumps` (one
 * `levels-S.jsonl` per level count, the format of `rdc eval --dump-levels`; resumable). The weights
 * and their figures go into config.json (`dc.learnedWeights`, the folder resealed) and the card;
 * `--weighting learned` then selects them.
 */
import { basename, join, resolve } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import {
  chooseSmoothness,
  crossEntropy,
  fitLevelWeights,
  InputError,
  type LearnedWeights,
  type LevelData,
  releasedScale,
  subset,
  updateModelCardSection,
  weightedLogits,
  isClassifierNetwork,
} from '@rdc/core';
import { openOnValidation } from '../util/command-steps.js';
import { LevelDump } from '../util/level-dump.js';
import { parseIntArg, parseIntList } from '../util/parse.js';
import { progressBar } from '../util/progress.js';
import { commandLine } from '../util/provenance.js';
import { ModelOption, SeedOption } from '../util/measure-options.js';
import { schemaOptions, sharedOptions } from '../util/schema-options.js';

export function fitWeightsCommand() {
  const cmd = new Command('fit-weights')
    .description("learn the DC's σ weights (one per level, ≥ 0) on the model's validation split; recorded in config.json for --weighting learned")
    .option('--levels <list>', 'level counts to fit, each on its own grid', parseIntList, [10, 25, 125])
    .option('--images <n>', 'validation images used in all (the first ones of the split)', parseIntArg, 1000)
    .option('--fit <n>', 'of them, the first n fit the weights; the rest check them', parseIntArg, 800)
    .option('--dumps <dir>', 'where the per-level errors are kept (default runs/fit-weights/MODEL)');
  for (const schema of [ModelOption, SeedOption]) schemaOptions(cmd, schema);
  sharedOptions(cmd, ['runtime', 'data']);
  return cmd.action(async (o) => {
    const { dir, seed, model, factory, data, indices } = await openOnValidation(o);
    if (isClassifierNetwork(model.config.network)) throw new InputError(`${dir} is a classifier: σ weights belong to a diffusion model`, 'bad_defense');
    if (o.images > indices.length) throw new InputError(`--images ${o.images}: the validation split has ${indices.length} images`, 'bad_option');
    if (!(o.fit >= 2 && o.fit < o.images)) throw new InputError(`--fit ${o.fit} must leave images to check on: 2 ≤ fit < ${o.images}`, 'bad_option');
    const dumps = o.dumps ?? join('runs', 'fit-weights', basename(resolve(dir)));
    const entries: LearnedWeights[] = [];
    for (const levels of o.levels) {
      if (!(levels >= 2 && levels <= 1000)) throw new InputError(`--levels ${levels}: between 2 and 1000`, 'bad_option');
      const dc = factory.get({ defense: 'dc', dc: { levels, weighting: 'released', adaptive: null } }).dc!;
      const dump = new LevelDump(join(dumps, `levels-${levels}.jsonl`), dc, seed);
      const k = dc.numClasses;
      const all: LevelData = { errors: new Float32Array(o.images * k * levels), labels: new Int32Array(o.images), classes: k, levels };
      const bar = progressBar(`levels ${levels}`, o.images, { unit: 'images' });
      for (let p = 0; p < o.images; p++) {
        const index = indices[p];
        const rec = await dump.get(index, data.labels[index], data.pixels([index]));
        all.errors.set(rec.errors, p * k * levels);
        all.labels[p] = rec.label;
        bar.update(p + 1);
      }
      bar.stop();
      const positions = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
      const fitSet = subset(all, positions(0, o.fit));
      const check = subset(all, positions(o.fit, o.images));
      const released = Float64Array.from(dc.weights);
      const scale = releasedScale(fitSet, released);
      const before = released.map((w) => w * scale);
      const { smoothness } = chooseSmoothness(fitSet, released);
      const fit = fitLevelWeights(fitSet, { released, smoothness, scale });
      const measure = (set: LevelData, w: ArrayLike<number>) => crossEntropy(weightedLogits(set, w), set.labels, k);
      const [vb, va, fb, fa] = [measure(check, before), measure(check, fit.weights), measure(fitSet, before), measure(fitSet, fit.weights)];
      entries.push({
        levels,
        weights: Array.from(fit.weights, (w) => Number(w.toPrecision(8))),
        images: check.labels.length,
        nllBefore: vb.nll,
        nllAfter: va.nll,
        accuracyBefore: vb.accuracy,
        accuracyAfter: va.accuracy,
        fit: { images: fitSet.labels.length, nllBefore: fb.nll, nllAfter: fa.nll },
        smoothness,
        seed: seed,
      });
      process.stderr.write(
        `${levels} levels: validation NLL ${vb.nll.toFixed(4)} → ${va.nll.toFixed(4)}, accuracy ${(100 * vb.accuracy).toFixed(1)} → ${(100 * va.accuracy).toFixed(1)} % (λ = ${smoothness})\n`,
      );
    }
    const dcConfig = model.config.dc;
    const learnedWeights = [...dcConfig.learnedWeights.filter((e) => !o.levels.includes(e.levels)), ...entries].sort((a, b) => a.levels - b.levels);
    updateModelCardSection(dir, 'learned-weights', learnedWeightsText(learnedWeights, commandLine()), { dc: { ...dcConfig, learnedWeights } });
    process.stdout.write(`${dir}: learned σ weights for ${learnedWeights.map((e) => e.levels).join(', ')} levels (select them with --weighting learned)\n`);
  });
}

/** The model card's section on learned weights: one row per level count. */
function learnedWeightsText(entries: readonly LearnedWeights[], command: string): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  const rows = entries.map(
    (e) =>
      `| ${e.levels} | ${e.fit.nllBefore.toFixed(4)} → ${e.fit.nllAfter.toFixed(4)} | ${e.nllBefore.toFixed(4)} → ${e.nllAfter.toFixed(4)} | ${pct(e.accuracyBefore)} → ${pct(e.accuracyAfter)} | ${e.smoothness} |`,
  );
  return [
    `Learned σ weights (docs/method.md §8; select them with \`--weighting learned\`): one non-negative weight per level, fitted by cross-entropy on ${entries[0]?.fit.images ?? 0} images of the validation split (held out of training) and checked on ${entries[0]?.images ?? 0} others. "Before" is the released weights at their best temperature on the fit images.`,
    '',
    '| levels | NLL on the fit images | NLL on the check images | accuracy on the check images | smoothness λ (cross-validated) |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    `Command: \`${command}\``,
  ].join('\n');
}
