/**
 * `rdc import edm`: the authors' configuration from NVIDIA's EDM checkpoints: a class-conditional
 * network for the DC (one pass per class and σ level) and, for LM, an unconditional one; both read
 * from `.pkl` snapshots, `.pt` state dicts or safetensors (`readEdmCheckpoint`: nothing executed,
 * every key checked), written as a normal model folder with the temperature fitted on the
 * validation split and a card that records the source files' sha256.
 *
 * @example
 * await importEdm({ cond: 'edm-cifar10-32x32-cond-vp.pkl', uncond: 'edm-cifar10-32x32-uncond-vp.pkl', modelDir: 'models/edm', engine, data, calibrationImages: 0 });
 */
import { basename } from 'node:path';
import {
  buildDenoiserGraph,
  calibrationText,
  Denoiser,
  guardTable,
  NOT_A_DIFFUSION_CLASSIFIER,
  type ModelGuard,
  forwardMacs,
  InputError,
  loadEdmWeights,
  parameterCount,
  readEdmCheckpoint,
  writeModelFolder,
  type DcConfig,
  type EdmCheckpoint,
  type Engine,
  type Weights,
  type MethodName,
  type ModelConfig,
  type UNetConfig,
} from '@rdc/core';
import { CIFAR10_CLASSES, type Cifar10 } from './data/cifar10.js';
import { calibrateOnValidation, guardOnCifar10, refuseDiscriminative } from './export.js';

export interface ImportEdmOptions {
  cond: string;
  uncond?: string;
  modelDir: string;
  engine: Engine;
  /** The training batches (the validation split: the guard and calibration), read only when used. */
  data?: () => Cifar10;
  /** The test batch (the guard's table on its first images, for the card). */
  testData?: () => Cifar10;
  /** Validation images of the temperature fit; undefined: as many as fit in about ten minutes here (0 when not 16: run `rdc calibrate` later). */
  calibrationImages?: number;
  /** Called with the calibration's measured cost before it starts. */
  onEstimate?: (e: { secondsPerImage: number; images: number; levels: number; passesPerLevel: number }) => void;
  /** Validation images of the generative guard (few: full-size networks take K + 1 passes per σ; 0: not measured). */
  guardImages?: number;
  guardTestImages?: number;
  allowDiscriminative?: boolean;
  onGuard?: (guard: ModelGuard) => void;
  dc?: Partial<DcConfig>;
  lmMethod?: MethodName;
  valSize?: number;
  seed?: number;
  command?: string;
  provenance?: Record<string, unknown>;
  onProgress?: (done: number, total: number) => void;
}

/** Seconds of one DC prediction at `levels` σ levels (K passes per level), from a timed pass of the network. */
async function secondsPerDcImage(engine: Engine, network: UNetConfig, weights: Weights, levels: number): Promise<number> {
  const den = new Denoiser(engine, network, weights);
  try {
    const { channels: c, height: h, width: w } = network.image;
    const b = 2;
    const x = { data: new Float32Array(b * c * h * w), dims: [b, c, h, w] };
    const labels = {
      data: Float32Array.from({ length: b * network.numClasses }, (_, i) => (i % network.numClasses === 0 ? 1 : 0)),
      dims: [b, network.numClasses],
    };
    const sigma = new Float32Array(b).fill(0.5);
    await den.denoise(x, sigma, labels); // compiles
    const t0 = performance.now();
    await den.denoise(x, sigma, labels);
    return ((performance.now() - t0) / 1000 / b) * levels * den.passesPerLevel;
  } finally {
    await den.dispose();
  }
}

/** As many calibration images as fit in about ten minutes (at most 256; 0 when fewer than 16 fit). */
export function autoCalibrationImages(secondsPerImage: number): number {
  const n = Math.min(256, Math.floor(600 / secondsPerImage));
  return n >= 16 ? n : 0;
}

function source(ck: EdmCheckpoint): Record<string, unknown> {
  return { file: basename(ck.path), format: ck.format, sha256: ck.sha256, kwargs: ck.kwargs };
}

export async function importEdm(o: ImportEdmOptions): Promise<ModelConfig> {
  const cond = readEdmCheckpoint(o.cond);
  const uncond = o.uncond ? readEdmCheckpoint(o.uncond) : null;
  try {
    if (cond.network.conditioning !== 'label')
      throw new InputError(`${o.cond}: --cond must be a class-conditional network (label_dim > 0); this one is unconditional`, 'bad_checkpoint');
    if (uncond && uncond.network.conditioning !== 'none')
      throw new InputError(`${o.uncond}: --uncond must be an unconditional network (label_dim 0)`, 'bad_checkpoint');
    if (uncond && JSON.stringify(uncond.network.image) !== JSON.stringify(cond.network.image))
      throw new InputError('--cond and --uncond are for different image sizes', 'bad_checkpoint');
    const classes = CIFAR10_CLASSES;
    if (classes.length !== cond.network.numClasses)
      throw new InputError(`${o.cond} has ${cond.network.numClasses} classes; CIFAR-10 has ${classes.length}`, 'bad_checkpoint');
    const weights = loadEdmWeights(cond);
    const lmWeights = uncond ? loadEdmWeights(uncond) : undefined;
    const levels = o.dc?.levels ?? 125;
    const dc = { ...o.dc, levels };
    const guardImages = o.guardImages ?? 32;
    if (((o.calibrationImages ?? 1) > 0 || guardImages > 0) && !o.data)
      throw new InputError('the generative guard and calibration need CIFAR-10 (--data-dir); or --guard-images 0 --calibration-images 0', 'bad_input');
    const valSize = o.valSize ?? 1000;
    const seed = o.seed ?? 0;
    let guard: ModelGuard | undefined;
    if (guardImages > 0 && o.data) {
      const lm = uncond ? new Denoiser(o.engine, uncond.network, lmWeights!) : undefined;
      const den = new Denoiser(o.engine, cond.network, weights, {}, lm);
      try {
        guard = await guardOnCifar10(den, {
          data: o.data(),
          valSize,
          seed,
          images: guardImages,
          test: o.testData?.(),
          testImages: o.guardTestImages ?? guardImages,
        });
      } finally {
        await den.dispose();
        await lm?.dispose();
      }
      o.onGuard?.(guard);
      refuseDiscriminative(guard, o.modelDir, o.allowDiscriminative);
    }
    // The calibration's cost, measured before it starts (a full-size network takes minutes per image on a CPU).
    const perImage = await secondsPerDcImage(o.engine, cond.network, weights, levels);
    const calibrationImages = o.calibrationImages ?? autoCalibrationImages(perImage);
    o.onEstimate?.({ secondsPerImage: perImage, images: calibrationImages, levels, passesPerLevel: cond.network.numClasses });
    const { temperature, calibration } =
      o.data && calibrationImages > 0
        ? await calibrateOnValidation({
            network: cond.network,
            weights,
            engine: o.engine,
            data: o.data(),
            images: calibrationImages,
            valSize,
            seed,
            dc,
            onProgress: o.onProgress,
          })
        : { temperature: null, calibration: null };
    const lmMethod = o.lmMethod ?? 'released';
    const training = {
      mode: 'imported',
      command: o.command,
      sources: { cond: source(cond), ...(uncond ? { uncond: source(uncond) } : {}) },
      importedBy: o.provenance,
    };
    return writeModelFolder(o.modelDir, {
      network: cond.network,
      weights,
      lmNetwork: uncond?.network ?? null,
      lmWeights,
      classes,
      dc,
      temperature,
      lmMethod,
      calibration,
      guard,
      training,
      card: importCard({ cond, uncond, temperature, calibration, lmMethod, levels, command: o.command, guard }),
    });
  } finally {
    cond.close();
    uncond?.close();
  }
}

function describe(network: UNetConfig): string {
  const g = buildDenoiserGraph(network);
  return `${(parameterCount(g) / 1e6).toFixed(3)} M parameters, ${(forwardMacs(g) / 1e9).toFixed(3)} G MACs per image per pass`;
}

function importCard(o: {
  cond: EdmCheckpoint;
  uncond: EdmCheckpoint | null;
  temperature: number | null;
  calibration: ModelConfig['calibration'];
  lmMethod: MethodName;
  levels: number;
  command?: string;
  guard?: ModelGuard;
}): string {
  const src = (ck: EdmCheckpoint) => `\`${basename(ck.path)}\` (${ck.format}, sha256 \`${ck.sha256}\`)`;
  return `# Model card

NVIDIA's EDM networks (EDMPrecond around a DDPM++ SongUNet) imported with this project's \`rdc import edm\`:
the authors' configuration of the robust diffusion classifier (Chen et al., ICML 2024).

## Networks

- DC: the class-conditional network from ${src(o.cond)}: ${describe(o.cond.network)}; the DC takes ${o.cond.network.numClasses} passes per σ level (${o.cond.network.numClasses * o.levels} per image at ${o.levels} levels), with the same noise for every class.
- LM: ${o.uncond ? `the unconditional network from ${src(o.uncond)}: ${describe(o.uncond.network)}.` : 'none (no --uncond): only the DC is available, not the RDC.'}
- Configuration: ${JSON.stringify(o.cond.kwargs ?? o.cond.network)}
- Command: \`${o.command ?? 'unknown'}\`

## Generative guard

${
  o.guard
    ? `**${o.guard.validation.denoises ? 'The class-conditional network denoises' : NOT_A_DIFFUSION_CLASSIFIER}** given its label (the DC's evidence), measured on ${o.guard.validation.images} validation images (few: each takes ${o.cond.network.numClasses + 1} passes per σ on a full-size network): the EDM-weighted loss given the true label, the mean over the other labels, and the unconditional network${o.guard.validation.failures.length ? ` (${o.guard.validation.failures.join('; ')})` : ''}.

${guardTable(o.guard.validation)}
${o.guard.test ? `\nThe first ${o.guard.test.images} test images:\n\n${guardTable(o.guard.test)}\n` : ''}`
    : 'Not measured (--guard-images 0).'
}

## Calibration

${o.calibration ? calibrationText(o.temperature ?? 1, o.calibration, 'unet') : 'Not calibrated (T = 1).'}

## Defaults

The RDC's LM preset is \`${o.lmMethod}\` unless a request or command names another; the DC's σ grid has ${o.levels} levels.

## Evaluation

Clean accuracy on the first CIFAR-10 test images, measured with \`rdc eval --record\` (see below).
`;
}
