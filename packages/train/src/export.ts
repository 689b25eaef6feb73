/**
 * `rdc export`: a training run's EMA weights → a model folder (docs/design.md), with the softmax
 * temperature fitted on the run's validation split (never the test batch) and a model card.
 *
 * @example
 * await exportModel({ runDir: 'runs/tiny', modelDir: 'models/mine', engine, data: () => data, calibrationImages: 256 });
 */
import { arch as cpuArch, cpus, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  calibrationRecord,
  calibrationText,
  Denoiser,
  generativeGuard,
  guardTable,
  InputError,
  NOT_A_DIFFUSION_CLASSIFIER,
  type GuardReport,
  type ModelGuard,
  forwardFlops,
  parameterCount,
  type Calibration,
  type DcConfig,
  type Engine,
  type MethodName,
  type ModelConfig,
  type NetworkConfig,
  type Weights,
  writeModelFolder,
  isClassifierNetwork,
} from '@rdc/core';
import { CIFAR10_CLASSES, type Cifar10 } from './data/cifar10.js';
import { trainValSplit } from './data/split.js';
import { loadCheckpoint } from './training/checkpoint.js';
import { inferenceGraph, readRunConfig } from './training/trainer.js';
import { networkLogits } from './training/validate.js';

export interface ExportOptions {
  runDir: string;
  modelDir: string;
  engine: Engine;
  /**
   * The training batches the run used (the validation split: calibration and the generative guard);
   * loaded only when something uses them.
   */
  data: () => Cifar10;
  /** The test batch (the guard's table on its first images, for the card); loaded only for a diffusion model. */
  testData?: () => Cifar10;
  /** Validation images of the generative guard (at least 256 for a model trained here). */
  guardImages?: number;
  /** First test images of the guard's table in the card. */
  guardTestImages?: number;
  /** Write a model whose class heads do not denoise (labelled as such) instead of refusing it. */
  allowDiscriminative?: boolean;
  /** Called with the guard's verdict before the (longer) calibration. */
  onGuard?: (guard: ModelGuard) => void;
  /** DC settings to calibrate with and serve by default. */
  dc?: Partial<DcConfig>;
  calibrationImages?: number;
  /** The RDC's default LM preset. */
  lmMethod?: MethodName;
  onProgress?: (done: number, total: number) => void;
  /** Extra provenance (commit, versions). */
  provenance?: Record<string, unknown>;
}

/** Steps, images and wall time from the latest checkpoint; the validation accuracies from the log. */
interface ValidationPoint {
  step: number;
  imagesSeen: number;
  valAccuracy: number;
  valImages: number;
  valLevels: number;
}

interface ResumePoint {
  time: string;
  step: number;
  command?: string;
}

function runSummary(runDir: string): { steps: number; imagesSeen: number; wallSeconds: number; validation: ValidationPoint[]; resumes: ResumePoint[] } {
  const lines = readFileSync(join(runDir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const validation = lines.filter((l) => l.event === 'validation') as unknown as ValidationPoint[];
  const ckpt = loadCheckpoint(runDir).state;
  const resumes = lines.filter((l) => l.event === 'resume') as unknown as ResumePoint[];
  return { steps: ckpt.step, imagesSeen: ckpt.imagesSeen, wallSeconds: ckpt.elapsedSeconds, validation, resumes };
}

/**
 * The softmax temperature of a network's logits fitted on the first `images` images of the
 * validation split carved from the training batches (never the test batch), and its record.
 */
export async function calibrateOnValidation(o: {
  network: NetworkConfig;
  weights: Weights;
  engine: Engine;
  /** null: nothing to calibrate on (`images` must be 0). */
  data: Cifar10 | null;
  images: number;
  valSize: number;
  seed: number;
  dc: Partial<DcConfig> & { levels: number };
  onProgress?: (done: number, total: number) => void;
}): Promise<{ temperature: number | null; calibration: Calibration | null }> {
  if (o.images <= 0 || !o.data) return { temperature: null, calibration: null };
  const data = o.data;
  const split = trainValSplit(data.size, o.valSize, o.seed);
  const n = Math.min(o.images, split.val.length);
  if (n <= 0) return { temperature: null, calibration: null };
  const idx = split.val.subarray(0, n);
  const labels = data.labelsAt(idx);
  const k = o.network.numClasses;
  const logits = (await networkLogits(o.network, o.weights, o.engine, data.pixels(idx), o.dc.levels, o.seed, o.dc, o.onProgress)).data;
  return calibrationRecord(logits, labels, k, {
    levels: o.network.arch === 'cnn' ? 1 : o.dc.levels,
    split: `validation (${o.valSize} images held out of the training batches, seed ${o.seed})`,
  });
}

/**
 * The generative guard (core's `generativeGuard`) of a denoiser on the first `images` images of the
 * validation split and the first `testImages` test images (for the card), as config.json records it.
 *
 * @example
 * const guard = await guardOnCifar10(den, { data, valSize: 1000, seed: 0, images: 256, test, testImages: 128 });
 */
export async function guardOnCifar10(
  den: Denoiser,
  o: { data: Cifar10; valSize: number; seed: number; images: number; test?: Cifar10 | null; testImages?: number },
): Promise<ModelGuard> {
  const measure = (data: Cifar10, idx: Int32Array, split: string): Promise<GuardReport> =>
    generativeGuard(den, data.pixels(idx), data.labelsAt(idx), { seed: o.seed, split });
  const val = trainValSplit(o.data.size, o.valSize, o.seed).val.subarray(0, o.images);
  if (val.length === 0) throw new InputError('the generative guard needs validation images: the run has no validation split (--val-size 0)', 'bad_option');
  const validation = await measure(o.data, val, 'val');
  const n = Math.min(o.testImages ?? 128, o.test?.size ?? 0);
  return {
    validation,
    test:
      o.test && n > 0
        ? await measure(
            o.test,
            Int32Array.from({ length: n }, (_, i) => i),
            'test',
          )
        : null,
  };
}

/**
 * The refusal of a model whose class heads do not denoise (unless allowed), with what to do: train
 * longer where the run is short, train with EDM's loss alone where it mixed in a cross-entropy
 * (`ceWeight` > 0), else see the guard's figures.
 */
export function refuseDiscriminative(guard: ModelGuard, what: string, allow = false, run?: { ceWeight: number; imagesSeen: number }): void {
  if (guard.validation.denoises || allow) return;
  const cause = !run
    ? 'A network whose heads do not denoise is not a diffusion classifier'
    : run.ceWeight > 0
      ? `This run mixed a cross-entropy into EDM's loss (--ce-weight ${run.ceWeight}): train with EDM's loss alone (--ce-weight 0)`
      : `This run saw ${run.imagesSeen} images: its heads have not learned to denoise yet; train longer (the default model saw 144 000)`;
  throw new InputError(
    `refusing to write ${what}: ${NOT_A_DIFFUSION_CLASSIFIER} (generative guard on ${guard.validation.images} validation images: ${guard.validation.failures.join('; ')}). ${cause}, or pass --allow-discriminative to write it labelled as such.`,
    'not_a_diffusion_classifier',
  );
}

export async function exportModel(opts: ExportOptions): Promise<ModelConfig> {
  const run = readRunConfig(opts.runDir);
  const { network } = run;
  const ckpt = loadCheckpoint(opts.runDir);
  const weights = ckpt.ema;
  const summary = runSummary(opts.runDir);
  const train = run.train;

  // The generative guard first: a model whose class heads do not denoise is refused before the calibration.
  let guard: ModelGuard | undefined;
  if (!isClassifierNetwork(network)) {
    const den = new Denoiser(opts.engine, network, weights);
    try {
      guard = await guardOnCifar10(den, {
        data: opts.data(),
        valSize: train.valSize,
        seed: train.seed,
        images: opts.guardImages ?? 256,
        test: opts.testData?.(),
        testImages: opts.guardTestImages,
      });
    } finally {
      await den.dispose();
    }
    opts.onGuard?.(guard);
    refuseDiscriminative(guard, `a model folder from ${opts.runDir}`, opts.allowDiscriminative, { ceWeight: train.ceWeight, imagesSeen: summary.imagesSeen });
  }

  // Temperature on the run's own validation split.
  const dcDefaults = { ...opts.dc };
  const levels = dcDefaults.levels ?? 125;
  const calibrationImages = opts.calibrationImages ?? 256;
  const { temperature, calibration } = await calibrateOnValidation({
    network,
    weights,
    engine: opts.engine,
    data: calibrationImages > 0 ? opts.data() : null,
    images: calibrationImages,
    valSize: train.valSize,
    seed: train.seed,
    dc: { ...dcDefaults, levels },
    onProgress: opts.onProgress,
  });

  const graph = inferenceGraph(network);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'} (${cpuArch()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  const training = {
    command: run.command,
    mode: run.mode,
    train,
    data: run.data,
    steps: summary.steps,
    imagesSeen: summary.imagesSeen,
    wallSeconds: summary.wallSeconds,
    validation: summary.validation.map((v) => ({
      step: v.step,
      imagesSeen: v.imagesSeen,
      valAccuracy: v.valAccuracy,
      valImages: v.valImages,
      valLevels: v.valLevels,
    })),
    resumes: summary.resumes.map((r) => ({ time: r.time, step: r.step, command: r.command })),
    engine: run.engine,
    machine,
    commit: run.commit,
    runDir: opts.runDir,
    exportedBy: opts.provenance,
  };
  const card = modelCard({
    network,
    params: parameterCount(graph),
    flops: forwardFlops(graph),
    training,
    calibration,
    temperature,
    lmMethod: opts.lmMethod ?? 'paper',
    classes: CIFAR10_CLASSES,
    guard,
  });
  return writeModelFolder(opts.modelDir, {
    network,
    weights,
    classes: CIFAR10_CLASSES,
    dc: { ...dcDefaults, levels },
    temperature,
    lmMethod: opts.lmMethod ?? 'paper',
    calibration,
    guard,
    training,
    card,
  });
}

function modelCard(o: {
  network: ReturnType<typeof readRunConfig>['network'];
  params: number;
  flops: number;
  training: Record<string, unknown> & {
    steps: number;
    imagesSeen: number;
    wallSeconds: number;
    machine: string;
    validation: ValidationPoint[];
    resumes: ResumePoint[];
  };
  calibration: Calibration | null;
  temperature: number | null;
  lmMethod: MethodName;
  classes: string[];
  guard?: ModelGuard;
}): string {
  const t = o.training;
  const noiseSd = (t.train as { noiseSd?: number } | undefined)?.noiseSd ?? 0;
  const cnnKind =
    noiseSd > 0
      ? `baseline CNN classifier trained on its inputs plus Gaussian noise of standard deviation ${noiseSd} (pixel units): the base classifier for randomized smoothing (\`rdc certify --base none --sigma ${noiseSd}\`)`
      : 'baseline CNN classifier';
  const kind = o.network.arch === 'cnn' ? cnnKind : 'multi-head diffusion UNet (EDM preconditioning, K class heads + 1 unconditional head)';
  const g = o.guard;
  const guardSection = g
    ? `## Generative guard

Are the class heads denoisers (docs/method.md, "What makes a model a diffusion classifier")? The EDM-weighted
denoising loss λ(σ)·mean((D − x)²) of the true class's head, the mean of the other class heads and the
unconditional head, on the same noise; the heads denoise when the true class's loss is at most 1.05 × the
unconditional one at every σ, and at σ = 0.4 at most 0.5 and below the other heads' mean (a head that outputs
nothing scores 1.0).

**Verdict: ${g.validation.denoises ? 'the class heads denoise' : NOT_A_DIFFUSION_CLASSIFIER}**${g.validation.failures.length ? ` (${g.validation.failures.join('; ')})` : ''}.

${g.validation.images} validation images (seed ${g.validation.seed}):

${guardTable(g.validation)}
${
  g.test
    ? `
The first ${g.test.images} CIFAR-10 test images (${g.test.denoises ? 'the same verdict' : `verdict there: ${NOT_A_DIFFUSION_CLASSIFIER}`}):

${guardTable(g.test)}
`
    : ''
}
`
    : '';
  return `# Model card
${g && !g.validation.denoises ? `\n**Warning: ${NOT_A_DIFFUSION_CLASSIFIER}.** Its DC reads a class off a discriminative readout, not Bayes' rule over class-conditional likelihoods (see the generative guard below).\n` : ''}
A ${kind} for CIFAR-10 (${o.classes.join(', ')}), made by this project's \`rdc train\` and \`rdc export\`.

## Network

- ${o.network.arch} ${JSON.stringify(o.network)}
- ${(o.params / 1e6).toFixed(3)} M parameters, ${(o.flops / 1e9).toFixed(3)} GFLOP per image per forward pass

## Training

- Command: \`${String(t.command ?? 'unknown')}\` (mode: ${String(t.mode)})
${t.resumes.map((r) => `- Resumed at step ${r.step} (${r.time})${r.command ? `: \`${r.command}\`` : ''}\n`).join('')}- Data: ${JSON.stringify(t.data)}
- Steps: ${t.steps}, images seen: ${t.imagesSeen}, wall time: ${(t.wallSeconds / 60).toFixed(1)} min
- Machine: ${t.machine}; engine: ${JSON.stringify(t.engine)}
- Commit: ${String(t.commit ?? 'unknown')}

${
  t.validation.length
    ? o.network.arch === 'cnn'
      ? `Validation accuracy during training (the EMA weights, on held-out training images):

| step | images seen | accuracy | images |
|---|---|---|---|
${t.validation.map((v) => `| ${v.step} | ${v.imagesSeen} | ${(100 * v.valAccuracy).toFixed(1)} % | ${v.valImages} |`).join('\n')}
`
      : `Validation DC accuracy during training (the EMA weights, on held-out training images, released σ weights):

| step | images seen | accuracy | images | σ levels |
|---|---|---|---|---|
${t.validation.map((v) => `| ${v.step} | ${v.imagesSeen} | ${(100 * v.valAccuracy).toFixed(1)} % | ${v.valImages} | ${v.valLevels} |`).join('\n')}
`
    : ''
}
${guardSection}## Calibration

${o.calibration ? calibrationText(o.temperature ?? 1, o.calibration, o.network.arch) : 'Not calibrated (T = 1).'}

${
  o.network.arch === 'cnn'
    ? ''
    : `## Defaults

The RDC's LM preset is \`${o.lmMethod}\` unless a request or command names another (\`method\`, \`--method\`; docs/method.md).

`
}## Evaluation

Clean accuracy on the first CIFAR-10 test images, measured with \`rdc eval --record\` (see below).
`;
}
