import { basename } from 'node:path';
import {
  buildDenoiserGraph,
  forwardMacs,
  InputError,
  loadEdmWeights,
  parameterCount,
  readEdmCheckpoint,
  writeModelFolder,
  type DcConfig,
  type EdmCheckpoint,
  type Engine,
  type MethodName,
  type ModelConfig,
  type UNetConfig,
} from '@rdc/core';
import { CIFAR10_CLASSES, type Cifar10 } from './data/cifar10.js';
import { calibrateOnValidation } from './export.js';

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
export interface ImportEdmOptions {
  cond: string;
  uncond?: string;
  modelDir: string;
  engine: Engine;
  /** The training batches (for the validation split); needed when calibrating. */
  data?: Cifar10;
  calibrationImages: number;
  dc?: Partial<DcConfig>;
  lmMethod?: MethodName;
  valSize?: number;
  seed?: number;
  command?: string;
  provenance?: Record<string, unknown>;
  onProgress?: (done: number, total: number) => void;
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
    const classes = o.data?.classes ?? CIFAR10_CLASSES;
    if (classes.length !== cond.network.numClasses)
      throw new InputError(`${o.cond} has ${cond.network.numClasses} classes; CIFAR-10 has ${classes.length}`, 'bad_checkpoint');
    const weights = loadEdmWeights(cond);
    const lmWeights = uncond ? loadEdmWeights(uncond) : undefined;
    const levels = o.dc?.levels ?? 125;
    const dc = { ...o.dc, levels };
    if (o.calibrationImages > 0 && !o.data) throw new InputError('calibrating needs CIFAR-10 (--data-dir) or --calibration-images 0', 'bad_input');
    const valSize = o.valSize ?? 1000;
    const seed = o.seed ?? 0;
    const { temperature, calibration } = o.data
      ? await calibrateOnValidation({
          network: cond.network,
          weights,
          engine: o.engine,
          data: o.data,
          images: o.calibrationImages,
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
      training,
      card: importCard({ cond, uncond, temperature, calibration, lmMethod, levels, command: o.command }),
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

## Calibration

${
  o.calibration
    ? `Temperature T = ${o.temperature?.toPrecision(3)} fitted on ${o.calibration.images} images of the ${o.calibration.split}, ${o.calibration.levels} σ levels: mean NLL ${o.calibration.nllBefore.toFixed(4)} → ${o.calibration.nllAfter.toFixed(4)}; accuracy on those images ${(100 * o.calibration.accuracy).toFixed(1)} %.`
    : 'Not calibrated (T = 1).'
}

## Defaults

The RDC's LM preset is \`${o.lmMethod}\` unless a request or command names another; the DC's σ grid has ${o.levels} levels.

## Evaluation

Clean accuracy on the first CIFAR-10 test images, measured with \`rdc eval --record\` (see below).
`;
}
