import { Command, Option } from '@commander-js/extra-typings';
import { createEngine, DcConfig, guardTable, NOT_A_DIFFUSION_CLASSIFIER, resolveEngineChoice } from '@rdc/core';
import { importEdm, loadCifar10, resolveDataDir } from '@rdc/train';
import { writeJson } from '../util/output.js';
import { parseIntArg } from '../util/parse.js';
import { readShared, sharedOptions } from '../util/schema-options.js';
import { progressBar } from '../util/progress.js';
import { commandLine, provenance } from '../util/provenance.js';

/** `rdc import edm`: NVIDIA's EDM checkpoints → a model folder (the authors' configuration). */
export function importCommand() {
  const edm = new Command('edm')
    .description(
      "import NVIDIA's EDM networks (.pkl snapshots, .pt state dicts or safetensors; nothing in them is executed) as a model folder: the class-conditional network for the DC, the unconditional one for LM",
    )
    .requiredOption('--cond <file>', 'the class-conditional network, e.g. edm-cifar10-32x32-cond-vp.pkl')
    .option('--uncond <file>', 'the unconditional network for LM, e.g. edm-cifar10-32x32-uncond-vp.pkl (without it: DC only)')
    .requiredOption('--model <dir>', 'model folder to write (replaced atomically if it exists)')
    .option(
      '--calibration-images <n>',
      'validation images for the temperature fit (default: as many as fit in about ten minutes here, measured first, at most 256; 0: none — run rdc calibrate later)',
      parseIntArg,
    )
    .option('--levels <n>', 'σ levels the model is calibrated with and serves by default', parseIntArg, 125)
    .addOption(new Option('--lm-method <preset>', "the RDC's default LM preset").choices(['released', 'paper'] as const).default('released' as const))
    .option(
      '--guard-images <n>',
      'validation images of the generative guard (each costs K + 1 passes per σ; 0: not measured, and the model says so)',
      parseIntArg,
      32,
    )
    .option('--allow-discriminative', 'write the model even if its class heads do not denoise (labelled as such)');
  sharedOptions(edm, ['runtime', 'data', 'json']);
  edm.action(async (o) => {
    const shared = readShared(o);
    const engine = await createEngine(resolveEngineChoice(shared.engine), { threads: shared.threads, device: shared.device });
    const needsData = (o.calibrationImages ?? 1) > 0 || o.guardImages > 0;
    let bar: ReturnType<typeof progressBar> | null = null;
    const config = await importEdm({
      cond: o.cond,
      uncond: o.uncond,
      modelDir: o.model,
      engine,
      data: needsData ? () => loadCifar10(resolveDataDir(shared.dataDir), 'train') : undefined,
      testData: () => loadCifar10(resolveDataDir(shared.dataDir), 'test', { limit: o.guardImages }),
      guardImages: o.guardImages,
      allowDiscriminative: o.allowDiscriminative,
      onGuard: (g) =>
        process.stderr.write(
          `generative guard (${g.validation.images} validation images): ${g.validation.denoises ? 'the class heads denoise' : NOT_A_DIFFUSION_CLASSIFIER}\n${guardTable(g.validation)}\n`,
        ),
      calibrationImages: o.calibrationImages,
      onEstimate: (e) => {
        const hours = (n: number) => (n * e.secondsPerImage) / 3600;
        process.stderr.write(
          `calibration: ${e.levels} σ levels × ${e.passesPerLevel} passes per level ≈ ${e.secondsPerImage.toFixed(1)} s per image here (measured); ${
            e.images > 0
              ? `${e.images} validation images ≈ ${(hours(e.images) * 60).toFixed(0)} min`
              : `skipped (256 images would take ${hours(256).toFixed(1)} h): run rdc calibrate --model ${o.model} later, resumable`
          }\n`,
        );
        if (e.images > 0) bar = progressBar('calibrate', e.images, { unit: 'images' });
      },
      dc: DcConfig.parse({ levels: o.levels }),
      lmMethod: o.lmMethod,
      command: commandLine(),
      provenance: provenance({ engine: engine.info }),
      onProgress: (done) => bar?.update(done),
    }).finally(() => bar?.stop());
    process.stdout.write(
      `wrote ${o.model}: ${Object.keys(config.files).join(', ')}, config.json; ${config.lmNetwork ? 'DC and RDC' : 'DC only (no --uncond)'}; temperature ${config.temperature?.toPrecision(3) ?? 'none'}\n`,
    );
    if (shared.json) writeJson(shared.json, config);
  });
  return new Command('import').description('import networks made by other code').addCommand(edm.exitOverride());
}
