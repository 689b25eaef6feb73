import { DcConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import type { Denoiser } from '../engines/denoiser.js';
import type { Random } from '../rng/random.js';
import { sigmaGrid, type GridEnd } from '../sigma/grid.js';
import { sigmaWeights } from '../sigma/weights.js';
import { assertShape, pixelsToModel, type Tensor } from '../tensor.js';
import { levelOrder, SequentialLeader } from './adaptive.js';
import { checkPixels } from './pixels.js';

/**
 * The diffusion classifier (docs/method.md §2): log p(x | y) approximated by the negative
 * σ-weighted denoising error of head y, with one shared noise draw per σ level for all classes.
 *
 * Works on pixels in [0, 1]; internally x = 2·pixel − 1. Each image costs S denoiser evaluations
 * (batched `chunk` levels at a time, so memory does not grow with S), whatever the number of classes.
 *
 * @example
 * const dc = new DiffusionClassifier(denoiser, { levels: 25 });
 * const logits = await dc.logits(pixels, new Random(0)); // [B, K]
 */
export class DiffusionClassifier {
  readonly config: DcConfig;
  /** The S noise levels. */
  readonly sigmas: Float32Array;
  /** Their weights w_i. */
  readonly weights: Float32Array;

  constructor(
    readonly denoiser: Denoiser,
    config: Partial<DcConfig> & { noise?: 'shared' | 'independent'; at?: GridEnd } = {},
  ) {
    this.config = DcConfig.parse(config);
    this.noiseMode = config.noise ?? 'shared';
    const grid = sigmaGrid({ kind: this.config.grid, levels: this.config.levels, min: this.config.sigmaMin, max: this.config.sigmaMax, at: config.at });
    this.sigmas = Float32Array.from(grid.sigmas);
    this.weights = Float32Array.from(this.config.weighting === 'learned' ? learnedWeightsFor(this.config) : sigmaWeights(grid, this.config.weighting));
  }

  /** `independent` draws separate noise for every class (K× the cost; for variance studies). */
  readonly noiseMode: 'shared' | 'independent';

  get numClasses(): number {
    return this.denoiser.numClasses;
  }

  /** One image's noise: S·C·H·W standard normals (the DC's only randomness). */
  drawNoise(rng: Random): Float32Array {
    return rng.normal(this.sigmas.length * this.denoiser.imageSize);
  }

  private chunks(): [number, number][] {
    const out: [number, number][] = [];
    for (let a = 0; a < this.sigmas.length; a += this.config.chunk) out.push([a, Math.min(this.sigmas.length, a + this.config.chunk)]);
    return out;
  }

  private chunkArgs(noise: Float32Array, a: number, b: number): [Tensor, Float32Array, Float32Array] {
    const [c, h, w] = this.denoiser.imageDims;
    const d = c * h * w;
    return [{ data: noise.subarray(a * d, b * d), dims: [b - a, c, h, w] }, this.sigmas.subarray(a, b), this.weights.subarray(a, b)];
  }

  /** Adaptive evaluation's counts: images predicted and σ levels evaluated for them. */
  readonly adaptiveStats = { images: 0, levels: 0 };

  /**
   * Logits [K] of one image in model units, given its noise: the full grid, or with
   * `config.adaptive` the adaptive estimate (predictions only). `signal` cancels between σ chunks.
   */
  async logitsModel(x: Tensor, noise: Float32Array, signal?: AbortSignal): Promise<Float32Array> {
    return this.config.adaptive ? this.adaptiveLogits(x, noise, this.config.adaptive, signal) : this.fullLogits(x, noise, signal);
  }

  private async adaptiveLogits(x: Tensor, noise: Float32Array, a: NonNullable<DcConfig['adaptive']>, signal?: AbortSignal): Promise<Float32Array> {
    const [c, h, w] = this.denoiser.imageDims;
    const d = c * h * w;
    const units = levelOrder(this.sigmas.length, a.chunk);
    const test = new SequentialLeader({ units: units.length, classes: this.numClasses, alpha: a.alpha, minUnits: a.minUnits });
    let levels = 0;
    for (const unit of units) {
      signal?.throwIfAborted();
      const nz = new Float32Array(unit.length * d);
      unit.forEach((l, j) => nz.set(noise.subarray(l * d, (l + 1) * d), j * d));
      const sig = Float32Array.from(unit, (l) => this.sigmas[l]);
      const wts = Float32Array.from(unit, (l) => this.weights[l]);
      test.add(await this.denoiser.dcChunk(x, { data: nz, dims: [unit.length, c, h, w] }, sig, wts, this.config.guidance));
      levels += unit.length;
      if (test.decided()) break;
    }
    this.adaptiveStats.images += 1;
    this.adaptiveStats.levels += levels;
    return test.estimate(levels, this.sigmas.length);
  }

  /**
   * Every σ level on its own: the unweighted denoising errors [K·S] of one image in model units
   * (row y: mean_pixels((D^w_y(x + σ_s·n_s; σ_s) − x)²) at every level s), given its noise; the
   * DC's logits are −Σ_s w_s·errors[y, s] under any weighting (`rdc eval --per-level`,
   * `--dump-levels`, `rdc fit-weights`). One pass of every head per level, `chunk` levels a batch.
   */
  async levelErrors(x: Tensor, noise: Float32Array): Promise<Float32Array> {
    const den = this.denoiser;
    const [c, h, w] = den.imageDims;
    const d = c * h * w;
    const k = this.numClasses;
    const s = this.sigmas.length;
    const g = this.config.guidance;
    const out = new Float32Array(k * s);
    for (const [a, b] of this.chunks()) {
      const n = b - a;
      const xs = new Float32Array(n * d);
      for (let l = 0; l < n; l++) for (let j = 0; j < d; j++) xs[l * d + j] = x.data[j] + this.sigmas[a + l] * noise[(a + l) * d + j];
      const heads = await this.classHeads({ data: xs, dims: [n, c, h, w] }, this.sigmas.subarray(a, b), g !== 0);
      const stride = g !== 0 ? k + 1 : k;
      for (let l = 0; l < n; l++)
        for (let y = 0; y < k; y++) {
          const at = (l * stride + y) * d;
          const unc = (l * stride + k) * d;
          let e = 0;
          for (let j = 0; j < d; j++) {
            const v = (g !== 0 ? (1 + g) * heads[at + j] - g * heads[unc + j] : heads[at + j]) - x.data[j];
            e += v * v;
          }
          out[y * s + a + l] = e / d;
        }
    }
    return out;
  }

  /** The class heads (and the unconditional one after them with `unconditional`) of x [N, C, H, W]: [N, K(+1), C, H, W]. */
  private async classHeads(x: Tensor, sigma: Float32Array, unconditional: boolean): Promise<Float32Array> {
    const den = this.denoiser;
    const k = this.numClasses;
    if (den.heads === k + 1 && unconditional) return (await den.denoise(x, sigma)).data;
    const n = x.dims[0];
    const d = den.imageSize;
    const stride = unconditional ? k + 1 : k;
    const out = new Float32Array(n * stride * d);
    if (den.heads === k + 1) {
      const all = (await den.denoise(x, sigma)).data;
      for (let i = 0; i < n; i++) out.set(all.subarray(i * (k + 1) * d, (i * (k + 1) + k) * d), i * k * d);
      return out;
    }
    for (let y = 0; y < stride; y++) {
      const D = await den.denoiseHead(x, sigma, y);
      for (let i = 0; i < n; i++) out.set(D.subarray(i * d, (i + 1) * d), (i * stride + y) * d);
    }
    return out;
  }

  /** `levelErrors` of pixels [1, C, H, W] in [0, 1], with noise from `rng`. */
  async levelErrorsOf(pixels: Tensor, rng: Random): Promise<Float32Array> {
    return this.levelErrors(this.oneImage(pixels), this.drawNoise(rng));
  }

  /** One image's pixels [1, C, H, W] in [0, 1], checked, in model units. */
  private oneImage(pixels: Tensor): Tensor {
    const [c, h, w] = this.denoiser.imageDims;
    assertShape('dc: pixels', pixels, [1, c, h, w]);
    checkPixels(pixels.data);
    return toModel(pixels.data, [1, c, h, w]);
  }

  private async fullLogits(x: Tensor, noise: Float32Array, signal?: AbortSignal): Promise<Float32Array> {
    const k = this.numClasses;
    const total = new Float32Array(k);
    for (const [a, b] of this.chunks()) {
      signal?.throwIfAborted();
      const part = await this.denoiser.dcChunk(x, ...this.chunkArgs(noise, a, b), this.config.guidance);
      for (let y = 0; y < k; y++) total[y] += part[y];
    }
    return total;
  }

  /**
   * Logits [B, K] of pixels [B, C, H, W] in [0, 1]. Noise comes from `rng` (one draw per image, in
   * order) unless given per image in `noise`. An aborted `signal` stops the work at the next σ chunk
   * (throwing its reason).
   */
  async logits(
    pixels: Tensor,
    opts: { rng?: Random; noise?: Float32Array[]; onProgress?: (done: number, total: number) => void; signal?: AbortSignal },
  ): Promise<Tensor> {
    const [c, h, w] = this.denoiser.imageDims;
    assertShape('dc: pixels', pixels, [-1, c, h, w]);
    checkPixels(pixels.data);
    const n = pixels.dims[0];
    const k = this.numClasses;
    const d = c * h * w;
    const out = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      const x = toModel(pixels.data.subarray(i * d, (i + 1) * d), [1, c, h, w]);
      let row: Float32Array;
      if (this.noiseMode === 'independent') {
        row = new Float32Array(k);
        for (let y = 0; y < k; y++) row[y] = (await this.logitsModel(x, this.noiseFor(i, opts), opts.signal))[y];
      } else {
        row = await this.logitsModel(x, this.noiseFor(i, opts), opts.signal);
      }
      out.set(row, i * k);
      opts.onProgress?.(i + 1, n);
    }
    return { data: out, dims: [n, k] };
  }

  private noiseFor(i: number, opts: { rng?: Random; noise?: Float32Array[] }): Float32Array {
    if (opts.noise) {
      const nz = opts.noise[i];
      const want = this.sigmas.length * this.denoiser.imageSize;
      if (!nz || nz.length !== want) throw new Error(`dc: noise for image ${i} must have ${want} values`);
      return nz;
    }
    if (!opts.rng) throw new Error('dc: pass a seeded Random (rng) or explicit noise');
    return this.drawNoise(opts.rng);
  }

  /**
   * Logits [K] of one image and the exact gradient of a loss of those logits with respect to the
   * pixels. `cotangent(logits)` returns dLoss/dlogits; the gradient is dLoss/dpixels [1, C, H, W].
   * Two passes over σ (logits first, then the vector–Jacobian product with the same noise), each
   * chunked, so memory does not grow with the number of levels.
   */
  async logitsAndGrad(
    pixels: Tensor,
    cotangent: (logits: Float32Array) => Float32Array,
    opts: { rng?: Random; noise?: Float32Array },
  ): Promise<{ logits: Float32Array; grad: Tensor }> {
    const x = this.oneImage(pixels);
    if (this.noiseMode !== 'shared') throw new Error('dc: gradients are implemented for shared noise');
    const noise = this.noiseFor(0, { rng: opts.rng, noise: opts.noise ? [opts.noise] : undefined });
    const logits = await this.fullLogits(x, noise);
    const cot = cotangent(logits);
    const grad = new Float32Array(x.data.length);
    for (const [a, b] of this.chunks()) {
      const r = await this.denoiser.dcChunkVjp(x, ...this.chunkArgs(noise, a, b), this.config.guidance, cot);
      // d/dpixel = 2·d/dx (x = 2·pixel − 1)
      for (let i = 0; i < grad.length; i++) grad[i] += 2 * r.grad.data[i];
    }
    return { logits, grad: { data: grad, dims: x.dims } };
  }
}

/** The model's learned weights for its level count, or an error that says how to get them. */
export function learnedWeightsFor(config: Pick<DcConfig, 'levels' | 'learnedWeights'>): number[] {
  const entry = config.learnedWeights.find((e) => e.levels === config.levels);
  if (!entry) {
    const have = config.learnedWeights.map((e) => e.levels).join(', ');
    throw new InputError(
      `no learned σ weights for ${config.levels} levels in this model${have ? ` (it has them for ${have})` : ''}: run 'rdc fit-weights --model DIR --levels ${config.levels}', or choose another --weighting`,
      'bad_option',
    );
  }
  if (entry.weights.length !== config.levels)
    throw new InputError(`the learned weights for ${config.levels} levels hold ${entry.weights.length} values`, 'bad_model');
  return entry.weights;
}

function toModel(pixels: Float32Array, dims: number[]): Tensor {
  return { data: pixelsToModel(pixels), dims };
}
