import { arch as cpuArch, cpus, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  argmax,
  fitTemperature,
  forwardFlops,
  meanNll,
  parameterCount,
  type Calibration,
  type DcConfig,
  type Engine,
  type MethodName,
  type ModelConfig,
  type NetworkConfig,
  type Weights,
  writeModelFolder,
} from '@rdc/core';
import type { Cifar10 } from './data/cifar10.js';
import { trainValSplit } from './data/split.js';
import { loadCheckpoint } from './training/checkpoint.js';
import { inferenceGraph, readRunConfig } from './training/trainer.js';
import { networkLogits } from './training/validate.js';

/**
 * `rdc export`: a training run's EMA weights → a model folder (architecture.md), with the softmax
 * temperature fitted on the run's validation split (never the test batch) and a model card.
 *
 * @example
 * await exportModel({ runDir: 'runs/tiny', modelDir: 'models/default', engine, data, calibrationImages: 256 });
 */
export interface ExportOptions {
  runDir: string;
  modelDir: string;
  engine: Engine;
  /** The training batches the run used (for the validation split). */
  data: Cifar10;
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
  data: Cifar10;
  images: number;
  valSize: number;
  seed: number;
  dc: Partial<DcConfig> & { levels: number };
  onProgress?: (done: number, total: number) => void;
}): Promise<{ temperature: number | null; calibration: Calibration | null }> {
  const split = trainValSplit(o.data.size, o.valSize, o.seed);
  const n = Math.min(o.images, split.val.length);
  if (n <= 0) return { temperature: null, calibration: null };
  const idx = split.val.subarray(0, n);
  const labels = o.data.labelsAt(idx);
  const k = o.network.numClasses;
  const logits = (await networkLogits(o.network, o.weights, o.engine, o.data.pixels(idx), o.dc.levels, o.seed, o.dc, o.onProgress)).data;
  const temperature = fitTemperature(logits, labels, k);
  const pred = argmax(logits, k);
  return {
    temperature,
    calibration: {
      images: n,
      split: `validation (${o.valSize} images held out of the training batches, seed ${o.seed})`,
      levels: o.network.arch === 'cnn' ? 1 : o.dc.levels,
      nllBefore: meanNll(logits, labels, k),
      nllAfter: meanNll(logits, labels, k, 1 / temperature),
      accuracy: pred.reduce((a, p, i) => a + (p === labels[i] ? 1 : 0), 0) / n,
    },
  };
}

export async function exportModel(opts: ExportOptions): Promise<ModelConfig> {
  const run = readRunConfig(opts.runDir);
  const { network } = run;
  const ckpt = loadCheckpoint(opts.runDir);
  const weights = ckpt.ema;
  const summary = runSummary(opts.runDir);
  const train = run.train;

  // Temperature on the run's own validation split.
  const dcDefaults = { ...opts.dc };
  const levels = dcDefaults.levels ?? 125;
  const { temperature, calibration } = await calibrateOnValidation({
    network,
    weights,
    engine: opts.engine,
    data: opts.data,
    images: opts.calibrationImages ?? 256,
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
    lmMethod: opts.lmMethod ?? 'released',
    classes: opts.data.classes,
  });
  return writeModelFolder(opts.modelDir, {
    network,
    weights,
    classes: opts.data.classes,
    dc: { ...dcDefaults, levels },
    temperature,
    lmMethod: opts.lmMethod,
    calibration,
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
}): string {
  const t = o.training;
  const kind = o.network.arch === 'cnn' ? 'baseline CNN classifier' : 'multi-head diffusion UNet (EDM preconditioning, K class heads + 1 unconditional head)';
  return `# Model card

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
    ? `Validation DC accuracy during training (the EMA weights, on held-out training images, released σ weights):

| step | images seen | accuracy | images | σ levels |
|---|---|---|---|---|
${t.validation.map((v) => `| ${v.step} | ${v.imagesSeen} | ${(100 * v.valAccuracy).toFixed(1)} % | ${v.valImages} | ${v.valLevels} |`).join('\n')}
`
    : ''
}
## Calibration

${
  o.calibration
    ? `Temperature T = ${o.temperature?.toPrecision(3)} (probabilities = softmax(logits / T)) fitted on ${o.calibration.images} images of the ${o.calibration.split}, ${o.calibration.levels} σ levels: mean NLL ${o.calibration.nllBefore.toFixed(4)} → ${o.calibration.nllAfter.toFixed(4)}; accuracy on those images ${(100 * o.calibration.accuracy).toFixed(1)} %.`
    : 'Not calibrated (T = 1).'
}

${
  o.network.arch === 'cnn'
    ? ''
    : `## Defaults

The RDC's LM preset is \`${o.lmMethod}\` unless a request or command names another (\`method\`, \`--method\`; rdc-method.md §3).

`
}## Evaluation

Clean accuracy on the first CIFAR-10 test images, measured with \`rdc eval --record\` (see below).
`;
}
