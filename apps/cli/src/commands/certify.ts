/**
 * `rdc certify`: certified ℓ2 robustness by randomized smoothing (docs/certify.md) of the plain
 * network, the DC or the noised DC, on the first N CIFAR-10 test images (or a range, or one shard):
 * a per-image log that resumes, shards that `rdc merge` joins, and a report with certified accuracy
 * at radii 0–1 and its plot. Each image draws from its own seed, so shards and resumed runs repeat it.
 */
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import {
  CertifyOptions,
  certify,
  ClassifierFactory,
  createEngine,
  DataOptions,
  formatRate,
  guardLabel,
  ImageSelection,
  InputError,
  JsonOutput,
  MeasuredModel,
  Random,
  readModelFolder,
  resolveEngineChoice,
  RuntimeOptions,
  updateModelCardSection,
} from '@rdc/core';
import { imageSeed, JsonlLog } from '@rdc/attacks';
import { resolveDataDir } from '@rdc/train';
import { certifyLabel, writeCertifyReport, type CertifyRecord } from '../report/certify-report.js';
import { humanOutput, writeJson } from '../util/output.js';
import { progressBar } from '../util/progress.js';
import { commandLine, engineLabel, provenance } from '../util/provenance.js';
import { prepareRunFolder } from '../util/run-folder.js';
import { parseOptions, schemaOptions } from '../util/schema-options.js';
import { asksForShard, imagesLabel, shardedSelection, shardFolder, splitImages } from '../util/shard-options.js';

const Selection = ImageSelection.extend({ limit: ImageSelection.shape.limit.unwrap().default(100) });
const Model = MeasuredModel.pick({ model: true, seed: true });

function readOptions(raw: Record<string, unknown>) {
  const o = {
    ...parseOptions(raw, Model),
    ...parseOptions(raw, Selection),
    ...parseOptions(raw, CertifyOptions),
    ...parseOptions(raw, RuntimeOptions),
    ...parseOptions(raw, DataOptions),
    ...parseOptions(raw, JsonOutput),
    out: raw.out as string | undefined,
    record: raw.record === true,
  };
  if (o.record && o.split !== 'test') throw new InputError('--record reports test-set figures: drop --split val');
  if (o.record && asksForShard(o)) throw new InputError('--record needs the whole selection: run it unsharded (rdc merge reports merged figures)');
  if (o.n0 > o.n) throw new InputError(`--n0 ${o.n0} is more than --n ${o.n}: the estimation draws should outnumber the selection draws`);
  return o;
}

export function certifyCommand() {
  const cmd = new Command('certify').description(
    'certified ℓ2 robustness by randomized smoothing: certified accuracy at radii 0–1 (95 % CIs) of the plain network, the DC or the noised DC, with a per-image log that resumes',
  );
  for (const schema of [Model, Selection, CertifyOptions, RuntimeOptions, DataOptions, JsonOutput]) schemaOptions(cmd, schema);
  cmd
    .option('--out <dir>', 'run folder: per-image log, report.md, report.json, the plot (re-running with the same folder resumes)')
    .option('--record', "write certified accuracy into the model's MODEL_CARD.md");
  return cmd.action(async (raw: Record<string, unknown>) => {
    const o = readOptions(raw);
    const model = readModelFolder(o.model);
    // A CNN has one base classifier: its plain network.
    if (raw.base === undefined && model.config.network.arch === 'cnn') o.base = 'none';
    const engine = await createEngine(resolveEngineChoice(o.engine), { threads: o.threads, device: o.device });
    const factory = new ClassifierFactory(model, engine);
    const base = factory.smoothingBase(o.base, { sigma: o.sigma, levels: o.levels });
    const levels = o.base === 'none' ? null : (o.levels ?? (o.base === 'dc' ? model.config.dc.levels : 10));
    const { data, size, at } = splitImages(o, model.config, resolveDataDir(o.dataDir));
    const { selection, shard, indices, label: selected } = shardedSelection(o, size);
    const images = imagesLabel(selected, o.split);
    if (shard && !o.out) throw new InputError('a sharded run needs --out DIR, the same for every shard (rdc merge DIR joins them)');
    const baseDir = o.out ?? join('runs', `certify-${o.base}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    const out = shard ? join(baseDir, shardFolder(shard)) : baseDir;
    const settings = {
      model: model.dir,
      modelSha256: model.config.files['model.safetensors'].sha256,
      base: o.base,
      sigma: o.sigma,
      n0: o.n0,
      n: o.n,
      alpha: o.alpha,
      levels,
      batch: o.batch,
      split: o.split,
      selection,
      seed: o.seed,
    };
    // What rdc merge checks: every shard of a run shares these (the model by checksum, not path).
    prepareRunFolder(out, 'certify', settings, shard);

    const log = new JsonlLog<CertifyRecord>(join(out, 'images.jsonl'));
    const done = log.read();
    const records: CertifyRecord[] = [];
    const bar = progressBar(`certify ${o.base}`, indices.length, { unit: 'images', fields: ['certified'] });
    let certified = 0;
    try {
      for (const [p, index] of indices.entries()) {
        let rec = done.get(index);
        if (!rec) {
          const t0 = performance.now();
          const label = data.labels[at(index)];
          const c = await certify(base, data.pixels([at(index)]), o, new Random(imageSeed(o.seed, index)));
          rec = {
            index,
            label,
            prediction: c.prediction,
            nA: c.nA,
            n: c.n,
            pALower: c.pALower,
            radius: c.radius,
            correct: c.prediction === label,
            seconds: (performance.now() - t0) / 1000,
          };
          log.append(rec);
        }
        records.push(rec);
        if (rec.correct) certified++;
        bar.update(p + 1, { certified: `${certified}/${p + 1}` });
      }
    } finally {
      bar.stop();
    }
    const command = commandLine();
    const { summary, report } = await writeCertifyReport(out, {
      records,
      settings,
      imagesLabel: images,
      commandLine: command,
      extra: { passesPerDraw: base.passesPerDraw, shard, guard: guardLabel(model.config), ...provenance({ engine: engine.info, seeds: { seed: o.seed } }) },
    });
    if (o.json) writeJson(o.json, report);
    const label = certifyLabel(settings);
    const rows = summary.certified.map((p) => `radius ${p.radius}: ${formatRate({ rate: p.accuracy, low: p.ci95[0], high: p.ci95[1] })}`);
    if (o.record)
      updateModelCardSection(
        o.model,
        `certify-${o.base}`,
        `- **Certified ℓ2 robustness** (randomized smoothing of ${label}; ${images}): certified accuracy ${rows.join(', ')} (95 % CIs); abstained ${(100 * summary.abstentionRate).toFixed(1)} %; ${summary.secondsPerImage.toPrecision(3)} s/image on ${engineLabel(engine.info)}. Command: \`${command}\``,
      );
    const modelLabel = guardLabel(model.config);
    humanOutput(o.json).write(
      [
        ...(modelLabel ? [`${o.model}: ${modelLabel}`] : []),
        `certified (${label}; ${images}):`,
        ...rows.map((r) => `  ${r}`),
        `  abstained ${summary.abstained} of ${summary.images}; ${summary.secondsPerImage.toPrecision(3)} s/image (${base.passesPerDraw} network passes per draw)`,
        `report: ${join(out, 'report.md')}`,
        '',
      ].join('\n'),
    );
  });
}
