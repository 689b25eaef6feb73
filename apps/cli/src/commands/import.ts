import { Command, Option } from '@commander-js/extra-typings';
import {
  createEngine,
  DcConfig,
  guardTable,
  InputError,
  InputRange,
  NOT_A_DIFFUSION_CLASSIFIER,
  ONNX_OPSETS,
  resolveEngineChoice,
  SUPPORTED_ONNX_OPS,
} from '@rdc/core';
import { IMPORT_TEST_IMAGES, importEdm, importOnnx, loadCifar10, resolveDataDir } from '@rdc/train';
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
  return new Command('import').description('import networks made by other code').addCommand(edm.exitOverride()).addCommand(onnxCommand().exitOverride());
}

/** '0,1' → [0, 1] (the input range). */
function parseRange(v: string): [number, number] {
  const parsed = InputRange.safeParse(v.split(',').map((p) => (p.trim() === '' ? Number.NaN : Number(p))));
  if (!parsed.success) throw new InputError(`--input-range '${v}': give lo,hi with lo < hi, e.g. 0,1 or -1,1 or 0,255`, 'bad_option');
  return parsed.data;
}

/** `rdc import onnx`: a PyTorch classifier exported to ONNX → a model folder every road takes. */
function onnxCommand() {
  const cmd = new Command('onnx')
    .description(
      'import an image classifier exported with torch.onnx.export (input N×3×32×32 pixels, output N×10 logits) into the network description: every engine, batch size and input gradient works on it',
    )
    .argument('<file>', 'the .onnx file (external-data files beside it are read, nothing outside its folder)')
    .requiredOption('--model <dir>', 'model folder to write (replaced atomically if it exists; nothing is written when the file is refused)')
    .option('--input-range <lo,hi>', 'the pixel range the network expects, recorded with the model: every road feeds images in it', parseRange, [0, 1] as [
      number,
      number,
    ])
    .option('--name <name>', "what to call it in cards and the page (default: the file's name)")
    .addHelpText(
      'after',
      `\nOpsets ${ONNX_OPSETS.min}–${ONNX_OPSETS.max} (PyTorch exports 17). Supported ops: ${SUPPORTED_ONNX_OPS.join(', ')}.\nWith --data-dir (or RDC_DATA_DIR), the clean accuracy on the first ${IMPORT_TEST_IMAGES} CIFAR-10 test images is measured and recorded. docs/import.md lists the limits.\n`,
    );
  sharedOptions(cmd, ['runtime', 'data', 'json']);
  cmd.action(async (file, o) => {
    const shared = readShared(o);
    const engine = await createEngine(resolveEngineChoice(shared.engine), { threads: shared.threads, device: shared.device });
    const dataDir = shared.dataDir ?? process.env.RDC_DATA_DIR;
    const bar = dataDir ? progressBar('clean accuracy', IMPORT_TEST_IMAGES, { unit: 'images' }) : null;
    const { config, accuracy } = await importOnnx({
      file,
      modelDir: o.model,
      inputRange: o.inputRange,
      name: o.name,
      engine,
      test: dataDir ? () => loadCifar10(resolveDataDir(dataDir), 'test', { limit: IMPORT_TEST_IMAGES }) : undefined,
      command: commandLine(),
      provenance: provenance({ engine: engine.info }),
      onProgress: (done) => bar?.update(done),
    }).finally(() => bar?.stop());
    const net = config.network;
    const ops = net.arch === 'imported' ? net.source.ops.join(', ') : '';
    process.stdout.write(
      `wrote ${o.model}: ${Object.keys(config.files).join(', ')}, config.json; ops ${ops}; input range [${o.inputRange.join(', ')}]; ${
        accuracy
          ? `clean accuracy ${(100 * accuracy.accuracy).toFixed(1)} % (${accuracy.correct}/${accuracy.images} test images)`
          : 'clean accuracy not measured (no --data-dir)'
      }\n`,
    );
    if (shared.json) writeJson(shared.json, config);
  });
  return cmd;
}
