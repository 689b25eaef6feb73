/**
 * `rdc eval`: clean accuracy of the DC, the RDC or a CNN on the first N CIFAR-10 test images (or a
 * range, or one shard of either), or on the model's validation split (`--split val`, for choosing
 * settings without touching the test set). Each image draws its noise from its own seed, so shards
 * merged with `rdc merge` give the same predictions as one run.
 */
import { Command } from '@commander-js/extra-typings';
import { argmax, formatRate, guardStatus, InputError, Random, updateModelCardSection, wilson, type Classifier, type DiffusionClassifier } from '@rdc/core';
import { imageSeed, type RunManifest } from '@rdc/attacks';
import { checkRecord, defenseOf, finish, openImages, openModel, type Images } from '../util/command-steps.js';
import { LevelDump } from '../util/level-dump.js';
import { measureOptions, readMeasureOptions } from '../util/measure-options.js';
import { progressBar } from '../util/progress.js';
import { codeVersion, commandLine, engineLabel, provenance } from '../util/provenance.js';

const SHAPE = { limit: 512 } as const;

interface EvalRecord {
  index: number;
  label: number;
  prediction: number;
  fullGrid?: number;
  levels?: number;
}

function readOptions(raw: Record<string, unknown>) {
  const o = {
    ...readMeasureOptions(raw, SHAPE),
    record: raw.record === true,
    perLevel: raw.perLevel === true,
    agreement: raw.agreement === true,
    dumpLevels: raw.dumpLevels as string | undefined,
  };
  checkRecord(o);
  const adaptive = o.dc.adaptive != null;
  if ((o.perLevel || o.dumpLevels) && (o.defense !== 'dc' || adaptive))
    throw new InputError(`${o.perLevel ? '--per-level' : '--dump-levels'} needs --defense dc without --adaptive`);
  if (o.agreement && !adaptive) throw new InputError('--agreement compares --adaptive with the full grid: add --adaptive');
  return o;
}

export function evalCommand() {
  const cmd = new Command('eval').description('clean accuracy (with a 95 % confidence interval) of a model on the first N CIFAR-10 test images');
  measureOptions(cmd, SHAPE)
    .option('--record', "write the result into the model's MODEL_CARD.md (test split only)")
    .option('--per-level', 'with --defense dc: the accuracy of every σ level on its own (which levels carry the class evidence)')
    .option(
      '--dump-levels <file>',
      "with --defense dc: write every image's classes × levels matrix of unweighted denoising errors (JSON lines; resumes; the input of rdc fit-weights)",
    )
    .option('--agreement', 'with --adaptive: also run the full grid on the same noise; report agreement and the speed-up');
  return cmd.action(async (raw: Record<string, unknown>) => {
    const given = readOptions(raw);
    const { model, engine, factory } = await openModel(given);
    const o = { ...given, defense: defenseOf(given, factory) };
    const method = o.method ?? model.config.lmMethod;
    const clf = factory.get({ defense: o.defense, method, dc: o.dc });
    const fullGrid = o.agreement ? factory.get({ defense: o.defense, method, dc: { ...o.dc, adaptive: null } }) : null;
    const images = openImages(o, model);
    const dump = o.dumpLevels ? new LevelDump(o.dumpLevels, clf.dc!, o.seed) : null;
    const r = await evaluate(clf, images, { seed: o.seed, perLevel: o.perLevel || dump !== null, dump, fullGrid });
    const n = r.records.length;
    const acc = wilson(r.correct, n);
    const adaptive = o.dc.adaptive != null ? adaptiveSummary(clf, r, n) : undefined;
    const manifest: RunManifest = {
      kind: 'eval',
      settings: {
        modelSha256: model.config.files['model.safetensors'].sha256,
        defense: o.defense,
        method: o.defense === 'rdc' ? method : undefined,
        split: o.split,
        seed: o.seed,
        classifier: clf.settings,
      },
      selection: images.selection,
      shard: images.shard && { index: images.shard.index, count: images.shard.count },
      code: codeVersion(),
    };
    const dc = clf.dc;
    const result = {
      model: model.dir,
      guard: guardStatus(model.config),
      defense: o.defense,
      method: o.defense === 'rdc' ? method : undefined,
      images: n,
      split: o.split === 'test' ? `CIFAR-10 test batch, ${images.selected}` : `validation split of the training batches, ${images.selected}`,
      correct: r.correct,
      accuracy: acc.rate,
      ci95: [acc.low, acc.high],
      secondsPerImage: r.seconds / n,
      adaptive,
      perLevel: r.perLevel?.map((c, l) => ({ level: l, sigma: dc!.sigmas[l], weight: dc!.weights[l], accuracy: c / n })),
      settings: clf.settings,
      predictions: r.records.map((x) => x.prediction),
      manifest,
      records: r.records,
      ...provenance({ engine: engine.info, seeds: { seed: o.seed } }),
    };
    const lines = [
      `${o.defense}${o.defense === 'rdc' ? ` (${method})` : ''}: ${formatRate(acc)} on ${n} ${o.split === 'test' ? 'test' : 'validation'} images (${images.selected}), ${(r.seconds / n).toFixed(3)} s/image`,
    ];
    if (o.perLevel && r.perLevel)
      lines.push(
        `per σ level (each on its own; chance ${(100 / clf.numClasses).toFixed(0)} %):`,
        '  level      σ   weight  accuracy',
        ...r.perLevel.map(
          (c, l) =>
            `  ${String(l).padStart(5)} ${dc!.sigmas[l].toPrecision(3).padStart(7)} ${dc!.weights[l].toPrecision(3).padStart(8)} ${((100 * c) / n).toFixed(1).padStart(7)} %`,
        ),
      );
    if (adaptive)
      lines.push(
        `adaptive σ (α = ${adaptive.alpha}): ${adaptive.meanLevels.toFixed(1)} of ${adaptive.levels} levels on average` +
          (adaptive.agreement !== undefined
            ? `; agrees with the full grid on ${(100 * adaptive.agreement).toFixed(1)} % of images (full grid: ${adaptive.fullGridCorrect}/${n} correct), ${adaptive.speedup!.toFixed(2)}× faster`
            : ''),
      );
    finish(o, model, result, lines);
    if (o.record) {
      const grid = dc
        ? `, σ grid: ${dc.config.levels} ${dc.config.grid} levels in [${dc.config.sigmaMin}, ${dc.config.sigmaMax}], ${dc.config.weighting} weights`
        : '';
      updateModelCardSection(
        o.model,
        `eval-${o.defense}${o.defense === 'rdc' ? `-${method}` : ''}`,
        `- **${o.defense === 'none' ? 'The network' : o.defense.toUpperCase()}${o.defense === 'rdc' ? ` (${method} LM)` : ''}**: clean accuracy ${formatRate(acc)} (95 % CI) on ${images.words}${grid}; ${(r.seconds / n).toFixed(2)} s/image on ${engineLabel(engine.info)}, seed ${o.seed}. Command: \`${commandLine()}\``,
      );
    }
  });
}

/**
 * Every image classified with its own seed: predictions, the count correct, and optionally every σ
 * level's own accuracy (from the per-level errors, dumped with `dump`) and the full grid's answer
 * beside the adaptive one.
 */
async function evaluate(clf: Classifier, images: Images, o: { seed: number; perLevel: boolean; dump: LevelDump | null; fullGrid: Classifier | null }) {
  const dc = clf.dc;
  const k = clf.numClasses;
  const perLevel = o.perLevel ? new Array<number>(dc!.sigmas.length).fill(0) : null;
  const records: EvalRecord[] = [];
  const bar = progressBar(`eval ${clf.defense}`, images.indices.length, { unit: 'images', fields: ['acc'] });
  let correct = 0;
  let seconds = 0;
  let fullSeconds = 0;
  let agree = 0;
  for (const [i, index] of images.indices.entries()) {
    const pixels = images.pixels(index);
    const label = images.label(index);
    const rng = () => new Random(imageSeed(o.seed, index));
    const levelsBefore = dc?.adaptiveStats.levels ?? 0;
    const t0 = performance.now();
    let logits: Float32Array;
    if (perLevel) {
      // Every level's own term −w_s·error_s, with the draws the DC would use: their sum is the DC's logits.
      const errors = o.dump ? (await o.dump.get(index, label, pixels)).errors : await dc!.levelErrorsOf(pixels, rng());
      const s = perLevel.length;
      logits = new Float32Array(k);
      for (let l = 0; l < s; l++) {
        const row = Float32Array.from({ length: k }, (_, y) => -dc!.weights[l] * errors[y * s + l]);
        if (argmax(row, k)[0] === label) perLevel[l]++;
        for (let y = 0; y < k; y++) logits[y] += row[y];
      }
    } else logits = (await clf.logits(pixels, rng())).data;
    seconds += (performance.now() - t0) / 1000;
    const rec: EvalRecord = { index, label, prediction: argmax(logits, k)[0] };
    if (dc?.config.adaptive) rec.levels = dc.adaptiveStats.levels - levelsBefore;
    if (o.fullGrid) {
      const t1 = performance.now();
      rec.fullGrid = argmax((await o.fullGrid.logits(pixels, rng())).data, k)[0];
      fullSeconds += (performance.now() - t1) / 1000;
      if (rec.fullGrid === rec.prediction) agree++;
    }
    records.push(rec);
    if (rec.prediction === label) correct++;
    bar.update(i + 1, { acc: (correct / (i + 1)).toFixed(3) });
  }
  bar.stop();
  return { records, correct, seconds, perLevel, fullSeconds, agree };
}

/** The adaptive σ evaluation's figures: mean levels, and with --agreement its agreement with the full grid and the speed-up. */
function adaptiveSummary(clf: Classifier, r: Awaited<ReturnType<typeof evaluate>>, n: number) {
  const dc = clf.dc as DiffusionClassifier;
  const stats = dc.adaptiveStats;
  const agreement = wilson(r.agree, n);
  return {
    alpha: dc.config.adaptive?.alpha,
    meanLevels: stats.levels / Math.max(1, stats.images),
    levels: dc.sigmas.length,
    ...(r.records.some((x) => x.fullGrid !== undefined)
      ? {
          agreement: r.agree / n,
          agreementCi95: [agreement.low, agreement.high],
          fullGridCorrect: r.records.filter((x) => x.fullGrid === x.label).length,
          speedup: r.fullSeconds / r.seconds,
        }
      : {}),
  };
}
