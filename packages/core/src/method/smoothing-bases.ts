/**
 * The base classifiers randomized smoothing smooths (`rdc certify --base`), on noisy images in model
 * units: the plain network (a CNN), the DC, and the authors' two noised DCs (docs/method.md §8):
 * APNDC (approximated posterior: one denoising step of x + 2τε by the unconditional head at σ = 2τ,
 * then the DC on the denoised image over σ levels above 2τ) and EPNDC (exact posterior: the noisy
 * image scored as it is against the exact Gaussian posterior means, no denoising step). Each draws
 * its own noise afresh per image.
 *
 * @example
 * const base = new ApndcBase(dc, denoiser, 0.25); // built by ClassifierFactory.smoothingBase
 */
import type { ClassifierNetworkConfig } from '../config/schema.js';
import type { Denoiser } from '../engines/denoiser.js';
import type { Engine, GraphFunction } from '../engines/engine.js';
import { argmax } from '../math/logits.js';
import { buildClassifierGraph } from '../nn/cnn.js';
import type { Random } from '../rng/random.js';
import { dcTerms, type LevelTerms } from '../sigma/terms.js';
import { pixelLengthToModel, type Tensor, type Weights } from '../tensor.js';
import type { DiffusionClassifier } from './dc.js';
import type { SmoothingBase, SmoothingBaseName } from './smoothing.js';

/** The plain network (the baseline CNN; trained with Gaussian noise of the same τ for Cohen's recipe). */
export class NetworkBase implements SmoothingBase {
  readonly name = 'none' as const;
  readonly passesPerDraw = 1;
  private forward: Promise<GraphFunction> | null = null;
  constructor(
    readonly engine: Engine,
    readonly network: ClassifierNetworkConfig,
    readonly weights: Weights,
  ) {}
  get numClasses() {
    return this.network.numClasses;
  }
  get imageDims(): [number, number, number] {
    const { channels, height, width } = this.network.image;
    return [channels, height, width];
  }
  async predict(x: Tensor): Promise<Int32Array> {
    this.forward ??= this.engine.compile(buildClassifierGraph(this.network), { weights: this.weights });
    const logits = (await (await this.forward).run({ x })).logits;
    return argmax(logits.data, this.numClasses);
  }
}

/**
 * The DC on noisy images: its σ grid and weights, the noise of every level drawn per image; all draws
 * × levels in one network batch for a multi-head network, image by image (K passes per level) for a
 * label-conditional one.
 */
export class DcBase implements SmoothingBase {
  readonly name: SmoothingBaseName = 'dc';
  constructor(readonly dc: DiffusionClassifier) {}
  get numClasses() {
    return this.dc.numClasses;
  }
  get imageDims() {
    return this.dc.denoiser.imageDims;
  }
  get passesPerDraw(): number {
    return this.dc.sigmas.length * this.dc.denoiser.passesPerLevel;
  }
  async predict(x: Tensor, rng: Random): Promise<Int32Array> {
    if (this.dc.config.guidance === 0 && this.dc.denoiser.passesPerLevel === 1)
      return batchPredict(this.dc.denoiser, x, dcTerms(this.dc.sigmas, this.dc.weights), rng);
    const [c, h, w] = this.imageDims;
    const d = c * h * w;
    const out = new Int32Array(x.dims[0]);
    for (let i = 0; i < out.length; i++) {
      const one = { data: x.data.subarray(i * d, (i + 1) * d), dims: [1, c, h, w] };
      out[i] = argmax(await this.dc.logitsModel(one, this.dc.drawNoise(rng)), this.numClasses)[0];
    }
    return out;
  }
}

/**
 * Predictions of noisy images under a classifier's level terms, the noise of every level drawn per
 * image: all draws × levels in one network batch for a multi-head network, draw by draw (K passes
 * per level) for a label-conditional one.
 */
async function batchPredict(den: Denoiser, x: Tensor, terms: LevelTerms, rng: Random): Promise<Int32Array> {
  const [c, h, w] = den.imageDims;
  const d = c * h * w;
  const s = terms.weights.length;
  const b = x.dims[0];
  const per = den.passesPerLevel === 1 ? b : 1;
  const out = new Int32Array(b);
  for (let i = 0; i < b; i += per) {
    const n = Math.min(per, b - i);
    const part = { data: x.data.subarray(i * d, (i + n) * d), dims: [n, c, h, w] };
    out.set(argmax((await den.dcBatch(part, rng.normal(n * s * d), terms)).data, den.numClasses), i);
  }
  return out;
}

/** EPNDC (docs/method.md §8): the noisy image x_t scored as it is, by `epndcTerms` (σ_t = 2τ). */
export class EpndcBase implements SmoothingBase {
  readonly name = 'epndc' as const;
  constructor(
    readonly denoiser: Denoiser,
    readonly terms: LevelTerms,
  ) {}
  get numClasses() {
    return this.denoiser.numClasses;
  }
  get imageDims() {
    return this.denoiser.imageDims;
  }
  get passesPerDraw(): number {
    return this.terms.weights.length * this.denoiser.passesPerLevel;
  }
  predict(x: Tensor, rng: Random): Promise<Int32Array> {
    return batchPredict(this.denoiser, x, this.terms, rng);
  }
}

/** APNDC: the unconditional head's one-step denoising at σ = 2τ, then the DC (its grid from 2τ) on the result. */
export class ApndcBase extends DcBase {
  override readonly name = 'apndc' as const;
  constructor(
    dc: DiffusionClassifier,
    readonly unconditional: Denoiser,
    readonly tau: number,
  ) {
    super(dc);
  }
  override get passesPerDraw(): number {
    return 1 + super.passesPerDraw;
  }
  override async predict(x: Tensor, rng: Random): Promise<Int32Array> {
    const b = x.dims[0];
    const u = this.unconditional;
    const head = u.heads === 1 ? 0 : u.numClasses;
    const denoised = await u.denoiseHead(x, new Float32Array(b).fill(pixelLengthToModel(this.tau)), head);
    return super.predict({ data: denoised, dims: x.dims }, rng);
  }
}
