/**
 * `rdc eval`: clean accuracy of the DC, the RDC or a CNN on the first N CIFAR-10 test images (or a
 * range, or one shard of either), or on the model's validation split (`--split val`, for choosing
 * settings without touching the test set). Each image draws its noise from its own seed, so shards
 * merged with `rdc merge` give the same predictions as one run.
 */
import { Command } from '@commander-js/extra-typings';
import {
  guardLabel,
  guardStatus,
  argmax,
  createEngine,
  type DiffusionClassifier,
  formatRate,
  InputError,
  ClassifierFactory,
  Random,
  readModelFolder,
  resolveEngineChoice,
  updateModelCardSection,
  wilson,
} from '@rdc/core';
import { imageSeed, type RunManifest } from '@rdc/attacks';
import { resolveDataDir } from '@rdc/train';
import { measureOptions, readMeasureOptions } from '../util/measure-options.js';
import { LevelDump } from '../util/level-dump.js';
import { humanOutput, writeJson } from '../util/output.js';
import { progressBar } from '../util/progress.js';
import { codeVersion, commandLine, engineLabel, provenance } from '../util/provenance.js';
import { asksForShard, imagesLabel, shardedSelection, splitImages } from '../util/shard-options.js';

const OPTIONS = { limit: 512 } as const;

export function evalCommand() {
  const cmd = new Command('eval').description('clean accuracy (with a 95 % confidence interval) of a model on the first N CIFAR-10 test images');
  measureOptions(cmd, OPTIONS)
    .option('--record', "write the result into the model's MODEL_CARD.md (test split only)")
    .option('--per-level', 'with --defense dc: the accuracy of every σ level on its own (which levels carry the class evidence)')
    .option(
      '--dump-levels <file>',
      "with --defense dc: write every image's classes × levels matrix of unweighted denoising errors (JSON lines; resumes; the input of rdc fit-weights)",
    )
    .option('--agreement', 'with --adaptive: also run the full grid on the same noise; report agreement and the speed-up');
  return cmd.action(async (raw: Record<string, unknown>) => {
    const o = {
      ...readMeasureOptions(raw, OPTIONS),
      record: raw.record === true,
      perLevel: raw.perLevel === true,
      agreement: raw.agreement === true,
      dumpLevels: raw.dumpLevels as string | undefined,
    };
    const adaptiveDc = o.dc.adaptive ?? undefined;
    if (o.record && o.split !== 'test') throw new InputError('--record reports test-set accuracy: drop --split val');
    if (o.record && asksForShard(o))
      throw new InputError('--record needs the whole selection: run it unsharded (rdc merge reports merged figures but does not record them)');
    const model = readModelFolder(o.model);
    const engine = await createEngine(resolveEngineChoice(o.engine), { threads: o.threads, device: o.device, precision: o.precision });
    const method = o.method ?? model.config.lmMethod;
    if (o.perLevel && (o.defense !== 'dc' || adaptiveDc !== undefined)) throw new InputError('--per-level needs --defense dc without --adaptive');
    if (o.dumpLevels && (o.defense !== 'dc' || adaptiveDc !== undefined)) throw new InputError('--dump-levels needs --defense dc without --adaptive');
    if (o.agreement && adaptiveDc === undefined) throw new InputError('--agreement compares --adaptive with the full grid: add --adaptive');
    const factory = new ClassifierFactory(model, engine);
    const clf = factory.get({ defense: o.defense, method, dc: o.dc });
    const fullGrid = o.agreement ? factory.get({ defense: o.defense, method, dc: { ...o.dc, adaptive: null } }) : null;
    const dcOf = (c: unknown) => (c as { dc?: DiffusionClassifier }).dc;
    const dataDir = resolveDataDir(o.dataDir);
    // Positions in the split (for the validation split, positions in its list of training images).
    const { data, size, at } = splitImages(o, model.config, dataDir);
    const { selection, shard, indices: positions, label: selected } = shardedSelection(o, size);
    const n = positions.length;
    const bar = progressBar(`eval ${o.defense}`, n, { unit: 'images', fields: ['acc'] });
    let correct = 0;
    const predictions: number[] = [];
    const records: { index: number; label: number; prediction: number; fullGrid?: number; levels?: number }[] = [];
    const perLevel = o.perLevel || o.dumpLevels ? new Array<number>(dcOf(clf)!.sigmas.length).fill(0) : null;
    const dump = o.dumpLevels ? new LevelDump(o.dumpLevels, dcOf(clf)!, o.seed) : null;
    let fullSeconds = 0;
    let agree = 0;
    let seconds = 0;
    for (let i = 0; i < n; i++) {
      const index = positions[i];
      const pixels = data.pixels([at(index)]);
      const levelsBefore = dcOf(clf)?.adaptiveStats.levels ?? 0;
      const t0 = performance.now();
      const label = data.labels[at(index)];
      let logits: { data: Float32Array };
      if (perLevel) {
        // Every level's own term −w_s·error_s, with the draws the DC would use: their sum is the DC's logits.
        const dc = dcOf(clf)!;
        const errors = dump ? (await dump.get(index, label, pixels)).errors : await dc.levelErrorsOf(pixels, new Random(imageSeed(o.seed, index)));
        const k = clf.numClasses;
        const s = perLevel.length;
        const sum = new Float32Array(k);
        for (let l = 0; l < s; l++) {
          const row = Float32Array.from({ length: k }, (_, y) => -dc.weights[l] * errors[y * s + l]);
          if (argmax(row, k)[0] === label) perLevel[l]++;
          for (let y = 0; y < k; y++) sum[y] += row[y];
        }
        logits = { data: sum };
      } else logits = await clf.logits(pixels, new Random(imageSeed(o.seed, index)));
      seconds += (performance.now() - t0) / 1000;
      const p = argmax(logits.data, clf.numClasses)[0];
      predictions.push(p);
      const rec: (typeof records)[number] = { index, label, prediction: p };
      if (adaptiveDc !== undefined) rec.levels = (dcOf(clf)?.adaptiveStats.levels ?? 0) - levelsBefore;
      if (fullGrid) {
        const t1 = performance.now();
        rec.fullGrid = argmax((await fullGrid.logits(pixels, new Random(imageSeed(o.seed, index)))).data, clf.numClasses)[0];
        fullSeconds += (performance.now() - t1) / 1000;
        if (rec.fullGrid === p) agree++;
      }
      records.push(rec);
      if (p === label) correct++;
      bar.update(i + 1, { acc: (correct / (i + 1)).toFixed(3) });
    }
    bar.stop();
    const acc = wilson(correct, n);
    const stats = dcOf(clf)?.adaptiveStats;
    const adaptive =
      adaptiveDc !== undefined && stats
        ? {
            alpha: (clf.settings as { dc?: { adaptive?: { alpha: number } } }).dc?.adaptive?.alpha,
            meanLevels: stats.levels / Math.max(1, stats.images),
            levels: dcOf(clf)!.sigmas.length,
            ...(fullGrid
              ? {
                  agreement: agree / n,
                  agreementCi95: (({ low, high }) => [low, high])(wilson(agree, n)),
                  fullGridCorrect: records.filter((r) => r.fullGrid === r.label).length,
                  speedup: fullSeconds / seconds,
                }
              : {}),
          }
        : undefined;
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
      selection,
      shard: shard && { index: shard.index, count: shard.count },
      code: codeVersion(),
    };
    const result = {
      model: model.dir,
      guard: guardStatus(model.config),
      defense: o.defense,
      method: o.defense === 'rdc' ? method : undefined,
      images: n,
      split: o.split === 'test' ? `CIFAR-10 test batch, ${selected}` : `validation split of the training batches, ${selected}`,
      correct,
      accuracy: acc.rate,
      ci95: [acc.low, acc.high],
      secondsPerImage: seconds / n,
      adaptive,
      perLevel: perLevel?.map((c, l) => ({ level: l, sigma: dcOf(clf)!.sigmas[l], weight: dcOf(clf)!.weights[l], accuracy: c / n })),
      settings: clf.settings,
      predictions,
      manifest,
      records,
      ...provenance({ engine: engine.info, seeds: { seed: o.seed } }),
    };
    const out = humanOutput(o.json);
    const line = `${o.defense}${o.defense === 'rdc' ? ` (${method})` : ''}: ${formatRate(acc)} on ${n} ${o.split === 'test' ? 'test' : 'validation'} images (${selected}), ${(seconds / n).toFixed(3)} s/image`;
    const label = guardLabel(model.config);
    out.write(`${label ? `${o.model}: ${label}\n` : ''}${line}\n`);
    if (o.perLevel && perLevel) {
      const dc = dcOf(clf)!;
      out.write(`per σ level (each on its own; chance ${(100 / clf.numClasses).toFixed(0)} %):\n  level      σ   weight  accuracy\n`);
      perLevel.forEach((c, l) =>
        out.write(
          `  ${String(l).padStart(5)} ${dc.sigmas[l].toPrecision(3).padStart(7)} ${dc.weights[l].toPrecision(3).padStart(8)} ${((100 * c) / n).toFixed(1).padStart(7)} %\n`,
        ),
      );
    }
    if (adaptive)
      out.write(
        `adaptive σ (α = ${adaptive.alpha}): ${adaptive.meanLevels.toFixed(1)} of ${adaptive.levels} levels on average` +
          (adaptive.agreement !== undefined
            ? `; agrees with the full grid on ${(100 * adaptive.agreement).toFixed(1)} % of images (full grid: ${adaptive.fullGridCorrect}/${n} correct), ${adaptive.speedup!.toFixed(2)}× faster`
            : '') +
          '\n',
      );
    if (o.json) writeJson(o.json, result);
    if (o.record) {
      const dc = (clf.settings as { dc?: { levels: number; grid: string; weighting: string; sigmaMin: number; sigmaMax: number } }).dc;
      const grid = dc ? `, σ grid: ${dc.levels} ${dc.grid} levels in [${dc.sigmaMin}, ${dc.sigmaMax}], ${dc.weighting} weights` : '';
      updateModelCardSection(
        o.model,
        `eval-${o.defense}${o.defense === 'rdc' ? `-${method}` : ''}`,
        `- **${o.defense === 'none' ? 'The network' : o.defense.toUpperCase()}${o.defense === 'rdc' ? ` (${method} LM)` : ''}**: clean accuracy ${formatRate(acc)} (95 % CI) on ${imagesLabel(selected, 'test')}${grid}; ${(seconds / n).toFixed(2)} s/image on ${engineLabel(engine.info)}, seed ${o.seed}. Command: \`${commandLine()}\``,
      );
    }
  });
}
