import { Command, Option } from '@commander-js/extra-typings';
import { createEngine, DcConfig, resolveEngineChoice } from '@rdc/core';
import { exportModel, loadCifar10, readRunConfig, resolveDataDir } from '@rdc/train';
import { writeJson } from '../util/output.js';
import { DEVICE_HELP } from '../util/device.js';
import { parseIntArg } from '../util/parse.js';
import { progressBar } from '../util/progress.js';
import { provenance } from '../util/provenance.js';

/** `rdc export`: a training run → a model folder (EMA weights, ONNX graphs, calibrated temperature, card). */
export function exportCommand() {
  return new Command('export')
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
        .default('released' as const),
    )
    .option('--data-dir <dir>', 'CIFAR-10 binary folder (env RDC_DATA_DIR)')
    .option('--engine <name>', 'engine (env RDC_ENGINE)')
    .option('--device <device>', DEVICE_HELP)
    .option('--threads <n>', 'ONNX Runtime threads', parseIntArg)
    .option('--json <file>', 'write the model config as JSON')
    .action(async (o) => {
      readRunConfig(o.run);
      const engine = await createEngine(resolveEngineChoice(o.engine), { threads: o.threads, device: o.device });
      const data = loadCifar10(resolveDataDir(o.dataDir), 'train');
      const bar = o.calibrationImages > 0 ? progressBar('calibrate', o.calibrationImages, { unit: 'images' }) : null;
      const config = await exportModel({
        runDir: o.run,
        modelDir: o.model,
        engine,
        data,
        dc: DcConfig.parse({ levels: o.levels }),
        calibrationImages: o.calibrationImages,
        lmMethod: o.lmMethod,
        onProgress: (done) => bar?.update(done),
        provenance: provenance({ engine: engine.info }),
      });
      bar?.stop();
      process.stdout.write(
        `wrote ${o.model}: ${Object.keys(config.files).join(', ')}, config.json; temperature ${config.temperature?.toPrecision(3) ?? 'none'}${config.network.arch === 'cnn' ? '' : `, LM preset ${config.lmMethod}`}\n`,
      );
      if (o.json) writeJson(o.json, config);
    });
}
