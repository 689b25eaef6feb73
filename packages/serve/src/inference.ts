import { randomInt } from 'node:crypto';
import {
  argmax,
  classification,
  ClassifierFactory,
  ClassifyOptions,
  InputError,
  resolveDeviceChoice,
  selectDevice,
  OrtEngine,
  Random,
  readModelFolder,
  softmax,
  type ClassifierOptions,
  type ModelFolder,
  type Tensor,
} from '@rdc/core/runtime';
import { pngDataUrl } from './image.js';

/**
 * The model behind the API: DC and RDC on ONNX Runtime alone (the DC chunk, the LM reverse pass and
 * the denoiser are the model folder's exported graphs), made and cached by core's `ClassifierFactory`
 * (one per defense, method and σ levels).
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
  private readonly factory: ClassifierFactory;
  /** Multiply–accumulates of one pass per image of the DC's network, and of LM's. */
  readonly macsPerPass: number;
  readonly lmMacsPerPass: number;

  private constructor(
    readonly model: ModelFolder,
    readonly engine: OrtEngine,
  ) {
    if (model.config.network.arch === 'cnn')
      throw new InputError(`${model.dir} is a CNN classifier; the API serves diffusion models (DC and RDC)`, 'bad_model');
    this.factory = new ClassifierFactory(model, engine);
    const macs = this.factory.macsPerPass();
    this.macsPerPass = macs.main;
    this.lmMacsPerPass = macs.lm;
  }

  /** The classifier factory's options for a request's options. */
  private options(opts: ClassifyOptions): ClassifierOptions {
    return { defense: opts.defense, method: opts.method ?? this.model.config.lmMethod, dc: { levels: opts.levels ?? this.model.config.dc.levels } };
  }

  /** The estimated work of classifying `images` images with these options, in multiply–accumulates (`ClassifierFactory.cost`). */
  cost(opts: ClassifyOptions, images: number): number {
    return this.factory.cost(this.options(opts), images);
  }

  /** Whether the model can run the RDC (it has an unconditional network or head for LM). */
  get hasLm(): boolean {
    return this.factory.hasLm;
  }

  /** Network passes per σ level of the DC. */
  get passesPerLevel(): number {
    return this.factory.passesPerLevel;
  }

  /** Loads a model folder onto ONNX Runtime; `device` as `--device` (default $RDC_DEVICE, then auto). */
  static async load(dir: string, opts: { threads?: number; device?: string; precision?: 'fp32' | 'fp16' } = {}): Promise<InferenceService> {
    return new InferenceService(
      readModelFolder(dir),
      await OrtEngine.create({ threads: opts.threads, device: selectDevice(resolveDeviceChoice(opts.device)), precision: opts.precision }),
    );
  }

  get classes(): string[] {
    return this.model.config.classes;
  }
  get imageDims(): [number, number, number] {
    const { channels, height, width } = this.model.config.network.image;
    return [channels, height, width];
  }
  get temperature(): number {
    return this.model.config.temperature ?? 1;
  }

  /** Loads every graph once so the first request is not slow (readiness). */
  async warmUp(): Promise<void> {
    const [c, h, w] = this.imageDims;
    const x = { data: new Float32Array(c * h * w).fill(0.5), dims: [1, c, h, w] };
    await this.classify(x, ClassifyOptions.parse({ defense: this.hasLm ? 'rdc' : 'dc', levels: 2, seed: 0 }));
  }

  /** Classifies one image [1, C, H, W] of pixels in [0, 1]; an aborted `signal` stops it at the next σ chunk or LM step. */
  async classify(pixels: Tensor, opts: ClassifyOptions, signal?: AbortSignal): Promise<ClassifyResult> {
    if (opts.defense === 'rdc' && !this.hasLm) throw new InputError('this model has no unconditional network for LM: use defense dc', 'bad_defense');
    const seed = opts.seed ?? randomInt(2 ** 31 - 1);
    const options = this.options(opts);
    const clf = this.factory.get(options);
    const { logits: out, purified, timings } = await classification(clf, pixels, new Random(seed), signal);
    const logits = out.data;
    const k = this.classes.length;
    const probs = softmax(
      logits.map((v) => v / this.temperature),
      k,
    );
    const top = argmax(logits, k)[0];
    let explain: ClassifyResult['explain'];
    if (opts.explain) {
      explain = { input: await pngDataUrl(pixels) };
      if (purified) {
        const delta = purified.data.map((v, i) => v - pixels.data[i]);
        const linf = delta.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const gain = linf > 0 ? 0.5 / linf : 1;
        explain.lm = await pngDataUrl(purified);
        explain.perturbation = await pngDataUrl({ data: delta.map((v) => 0.5 + gain * v), dims: pixels.dims });
        explain.perturbationGain = gain;
        explain.perturbationLinf = linf;
        explain.perturbationL2 = Math.sqrt(delta.reduce((a, v) => a + v * v, 0));
      }
    }
    const dc = { ...this.model.config.dc, ...options.dc };
    return {
      top: { index: top, label: this.classes[top], probability: probs[top] },
      probabilities: this.classes.map((label, i) => ({ label, probability: probs[i] })),
      logits: Array.from(logits),
      options: {
        defense: opts.defense,
        method: opts.defense === 'rdc' ? options.method : undefined,
        levels: dc.levels,
        seed,
        temperature: this.temperature,
        grid: dc.grid,
        weighting: dc.weighting,
      },
      timings,
      ...(explain ? { explain } : {}),
    };
  }
}
