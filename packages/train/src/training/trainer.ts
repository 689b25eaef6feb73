import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildClassifierGraph,
  buildDenoiserGraph,
  crossEntropyGraph,
  edmLossGraph,
  initWeights,
  InputError,
  NetworkConfig,
  OrtEngine,
  pixelsToModel,
  Random,
  type Denoiser,
  type Engine,
  type GradientFunction,
  type Graph,
  type GuardReport,
  type Tensor,
  type Weights,
} from '@rdc/core';
import type { TrainConfig } from '@rdc/core';
import type { Cifar10 } from '../data/cifar10.js';
import { AdamW, clipScale, globalNorm } from '../optim/adamw.js';
import { DeviceOptimizer } from '../optim/device-optimizer.js';
import { Ema } from '../optim/ema.js';
import { learningRate } from '../optim/schedule.js';
import { hasCheckpoint, loadCheckpoint, removeStaleCheckpointWrites, saveCheckpoint, truncateLogToCheckpoint, type TrainState } from './checkpoint.js';
import { EpochSampler } from './epoch-order.js';
import { sigmaSampler } from './noise-levels.js';
import { validationAccuracy, validationGuard } from './validate.js';

/**
 * The training loop shared by every engine: the engine computes the loss and its weight gradients
 * from the network's loss graph; AdamW, warm-up, gradient clipping, EMA, data order and σ/noise
 * draws live here in TypeScript. Three modes: from scratch, fine-tuning (`init` weights), and
 * distillation (`teacher`: every head regresses the teacher's D). Checkpoints are atomic and a
 * resume continues exactly (weights, EMA, optimizer, step, random streams, data order).
 *
 * @example
 * const t = new Trainer({ config, network, runDir, data, split, gradientEngine, forwardEngine });
 * const result = await t.run();
 */

export interface TrainProgress {
  step: number;
  steps: number;
  imagesSeen: number;
  loss: number;
  lr: number;
  imagesPerSecond: number;
  elapsedSeconds: number;
  valAccuracy?: number;
}

export interface TrainResult {
  step: number;
  imagesSeen: number;
  stoppedBy: 'steps' | 'time-budget' | 'interrupt';
  elapsedSeconds: number;
  lastLoss: number;
  valAccuracy: number | null;
  /** The generative guard at the last validation (null for a CNN or without validation). */
  valGuard: GuardReport | null;
  weights: Weights;
  ema: Weights;
}

export interface TrainerOptions {
  config: TrainConfig;
  network: NetworkConfig;
  runDir: string;
  data: Cifar10;
  split: { train: Int32Array; val: Int32Array };
  gradientEngine: Engine;
  /** Runs validation (forward only; ONNX Runtime by default). */
  forwardEngine: Engine;
  /** Starting weights (fine-tuning); fresh initialisation otherwise. */
  init?: Weights;
  /** Distillation teacher. */
  teacher?: Denoiser;
  /** Continue from the run folder's latest checkpoint. */
  resume?: boolean;
  /** Extra fields for the run's config.json (command line, engine, data). */
  provenance?: Record<string, unknown>;
  onProgress?: (p: TrainProgress) => void;
  onLog?: (record: Record<string, unknown>) => void;
}

/** The training-loss graph of a network (with the run's auxiliary cross-entropy, if any). */
export function lossGraph(network: NetworkConfig, cfg?: Pick<TrainConfig, 'ceWeight' | 'ceScale'>): Graph {
  if (network.arch === 'cnn') return crossEntropyGraph(network, { training: true });
  const ce = cfg && cfg.ceWeight > 0 ? { weight: cfg.ceWeight, scale: cfg.ceScale } : undefined;
  return edmLossGraph(network, { training: true, crossEntropy: ce });
}

/** The inference graph whose parameters are the network's weights. */
export function inferenceGraph(network: NetworkConfig): Graph {
  return network.arch === 'cnn' ? buildClassifierGraph(network) : buildDenoiserGraph(network);
}

const LOG_EVERY = 10;

export class Trainer {
  private stopReason: TrainResult['stoppedBy'] | null = null;
  private readonly opts: TrainerOptions;

  constructor(opts: TrainerOptions) {
    this.opts = opts;
    const { network, teacher } = opts;
    if (teacher && network.arch === 'cnn') throw new Error('distillation needs a diffusion network (--arch unet)');
    if (network.arch === 'unet' && network.conditioning !== 'multihead')
      throw new Error("training makes the multi-head network; EDM's label-conditional and unconditional networks come from 'rdc import edm'");
    if (teacher && teacher.numClasses !== network.numClasses)
      throw new Error(`the teacher has ${teacher.numClasses} classes, the student ${network.numClasses}`);
  }

  /** Asks the loop to stop after the current step, saving a checkpoint (Ctrl-C). */
  requestStop(reason: TrainResult['stoppedBy'] = 'interrupt'): void {
    this.stopReason ??= reason;
  }

  private log(record: Record<string, unknown>): void {
    appendFileSync(join(this.opts.runDir, 'log.jsonl'), `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
    this.opts.onLog?.(record);
  }

  async run(): Promise<TrainResult> {
    const { config: cfg, network, runDir, data, split } = this.opts;
    mkdirSync(runDir, { recursive: true });
    const graph = inferenceGraph(network);
    const resuming = this.opts.resume && hasCheckpoint(runDir);
    if (this.opts.resume && !resuming) throw new InputError(`nothing to resume in '${runDir}': it has no checkpoint`, 'no_checkpoint');
    const cleaned = removeStaleCheckpointWrites(runDir);

    let weights: Weights;
    let ema: Ema;
    let opt: AdamW;
    let state: TrainState;
    let sampler: EpochSampler;
    let rng: Random;
    if (resuming) {
      const ck = loadCheckpoint(runDir);
      weights = ck.weights;
      ema = new Ema(ck.ema, cfg.emaHalflifeImages, cfg.emaRampup);
      opt = new AdamW(weights, { weightDecay: cfg.weightDecay });
      opt.t = ck.state.optimizerSteps;
      for (const k of Object.keys(weights)) {
        opt.m[k].set(ck.m[k]);
        opt.v[k].set(ck.v[k]);
      }
      state = ck.state;
      sampler = new EpochSampler(split.train, cfg.seed, ck.state.sampler);
      rng = Random.fromState(ck.state.rng);
      const dropped = truncateLogToCheckpoint(runDir, state.step);
      this.log({
        event: 'resume',
        step: state.step,
        imagesSeen: state.imagesSeen,
        command: this.opts.provenance?.command,
        droppedLogLines: dropped,
        removed: cleaned,
      });
    } else {
      weights = this.opts.init ?? initWeights(graph, cfg.seed);
      for (const p of graph.params) if (!weights[p.name]) throw new Error(`initial weights lack '${p.name}'`);
      ema = new Ema(weights, cfg.emaHalflifeImages, cfg.emaRampup);
      opt = new AdamW(weights, { weightDecay: cfg.weightDecay });
      sampler = new EpochSampler(split.train, cfg.seed);
      rng = new Random(cfg.seed).split();
      state = { step: 0, imagesSeen: 0, optimizerSteps: 0, rng: rng.state(), sampler: sampler.state(), elapsedSeconds: 0 };
      writeFileSync(
        join(runDir, 'config.json'),
        `${JSON.stringify({ train: cfg, network, mode: this.opts.teacher ? 'distill' : this.opts.init ? 'finetune' : 'scratch', trainImages: split.train.length, valImages: split.val.length, ...this.opts.provenance }, null, 2)}\n`,
      );
      this.log({ event: 'start', mode: this.opts.teacher ? 'distill' : this.opts.init ? 'finetune' : 'scratch', params: graph.params.length });
    }

    if (cfg.ceWeight > 0 && this.opts.teacher)
      throw new InputError('--ce-weight trains on labels: it does not combine with distillation (--teacher)', 'bad_option');
    const loss = lossGraph(network, cfg);
    const engine = this.opts.gradientEngine;
    if (engine.info.precision) throw new InputError('training keeps float32 weights and moments: train with --precision fp32', 'bad_option');
    const resident = engine instanceof OrtEngine;
    const onDevice = cfg.optimizer === 'device' || (cfg.optimizer === 'auto' && resident && engine.info.backend !== 'cpu');
    if (onDevice && !resident) throw new InputError('--optimizer device needs the ONNX Runtime engine', 'bad_option');
    const device = onDevice ? await DeviceOptimizer.create(engine as OrtEngine, loss, { weights, m: opt.m, v: opt.v, ema: ema.weights }) : null;
    const grad = device ? null : await engine.compileGradient(loss, { of: 'loss', wrt: graph.params.map((p) => p.name) });
    let released = false;
    /** Brings the device's weights, moments and EMA to the host copies (checkpoints, validation, the result). */
    const sync = async () => {
      if (device && !released) await device.download({ weights, m: opt.m, v: opt.v, ema: ema.weights });
    };
    const masks = loss.inputs.filter((i) => i.dropout !== undefined);
    const drawSigma = sigmaSampler(cfg.sigmaSampling, cfg.pMean, cfg.pStd);
    const sessionStart = Date.now();
    const startElapsed = state.elapsedSeconds;
    let lastLoss = NaN;
    let valAccuracy: number | null = null;
    let valGuard: GuardReport | null = null;
    let windowStart = Date.now();
    let windowImages = 0;
    let imagesPerSecond = 0;

    const save = async () => {
      await sync();
      state = {
        ...state,
        optimizerSteps: opt.t,
        rng: rng.state(),
        sampler: sampler.state(),
        elapsedSeconds: startElapsed + (Date.now() - sessionStart) / 1000,
      };
      saveCheckpoint(runDir, { weights, ema: ema.weights, m: opt.m, v: opt.v, state }, cfg.keepCheckpoints);
      this.log({ event: 'checkpoint', step: state.step, imagesSeen: state.imagesSeen });
    };
    const validate = async () => {
      await sync();
      valAccuracy = await validationAccuracy(
        network,
        ema.weights,
        this.opts.forwardEngine,
        data,
        split.val.subarray(0, cfg.valImages),
        cfg.valLevels,
        cfg.seed,
      );
      valGuard = await validationGuard(network, ema.weights, this.opts.forwardEngine, data, split.val.subarray(0, cfg.valImages), cfg.seed);
      this.log({
        event: 'validation',
        step: state.step,
        imagesSeen: state.imagesSeen,
        valAccuracy,
        valImages: Math.min(cfg.valImages, split.val.length),
        valLevels: cfg.valLevels,
        ...(valGuard ? { guard: { rows: valGuard.rows, denoises: valGuard.denoises } } : {}),
      });
      if (valGuard && !valGuard.denoises)
        this.log({
          event: 'warning',
          step: state.step,
          message: `the class heads do not denoise (generative guard: ${valGuard.failures.join('; ')})${cfg.ceWeight > 0 ? '; lower --ce-weight' : ''}`,
        });
      return valAccuracy;
    };

    try {
      while (state.step < cfg.steps) {
        if (this.stopReason) break;
        if (cfg.timeBudget !== null && (Date.now() - sessionStart) / 1000 >= cfg.timeBudget) {
          this.stopReason = 'time-budget';
          break;
        }
        const feeds = await this.batch(sampler, rng, drawSigma);
        for (const m of masks) feeds[m.name] = dropoutMask(m.shape, cfg.batch, m.dropout!, rng);
        const lr = learningRate(state.step, { lr: cfg.lr, warmup: cfg.warmup, schedule: cfg.lrSchedule, total: cfg.steps });
        let norm: number;
        if (device) {
          opt.t += 1;
          const r = await device.step(feeds, {
            lr,
            t: opt.t,
            clip: cfg.gradClip,
            weightDecay: cfg.weightDecay,
            emaBeta: ema.beta(state.imagesSeen + cfg.batch, cfg.batch),
          });
          lastLoss = r.loss;
          norm = r.gradNorm;
        } else {
          const r = await grad!.run(feeds, { weights });
          lastLoss = r.value.data[0];
          norm = globalNorm(r.grads);
          if (Number.isFinite(lastLoss)) opt.step(weights, r.grads, lr, clipScale(norm, cfg.gradClip));
        }
        if (!Number.isFinite(lastLoss)) throw new Error(`the loss became ${lastLoss} at step ${state.step}; lower --lr or keep --grad-clip`);
        state.step += 1;
        state.imagesSeen += cfg.batch;
        if (!device) ema.update(weights, state.imagesSeen, cfg.batch);

        windowImages += cfg.batch;
        const now = Date.now();
        if (now - windowStart > 3000) {
          imagesPerSecond = (windowImages * 1000) / (now - windowStart);
          windowStart = now;
          windowImages = 0;
        }
        if (state.step % LOG_EVERY === 0 || state.step === 1)
          this.log({ event: 'step', step: state.step, imagesSeen: state.imagesSeen, loss: lastLoss, lr, gradNorm: norm, imagesPerSecond });
        if (state.step % cfg.valEvery === 0) await validate();
        if (state.step % cfg.ckptEvery === 0) await save();
        this.opts.onProgress?.({
          step: state.step,
          steps: cfg.steps,
          imagesSeen: state.imagesSeen,
          loss: lastLoss,
          lr,
          imagesPerSecond,
          elapsedSeconds: startElapsed + (now - sessionStart) / 1000,
          valAccuracy: valAccuracy ?? undefined,
        });
      }
      await sync();
    } finally {
      grad?.dispose();
      device?.dispose();
      released = true;
    }
    const stoppedBy = this.stopReason ?? 'steps';
    if (state.step % cfg.ckptEvery !== 0 || state.step === 0) await save();
    // A final validation (unless interrupted: Ctrl-C should be quick).
    if (stoppedBy !== 'interrupt' && state.step % cfg.valEvery !== 0 && split.val.length > 0 && state.step > 0) await validate();
    this.log({ event: 'stop', stoppedBy, step: state.step, imagesSeen: state.imagesSeen, valAccuracy });
    return {
      step: state.step,
      imagesSeen: state.imagesSeen,
      stoppedBy,
      elapsedSeconds: state.elapsedSeconds,
      lastLoss,
      valAccuracy,
      valGuard,
      weights,
      ema: ema.weights,
    };
  }

  /** One batch of feeds for the loss graph. Draw order (fixed): indices, flips, σ, noise. */
  private async batch(sampler: EpochSampler, rng: Random, drawSigma: (r: Random) => number): Promise<Record<string, Tensor>> {
    const { config: cfg, network, data } = this.opts;
    const n = cfg.batch;
    const idx = sampler.next(n);
    const px = data.pixels(idx, cfg.flip ? { flip: rng } : {});
    const x = pixelsToModel(px.data);
    const { channels, height, width } = network.image;
    const d = channels * height * width;
    const labels = data.labelsAt(idx);
    const k = network.numClasses;
    const oneHot = (): Tensor => {
      const data = new Float32Array(n * k);
      labels.forEach((y, i) => (data[i * k + y] = 1));
      return { data, dims: [n, k] };
    };
    if (network.arch === 'cnn') return { x: { data: x, dims: [n, channels, height, width] }, labels: oneHot() };
    const sigma = Float32Array.from({ length: n }, () => drawSigma(rng));
    const noise = rng.normal(n * d);
    const heads = k + 1;
    const mask = new Float32Array(n * heads);
    let target: Float32Array;
    if (this.opts.teacher) {
      // Every head regresses the teacher's prediction at the same noised input.
      const xs = new Float32Array(n * d);
      // float32 arithmetic, in the graph's order (σ·n, then + x), so the teacher sees the student's exact input
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xs[i * d + j] = Math.fround(x[i * d + j] + Math.fround(sigma[i] * noise[i * d + j]));
      target = (await this.opts.teacher.denoiseAllHeads({ data: xs, dims: [n, channels, height, width] }, sigma)).data;
      mask.fill(2 / heads); // the same total weight per image as the two heads of training from data
    } else {
      target = new Float32Array(n * heads * d);
      for (let i = 0; i < n; i++) {
        for (let h = 0; h < heads; h++) target.set(x.subarray(i * d, (i + 1) * d), (i * heads + h) * d);
        mask[i * heads + labels[i]] = 1;
        mask[i * heads + k] = cfg.uncondWeight;
      }
    }
    return {
      ...(cfg.ceWeight > 0 ? { classes: oneHot() } : {}),
      x: { data: x, dims: [n, channels, height, width] },
      noise: { data: noise, dims: [n, channels, height, width] },
      sigma: { data: sigma, dims: [n] },
      target: { data: target, dims: [n, heads, channels, height, width] },
      mask: { data: mask, dims: [n, heads] },
    };
  }
}

/** A dropout mask for a batch: each element 1/(1 − rate) with probability 1 − rate, else 0. */
export function dropoutMask(shape: readonly (number | string)[], batch: number, rate: number, rng: Random): Tensor {
  const dims = shape.map((d) => (typeof d === 'number' ? d : batch));
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const keep = 1 / (1 - rate);
  for (let i = 0; i < n; i++) data[i] = rng.uniform() < rate ? 0 : keep;
  return { data, dims };
}

/** Reads a run folder's config.json (for resuming and exporting). */
export function readRunConfig(runDir: string): { train: TrainConfig; network: NetworkConfig; [k: string]: unknown } {
  const p = join(runDir, 'config.json');
  if (!existsSync(p)) throw new InputError(`'${runDir}' is not a training run (config.json is missing)`, 'bad_run');
  const raw = JSON.parse(readFileSync(p, 'utf8'));
  return { ...raw, network: NetworkConfig.parse(raw.network) };
}

export type { GradientFunction };
