/**
 * `rdc certify`: certified ℓ2 robustness by randomized smoothing (docs/certify.md) of the plain
 * network, the DC or a noised DC, on the first N CIFAR-10 test images (or a range, or one shard):
 * a per-image log that resumes, shards that `rdc merge` joins, and a report with certified accuracy
 * at radii 0–1 and its plot. Each image draws from its own seed, so shards and resumed runs repeat it.
 */
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import {
  CertifyOptions,
  certify,
  formatRate,
  guardLabel,
  InputError,
  Random,
  updateModelCardSection,
  type CertifyProgress,
  type SmoothingBase,
  isClassifierNetwork,
} from '@rdc/core';
import { imageSeed, JsonlLog } from '@rdc/attacks';
import { certifiedFigures, certifyLabel, writeCertifyReport, type CertifyRecord } from '../report/certify-report.js';
import { checkRecord, finish, openImages, openModel, runFolder, type Images } from '../util/command-steps.js';
import { measureOptions, readMeasureOptions } from '../util/measure-options.js';
import { progressBar } from '../util/progress.js';
import { commandLine, engineLabel, provenance } from '../util/provenance.js';
import { parseOptions, schemaOptions } from '../util/schema-options.js';

const SHAPE = { limit: 100, dc: [], model: ['model', 'seed'] } as const;

function readOptions(raw: Record<string, unknown>) {
  const o = { ...readMeasureOptions(raw, SHAPE), ...parseOptions(raw, CertifyOptions), out: raw.out as string | undefined, record: raw.record === true };
  checkRecord(o);
  if (o.n0 > o.n) throw new InputError(`--n0 ${o.n0} is more than --n ${o.n}: the estimation draws should outnumber the selection draws`);
  return o;
}
type Options = ReturnType<typeof readOptions>;

export function certifyCommand() {
  const cmd = new Command('certify').description(
    'certified ℓ2 robustness by randomized smoothing: certified accuracy at radii 0–1 (95 % CIs) of the plain network, the DC or a noised DC (APNDC, EPNDC), with a per-image log that resumes',
  );
  measureOptions(cmd, SHAPE);
  schemaOptions(cmd, CertifyOptions);
  cmd
    .option('--out <dir>', 'run folder: per-image log, report.md, report.json, the plot (re-running with the same folder resumes)')
    .option('--record', "write certified accuracy into the model's MODEL_CARD.md");
  return cmd.action(async (raw: Record<string, unknown>) => {
    const o = readOptions(raw);
    const { model, engine, factory } = await openModel(o);
    // A CNN has one base classifier: its plain network.
    if (raw.base === undefined && isClassifierNetwork(model.config.network)) o.base = 'none';
    const base = factory.smoothingBase(o.base, { sigma: o.sigma, levels: o.levels });
    const levels = o.base === 'none' ? null : (o.levels ?? (o.base === 'dc' ? model.config.dc.levels : 10));
    const images = openImages(o, model);
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
      selection: images.selection,
      seed: o.seed,
    };
    const out = runFolder(o, `certify-${o.base}`, 'certify', settings, images.shard);
    const records = await certifyImages(o, base, images, new JsonlLog<CertifyRecord>(join(out, 'images.jsonl')));
    const command = commandLine();
    const { summary, report } = await writeCertifyReport(out, {
      records,
      settings,
      imagesLabel: images.words,
      commandLine: command,
      extra: {
        passesPerDraw: base.passesPerDraw,
        shard: images.shard,
        guard: guardLabel(model.config),
        ...provenance({ engine: engine.info, seeds: { seed: o.seed } }),
      },
    });
    const label = certifyLabel(settings);
    const rows = summary.certified.map((p) => `radius ${p.radius}: ${formatRate({ rate: p.accuracy, low: p.ci95[0], high: p.ci95[1] })}`);
    if (o.record)
      updateModelCardSection(
        o.model,
        `certify-${o.base}`,
        `- **Certified ℓ2 robustness** (randomized smoothing of ${label}; ${images.words}): certified accuracy ${rows.join(', ')} (95 % CIs); abstained ${(100 * summary.abstentionRate).toFixed(1)} %; ${summary.secondsPerImage.toPrecision(3)} s/image on ${engineLabel(engine.info)}. Command: \`${command}\``,
        {},
        { certified: certifiedFigures(settings, summary) },
      );
    finish(o, model, report, [
      `certified (${label}; ${images.words}):`,
      ...rows.map((r) => `  ${r}`),
      `  abstained ${summary.abstained} of ${summary.images}; ${summary.secondsPerImage.toPrecision(3)} s/image (${base.passesPerDraw} network passes per draw)`,
      `report: ${join(out, 'report.md')}`,
    ]);
  });
}

/** Certifies the images not yet in the log (each from its own seed), appending each as it finishes; every image's record, in order. */
async function certifyImages(o: Options, base: SmoothingBase, images: Images, log: JsonlLog<CertifyRecord>): Promise<CertifyRecord[]> {
  const done = log.read();
  const records: CertifyRecord[] = [];
  const bar = progressBar(`certify ${o.base}`, images.indices.length, { unit: 'images', fields: ['certified', 'draws'] });
  let certified = 0;
  try {
    for (const [p, index] of images.indices.entries()) {
      let rec = done.get(index);
      if (!rec) {
        const t0 = performance.now();
        const label = images.label(index);
        // A line at least every few seconds within an image too: each batch of draws reports.
        const onProgress = (d: CertifyProgress) => bar.update(p, { certified: `${certified}/${p}`, draws: `${d.stage} ${d.done}/${d.total}` });
        const c = await certify(base, images.pixels(index), o, new Random(imageSeed(o.seed, index)), undefined, onProgress);
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
      bar.update(p + 1, { certified: `${certified}/${p + 1}`, draws: '-' });
    }
  } finally {
    bar.stop();
  }
  return records;
}
