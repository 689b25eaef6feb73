/**
 * What evaluation, serving, certification and attacks see of a model: the `Classifier` interface
 * (pixels in [0, 1] → logits, and the gradient of any loss of the logits with respect to the
 * pixels) and its three implementations: the DC, the RDC = DC ∘ LM (composed here, once), and a
 * plain network (the baseline CNN). Made by `ClassifierFactory` (model/classifiers.ts).
 *
 * @example
 * const { logits } = await clf.gradient(x, (l) => dLossDLogits(l), new Random(0));
 */
import type { ClassifierNetworkConfig, DefenseName } from '../config/schema.js';
import type { Engine, GradientFunction, GraphFunction } from '../engines/engine.js';
import { buildClassifierGraph } from '../nn/cnn.js';
import type { Graph } from '../nn/graph/index.js';
import type { Random } from '../rng/random.js';
import { assertShape, modelToPixels, pixelsToModel, type Tensor, type Weights } from '../tensor.js';
import type { DiffusionClassifier } from './dc.js';
import type { LikelihoodMaximizer } from './lm.js';
import { checkPixels } from './pixels.js';

/** What one classification did: the logits, and for the RDC the purified input; milliseconds per stage. */
export interface Classification {
  /** Logits [B, K]. */
  logits: Tensor;
  /** LM's output (pixels), for the RDC. */
  purified?: Tensor;
  timings: { lmMs?: number; dcMs: number };
}

export interface Classifier {
  /** What is evaluated: an undefended network, the DC, or the RDC. */
  readonly defense: DefenseName;
  readonly numClasses: number;
  /** [C, H, W]. */
  readonly imageDims: readonly [number, number, number];
  /** Softmax temperature for probabilities and cross-entropy (1 if not calibrated). */
  readonly temperature: number;
  /**
   * Whether two calls on the same pixels can disagree (fresh noise on every call: the DC and the
   * RDC). Attacks and the evaluation confirm what they see on a stochastic classifier with fresh draws.
   */
  readonly stochastic: boolean;
  /** Logits [B, K] of pixels [B, C, H, W]. Randomness (noise) comes from `rng`; an aborted `signal` stops the work. */
  logits(pixels: Tensor, rng: Random, signal?: AbortSignal): Promise<Tensor>;
  /** The logits with what produced them (LM's output, stage timings); see `classification` for any classifier. */
  classify?(pixels: Tensor, rng: Random, signal?: AbortSignal): Promise<Classification>;
  /**
   * For one image [1, C, H, W]: its logits [K] and d loss/d pixels, where `cotangent(logits)` returns
   * d loss/d logits. Exact for the DC; for the RDC by BPDA through LM unless configured otherwise.
   */
  gradient(pixels: Tensor, cotangent: (logits: Float32Array) => Float32Array, rng: Random): Promise<{ logits: Float32Array; grad: Tensor }>;
  /** The settings that determine the outputs (for reports). */
  readonly settings: Record<string, unknown>;
  /** The diffusion classifier inside (the DC and the RDC; absent for a plain network). */
  readonly dc?: DiffusionClassifier;
}

/** Milliseconds since `t0`. */
const since = (t0: number) => performance.now() - t0;

/** What a classifier did on pixels: its own `classify`, or its logits timed as one stage. */
export async function classification(clf: Classifier, pixels: Tensor, rng: Random, signal?: AbortSignal): Promise<Classification> {
  if (clf.classify) return clf.classify(pixels, rng, signal);
  const t0 = performance.now();
  const logits = await clf.logits(pixels, rng, signal);
  return { logits, timings: { dcMs: since(t0) } };
}

/** The diffusion classifier as a `Classifier`. */
export class DcClassifier implements Classifier {
  readonly defense = 'dc' as const;
  readonly stochastic = true;
  constructor(
    readonly dc: DiffusionClassifier,
    readonly temperature = 1,
  ) {}
  get numClasses() {
    return this.dc.numClasses;
  }
  get imageDims() {
    return this.dc.denoiser.imageDims;
  }
  get settings() {
    return { dc: this.dc.config, temperature: this.temperature };
  }
  logits(pixels: Tensor, rng: Random, signal?: AbortSignal): Promise<Tensor> {
    return this.dc.logits(pixels, { rng, signal });
  }
  async classify(pixels: Tensor, rng: Random, signal?: AbortSignal): Promise<Classification> {
    const t0 = performance.now();
    const logits = await this.logits(pixels, rng, signal);
    return { logits, timings: { dcMs: since(t0) } };
  }
  gradient(pixels: Tensor, cotangent: (logits: Float32Array) => Float32Array, rng: Random) {
    return this.dc.logitsAndGrad(pixels, cotangent, { rng });
  }
}

/**
 * RDC = DC ∘ LM as a `Classifier`. Gradients: `bpda` (the authors' setting: the exact DC gradient at
 * LM(x), with LM's backward pass taken as the identity), or `full` (the exact gradient through the
 * LM steps too: LM unrolled as a graph and differentiated, second order, one image at a time).
 */
export class RdcClassifier implements Classifier {
  readonly defense = 'rdc' as const;
  readonly stochastic = true;
  constructor(
    readonly dc: DiffusionClassifier,
    readonly lm: LikelihoodMaximizer,
    readonly temperature = 1,
    readonly gradientMode: 'bpda' | 'full' = 'bpda',
  ) {}
  get numClasses() {
    return this.dc.numClasses;
  }
  get imageDims() {
    return this.dc.denoiser.imageDims;
  }
  get settings() {
    return { dc: this.dc.config, lm: this.lm.config, temperature: this.temperature, gradient: this.gradientMode };
  }
  async logits(pixels: Tensor, rng: Random, signal?: AbortSignal): Promise<Tensor> {
    return (await this.classify(pixels, rng, signal)).logits;
  }
  /** RDC(x) = DC(LM(x)): LM draws first, then the DC, from `rng`. */
  async classify(pixels: Tensor, rng: Random, signal?: AbortSignal): Promise<Classification> {
    const t0 = performance.now();
    const purified = await this.lm.run(pixels, rng, undefined, signal);
    const lmMs = since(t0);
    const t1 = performance.now();
    const logits = await this.dc.logits(purified, { rng, signal });
    return { logits, purified, timings: { lmMs, dcMs: since(t1) } };
  }
  async gradient(pixels: Tensor, cotangent: (logits: Float32Array) => Float32Array, rng: Random) {
    if (this.gradientMode === 'bpda') {
      const purified = await this.lm.run(pixels, rng);
      return this.dc.logitsAndGrad(purified, cotangent, { rng });
    }
    assertShape('rdc: pixels', pixels, [1, ...this.imageDims]);
    checkPixels(pixels.data);
    const den = this.lm.denoiser;
    const dims = pixels.dims;
    const draws = this.lm.draws(1, rng);
    const [c, h, w] = this.imageDims;
    const n = this.lm.config.steps;
    const noise = new Float32Array(n * c * h * w);
    draws.noise.forEach((nz, t) => noise.set(nz, t * c * h * w));
    const sigma = Float32Array.from(draws.sigma, (s) => s[0]);
    const x = { data: pixelsToModel(pixels.data), dims };
    const noiseT = { data: noise, dims: [n, c, h, w] };
    const { out } = await den.lmUnrolled(this.lm.config, x, noiseT, sigma);
    const purified = { data: modelToPixels(out.data, { clamp: true }), dims };
    const r = await this.dc.logitsAndGrad(purified, cotangent, { rng });
    // d/dx_N (model units) = ½·d/dpixels; back through LM; d/dpixels_0 = 2·d/dx_0.
    const back = await den.lmUnrolled(this.lm.config, x, noiseT, sigma, { data: r.grad.data.map((g) => g / 2), dims });
    return { logits: r.logits, grad: { data: back.grad!.data.map((g) => 2 * g), dims } };
  }
}

/** An engine that can load exported ONNX files (ONNX Runtime). */
type OrtFiles = Engine & {
  load?: (path: string, graph: Graph) => Promise<GraphFunction>;
  loadGradient?: (path: string, graph: Graph, request: { of: string; wrt: string[] }) => Promise<GradientFunction>;
};

/** A plain network (the baseline CNN) as a `Classifier`: deterministic, exact gradients. */
export class NetworkClassifier implements Classifier {
  readonly defense = 'none' as const;
  readonly stochastic = false;
  private forward: Promise<GraphFunction> | null = null;
  private backward: Promise<GradientFunction> | null = null;

  constructor(
    readonly engine: Engine,
    readonly network: ClassifierNetworkConfig,
    readonly weights: Weights,
    readonly temperature = 1,
    private readonly onnx: { classifier?: string; classifierVjp?: string } = {},
  ) {}
  get numClasses() {
    return this.network.numClasses;
  }
  get imageDims(): [number, number, number] {
    const { channels, height, width } = this.network.image;
    return [channels, height, width];
  }
  get settings() {
    return { network: this.network, temperature: this.temperature };
  }
  private input(pixels: Tensor, batch: number): Tensor {
    assertShape('classifier: pixels', pixels, [batch, ...this.imageDims]);
    checkPixels(pixels.data);
    return { data: pixelsToModel(pixels.data), dims: pixels.dims };
  }
  private get files(): OrtFiles {
    return this.engine as OrtFiles;
  }
  private forwardFn(): Promise<GraphFunction> {
    const graph = buildClassifierGraph(this.network);
    this.forward ??=
      this.onnx.classifier && this.files.load ? this.files.load(this.onnx.classifier, graph) : this.engine.compile(graph, { weights: this.weights });
    return this.forward;
  }
  async logits(pixels: Tensor): Promise<Tensor> {
    return (await (await this.forwardFn()).run({ x: this.input(pixels, -1) })).logits;
  }
  async classify(pixels: Tensor): Promise<Classification> {
    const t0 = performance.now();
    const logits = await this.logits(pixels);
    return { logits, timings: { dcMs: since(t0) } };
  }
  async gradient(pixels: Tensor, cotangent: (logits: Float32Array) => Float32Array) {
    const x = this.input(pixels, 1);
    const graph = buildClassifierGraph(this.network);
    const request = { of: 'logits', wrt: ['x'] };
    this.backward ??=
      this.onnx.classifierVjp && this.files.loadGradient
        ? this.files.loadGradient(this.onnx.classifierVjp, graph, request)
        : this.engine.compileGradient(graph, request, { weights: this.weights });
    const f = await this.backward;
    const logits = (await (await this.forwardFn()).run({ x })).logits.data;
    const r = await f.run({ x }, { cotangent: { data: cotangent(logits), dims: [1, this.numClasses] } });
    // d/dpixel = 2·d/dx
    return { logits, grad: { data: r.grads.x.data.map((g) => 2 * g), dims: pixels.dims } };
  }
}
