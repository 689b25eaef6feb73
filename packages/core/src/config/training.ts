/**
 * `rdc train` settings, with defaults: the CLI's options are derived from this schema, and the run's
 * config.json records the result.
 *
 * @example
 * const cfg = TrainConfig.parse({ steps: 1000, size: 'tiny' });
 */
import { z } from 'zod';
import { P_MEAN, P_STD } from '../edm/coefficients.js';
import { cli } from './options.js';

export const TrainConfig = z.object({
  arch: z.enum(['unet', 'cnn']).default('unet').describe('network: the multi-head diffusion UNet or the baseline CNN'),
  size: z.enum(['tiny', 'small', 'paper']).default('tiny').describe('network size preset'),
  /** Network fields that override the size preset (e.g. { modelChannels: 32 }). */
  network: z
    .record(z.string(), z.unknown())
    .default({})
    .meta(cli({ hidden: true })),
  /** Fine-tune from this model folder (any head count). */
  from: z
    .string()
    .nullable()
    .default(null)
    .describe('fine-tune from this model folder (the head count may differ)')
    .meta(cli({ flag: '--from <dir>' })),
  /** Distil from this teacher model folder. */
  teacher: z
    .string()
    .nullable()
    .default(null)
    .describe('distil from this teacher model folder')
    .meta(cli({ flag: '--teacher <dir>' })),
  steps: z.number().int().positive().default(10_000).describe('optimizer steps'),
  /** Stop cleanly (with a checkpoint) after this many seconds. */
  timeBudget: z
    .number()
    .positive()
    .nullable()
    .default(null)
    .describe('stop cleanly after this long (e.g. 10m, 1.5h)')
    .meta(cli({ flag: '--time-budget <duration>', parse: 'duration' })),
  batch: z.number().int().positive().default(32).describe('images per step'),
  lr: z.number().positive().default(2e-3).describe('learning rate'),
  lrSchedule: z.enum(['constant', 'cosine']).default('constant').describe('learning-rate schedule after warm-up'),
  warmup: z.number().int().nonnegative().default(200).describe('learning-rate warm-up steps'),
  weightDecay: z.number().nonnegative().default(0).describe('AdamW weight decay'),
  gradClip: z
    .number()
    .positive()
    .nullable()
    .default(1)
    .describe('clip the global gradient norm (0: off)')
    .meta(cli({ parse: 'zero-null' })),
  /**
   * Where AdamW and the EMA run: on the host (TypeScript), or inside the training-step graph on the
   * engine's provider (ONNX Runtime only); `auto`: inside the graph for a GPU provider.
   */
  optimizer: z
    .enum(['auto', 'host', 'device'])
    .default('auto')
    .describe('AdamW and the EMA on the host, or inside the step graph on the engine (auto: in the graph on a GPU)'),
  /** Loss weight of the unconditional head (the class head's is 1); training from data only. */
  uncondWeight: z.number().min(0).default(1).describe('loss weight of the unconditional head (the class head has 1)'),
  /**
   * Weight of an auxiliary cross-entropy on the DC's logits at the sampled σ (0: off, the EDM loss
   * alone). `ceScale` scales the logits −λ(σ)·err_k; measured on v1, their spread over classes is
   * about 1e-3, so 1000 puts it near 1.
   */
  ceWeight: z.number().min(0).default(0).describe("weight of an auxiliary cross-entropy on the DC's logits at the sampled σ (multi-head UNet; 0: off)"),
  ceScale: z.number().positive().default(1000).describe('logit scale of that cross-entropy'),
  emaHalflifeImages: z
    .number()
    .positive()
    .default(20_000)
    .describe('EMA half-life in images')
    .meta(cli({ flag: '--ema-halflife <images>' })),
  emaRampup: z
    .number()
    .positive()
    .nullable()
    .default(0.1)
    .describe('EMA ramp-up ratio (0: off)')
    .meta(cli({ parse: 'zero-null' })),
  /** σ for training: EDM's log-normal, or concentrated where the DC's weights are. */
  sigmaSampling: z.enum(['edm', 'dc']).default('edm').describe("training noise levels: EDM's log-normal, or where the DC weights are"),
  pMean: z.number().default(P_MEAN).describe("mean of EDM's log-normal σ sampling (ln σ)"),
  pStd: z.number().positive().default(P_STD).describe("standard deviation of EDM's log-normal σ sampling"),
  noiseSd: z
    .number()
    .min(0)
    .max(2)
    .default(0)
    .describe("baseline CNN: Gaussian noise τ (pixel units) added to every training image (Cohen's recipe for certification with --sigma τ; 0: none)"),
  flip: z
    .boolean()
    .default(true)
    .describe('horizontal flips')
    .meta(cli({ flag: '--no-flip' })),
  /** Held-out images carved from the training batches. */
  valSize: z.number().int().nonnegative().default(1000).describe('validation images held out of the training batches'),
  valEvery: z.number().int().positive().default(500).describe('validation (DC accuracy and the generative guard) every N steps'),
  /** Images and σ levels of the validation DC accuracy. */
  valImages: z.number().int().positive().default(200).describe('validation images scored each time'),
  valLevels: z.number().int().positive().default(10).describe('σ levels of the validation DC'),
  ckptEvery: z.number().int().positive().default(500).describe('checkpoint every N steps'),
  keepCheckpoints: z.number().int().positive().default(2).describe('checkpoints kept'),
  seed: z.number().int().default(0).describe('seed of everything random'),
});
export type TrainConfig = z.infer<typeof TrainConfig>;
