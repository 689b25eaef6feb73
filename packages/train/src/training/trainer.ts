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
  isClassifierNetwork,
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
  if (network.arch === 'imported') throw new InputError('an imported classifier is not trained here: train or fine-tune it where it came from and import it again', 'bad_option');
  const ce = cfg && cfg.ceWeight > 0 ? { weight: cfg.ceWeight, scale: cfg.ceScale } : undefined;
  return edmLossGraph(network, { training: true, crossEntropy: ce });
}

/** The inference graph whose parameters are the network's weights. */
export function inferenceGraph(network: NetworkConfig): Graph {
  return isClassifierNetwork(network) ? buildClassifierGraph(network) : buildDenoiserGraph(network);
}

const LOG_EVERY = 10;

/** What a run carries from step to step (and saves in its checkpoints). */
interface Session {
  weights: Weights;
  ema: Ema;
  opt: AdamW;
  state: TrainState;
  sampler: EpochSampler;
  rng: Random;
}

/** Images per second over windows of about 3 s. */
class Throughput {
  private start = Date.now();
  private images = 0;
  private last = 0;
  add(images: number): number {
    this.images += images;
    const now = Date.now();
    if (now - this.start > 3000) {
      this.last = (this.images * 1000) / (now - this.start);
      this.start = now;
      this.images = 0;
    }
    return this.last;
  }
}

export class Trainer {
  private stopReason: TrainResult['stoppedBy'] | null = null;
  private readonly opts: TrainerOptions;

  constructor(opts: TrainerOptions) {
    this.opts = opts;
    const { network, teacher } = opts;
    if (teacher && network.arch === 'cnn') throw new Error('distillation needs a diffusion network (--arch unet)');
    if (opts.config.noiseSd > 0 && network.arch !== 'cnn')
      throw new InputError('--noise-sd augments the baseline CNN (--arch cnn); a diffusion model is trained on noise by its objective', 'bad_option');
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

  /** The training state of a run: restored from its latest checkpoint, or fresh (and config.json written). */
  private begin(): Session {
    const { config: cfg, network, runDir, split } = this.opts;
    mkdirSync(runDir, { recursive: true });
    const graph = inferenceGraph(network);
    const resuming = this.opts.resume && hasCheckpoint(runDir);
    if (this.opts.resume && !resuming) throw new InputError(`nothing to resume in '${runDir}': it has no checkpoint`, 'no_checkpoint');
    const cleaned = removeStaleCheckpointWrites(runDir);
    const mode = this.opts.teacher ? 'distill' : this.opts.init ? 'finetune' : 'scratch';
    if (resuming) {
      const ck = loadCheckpoint(runDir);
      const opt = new AdamW(ck.weights, { weightDecay: cfg.weightDecay });
      opt.t = ck.state.optimizerSteps;
      for (const k of Object.keys(ck.weights)) {
        opt.m[k].set(ck.m[k]);
        opt.v[k].set(ck.v[k]);
      }
      const session: Session = {
        weights: ck.weights,
        ema: new Ema(ck.ema, cfg.emaHalflifeImages, cfg.emaRampup),
        opt,
        state: ck.state,
        sampler: new EpochSampler(split.train, cfg.seed, ck.state.sampler),
        rng: Random.fromState(ck.state.rng),
      };
      const dropped = truncateLogToCheckpoint(runDir, session.state.step);
      this.log({
        event: 'resume',
        step: session.state.step,
        imagesSeen: session.state.imagesSeen,
        command: this.opts.provenance?.command,
        droppedLogLines: dropped,
        removed: cleaned,
      });
      return session;
    }
    const weights = this.opts.init ?? initWeights(graph, cfg.seed);
    for (const p of graph.params) if (!weights[p.name]) throw new Error(`initial weights lack '${p.name}'`);
    const sampler = new EpochSampler(split.train, cfg.seed);
    const rng = new Random(cfg.seed).split();
    const state = { step: 0, imagesSeen: 0, optimizerSteps: 0, rng: rng.state(), sampler: sampler.state(), elapsedSeconds: 0 };
    writeFileSync(
      join(runDir, 'config.json'),
      `${JSON.stringify({ train: cfg, network, mode, trainImages: split.train.length, valImages: split.val.length, ...this.opts.provenance }, null, 2)}\n`,
    );
    this.log({ event: 'start', mode, params: graph.params.length });
    return {
      weights,
      ema: new Ema(weights, cfg.emaHalflifeImages, cfg.emaRampup),
      opt: new AdamW(weights, { weightDecay: cfg.weightDecay }),
      state,
      sampler,
      rng,
    };
  }

  /** How the steps are taken: the gradient graph and the host optimizer, or the optimizer inside the step graph on the device. */
  private async stepper(s: Session): Promise<{ grad: GradientFunction | null; device: DeviceOptimizer | null }> {
    const { config: cfg, network } = this.opts;
    if (cfg.ceWeight > 0 && this.opts.teacher)
      throw new InputError('--ce-weight trains on labels: it does not combine with distillation (--teacher)', 'bad_option');
    const loss = lossGraph(network, cfg);
    const engine = this.opts.gradientEngine;
    if (engine.info.precision) throw new InputError('training keeps float32 weights and moments: train with --precision fp32', 'bad_option');
    const resident = engine instanceof OrtEngine;
    const onDevice = cfg.optimizer === 'device' || (cfg.optimizer === 'auto' && resident && engine.info.backend !== 'cpu');
    if (onDevice && !resident) throw new InputError('--optimizer device needs the ONNX Runtime engine', 'bad_option');
    if (onDevice)
      return {
        grad: null,
        device: await DeviceOptimizer.create(engine as OrtEngine, loss, { weights: s.weights, m: s.opt.m, v: s.opt.v, ema: s.ema.weights }),
      };
    return { grad: await engine.compileGradient(loss, { of: 'loss', wrt: inferenceGraph(network).params.map((p) => p.name) }), device: null };
  }

  /** Validation DC accuracy and the generative guard of the EMA weights, logged (with a warning when the heads do not denoise). */
  private async validate(s: Session): Promise<{ accuracy: number; guard: GuardReport | null }> {
    const { config: cfg, network, data, split } = this.opts;
    const val = split.val.subarray(0, cfg.valImages);
    const accuracy = await validationAccuracy(network, s.ema.weights, this.opts.forwardEngine, data, val, cfg.valLevels, cfg.seed);
    const guard = await validationGuard(network, s.ema.weights, this.opts.forwardEngine, data, val, cfg.seed);
    this.log({
      event: 'validation',
      step: s.state.step,
      imagesSeen: s.state.imagesSeen,
      valAccuracy: accuracy,
      valImages: val.length,
      valLevels: cfg.valLevels,
      ...(guard ? { guard: { rows: guard.rows, denoises: guard.denoises } } : {}),
    });
    if (guard && !guard.denoises)
      this.log({
        event: 'warning',
        step: s.state.step,
        message: `the class heads do not denoise (generative guard: ${guard.failures.join('; ')})${cfg.ceWeight > 0 ? '; lower --ce-weight' : ''}`,
      });
    return { accuracy, guard };
  }

  async run(): Promise<TrainResult> {
    const { config: cfg, runDir, split } = this.opts;
    const s = this.begin();
    const { grad, device } = await this.stepper(s);
    let released = false;
    /** Brings the device's weights, moments and EMA to the host copies (checkpoints, validation, the result). */
    const sync = async () => {
      if (device && !released) await device.download({ weights: s.weights, m: s.opt.m, v: s.opt.v, ema: s.ema.weights });
    };
    const masks = lossGraph(this.opts.network, cfg).inputs.filter((i) => i.dropout !== undefined);
    const drawSigma = sigmaSampler(cfg.sigmaSampling, cfg.pMean, cfg.pStd);
    const sessionStart = Date.now();
    const startElapsed = s.state.elapsedSeconds;
    let lastLoss = NaN;
    let valAccuracy: number | null = null;
    let valGuard: GuardReport | null = null;
    const rate = new Throughput();

    const save = async () => {
      await sync();
      s.state = {
        ...s.state,
        optimizerSteps: s.opt.t,
        rng: s.rng.state(),
        sampler: s.sampler.state(),
        elapsedSeconds: startElapsed + (Date.now() - sessionStart) / 1000,
      };
      saveCheckpoint(runDir, { weights: s.weights, ema: s.ema.weights, m: s.opt.m, v: s.opt.v, state: s.state }, cfg.keepCheckpoints);
      this.log({ event: 'checkpoint', step: s.state.step, imagesSeen: s.state.imagesSeen });
    };
    const validate = async () => {
      await sync();
      ({ accuracy: valAccuracy, guard: valGuard } = await this.validate(s));
    };

    try {
      while (s.state.step < cfg.steps) {
        if (this.stopReason) break;
        if (cfg.timeBudget !== null && (Date.now() - sessionStart) / 1000 >= cfg.timeBudget) {
          this.stopReason = 'time-budget';
          break;
        }
        const feeds = await this.batch(s.sampler, s.rng, drawSigma);
        for (const m of masks) feeds[m.name] = dropoutMask(m.shape, cfg.batch, m.dropout!, s.rng);
        const lr = learningRate(s.state.step, { lr: cfg.lr, warmup: cfg.warmup, schedule: cfg.lrSchedule, total: cfg.steps });
        let norm: number;
        if (device) {
          s.opt.t += 1;
          const r = await device.step(feeds, {
            lr,
            t: s.opt.t,
            clip: cfg.gradClip,
            weightDecay: cfg.weightDecay,
            emaBeta: s.ema.beta(s.state.imagesSeen + cfg.batch, cfg.batch),
          });
          lastLoss = r.loss;
          norm = r.gradNorm;
        } else {
          const r = await grad!.run(feeds, { weights: s.weights });
          lastLoss = r.value.data[0];
          norm = globalNorm(r.grads);
          if (Number.isFinite(lastLoss)) s.opt.step(s.weights, r.grads, lr, clipScale(norm, cfg.gradClip));
        }
        if (!Number.isFinite(lastLoss)) throw new Error(`the loss became ${lastLoss} at step ${s.state.step}; lower --lr or keep --grad-clip`);
        s.state.step += 1;
        s.state.imagesSeen += cfg.batch;
        if (!device) s.ema.update(s.weights, s.state.imagesSeen, cfg.batch);
        const imagesPerSecond = rate.add(cfg.batch);
        if (s.state.step % LOG_EVERY === 0 || s.state.step === 1)
          this.log({ event: 'step', step: s.state.step, imagesSeen: s.state.imagesSeen, loss: lastLoss, lr, gradNorm: norm, imagesPerSecond });
        if (s.state.step % cfg.valEvery === 0) await validate();
        if (s.state.step % cfg.ckptEvery === 0) await save();
        this.opts.onProgress?.({
          step: s.state.step,
          steps: cfg.steps,
          imagesSeen: s.state.imagesSeen,
          loss: lastLoss,
          lr,
          imagesPerSecond,
          elapsedSeconds: startElapsed + (Date.now() - sessionStart) / 1000,
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
    if (s.state.step % cfg.ckptEvery !== 0 || s.state.step === 0) await save();
    // A final validation (unless interrupted: Ctrl-C should be quick).
    if (stoppedBy !== 'interrupt' && s.state.step % cfg.valEvery !== 0 && split.val.length > 0 && s.state.step > 0) await validate();
    this.log({ event: 'stop', stoppedBy, step: s.state.step, imagesSeen: s.state.imagesSeen, valAccuracy });
    return {
      step: s.state.step,
      imagesSeen: s.state.imagesSeen,
      stoppedBy,
      elapsedSeconds: s.state.elapsedSeconds,
      lastLoss,
      valAccuracy,
      valGuard,
      weights: s.weights,
      ema: s.ema.weights,
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
    if (network.arch === 'cnn') {
      // Gaussian noise augmentation (Cohen's recipe for a smoothed classifier): pixel noise τ is 2τ in model units.
      if (cfg.noiseSd > 0) {
        const eps = rng.normal(x.length);
        for (let i = 0; i < x.length; i++) x[i] += 2 * cfg.noiseSd * eps[i];
      }
      return { x: { data: x, dims: [n, channels, height, width] }, labels: oneHot() };
    }
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
