import { Command, Option } from '@commander-js/extra-typings';
import { createEngine, DcConfig, guardLabel, guardTable, InputError, NOT_A_DIFFUSION_CLASSIFIER, resolveEngineChoice } from '@rdc/core';
import { exportModel, loadCifar10, readRunConfig, resolveDataDir, type Cifar10 } from '@rdc/train';
import { writeJson } from '../util/output.js';
import { parseIntArg } from '../util/parse.js';
import { readShared, sharedOptions } from '../util/schema-options.js';
import { progressBar } from '../util/progress.js';
import { provenance } from '../util/provenance.js';

/** `rdc export`: a training run → a model folder (EMA weights, ONNX graphs, calibrated temperature, card). */
export function exportCommand() {
  const cmd = new Command('export')
    .description(
      'turn a training run into a model folder: EMA weights in safetensors, ONNX graphs referencing them, config.json with checksums and the temperature fitted on the validation split, and a model card',
    )
    .requiredOption('--run <dir>', 'training run folder')
    .requiredOption('--model <dir>', 'model folder to write (replaced atomically if it exists)')
    .option('--calibration-images <n>', 'validation images for the temperature fit (0: none)', parseIntArg, 256)
    .option('--levels <n>', 'σ levels the model is calibrated with and serves by default', parseIntArg, 125)
    .addOption(
      new Option('--lm-method <preset>', "the RDC's default LM preset (compare them first with 'rdc eval --defense rdc --split val --method ...')")
        .choices(['released', 'paper'] as const)
        .default('paper' as const),
    )
    .option('--guard-images <n>', 'validation images of the generative guard (at least 256 for a model trained here)', parseIntArg, 256)
    .option('--allow-discriminative', 'write a model whose class heads do not denoise (labelled as not a diffusion classifier) instead of refusing it');
  sharedOptions(cmd, ['runtime', 'data', 'json']);
  return cmd.action(async (o) => {
    const shared = readShared(o);
    const run = readRunConfig(o.run);
    if (run.network.arch !== 'cnn' && o.guardImages < 256 && !o.allowDiscriminative)
      throw new InputError(`--guard-images ${o.guardImages}: the generative guard needs at least 256 validation images for a model trained here`, 'bad_option');
    const engine = await createEngine(resolveEngineChoice(shared.engine), { threads: shared.threads, device: shared.device });
    // The data is read only when something uses it (a CNN exported without calibration needs none).
    const dataDir = () => resolveDataDir(shared.dataDir);
    let train: Cifar10 | undefined;
    const bar = o.calibrationImages > 0 ? progressBar('calibrate', o.calibrationImages, { unit: 'images' }) : null;
    const config = await exportModel({
      runDir: o.run,
      modelDir: o.model,
      engine,
      data: () => (train ??= loadCifar10(dataDir(), 'train')),
      testData: () => loadCifar10(dataDir(), 'test', { limit: 128 }),
      guardImages: o.guardImages,
      allowDiscriminative: o.allowDiscriminative,
      onGuard: (g) => {
        const v = g.validation;
        process.stderr.write(
          `generative guard (${v.images} validation images): ${v.denoises ? 'the class heads denoise' : NOT_A_DIFFUSION_CLASSIFIER}\n${guardTable(v)}\n`,
        );
      },
      dc: DcConfig.parse({ levels: o.levels }),
      calibrationImages: o.calibrationImages,
      lmMethod: o.lmMethod,
      onProgress: (done) => bar?.update(done),
      provenance: provenance({ engine: engine.info }),
    }).finally(() => bar?.stop());
    const label = guardLabel(config);
    process.stdout.write(
      `${label ? `${o.model}: ${label}\n` : ''}wrote ${o.model}: ${Object.keys(config.files).join(', ')}, config.json; temperature ${config.temperature?.toPrecision(3) ?? 'none'}${config.network.arch === 'cnn' ? '' : `, LM preset ${config.lmMethod}`}\n`,
    );
    if (shared.json) writeJson(shared.json, config);
  });
}
