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
  OrtEngine,
  Random,
  readModelFolder,
  softmax,
  type ModelFolder,
  type Tensor,
} from '@rdc/core/runtime';

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
}

export class InferenceService {
  private readonly dcs = new Map<number, DiffusionClassifier>();
  private readonly lms = new Map<string, LikelihoodMaximizer>();
  private readonly denoiser: Denoiser;
  /** Multiply–accumulates of one denoiser pass per image. */
  readonly macsPerPass: number;

  private constructor(
    readonly model: ModelFolder,
    readonly engine: OrtEngine,
  ) {
    const net = model.config.network;
    if (net.arch === 'cnn') throw new InputError(`${model.dir} is a CNN classifier; the API serves diffusion models (DC and RDC)`, 'bad_model');
    this.denoiser = new Denoiser(engine, net, model.weights, model.onnx);
    this.macsPerPass = forwardMacs(buildDenoiserGraph(net));
  }

  /**
   * The estimated work of classifying `images` images with these options, in multiply–accumulates:
   * images × (levels × passes per level + LM's passes) × MACs per pass. The multi-head network
   * needs one pass per σ level; each LM step is a forward and a backward pass (about 3 passes).
   */
  cost(opts: ClassifyOptions, images: number): number {
    const levels = opts.levels ?? this.model.config.dc.levels;
    const lmSteps = opts.defense === 'rdc' ? lmPreset(opts.method ?? this.model.config.lmMethod).steps : 0;
    return images * (levels * this.passesPerLevel + 3 * lmSteps) * this.macsPerPass;
  }

  /** Denoiser passes per σ level of the DC: one for the multi-head network. */
  get passesPerLevel(): number {
    return 1;
  }

  static async load(dir: string, opts: { threads?: number } = {}): Promise<InferenceService> {
    const svc = new InferenceService(readModelFolder(dir), await OrtEngine.create({ threads: opts.threads }));
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
    await this.classify(x, ClassifyOptions.parse({ defense: 'rdc', levels: 2, seed: 0 }));
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
      lm = new LikelihoodMaximizer(this.denoiser, lmPreset(method));
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
    };
  }
}
