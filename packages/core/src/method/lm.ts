import { LmConfig } from '../config/schema.js';
import type { Denoiser } from '../engines/denoiser.js';
import { Random } from '../rng/random.js';
import { adamUpdate } from '../math/adam.js';
import { projectBall } from '../math/ball.js';
import { assertShape, modelToPixels, pixelLengthToModel, pixelsToModel, type Tensor } from '../tensor.js';
import { checkPixels } from './pixels.js';

/**
 * Likelihood maximization (docs/method.md §3): N Adam steps in [−1, 1] space that lower the
 * unconditional head's denoising error at σ ~ U[0.4, 0.6], inside a ball around the input:
 *
 *   x* = argmin_{x' ∈ B(x, η)} E_{σ, n} ‖D(x' + σ·n; σ, ∅) − x'‖²
 *
 * One (σ, n) draw per step and image. Presets (`lmPreset`): `paper` (ℓ∞ ball of 8/255 projected and
 * clamped every step, fresh noise) and `released` (ℓ2 ball of radius 100, never active; the same
 * noise on every call, seed 1; clamped once at the end). Radii are in pixels, doubled in model units.
 *
 * @example
 * const lm = new LikelihoodMaximizer(denoiser, lmPreset('paper'));
 * const purified = await lm.run(pixels, new Random(0));
 */
export class LikelihoodMaximizer {
  readonly config: LmConfig;

  constructor(
    readonly denoiser: Denoiser,
    config: Partial<LmConfig> = {},
  ) {
    this.config = LmConfig.parse(config);
    if (this.config.sigmaMax < this.config.sigmaMin) throw new Error('lm: sigmaMax must be ≥ sigmaMin');
  }

  /** The random stream of one image for this call. */
  private stream(rng: Random | undefined): Random {
    if (this.config.noise === 'fixed') return new Random(this.config.fixedSeed);
    if (!rng) throw new Error(`lm: the '${this.config.noise}' noise setting needs a seeded Random`);
    return rng.split();
  }

  /**
   * The random draws of one call for `b` images: per step, σ [b] and noise [b·d], in the order `run`
   * consumes them (image by image, each from its own stream).
   */
  draws(b: number, rng?: Random): { sigma: Float32Array[]; noise: Float32Array[] } {
    const d = this.denoiser.imageSize;
    const streams = Array.from({ length: b }, () => this.stream(rng));
    const sigma: Float32Array[] = [];
    const noise: Float32Array[] = [];
    for (let t = 0; t < this.config.steps; t++) {
      const s = new Float32Array(b);
      const nz = new Float32Array(b * d);
      for (let i = 0; i < b; i++) {
        s[i] = streams[i].uniformIn(this.config.sigmaMin, this.config.sigmaMax);
        streams[i].normal(d, nz.subarray(i * d, (i + 1) * d));
      }
      sigma.push(s);
      noise.push(nz);
    }
    return { sigma, noise };
  }

  /**
   * Runs LM on pixels [B, C, H, W] in [0, 1] and returns the new pixels (in [0, 1]).
   * `onStep` sees the per-image objective before each step (for logs and tests); an aborted `signal`
   * stops before the next step.
   */
  async run(pixels: Tensor, rng?: Random, onStep?: (step: number, loss: Float32Array) => void, signal?: AbortSignal): Promise<Tensor> {
    const [c, h, w] = this.denoiser.imageDims;
    assertShape('lm: pixels', pixels, [-1, c, h, w]);
    checkPixels(pixels.data);
    const cfg = this.config;
    const b = pixels.dims[0];
    const x0 = pixelsToModel(pixels.data);
    const x = Float32Array.from(x0);
    const m = new Float32Array(x.length);
    const v = new Float32Array(x.length);
    const ball = { norm: cfg.ball, radius: pixelLengthToModel(cfg.radius) }; // model units
    const draws = this.draws(b, rng);

    for (let t = 1; t <= cfg.steps; t++) {
      signal?.throwIfAborted();
      const dims = [b, c, h, w];
      const { loss, grad } = await this.denoiser.lmObjective({ data: x, dims }, { data: draws.noise[t - 1], dims }, draws.sigma[t - 1]);
      onStep?.(t - 1, loss);
      adamUpdate(x, grad.data, m, v, { t, lr: cfg.lr });
      if (cfg.projectEveryStep) projectBall(x, x0, ball, { images: b });
      if (cfg.clamp === 'every-step') clampRange(x);
    }
    if (!cfg.projectEveryStep) projectBall(x, x0, ball, { images: b });
    return { data: modelToPixels(x, { clamp: true }), dims: [...pixels.dims] };
  }
}

function clampRange(x: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(-1, x[i]));
}
