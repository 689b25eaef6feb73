import { randomInt } from 'node:crypto';
import {
  argmax,
  buildDenoiserGraph,
  ClassifyOptions,
  Denoiser,
  forwardMacs,
  DiffusionClassifier,
  InputError,
  LikelihoodMaximizer,
  lmPreset,
  modelDenoisers,
  resolveDeviceChoice,
  selectDevice,
  OrtEngine,
  Random,
  readModelFolder,
  softmax,
  type ModelFolder,
  type Tensor,
} from '@rdc/core/runtime';
import { pngDataUrl } from './image.js';

/**
 * The model behind the API: DC and RDC on ONNX Runtime alone (the DC chunk, the LM reverse pass and
 * the denoiser are the model folder's exported graphs). Classifiers are cached per (defense, method,
 * σ levels).
 *
 * @example
 * const svc = await InferenceService.load('models/default', { threads: 2 });
 * const r = await svc.classify(pixels, ClassifyOptions.parse({ defense: 'rdc' }));
 */
export interface ClassifyResult {
  top: { index: number; label: string; probability: number };
  probabilities: { label: string; probability: number }[];
  logits: number[];
  options: { defense: 'dc' | 'rdc'; method?: string; levels: number; seed: number; temperature: number; grid: string; weighting: string };
  timings: { lmMs?: number; dcMs: number };
  /** With `explain`: the input as the model saw it (its size), LM's output and perturbation (RDC). */
  explain?: {
    input: string;
    lm?: string;
    /** LM's change, 0.5 + δ·gain, so that it is visible. */
    perturbation?: string;
    perturbationGain?: number;
    perturbationLinf?: number;
    perturbationL2?: number;
  };
}

export class InferenceService {
  private readonly dcs = new Map<number, DiffusionClassifier>();
  private readonly lms = new Map<string, LikelihoodMaximizer>();
  private readonly denoiser: Denoiser;
  private readonly lmDenoiser: Denoiser | null;
  /** Multiply–accumulates of one pass per image of the DC's network, and of LM's. */
  readonly macsPerPass: number;
  readonly lmMacsPerPass: number;

  private constructor(
    readonly model: ModelFolder,
    readonly engine: OrtEngine,
  ) {
    const net = model.config.network;
    if (net.arch === 'cnn') throw new InputError(`${model.dir} is a CNN classifier; the API serves diffusion models (DC and RDC)`, 'bad_model');
    const { main, lm } = modelDenoisers(model, engine);
    this.denoiser = main;
    this.lmDenoiser = lm;
    this.macsPerPass = forwardMacs(buildDenoiserGraph(net));
    this.lmMacsPerPass = lm ? forwardMacs(buildDenoiserGraph(lm.config)) : 0;
  }

  /**
   * The estimated work of classifying `images` images with these options, in multiply–accumulates:
   * images × (levels × passes per level × MACs per pass + LM steps × 3 × MACs per LM pass). The
   * multi-head network needs one pass per σ level, a label-conditional one K; each LM step is a
   * forward and a backward pass (about 3 passes).
   */
  cost(opts: ClassifyOptions, images: number): number {
    const levels = opts.levels ?? this.model.config.dc.levels;
    const lmSteps = opts.defense === 'rdc' ? lmPreset(opts.method ?? this.model.config.lmMethod).steps : 0;
    return images * (levels * this.passesPerLevel * this.macsPerPass + 3 * lmSteps * this.lmMacsPerPass);
  }

  /** Whether the model can run the RDC (it has an unconditional network or head for LM). */
  get hasLm(): boolean {
    return this.lmDenoiser !== null;
  }

  /** Network passes per σ level of the DC. */
  get passesPerLevel(): number {
    return this.denoiser.passesPerLevel;
  }

  /** Loads a model folder onto ONNX Runtime; `device` as `--device` (default $RDC_DEVICE, then auto). */
  static async load(dir: string, opts: { threads?: number; device?: string; precision?: 'fp32' | 'fp16' } = {}): Promise<InferenceService> {
    const svc = new InferenceService(
      readModelFolder(dir),
      await OrtEngine.create({ threads: opts.threads, device: selectDevice(resolveDeviceChoice(opts.device)), precision: opts.precision }),
    );
    return svc;
  }

  get classes(): string[] {
    return this.model.config.classes;
  }
  get imageDims(): [number, number, number] {
    return this.denoiser.imageDims;
  }
  get temperature(): number {
    return this.model.config.temperature ?? 1;
  }

  /** Loads every graph once so the first request is not slow (readiness). */
  async warmUp(): Promise<void> {
    const [c, h, w] = this.imageDims;
    const x = { data: new Float32Array(c * h * w).fill(0.5), dims: [1, c, h, w] };
    await this.classify(x, ClassifyOptions.parse({ defense: this.lmDenoiser ? 'rdc' : 'dc', levels: 2, seed: 0 }));
  }

  private dc(levels: number): DiffusionClassifier {
    let dc = this.dcs.get(levels);
    if (!dc) {
      dc = new DiffusionClassifier(this.denoiser, { ...this.model.config.dc, levels });
      this.dcs.set(levels, dc);
    }
    return dc;
  }

  private lm(method: 'released' | 'paper'): LikelihoodMaximizer {
    let lm = this.lms.get(method);
    if (!lm) {
      if (!this.lmDenoiser) throw new InputError('this model has no unconditional network for LM: use defense dc', 'bad_defense');
      lm = new LikelihoodMaximizer(this.lmDenoiser, lmPreset(method));
      this.lms.set(method, lm);
    }
    return lm;
  }

  /** Classifies one image [1, C, H, W] of pixels in [0, 1]; an aborted `signal` stops it at the next σ chunk or LM step. */
  async classify(pixels: Tensor, opts: ClassifyOptions, signal?: AbortSignal): Promise<ClassifyResult> {
    const levels = opts.levels ?? this.model.config.dc.levels;
    const seed = opts.seed ?? randomInt(2 ** 31 - 1);
    const rng = new Random(seed);
    const dc = this.dc(levels);
    let input = pixels;
    let lmMs: number | undefined;
    const method = opts.method ?? this.model.config.lmMethod;
    if (opts.defense === 'rdc') {
      const t = performance.now();
      input = await this.lm(method).run(pixels, rng, undefined, signal);
      lmMs = performance.now() - t;
    }
    const t = performance.now();
    const logits = (await dc.logits(input, { rng, signal })).data;
    const dcMs = performance.now() - t;
    const k = this.classes.length;
    const probs = softmax(
      logits.map((v) => v / this.temperature),
      k,
    );
    const top = argmax(logits, k)[0];
    let explain: ClassifyResult['explain'];
    if (opts.explain) {
      explain = { input: await pngDataUrl(pixels) };
      if (opts.defense === 'rdc') {
        const delta = input.data.map((v, i) => v - pixels.data[i]);
        const linf = delta.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const gain = linf > 0 ? 0.5 / linf : 1;
        explain.lm = await pngDataUrl(input);
        explain.perturbation = await pngDataUrl({ data: delta.map((v) => 0.5 + gain * v), dims: pixels.dims });
        explain.perturbationGain = gain;
        explain.perturbationLinf = linf;
        explain.perturbationL2 = Math.sqrt(delta.reduce((a, v) => a + v * v, 0));
      }
    }
    return {
      top: { index: top, label: this.classes[top], probability: probs[top] },
      probabilities: this.classes.map((label, i) => ({ label, probability: probs[i] })),
      logits: Array.from(logits),
      options: {
        defense: opts.defense,
        method: opts.defense === 'rdc' ? method : undefined,
        levels,
        seed,
        temperature: this.temperature,
        grid: dc.config.grid,
        weighting: dc.config.weighting,
      },
      timings: { lmMs, dcMs },
      ...(explain ? { explain } : {}),
    };
  }
}
