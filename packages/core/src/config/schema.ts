/**
 * The one configuration schema, with defaults. The CLI's options, the HTTP API's bodies and a
 * model folder's config.json are all validated by these schemas.
 *
 * @example
 * const dc = DcConfig.parse({ levels: 25 }); // every other field takes its default
 */
import { z } from 'zod';
import { InputError } from '../errors.js';
import { NormName } from '../math/ball.js';
import { cli } from './options.js';

export const ImageSpec = z.object({
  channels: z.number().int().positive().default(3),
  height: z.number().int().positive().default(32),
  width: z.number().int().positive().default(32),
});
export type ImageSpec = z.infer<typeof ImageSpec>;

/**
 * EDM's SongUNet (the DDPM++ configuration of NVIDIA's `training/networks.py`), with EDM's parameter
 * names, as one configurable builder:
 * - `conditioning`: `multihead` emits (K + 1)·C channels, K class heads and an unconditional head
 *   (this project's multi-head network); `label` takes a one-hot label input and emits C channels
 *   (EDM's class-conditional network); `none` emits C channels without labels (EDM's unconditional one).
 * - Layout options, EDM's by default; `resample: 'pool'`, `middleBlocks: 1`, `decoderAttention: 'all'`,
 *   `normEps: 1e-5`, `embeddingOrder: 'cos-sin'`, `attentionHeads: 0` describe networks trained by
 *   this project before it used EDM's layout (models/default).
 */
export const UNetConfig = z.object({
  arch: z.literal('unet'),
  image: ImageSpec.prefault({}),
  numClasses: z.number().int().min(1).default(10),
  conditioning: z.enum(['multihead', 'label', 'none']).default('multihead'),
  /** Base width; level i has modelChannels·channelMult[i] channels. */
  modelChannels: z.number().int().positive().default(32).describe('UNet base width (overrides --size)'),
  channelMult: z.array(z.number().int().positive()).min(1).default([1, 2, 2]).describe('UNet width multipliers per level, e.g. 1,2,2'),
  /** Residual blocks per level in the encoder (the decoder has one more). */
  numBlocks: z.number().int().positive().default(1).describe('UNet residual blocks per level'),
  /** Resolutions (e.g. 16) with self-attention. */
  attnResolutions: z
    .array(z.number().int().positive())
    .default([])
    .describe("UNet resolutions with self-attention, e.g. 16 (or '' for none)")
    .meta(cli({ flag: '--attn <list>' })),
  dropout: z.number().min(0).max(0.9).default(0).describe('dropout rate'),
  /** Embedding width = modelChannels·embMult (EDM's channel_mult_emb). */
  embMult: z.number().int().positive().default(4),
  /** EDM's augment_dim: the augmentation-label mapping (stored, unused at inference). */
  augmentDim: z.number().int().nonnegative().default(0),
  /** Attention heads (EDM: 1); 0: one head per `channelsPerHead` channels (the layout before EDM's). */
  attentionHeads: z.number().int().nonnegative().default(1),
  channelsPerHead: z.number().int().positive().default(64),
  /** Down/up-sampling: EDM's UNet blocks with the [1, 1] resample filter, or bare pooling/upsampling between levels. */
  resample: z.enum(['block', 'pool']).default('block'),
  /** EDM: two middle blocks (the first with attention); 1: one, with attention where its resolution has it. */
  middleBlocks: z.union([z.literal(1), z.literal(2)]).default(2),
  /** Decoder attention on the last block of an attention resolution (EDM) or on all of them. */
  decoderAttention: z.enum(['last', 'all']).default('last'),
  /**
   * Multi-head network only: hidden channels of each head's own layer (a 3×3 convolution of the shared
   * features, SiLU, a 1×1 read-out) added to the shared output convolution; 0: the heads share
   * everything but that convolution.
   */
  headChannels: z.number().int().nonnegative().default(0).describe("hidden channels of each head's own layer (multi-head UNet; 0: none)"),
  /** GroupNorm ε (EDM: 1e-6). */
  normEps: z.number().positive().default(1e-6),
  /** The halves of the positional noise embedding: EDM swaps them to sin first. */
  embeddingOrder: z.enum(['sin-cos', 'cos-sin']).default('sin-cos'),
});
export type UNetConfig = z.infer<typeof UNetConfig>;

/** A Gaussian-mixture oracle: every class N(μ_y, s²I); its exact denoiser as a network. */
export const GmmConfig = z.object({
  arch: z.literal('gmm'),
  image: ImageSpec.prefault({}),
  numClasses: z.number().int().min(1),
  /** Standard deviation s shared by every class. */
  std: z.number().positive(),
});
export type GmmConfig = z.infer<typeof GmmConfig>;

/** The baseline discriminative CNN (for attack comparisons). */
export const CnnConfig = z.object({
  arch: z.literal('cnn'),
  image: ImageSpec.prefault({}),
  numClasses: z.number().int().min(1).default(10),
  widths: z.array(z.number().int().positive()).min(1).default([32, 64, 128]).describe('CNN widths per level, e.g. 32,64,128 (overrides --size)'),
  dropout: z.number().min(0).max(0.9).default(0),
});
export type CnnConfig = z.infer<typeof CnnConfig>;

/** A network's input pixel range [lo, hi] (model units [−1, 1] are mapped onto it). */
export const InputRange = z.tuple([z.number(), z.number()]).refine(([lo, hi]) => lo < hi, 'the input range must be lo,hi with lo < hi, e.g. 0,1');

/**
 * A classifier read from an ONNX file (`rdc import onnx`, docs/import.md): its graph as nodes of
 * this project's op table (input `graph.input` in `inputRange`, output `graph.output` the logits;
 * the weights in model.safetensors, small constants inline) and where it came from.
 */
export const ImportedConfig = z.object({
  arch: z.literal('imported'),
  /** What it is called (`rdc import onnx --name`; default: the file's name). */
  name: z.string().min(1).max(200).optional(),
  image: ImageSpec.prefault({}),
  numClasses: z.number().int().min(1).default(10),
  inputRange: InputRange.default([0, 1]),
  graph: z.object({
    input: z.string(),
    output: z.string(),
    params: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().nonnegative()) })),
    consts: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().nonnegative()), values: z.array(z.number()) })),
    /** Nodes of the op table (nn/graph/types.ts), checked op by op when the graph is built. */
    nodes: z.array(z.looseObject({ op: z.string(), inputs: z.array(z.string()), output: z.string() })),
  }),
  source: z.object({
    file: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().nonnegative(),
    opset: z.number().int(),
    producer: z.string(),
    /** The ONNX ops the file uses. */
    ops: z.array(z.string()),
  }),
});
export type ImportedConfig = z.infer<typeof ImportedConfig>;

export const NetworkConfig = z.discriminatedUnion('arch', [UNetConfig, GmmConfig, CnnConfig, ImportedConfig]);
export type NetworkConfig = z.infer<typeof NetworkConfig>;
/** The kinds of network a model folder holds. */
export const NetworkArch = z.enum(NetworkConfig.options.map((o) => o.shape.arch.value) as ['unet', 'gmm', 'cnn', 'imported']);
export type DenoiserNetworkConfig = UNetConfig | GmmConfig;
/** A network that outputs logits itself: the project's CNN or an imported classifier. */
export type ClassifierNetworkConfig = CnnConfig | ImportedConfig;

/** Whether a network is a classifier (logits from images), not a diffusion model. */
export function isClassifierNetwork(n: NetworkConfig): n is ClassifierNetworkConfig {
  return n.arch === 'cnn' || n.arch === 'imported';
}

/** How a classifier network is named in messages: 'a CNN classifier' or 'an imported classifier'. */
export function classifierKind(n: ClassifierNetworkConfig): string {
  return n.arch === 'cnn' ? 'a CNN classifier' : 'an imported classifier';
}

/** A count of evaluated σ levels (docs/method.md §2): one bound wherever levels are chosen. */
export const SigmaLevels = z.number().int().min(2, 'at least 2 σ levels (one level gives every class the same logit)').max(1000);

/** The σ weightings of the DC (`sigma/weights.ts`; `learned`: the model's, from `rdc fit-weights`). */
export const WeightingName = z.enum(['released', 'lognormal', 'uniform', 'learned']);
export type WeightingName = z.infer<typeof WeightingName>;

/**
 * σ weights learned for one level count (`rdc fit-weights`, docs/method.md §8): one non-negative
 * weight per level, fitted by cross-entropy on held-out training images; the figures compare them
 * with the released weights at their best temperature, on the validation images and (`fit`) on the
 * images they were fitted on.
 */
export const LearnedWeights = z.object({
  levels: SigmaLevels,
  weights: z.array(z.number().nonnegative()),
  /** Validation images the top-level figures were measured on. */
  images: z.number().int().positive(),
  nllBefore: z.number(),
  nllAfter: z.number(),
  accuracyBefore: z.number(),
  accuracyAfter: z.number(),
  fit: z.object({ images: z.number().int().positive(), nllBefore: z.number(), nllAfter: z.number() }),
  /** The smoothness penalty λ, chosen by cross-validation on the fit images. */
  smoothness: z.number().nonnegative(),
  /** The noise seed of the per-level losses. */
  seed: z.number().int().nonnegative(),
});
export type LearnedWeights = z.infer<typeof LearnedWeights>;

/** The diffusion classifier: σ grid, weighting and batching (docs/method.md §2). */
export const DcConfig = z.object({
  grid: z.enum(['linear', 'log']).default('linear').describe('σ grid'),
  /** Number of σ levels S (the released code: 125). */
  levels: SigmaLevels.default(125).describe("σ levels of the DC (default: the model's, 125)"),
  sigmaMin: z.number().positive().default(1e-4),
  sigmaMax: z.number().positive().default(3),
  weighting: WeightingName.default('released').describe("σ weights (learned: the model's weights from rdc fit-weights for this level count)"),
  /** Weights learned per level count (`rdc fit-weights`); `weighting: learned` selects the entry for `levels`. */
  learnedWeights: z
    .array(LearnedWeights)
    .default([])
    .meta(cli({ hidden: true })),
  /** σ levels per network batch (bounds memory; does not change results). */
  chunk: z.number().int().min(1).default(25).describe('σ levels per network batch'),
  /** Guidance weight w on the class heads: (1 + w)·D_y − w·D_∅. */
  guidance: z.number().min(0).default(0).describe('guidance weight w on the class heads'),
  /**
   * Adaptive σ evaluation for predictions (never for gradients): levels in a fixed random order,
   * `chunk` at a time, stopping once the leader is safe at level `alpha` (method/adaptive.ts). null: off.
   */
  adaptive: z
    .object({
      alpha: z.number().gt(0).lt(1).default(0.01),
      chunk: z.number().int().min(1).default(5),
      minUnits: z.number().int().min(2).default(3),
    })
    .nullable()
    .default(null)
    .describe(
      'adaptive σ evaluation: levels in a fixed random order, 5 at a time, stopping once the leading class is safe at level alpha (default 0.01); predictions only',
    )
    .meta(cli({ flag: '--adaptive [alpha]', parse: 'adaptive' })),
});
export type DcConfig = z.infer<typeof DcConfig>;

/** Likelihood maximization (docs/method.md §3). Radii are in pixel units ([0, 1]). */
export const LmConfig = z.object({
  steps: z.number().int().min(0).default(5),
  lr: z.number().positive().default(0.1),
  sigmaMin: z.number().positive().default(0.4),
  sigmaMax: z.number().positive().default(0.6),
  ball: NormName.default('l2'),
  radius: z.number().positive().default(100),
  /** Project onto the ball after every step (else once at the end). */
  projectEveryStep: z.boolean().default(true),
  /** `fresh`: new draws per call; `fixed`: the same draws (seed `fixedSeed`) on every call. */
  noise: z.enum(['fresh', 'fixed']).default('fixed'),
  fixedSeed: z.number().int().default(1),
  /** Clamp to the valid range after every step, or once at the end. */
  clamp: z.enum(['every-step', 'end']).default('end'),
});
export type LmConfig = z.infer<typeof LmConfig>;

export const MethodName = z.enum(['released', 'paper']);
export type MethodName = z.infer<typeof MethodName>;

/**
 * The two presets of docs/method.md §3. Both use the released σ weighting (the paper's numbers were
 * measured with it).
 */
export function lmPreset(method: MethodName): LmConfig {
  if (method === 'paper') {
    return LmConfig.parse({ ball: 'linf', radius: 8 / 255, projectEveryStep: true, noise: 'fresh', clamp: 'every-step' });
  }
  return LmConfig.parse({ ball: 'l2', radius: 100, projectEveryStep: true, noise: 'fixed', fixedSeed: 1, clamp: 'end' });
}

/** What is evaluated: an undefended network, the DC, or the RDC. */
export const DefenseName = z.enum(['none', 'dc', 'rdc']);
export type DefenseName = z.infer<typeof DefenseName>;
/** The defenses of a diffusion model. */
export const DiffusionDefense = z.enum(['dc', 'rdc']);
export type DiffusionDefense = z.infer<typeof DiffusionDefense>;
/** RDC gradients: BPDA through LM (the authors' setting) or the exact second-order gradient. */
export const GradientMode = z.enum(['bpda', 'full']);
export type GradientMode = z.infer<typeof GradientMode>;

/** Parses "8/255", "0.5" or a number into a number. */
export function parseFraction(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = /^\s*([0-9.eE+-]+)\s*(?:\/\s*([0-9.eE+-]+))?\s*$/.exec(v);
  const value = m ? Number(m[1]) / (m[2] ? Number(m[2]) : 1) : NaN;
  if (!Number.isFinite(value)) throw new InputError(`expected a number or a fraction like 8/255, got '${v}'`);
  return value;
}

/**
 * Options of one classification request (HTTP API query/JSON fields and `rdc classify` options).
 * `levels` defaults to the model's calibrated σ grid and `method` to the model's LM preset; without
 * `seed` the noise is fresh and the answer reports the seed it drew. Strict: unknown fields, wrong
 * types and unknown values are errors (the API turns query strings of digits into integers first).
 */
/** The largest seed (2³¹ − 1): a batch's image i uses seed + i, which must stay at or below it too. */
export const MAX_SEED = 2 ** 31 - 1;

export const ClassifyFields = z.strictObject({
  defense: DefenseName.optional().describe(
    "dc: the diffusion classifier alone; rdc: likelihood maximization first; none: a CNN's plain network (default: rdc for a diffusion model, none for a CNN)",
  ),
  /** LM preset; default: the model's (`lmMethod` in its config.json). */
  method: MethodName.optional().describe("LM preset (RDC only); default: the model's"),
  levels: SigmaLevels.optional().describe("σ levels, 2–1000 (default: the model's calibrated grid)"),
  weighting: WeightingName.optional().describe("σ weights (default: the model's; learned: the model's learned weights for this level count)"),
  seed: z.number().int().min(0).max(MAX_SEED).optional().describe(`noise seed, 0–${MAX_SEED} (default: fresh, reported in the answer)`),
  /** Also return the image as the model saw it, LM's output and LM's perturbation (PNG data URLs). */
  explain: z.boolean().optional().describe("also return the input as the model saw it and, for the RDC, LM's output and its perturbation, as PNG data URLs"),
});
