import { Command, Option } from '@commander-js/extra-typings';
import { createEngine, DcConfig, resolveEngineChoice } from '@rdc/core';
import { importEdm, loadCifar10, resolveDataDir } from '@rdc/train';
import { writeJson } from '../util/output.js';
import { DEVICE_HELP } from '../util/device.js';
import { parseIntArg } from '../util/parse.js';
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
      'validation images for the temperature fit (0: none; the full-size DC costs minutes per image on a CPU)',
      parseIntArg,
      256,
    )
    .option('--levels <n>', 'σ levels the model is calibrated with and serves by default', parseIntArg, 125)
    .addOption(new Option('--lm-method <preset>', "the RDC's default LM preset").choices(['released', 'paper'] as const).default('released' as const))
    .option('--data-dir <dir>', 'CIFAR-10 binary folder (env RDC_DATA_DIR)')
    .option('--engine <name>', 'engine (env RDC_ENGINE)')
    .option('--device <device>', DEVICE_HELP)
    .option('--threads <n>', 'ONNX Runtime threads', parseIntArg)
    .option('--json <file>', 'write the model config as JSON')
    .action(async (o) => {
      const engine = await createEngine(resolveEngineChoice(o.engine), { threads: o.threads, device: o.device });
      const data = o.calibrationImages > 0 ? loadCifar10(resolveDataDir(o.dataDir), 'train') : undefined;
      const bar = o.calibrationImages > 0 ? progressBar('calibrate', o.calibrationImages, { unit: 'images' }) : null;
      const config = await importEdm({
        cond: o.cond,
        uncond: o.uncond,
        modelDir: o.model,
        engine,
        data,
        calibrationImages: o.calibrationImages,
        dc: DcConfig.parse({ levels: o.levels }),
        lmMethod: o.lmMethod,
        command: commandLine(),
        provenance: provenance({ engine: engine.info }),
        onProgress: (done) => bar?.update(done),
      });
      bar?.stop();
      process.stdout.write(
        `wrote ${o.model}: ${Object.keys(config.files).join(', ')}, config.json; ${config.lmNetwork ? 'DC and RDC' : 'DC only (no --uncond)'}; temperature ${config.temperature?.toPrecision(3) ?? 'none'}\n`,
      );
      if (o.json) writeJson(o.json, config);
    });
  return new Command('import').description('import networks made by other code').addCommand(edm.exitOverride());
}
