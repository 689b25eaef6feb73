import { join, relative } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { createEngine, modelDenoisers, edmSample, Random, readModelFolder, resolveEngineChoice, InputError, updateModelCardSection } from '@rdc/core';
import { modelValidationSplit, perSigmaLoss, resolveDataDir } from '@rdc/train';
import { writeImageGrid } from '../util/image.js';
import { writeJson } from '../util/output.js';
import { DEVICE_HELP } from '../util/device.js';
import { parseIntArg, parseNumber } from '../util/parse.js';
import { writeLineChart } from '../util/plot.js';
import { progressBar } from '../util/progress.js';
import { commandLine, provenance } from '../util/provenance.js';

/** `rdc sample`: the two sanity checks of a diffusion backbone: samples per class and the per-σ loss. */
export function sampleCommand() {
  return new Command('sample')
    .description('sanity checks of a diffusion backbone: EDM samples per class as a PNG grid, and the per-σ validation loss (JSON + SVG plot)')
    .requiredOption('--model <dir>', 'model folder (a diffusion model)')
    .option('--out <dir>', 'where to write samples.png, sigma-loss.json and sigma-loss.svg', 'samples')
    .option('--per-class <n>', 'samples per class (plus one row from the unconditional head)', parseIntArg, 8)
    .option('--steps <n>', 'sampler steps (Heun; 2·steps − 1 evaluations)', parseIntArg, 18)
    .option('--guidance <w>', 'guidance weight on the class heads', parseNumber, 0)
    .option('--val-images <n>', 'validation images for the per-σ loss (0: skip)', parseIntArg, 256)
    .option('--seed <n>', 'seed', parseIntArg, 0)
    .option('--data-dir <dir>', 'CIFAR-10 binary folder (env RDC_DATA_DIR)')
    .option('--engine <name>', 'engine (env RDC_ENGINE)')
    .option('--device <device>', DEVICE_HELP)
    .option('--threads <n>', 'ONNX Runtime threads', parseIntArg)
    .option('--record', "link the outputs from the model's MODEL_CARD.md (with the per-σ loss table)")
    .action(async (o) => {
      const model = readModelFolder(o.model);
      const network = model.config.network;
      if (network.arch === 'cnn') throw new InputError(`${o.model} is a CNN; sampling needs a diffusion model`);
      const engine = await createEngine(resolveEngineChoice(o.engine), { threads: o.threads, device: o.device });
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
      const grid = join(o.out, 'samples.png');
      await writeImageGrid(grid, { data: all, dims: [(k + 1) * o.perClass, c, h, w] }, o.perClass, 2);
      process.stdout.write(`wrote ${grid}: one row per class (${model.config.classes.join(', ')}), last row unconditional\n`);
      const link = (file: string) => relative(model.dir, join(o.out, file)).split('\\').join('/');
      let card = `Samples (EDM Heun, ${o.steps} steps, guidance ${o.guidance}, seed ${o.seed}; one row per class in order, last row the unconditional head):\n\n![samples](${link('samples.png')})\n`;

      if (o.valImages > 0) {
        const { data, indices } = modelValidationSplit(model.config, resolveDataDir(o.dataDir));
        const sigmas = Array.from({ length: 13 }, (_, i) => 0.002 * Math.pow(80 / 0.002, i / 12));
        const curve = await perSigmaLoss(den, data, indices.subarray(0, o.valImages), sigmas, new Random(o.seed + 1));
        writeJson(join(o.out, 'sigma-loss.json'), {
          model: model.dir,
          images: Math.min(o.valImages, indices.length),
          split: 'validation',
          curve,
          ...provenance({ engine: engine.info, seeds: { seed: o.seed } }),
        });
        await writeLineChart(
          join(o.out, 'sigma-loss.svg'),
          curve.flatMap((p) => [
            { sigma: p.sigma, loss: p.classHead, head: 'true class' },
            { sigma: p.sigma, loss: p.unconditional, head: 'unconditional' },
          ]),
          { x: 'sigma', y: 'loss', series: 'head', logX: true, title: 'Validation loss λ(σ)·MSE per noise level', xTitle: 'σ' },
        );
        process.stdout.write(`wrote ${join(o.out, 'sigma-loss.json')} and sigma-loss.svg\n`);
        card += `\nValidation loss λ(σ)·MSE per noise level on ${Math.min(o.valImages, indices.length)} held-out training images ([plot](${link('sigma-loss.svg')})):\n\n| σ | true-class head | unconditional head |\n|---|---|---|\n${curve.map((p) => `| ${p.sigma.toPrecision(3)} | ${p.classHead.toFixed(4)} | ${p.unconditional.toFixed(4)} |`).join('\n')}\n`;
      }
      if (o.record) updateModelCardSection(o.model, 'samples', `${card}\nCommand: \`${commandLine()}\``);
    });
}
