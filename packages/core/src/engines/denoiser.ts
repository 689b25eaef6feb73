import type { DenoiserNetworkConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { buildDenoiserGraph, denoiserHeads, takesLabels, unconditionalHead } from '../nn/denoiser-graph.js';
import type { Graph } from '../nn/graph/index.js';
import { dcBatchGraph, dcChunkGraph, lmObjectiveGraph, lmUnrolledGraph } from '../nn/objectives.js';
import type { LmConfig } from '../config/schema.js';
import type { LevelTerms } from '../sigma/terms.js';
import { assertShape, type Tensor, type Weights } from '../tensor.js';
import type { Engine, EngineInfo, GradientFunction, GraphFunction } from './engine.js';
import { GraphCache } from './graph-cache.js';

/**
 * A denoiser on an engine: the network config, its weights, and the compiled graphs the method
 * needs (compiled on first use). The network is the multi-head UNet (every class head and the
 * unconditional head in one pass), or EDM's label-conditional network (one pass per class; its
 * unconditional head comes from a companion unconditional network, `unconditional`), or an
 * unconditional network alone (LM's).
 *
 * - `denoise`: x_σ [B, C, H, W] (model units), σ [B] (and one-hot labels for a label-conditional
 *   network) → D [B, heads, C, H, W]; `denoiseHead` / `denoiseAllHeads` give one head or all K + 1.
 * - `dcChunk` / `dcChunkVjp`: the DC's partial logits over a chunk of σ levels for one image, and
 *   their exact vector–Jacobian product with respect to the image (differentiable engines).
 * - `lmObjective`: LM's per-image objective and its input gradient (differentiable engines).
 *
 * @example
 * const den = new Denoiser(await TfjsEngine.create(), cfg, weights);
 * const D = await den.denoise(x, Float32Array.of(0.5));
 */
export class Denoiser {
  /** The compiled graphs (`GraphCache`: the batch graphs of request-chosen level counts are bounded). */
  readonly graphs = new GraphCache();

  /**
   * @param files ONNX files to load instead of compiling a graph (a model folder's exports), by
   *   graph kind: 'denoiser', 'dcChunk', 'dcVjp', 'lmGrad'.
   */
  constructor(
    readonly engine: Engine,
    readonly config: DenoiserNetworkConfig,
    readonly weights: Weights,
    private readonly files: Partial<Record<'denoiser' | 'dcChunk' | 'dcVjp' | 'lmGrad', string>> = {},
    /** The unconditional network that gives a label-conditional network its unconditional head. */
    readonly unconditional?: Denoiser,
  ) {}

  /** Heads of one pass: K + 1 (multi-head) or 1. */
  get heads(): number {
    return denoiserHeads(this.config);
  }

  /** Network passes per σ level of the DC: 1 for a multi-head network, K for a label-conditional one. */
  get passesPerLevel(): number {
    return takesLabels(this.config) ? this.numClasses : 1;
  }

  get info(): EngineInfo {
    return this.engine.info;
  }
  get numClasses(): number {
    return this.config.numClasses;
  }
  /** [C, H, W] of one image. */
  get imageDims(): [number, number, number] {
    const { channels, height, width } = this.config.image;
    return [channels, height, width];
  }
  get imageSize(): number {
    const [c, h, w] = this.imageDims;
    return c * h * w;
  }

  /** Runs a forward graph of one of the fixed kinds: the exported file where there is one, else compiled from the weights. */
  private forward<R>(kind: 'denoiser' | 'dcChunk', graph: () => Graph, use: (f: GraphFunction) => Promise<R>): Promise<R> {
    const build = () => {
      // An fp16 engine compiles from the weights: the exported graphs are float32.
      const file = this.engine.info.precision ? undefined : this.files[kind];
      const load = this.engine as Engine & { load?: (path: string, graph: Graph) => Promise<GraphFunction> };
      return file && load.load ? load.load(file, graph()) : this.engine.compile(graph(), { weights: this.weights });
    };
    return this.graphs.with(kind, build, use);
  }

  /** Runs a gradient graph of one of the fixed kinds (its input gradient with respect to x). */
  private gradient<R>(kind: 'dcVjp' | 'lmGrad', graph: () => Graph, of: string, use: (f: GradientFunction) => Promise<R>): Promise<R> {
    const build = () => {
      const file = this.engine.info.precision ? undefined : this.files[kind];
      const request = { of, wrt: ['x'] };
      const load = this.engine as Engine & { loadGradient?: (path: string, graph: Graph, request: { of: string; wrt: string[] }) => Promise<GradientFunction> };
      return file && load.loadGradient ? load.loadGradient(file, graph(), request) : this.engine.compileGradient(graph(), request, { weights: this.weights });
    };
    return this.graphs.with(kind, build, use);
  }

  /** D [B, heads, C, H, W] of x_σ [B, C, H, W] at σ [B]; `labels` (one-hot [B, K]) for a label-conditional network. */
  async denoise(x: Tensor, sigma: Float32Array, labels?: Tensor): Promise<Tensor> {
    const [c, h, w] = this.imageDims;
    assertShape('denoise: x', x, [-1, c, h, w]);
    if (sigma.length !== x.dims[0]) throw new Error(`denoise: ${x.dims[0]} images but ${sigma.length} noise levels`);
    const feeds: Record<string, Tensor> = { x, sigma: { data: sigma, dims: [sigma.length] } };
    if (takesLabels(this.config)) {
      if (!labels) throw new Error('denoise: a label-conditional network needs one-hot labels');
      assertShape('denoise: labels', labels, [x.dims[0], this.numClasses]);
      feeds.labels = labels;
    }
    return this.forward(
      'denoiser',
      () => buildDenoiserGraph(this.config),
      async (f) => (await f.run(feeds)).D,
    );
  }

  /** One head, D [B, C, H, W]: a class 0..K−1, or K for the unconditional head. */
  async denoiseHead(x: Tensor, sigma: Float32Array, head: number): Promise<Float32Array> {
    const k = this.numClasses;
    if (!Number.isInteger(head) || head < 0 || head > k) throw new InputError(`denoise: head must be in 0..${k} (${k}: unconditional)`);
    const b = x.dims[0];
    const d = this.imageSize;
    if (takesLabels(this.config)) {
      if (head === k) {
        if (!this.unconditional) throw new InputError('this label-conditional network has no unconditional network beside it');
        return this.unconditional.denoiseHead(x, sigma, this.unconditional.numClasses);
      }
      const labels = new Float32Array(b * k);
      for (let i = 0; i < b; i++) labels[i * k + head] = 1;
      return (await this.denoise(x, sigma, { data: labels, dims: [b, k] })).data;
    }
    const D = (await this.denoise(x, sigma)).data;
    const heads = this.heads;
    const index = heads === 1 ? 0 : head;
    const out = new Float32Array(b * d);
    for (let i = 0; i < b; i++) out.set(D.subarray((i * heads + index) * d, (i * heads + index + 1) * d), i * d);
    return out;
  }

  /** Every head, D [B, K + 1, C, H, W]: one pass of a multi-head network, K + 1 passes otherwise. */
  async denoiseAllHeads(x: Tensor, sigma: Float32Array): Promise<Tensor> {
    const [c, h, w] = this.imageDims;
    const k = this.numClasses;
    if (this.heads === k + 1) return this.denoise(x, sigma);
    const b = x.dims[0];
    const d = this.imageSize;
    const out = new Float32Array(b * (k + 1) * d);
    for (let head = 0; head <= k; head++) {
      const D = await this.denoiseHead(x, sigma, head);
      for (let i = 0; i < b; i++) out.set(D.subarray(i * d, (i + 1) * d), (i * (k + 1) + head) * d);
    }
    return { data: out, dims: [b, k + 1, c, h, w] };
  }

  private dcFeeds(x: Tensor, noise: Tensor, sigma: Float32Array, weights: Float32Array, guidance: number): Record<string, Tensor> {
    const [c, h, w] = this.imageDims;
    const s = sigma.length;
    assertShape('dc: x', x, [1, c, h, w]);
    assertShape('dc: noise', noise, [s, c, h, w]);
    if (weights.length !== s) throw new Error(`dc: ${s} noise levels but ${weights.length} weights`);
    return {
      x,
      noise,
      sigma: { data: sigma, dims: [s] },
      weights: { data: weights, dims: [s] },
      guidance: { data: Float32Array.of(guidance), dims: [1] },
    };
  }

  /** Partial DC logits [K] of one image x [1, C, H, W] over the σ levels of this chunk. */
  async dcChunk(x: Tensor, noise: Tensor, sigma: Float32Array, weights: Float32Array, guidance = 0): Promise<Float32Array> {
    this.checkGuidance(guidance);
    const feeds = this.dcFeeds(x, noise, sigma, weights, guidance);
    return this.forward(
      'dcChunk',
      () => dcChunkGraph(this.config),
      async (f) => (await f.run(feeds)).logits.data,
    );
  }

  /** Partial DC logits [K] and ⟨cotangent, logits⟩'s gradient with respect to x (model units). */
  async dcChunkVjp(
    x: Tensor,
    noise: Tensor,
    sigma: Float32Array,
    weights: Float32Array,
    guidance: number,
    cotangent: Float32Array,
  ): Promise<{ logits: Float32Array; grad: Tensor }> {
    const k = this.numClasses;
    if (cotangent.length !== k) throw new Error(`dc: cotangent has ${cotangent.length} entries, expected ${k}`);
    this.checkGuidance(guidance);
    const feeds = this.dcFeeds(x, noise, sigma, weights, guidance);
    const r = await this.gradient(
      'dcVjp',
      () => dcChunkGraph(this.config),
      'logits',
      (f) => f.run(feeds, { cotangent: { data: cotangent, dims: [1, k] } }),
    );
    return { logits: r.value.data, grad: r.grads.x };
  }

  /**
   * Logits [B, K] of B images x [B, C, H, W] (model units, not checked against a range) over the
   * same S levels in one network batch (`dcBatchGraph`): certification's noisy copies under the DC,
   * APNDC or EPNDC, as their `LevelTerms` say. `noise` holds B·S images.
   */
  async dcBatch(x: Tensor, noise: Float32Array, terms: LevelTerms): Promise<Tensor> {
    const [c, h, w] = this.imageDims;
    const s = terms.weights.length;
    const b = x.dims[0];
    assertShape('dc batch: x', x, [-1, c, h, w]);
    if (noise.length !== b * s * c * h * w) throw new Error(`dc batch: noise must hold ${b}·${s} images`);
    const perImage = (v: Float32Array): Tensor => {
      const out = new Float32Array(b * s);
      for (let i = 0; i < b; i++) out.set(v, i * s);
      return { data: out, dims: [b, s] };
    };
    const level = (v: Float32Array): Tensor => ({ data: v, dims: [s] });
    const feeds = {
      x,
      noise: { data: noise, dims: [b, s, c, h, w] },
      sigma: perImage(terms.sigmas),
      scale: perImage(terms.scale),
      alpha: level(terms.alpha),
      beta: level(terms.beta),
      gamma: level(terms.gamma),
      weights: level(terms.weights),
    };
    const build = () => this.engine.compile(dcBatchGraph(this.config, s), { weights: this.weights });
    return this.graphs.with(`dcBatch:${s}`, build, async (f) => (await f.run(feeds)).logits, { bounded: true });
  }

  private checkGuidance(guidance: number): void {
    if (guidance !== 0 && takesLabels(this.config))
      throw new InputError('guidance needs an unconditional head in the same pass: it is not available for a label-conditional network (use guidance 0)');
  }

  /** Whether this network has an unconditional head for LM. */
  get hasUnconditionalHead(): boolean {
    return unconditionalHead(this.config) !== null;
  }

  /** LM objective per image [B] and the gradient of its sum with respect to x [B, C, H, W]. */
  async lmObjective(x: Tensor, noise: Tensor, sigma: Float32Array): Promise<{ loss: Float32Array; grad: Tensor }> {
    const [c, h, w] = this.imageDims;
    assertShape('lm: x', x, [-1, c, h, w]);
    assertShape('lm: noise', noise, [x.dims[0], c, h, w]);
    const r = await this.gradient(
      'lmGrad',
      () => lmObjectiveGraph(this.config),
      'loss',
      (f) => f.run({ x, noise, sigma: { data: sigma, dims: [sigma.length] } }),
    );
    return { loss: r.value.data, grad: r.grads.x };
  }

  /**
   * LM unrolled (one image, model units): x [1, C, H, W] and the draws → LM(x); with a cotangent
   * on LM(x), also its vector–Jacobian product with respect to x (second order, exact).
   */
  async lmUnrolled(lm: LmConfig, x: Tensor, noise: Tensor, sigma: Float32Array, cotangent?: Tensor): Promise<{ out: Tensor; grad?: Tensor }> {
    const key = `lmUnrolled:${JSON.stringify(lm)}`;
    const feeds = { x, noise, sigma: { data: sigma, dims: [sigma.length] } };
    if (!cotangent) {
      const build = () => this.engine.compile(lmUnrolledGraph(this.config, lm), { weights: this.weights });
      return { out: await this.graphs.with(key, build, async (f) => (await f.run(feeds)).out, { bounded: true }) };
    }
    const build = () => this.engine.compileGradient(lmUnrolledGraph(this.config, lm), { of: 'out', wrt: ['x'] }, { weights: this.weights });
    const r = await this.graphs.with(`${key}:vjp`, build, (f) => f.run(feeds, { cotangent }), { bounded: true });
    return { out: r.value, grad: r.grads.x };
  }

  /** Releases the compiled graphs. */
  dispose(): Promise<void> {
    return this.graphs.dispose();
  }
}
