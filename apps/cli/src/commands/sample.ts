import { join, relative } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import {
  argmax,
  createEngine,
  denoisingLosses,
  edmSample,
  GUARD_SIGMAS,
  guardVerdict,
  InputError,
  modelDenoisers,
  NOT_A_DIFFUSION_CLASSIFIER,
  openClassifier,
  Random,
  readModelFolder,
  resolveEngineChoice,
  updateModelCardSection,
  wilson,
  type Tensor,
  isClassifierNetwork,
} from '@rdc/core';
import { modelValidationSplit, resolveDataDir } from '@rdc/train';
import { writeImageGrid } from '../util/image.js';
import { writeJson } from '../util/output.js';
import { parseIntArg, parseNumber } from '../util/parse.js';
import { writeLineChart } from '../util/plot.js';
import { readShared, sharedOptions } from '../util/schema-options.js';
import { progressBar } from '../util/progress.js';
import { commandLine, provenance } from '../util/provenance.js';

/** `rdc sample`: the two sanity checks of a diffusion backbone: samples per class and the per-σ loss. */
export function sampleCommand() {
  const cmd = new Command('sample')
    .description('sanity checks of a diffusion backbone: EDM samples per class as a PNG grid, and the per-σ validation loss (JSON + SVG plot)')
    .requiredOption('--model <dir>', 'model folder (a diffusion model)')
    .option('--out <dir>', 'where to write samples.png, sigma-loss.json and sigma-loss.svg', 'samples')
    .option('--per-class <n>', 'samples per class (plus one row from the unconditional head)', parseIntArg, 8)
    .option('--steps <n>', 'sampler steps (Heun; 2·steps − 1 evaluations)', parseIntArg, 18)
    .option('--guidance <w>', 'guidance weight on the class heads', parseNumber, 0)
    .option('--val-images <n>', 'validation images for the per-σ loss (0: skip)', parseIntArg, 256)
    .option(
      '--judge <dir>',
      'classify the class-conditional samples with this model folder (e.g. the baseline CNN): the fraction recognised as the class they were drawn for',
    )
    .option('--seed <n>', 'seed', parseIntArg, 0)
    .option('--record', "link the outputs from the model's MODEL_CARD.md (with the per-σ loss table)");
  sharedOptions(cmd, ['runtime', 'data']);
  return cmd.action(async (o) => {
    const shared = readShared(o);
    const model = readModelFolder(o.model);
    const network = model.config.network;
    if (isClassifierNetwork(network)) throw new InputError(`${o.model} is a classifier; sampling needs a diffusion model`);
    const engine = await createEngine(resolveEngineChoice(shared.engine), { threads: shared.threads, device: shared.device });
    const den = modelDenoisers(model, engine).main;
    const rng = new Random(o.seed);
    const k = network.numClasses;
    const bar = progressBar('sample', k + 1, { unit: 'rows' });
    const rows = [];
    for (let head = 0; head <= k; head++) {
      rows.push(await edmSample(den, { head, count: o.perClass, rng, steps: o.steps, guidance: o.guidance }));
      bar.update(head + 1);
    }
    bar.stop();
    const [c, h, w] = den.imageDims;
    const all = new Float32Array(rows.reduce((a, r) => a + r.data.length, 0));
    let off = 0;
    for (const r of rows) {
      all.set(r.data, off);
      off += r.data.length;
    }
    const judged = o.judge ? await judgeSamples(o.judge, rows.slice(0, k), engine) : null;
    const grid = join(o.out, 'samples.png');
    await writeImageGrid(grid, { data: all, dims: [(k + 1) * o.perClass, c, h, w] }, o.perClass, 2);
    process.stdout.write(`wrote ${grid}: one row per class (${model.config.classes.join(', ')}), last row unconditional\n`);
    const link = (file: string) => relative(model.dir, join(o.out, file)).split('\\').join('/');
    let card = `Samples (EDM Heun, ${o.steps} steps, guidance ${o.guidance}, seed ${o.seed}; one row per class in order, last row the unconditional head):\n\n![samples](${link('samples.png')})\n`;

    if (judged) {
      const pct = (r: { rate: number; low: number; high: number }) =>
        `${(100 * r.rate).toFixed(1)} % [${(100 * r.low).toFixed(1)}, ${(100 * r.high).toFixed(1)}]`;
      writeJson(join(o.out, 'judged.json'), {
        model: model.dir,
        judgeModel: o.judge,
        samplesPerClass: o.perClass,
        ...judged,
        ...provenance({ engine: engine.info, seeds: { seed: o.seed } }),
      });
      process.stdout.write(
        `judged by ${o.judge}: ${pct(judged.overall)} of the class-conditional samples are recognised as their class (chance ${(100 / k).toFixed(0)} %)\n${judged.perClass.map((c) => `  ${model.config.classes[c.class].padEnd(12)} ${c.recognised}/${c.samples}`).join('\n')}\n`,
      );
      card += `\nJudged by \`${o.judge}\` (${judged.judge}): **${pct(judged.overall)}** of the ${judged.samples} class-conditional samples are classified as the class they were drawn for (chance ${(100 / k).toFixed(0)} %, 95 % Wilson interval); per class: ${judged.perClass.map((c) => `${model.config.classes[c.class]} ${c.recognised}/${c.samples}`).join(', ')}.\n`;
    }

    if (o.valImages > 0) {
      const { data, indices } = modelValidationSplit(model.config, resolveDataDir(shared.dataDir));
      const idx = indices.subarray(0, o.valImages);
      const sigmas = [...new Set([...Array.from({ length: 13 }, (_, i) => 0.002 * Math.pow(80 / 0.002, i / 12)), ...GUARD_SIGMAS])].sort((a, b) => a - b);
      const curve = await denoisingLosses(den, data.pixels(idx), data.labelsAt(idx), sigmas, { seed: o.seed + 1 });
      const verdict = guardVerdict(curve.filter((p) => GUARD_SIGMAS.includes(p.sigma)));
      writeJson(join(o.out, 'sigma-loss.json'), {
        model: model.dir,
        images: idx.length,
        split: 'validation',
        curve,
        guard: verdict,
        ...provenance({ engine: engine.info, seeds: { seed: o.seed } }),
      });
      await writeLineChart(
        join(o.out, 'sigma-loss.svg'),
        curve.flatMap((p) => [
          { sigma: p.sigma, loss: p.trueClass, head: 'true class' },
          { sigma: p.sigma, loss: p.otherClasses, head: 'other classes (mean)' },
          ...(p.unconditional === null ? [] : [{ sigma: p.sigma, loss: p.unconditional, head: 'unconditional' }]),
        ]),
        { x: 'sigma', y: 'loss', series: 'head', logX: true, title: 'Validation loss λ(σ)·MSE per noise level', xTitle: 'σ' },
      );
      const verdictLine = verdict.denoises ? 'the class heads denoise (generative guard)' : `${NOT_A_DIFFUSION_CLASSIFIER} (${verdict.failures.join('; ')})`;
      process.stdout.write(`wrote ${join(o.out, 'sigma-loss.json')} and sigma-loss.svg; ${verdictLine}\n`);
      const f = (v: number | null) => (v === null ? '–' : v.toFixed(4));
      card += `\nValidation loss λ(σ)·MSE per noise level on ${idx.length} held-out training images ([plot](${link('sigma-loss.svg')})); ${verdictLine}:\n\n| σ | true-class head | other class heads (mean) | unconditional head |\n|---|---|---|---|\n${curve.map((p) => `| ${p.sigma.toPrecision(3)} | ${f(p.trueClass)} | ${f(p.otherClasses)} | ${f(p.unconditional)} |`).join('\n')}\n`;
    }
    if (o.record) updateModelCardSection(o.model, 'samples', `${card}\nCommand: \`${commandLine()}\``);
  });
}

/**
 * The class-conditional samples (one tensor per class, pixels) classified by another model folder:
 * the fraction recognised as the class they were drawn for, per class and overall (a CNN judges with
 * its plain network, a diffusion model with its DC).
 */
async function judgeSamples(dir: string, perClass: Tensor[], engine: Awaited<ReturnType<typeof createEngine>>) {
  const judge = readModelFolder(dir);
  if (judge.config.network.numClasses !== perClass.length)
    throw new InputError(`--judge ${dir} has ${judge.config.network.numClasses} classes, the samples ${perClass.length}`);
  const clf = openClassifier(judge, engine, { defense: isClassifierNetwork(judge.config.network) ? 'none' : 'dc' });
  const rng = new Random(0);
  const rows = [];
  for (let y = 0; y < perClass.length; y++) {
    const pred = argmax((await clf.logits(perClass[y], rng)).data, clf.numClasses);
    rows.push({ class: y, samples: pred.length, recognised: pred.filter((p) => p === y).length });
  }
  const samples = rows.reduce((a, r) => a + r.samples, 0);
  const recognised = rows.reduce((a, r) => a + r.recognised, 0);
  return { judge: `${isClassifierNetwork(judge.config.network) ? 'baseline CNN' : 'DC'}`, samples, recognised, overall: wilson(recognised, samples), perClass: rows };
}
