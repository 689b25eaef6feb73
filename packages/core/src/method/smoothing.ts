/**
 * Randomized smoothing (docs/method.md §7; Cohen, Rosenfeld and Kolter, ICML 2019): the smoothed
 * classifier g(x) = argmax_c P(f(x + τε) = c), ε ~ N(0, I), of any base classifier f, with
 * - CERTIFY: N0 noisy draws pick the top class ĉ, N fresh draws count n_A; p̲_A is the one-sided
 *   Clopper–Pearson lower bound at level α (a library's beta quantile); abstain (−1) when
 *   p̲_A < 1/2, else no ℓ2 perturbation smaller than τ·Φ⁻¹(p̲_A) changes g's answer, with
 *   probability at least 1 − α over the draws;
 * - PREDICT: N draws; abstain unless a two-sided binomial test of the two largest counts rejects
 *   their equality at level α.
 * τ is in pixel units of [0, 1] images (2τ in model units). The base classifiers (the plain network,
 * the DC, the noised DC) see noisy images as they are, outside [0, 1] too; their noise and the
 * smoothing noise come from the caller's seeded generator, in batches of `batch` draws.
 *
 * @example
 * const c = await certify(base, pixels, { sigma: 0.25, n0: 100, n: 1000, alpha: 0.001 }, new Random(0));
 * c.prediction; c.radius; // −1 and 0 when it abstains
 */
import betaQuantile from '@stdlib/stats-base-dists-beta-quantile';
import binomialCdf from '@stdlib/stats-base-dists-binomial-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import { z } from 'zod';
import { cli } from '../config/options.js';
import { SigmaLevels } from '../config/schema.js';
import type { Random } from '../rng/random.js';
import { pixelLengthToModel, pixelsToModel, type Tensor } from '../tensor.js';
import { checkPixels } from './pixels.js';

/** The base classifiers of `rdc certify --base`. */
export const SmoothingBaseName = z.enum(['none', 'dc', 'apndc', 'epndc']);
export type SmoothingBaseName = z.infer<typeof SmoothingBaseName>;

/** Each base classifier in words, for reports and pages. */
export const smoothingBaseLabel: Record<SmoothingBaseName, string> = {
  none: 'the plain network',
  dc: 'the DC',
  apndc: 'the approximated-posterior noised DC (APNDC)',
  epndc: 'the exact-posterior noised DC (EPNDC)',
};

/** Certification's settings (CLI, API and reports), with Cohen's defaults where they fit a CPU. */
export const CertifyOptions = z.object({
  base: SmoothingBaseName.default('apndc').describe(
    'the base classifier: none (the plain network), dc, apndc or epndc (the noised DCs: approximated or exact posterior)',
  ),
  sigma: z
    .number()
    .positive()
    .max(2)
    .default(0.25)
    .describe('τ: the smoothing noise in pixel units of [0, 1] images')
    .meta(cli({ parse: 'fraction' })),
  n0: z.number().int().min(1).default(100).describe('draws that select the top class'),
  n: z.number().int().min(1).default(1000).describe("draws that bound its probability (Cohen's 100 000, the authors' 10 000: GPU budgets)"),
  alpha: z.number().gt(0).lt(0.5).default(0.001).describe('failure probability of the certificate'),
  levels: SigmaLevels.optional().describe("σ levels of the DC (apndc, epndc: evaluated levels above 2τ, default 10; dc: the model's)"),
  batch: z.number().int().min(1).default(32).describe('noisy draws per network batch (each draw takes the σ levels as its own batch rows)'),
});
export type CertifyOptions = z.infer<typeof CertifyOptions>;

/**
 * The defaults of one certification request to the HTTP API: fewer draws than the command line's,
 * so that a request fits the server's default work limit and time limit on a CPU.
 */
export const CERTIFY_REQUEST_DEFAULTS = { n0: 20, n: 100, levels: 10 } as const satisfies Partial<CertifyOptions>;

/** A classifier of noisy images, the thing randomized smoothing smooths. */
export interface SmoothingBase {
  readonly name: SmoothingBaseName;
  readonly numClasses: number;
  readonly imageDims: readonly [number, number, number];
  /** Network passes per noisy image (levels, plus the denoising step of `apndc`). */
  readonly passesPerDraw: number;
  /** Predicted classes of noisy images x [B, C, H, W] in model units (not clamped); its own noise from `rng`. */
  predict(x: Tensor, rng: Random): Promise<Int32Array>;
}

export interface Certificate {
  /** The certified class, or −1 when it abstains. */
  prediction: number;
  /** The count of the estimation draws that gave the selected class, of `n` (N0 not included). */
  nA: number;
  n: number;
  pALower: number;
  /** ℓ2 radius in pixel units; 0 on abstention. */
  radius: number;
  /** The class selected by the N0 draws. */
  selected: number;
}

/** The one-sided (1 − α) Clopper–Pearson lower bound on a proportion: the α-quantile of Beta(nA, n − nA + 1); 0 when nA = 0. */
export function clopperPearsonLower(nA: number, n: number, alpha: number): number {
  if (!(n >= 1) || nA < 0 || nA > n) throw new Error(`clopperPearsonLower: need 0 ≤ nA ≤ n and n ≥ 1, got ${nA} of ${n}`);
  return nA === 0 ? 0 : betaQuantile(alpha, nA, n - nA + 1);
}

/** The certified ℓ2 radius τ·Φ⁻¹(p̲_A), or null (abstain) when p̲_A < 1/2. */
export function certifiedRadius(pALower: number, sigma: number): number | null {
  return pALower < 0.5 ? null : sigma * normalQuantile(pALower, 0, 1);
}

/** The two-sided exact binomial test of k successes in n trials against p = 1/2 (PREDICT's). */
export function binomialTestHalf(k: number, n: number): number {
  if (n === 0) return 1;
  const lower = binomialCdf(Math.min(k, n - k), n, 0.5);
  return Math.min(1, 2 * lower);
}

/** The two stages of CERTIFY: the N0 draws that select the class, the N that bound its probability. */
export const CertifyStage = z.enum(['select', 'estimate']);

/** Where a certification stands: after each batch of draws, of the selection (N0) or the estimation (N) draws. */
export interface CertifyProgress {
  stage: z.infer<typeof CertifyStage>;
  done: number;
  total: number;
  /** Class counts of this stage's draws so far. */
  counts: number[];
}

/** Class counts of `draws` noisy copies x + τε of one image (pixels [1, C, H, W] in [0, 1]); `onBatch` after each batch. */
export async function drawCounts(
  base: SmoothingBase,
  pixels: Tensor,
  draws: number,
  o: { sigma: number; batch: number },
  rng: Random,
  signal?: AbortSignal,
  onBatch?: (done: number, counts: number[]) => void,
): Promise<number[]> {
  checkPixels(pixels.data);
  const [c, h, w] = base.imageDims;
  const d = c * h * w;
  if (pixels.data.length !== d) throw new Error(`smoothing: expected one image of ${c}×${h}×${w}`);
  const x = pixelsToModel(pixels.data);
  const counts = new Array<number>(base.numClasses).fill(0);
  const noiseScale = pixelLengthToModel(o.sigma);
  for (let done = 0; done < draws;) {
    signal?.throwIfAborted();
    const b = Math.min(o.batch, draws - done);
    const eps = rng.normal(b * d);
    const xs = new Float32Array(b * d);
    for (let i = 0; i < b; i++) for (let j = 0; j < d; j++) xs[i * d + j] = x[j] + noiseScale * eps[i * d + j];
    for (const p of await base.predict({ data: xs, dims: [b, c, h, w] }, rng)) counts[p]++;
    done += b;
    onBatch?.(done, counts);
  }
  return counts;
}

const argmaxOf = (counts: number[]) => counts.reduce((best, v, i) => (v > counts[best] ? i : best), 0);

/** CERTIFY: the certified class and ℓ2 radius of the smoothed classifier at one image, or an abstention. */
export async function certify(
  base: SmoothingBase,
  pixels: Tensor,
  o: Pick<CertifyOptions, 'sigma' | 'n0' | 'n' | 'alpha' | 'batch'>,
  rng: Random,
  signal?: AbortSignal,
  onProgress?: (p: CertifyProgress) => void,
): Promise<Certificate> {
  const report = (stage: CertifyProgress['stage'], total: number) => (done: number, counts: number[]) =>
    onProgress?.({ stage, done, total, counts: [...counts] });
  const selected = argmaxOf(await drawCounts(base, pixels, o.n0, o, rng, signal, report('select', o.n0)));
  const counts = await drawCounts(base, pixels, o.n, o, rng, signal, report('estimate', o.n));
  const nA = counts[selected];
  const pALower = clopperPearsonLower(nA, o.n, o.alpha);
  const radius = certifiedRadius(pALower, o.sigma);
  return { prediction: radius === null ? -1 : selected, nA, n: o.n, pALower, radius: radius ?? 0, selected };
}

/** PREDICT: the smoothed classifier's answer at one image, or −1 when the two largest counts cannot be told apart at level α. */
export async function predictSmoothed(
  base: SmoothingBase,
  pixels: Tensor,
  o: Pick<CertifyOptions, 'sigma' | 'n' | 'alpha' | 'batch'>,
  rng: Random,
  signal?: AbortSignal,
): Promise<{ prediction: number; counts: number[]; pValue: number }> {
  const counts = await drawCounts(base, pixels, o.n, o, rng, signal);
  const order = counts.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]);
  const [[nA, top], [nB]] = [order[0], order[1] ?? [0, -1]];
  const pValue = binomialTestHalf(nA, nA + nB);
  return { prediction: pValue > o.alpha ? -1 : top, counts, pValue };
}
