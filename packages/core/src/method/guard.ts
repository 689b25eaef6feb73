/**
 * The generative guard (docs/method.md, "What makes a model a diffusion classifier"): a diffusion
 * classifier's class heads must be denoisers. On held-out images it measures, at noise levels spread
 * over [0.1, 1.6], the EDM-weighted denoising loss λ(σ)·mean((D(x + σn) − x)²) of the true class's
 * head, the mean over the other class heads, and the unconditional head (or network), all on the
 * same noise. The class heads *denoise* when, at every one of those σ, the true class's loss is at
 * most 1.05 × the unconditional loss, and at σ = 0.4 it is at most 0.5 and below the other heads'
 * mean: knowing the label cannot make the optimal denoiser worse, and a head that outputs nothing
 * (F = 0, D = c_skip·x) scores exactly 1.0.
 *
 * @example
 * const guard = await generativeGuard(denoiser, pixels, labels, { seed: 0 });
 * if (!guard.denoises) console.log(guard.failures.join('; '));
 */
import { z } from 'zod';
import { edmLossWeight } from '../edm/coefficients.js';
import type { Denoiser } from '../engines/denoiser.js';
import { Random } from '../rng/random.js';
import { pixelsToModel, type Tensor } from '../tensor.js';

/** The guard's noise levels: five, log-spaced over [0.1, 1.6], including 0.4 (model units). */
export const GUARD_SIGMAS: readonly number[] = [0.1, 0.2, 0.4, 0.8, 1.6];
/** The σ at which the class heads must be good denoisers and beat the other heads. */
export const GUARD_KEY_SIGMA = 0.4;
/** The true class's loss may exceed the unconditional one by at most this factor. */
export const GUARD_TOLERANCE = 1.05;
/** At σ = 0.4 the true class's loss must be at most this (a head that outputs nothing scores 1.0). */
export const GUARD_MAX_KEY_LOSS = 0.5;

/** The label shown wherever a model that fails the guard is shown. */
export const NOT_A_DIFFUSION_CLASSIFIER = 'not a diffusion classifier: its class heads do not denoise';

/** EDM-weighted denoising losses at one σ, averaged over images. */
export const DenoisingLoss = z.object({
  sigma: z.number(),
  /** The true class's head (or the network given the true label). */
  trueClass: z.number(),
  /** The mean over the other K − 1 class heads. */
  otherClasses: z.number(),
  /** The unconditional head or network (null: the model has none). */
  unconditional: z.number().nullable(),
});
export type DenoisingLoss = z.infer<typeof DenoisingLoss>;

/** One measurement of the guard: its images, the losses and the verdict (recorded in config.json). */
export const GuardReport = z.object({
  /** Images measured, and where they came from (e.g. 'val', 'test'). */
  images: z.number().int().positive(),
  split: z.string(),
  seed: z.number().int(),
  rows: z.array(DenoisingLoss),
  /** The verdict: the class heads denoise. */
  denoises: z.boolean(),
  /** Each failed condition, with its figures (empty when the heads denoise). */
  failures: z.array(z.string()),
});
export type GuardReport = z.infer<typeof GuardReport>;

/**
 * The EDM-weighted denoising losses of the true-class head, the other class heads and the
 * unconditional head at each σ, on pixels [N, C, H, W] in [0, 1] with their labels. One noise draw
 * per image and σ, shared by every head. Also the per-σ diagnostics of `rdc sample`.
 */
export async function denoisingLosses(
  den: Denoiser,
  pixels: Tensor,
  labels: ArrayLike<number>,
  sigmas: readonly number[],
  opts: { seed?: number; batch?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<DenoisingLoss[]> {
  const k = den.numClasses;
  const [c, h, w] = den.imageDims;
  const d = c * h * w;
  const n = pixels.dims[0];
  if (labels.length !== n) throw new Error(`denoising losses: ${n} images but ${labels.length} labels`);
  if (n === 0) throw new Error('denoising losses: no images');
  const batch = opts.batch ?? 32;
  const rng = new Random(opts.seed ?? 0);
  const hasUnconditional = den.hasUnconditionalHead || den.unconditional !== undefined;
  const x = pixelsToModel(pixels.data);
  const rows: DenoisingLoss[] = [];
  let done = 0;
  for (const sigma of sigmas) {
    let own = 0;
    let others = 0;
    let unc = 0;
    for (let a = 0; a < n; a += batch) {
      const b = Math.min(n, a + batch) - a;
      const x0 = x.subarray(a * d, (a + b) * d);
      const noise = rng.normal(b * d);
      const xs = new Float32Array(b * d);
      for (let j = 0; j < xs.length; j++) xs[j] = x0[j] + sigma * noise[j];
      const input = { data: xs, dims: [b, c, h, w] };
      const sig = new Float32Array(b).fill(sigma);
      const D = hasUnconditional ? (await den.denoiseAllHeads(input, sig)).data : await classHeadsOnly(den, input, sig);
      const heads = hasUnconditional ? k + 1 : k;
      for (let i = 0; i < b; i++) {
        const y = labels[a + i];
        let other = 0;
        for (let head = 0; head < heads; head++) {
          const off = (i * heads + head) * d;
          let e = 0;
          for (let j = 0; j < d; j++) e += (D[off + j] - x0[i * d + j]) ** 2;
          e /= d;
          if (head === y) own += e;
          else if (head < k) other += e;
          else unc += e;
        }
        others += other / Math.max(1, k - 1);
      }
      done += b;
      opts.onProgress?.(done, n * sigmas.length);
    }
    const lam = edmLossWeight(sigma) / n;
    rows.push({ sigma, trueClass: lam * own, otherClasses: lam * others, unconditional: hasUnconditional ? lam * unc : null });
  }
  return rows;
}

/** D [B, K, C, H, W] of the K class heads of a network without an unconditional one. */
async function classHeadsOnly(den: Denoiser, x: Tensor, sigma: Float32Array): Promise<Float32Array> {
  const k = den.numClasses;
  const b = x.dims[0];
  const d = den.imageSize;
  const out = new Float32Array(b * k * d);
  for (let head = 0; head < k; head++) {
    const D = await den.denoiseHead(x, sigma, head);
    for (let i = 0; i < b; i++) out.set(D.subarray(i * d, (i + 1) * d), (i * k + head) * d);
  }
  return out;
}

/** The guard's verdict on measured losses (which must include σ = 0.4). */
export function guardVerdict(rows: readonly DenoisingLoss[]): { denoises: boolean; failures: string[] } {
  const failures: string[] = [];
  const f = (v: number) => v.toFixed(3);
  for (const r of rows) {
    if (r.unconditional === null) continue;
    if (!(r.trueClass <= GUARD_TOLERANCE * r.unconditional))
      failures.push(`at σ = ${r.sigma} the true class's loss ${f(r.trueClass)} exceeds ${GUARD_TOLERANCE} × the unconditional ${f(r.unconditional)}`);
  }
  if (rows.every((r) => r.unconditional === null)) failures.push('the model has no unconditional head or network to compare the class heads with');
  const key = rows.find((r) => Math.abs(r.sigma - GUARD_KEY_SIGMA) < 1e-9);
  if (!key) failures.push(`σ = ${GUARD_KEY_SIGMA} was not measured`);
  else {
    if (!(key.trueClass <= GUARD_MAX_KEY_LOSS))
      failures.push(
        `at σ = ${GUARD_KEY_SIGMA} the true class's loss ${f(key.trueClass)} is above ${GUARD_MAX_KEY_LOSS} (a head that outputs nothing scores 1.0)`,
      );
    if (!(key.trueClass < key.otherClasses))
      failures.push(`at σ = ${GUARD_KEY_SIGMA} the true class's loss ${f(key.trueClass)} is not below the other heads' mean ${f(key.otherClasses)}`);
  }
  return { denoises: failures.length === 0, failures };
}

/**
 * Measures the guard on labelled images (pixels in [0, 1]) and gives its verdict.
 *
 * @example
 * const g = await generativeGuard(den, data.pixels(valIdx), data.labelsAt(valIdx), { split: 'val' });
 */
export async function generativeGuard(
  den: Denoiser,
  pixels: Tensor,
  labels: ArrayLike<number>,
  opts: { seed?: number; split?: string; batch?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<GuardReport> {
  const seed = opts.seed ?? 0;
  const rows = await denoisingLosses(den, pixels, labels, GUARD_SIGMAS, { ...opts, seed });
  return { images: pixels.dims[0], split: opts.split ?? 'val', seed, rows, ...guardVerdict(rows) };
}

/** The guard as a Markdown table (model cards, logs). */
export function guardTable(g: Pick<GuardReport, 'rows'>): string {
  const f = (v: number | null) => (v === null ? '–' : v.toFixed(4));
  const lines = ['| σ | true class | other classes (mean) | unconditional |', '|---|---|---|---|'];
  for (const r of g.rows) lines.push(`| ${r.sigma} | ${f(r.trueClass)} | ${f(r.otherClasses)} | ${f(r.unconditional)} |`);
  return lines.join('\n');
}
