import { z } from 'zod';

/**
 * `rdc train` settings, with defaults. The CLI's options are parsed by this schema and the run's
 * config.json records the result.
 *
 * @example
 * const cfg = TrainConfig.parse({ steps: 1000, size: 'tiny' });
 */
export const TrainConfig = z.object({
  arch: z.enum(['unet', 'cnn']).default('unet'),
  size: z.enum(['tiny', 'small', 'paper']).default('tiny'),
  /** Network fields that override the size preset (e.g. { modelChannels: 32 }). */
  network: z.record(z.string(), z.unknown()).default({}),
  /** Fine-tune from this model folder (any head count). */
  from: z.string().nullable().default(null),
  /** Distil from this teacher model folder. */
  teacher: z.string().nullable().default(null),
  steps: z.number().int().positive().default(10_000),
  /** Stop cleanly (with a checkpoint) after this many seconds. */
  timeBudget: z.number().positive().nullable().default(null),
  batch: z.number().int().positive().default(32),
  lr: z.number().positive().default(2e-3),
  lrSchedule: z.enum(['constant', 'cosine']).default('constant'),
  warmup: z.number().int().nonnegative().default(200),
  weightDecay: z.number().nonnegative().default(0),
  gradClip: z.number().positive().nullable().default(1),
  /**
   * Where AdamW and the EMA run: on the host (TypeScript), or inside the training-step graph on the
   * engine's provider (ONNX Runtime only); `auto`: inside the graph for a GPU provider.
   */
  optimizer: z.enum(['auto', 'host', 'device']).default('auto'),
  /** Loss weight of the unconditional head (the class head's is 1); training from data only. */
  uncondWeight: z.number().min(0).default(1),
  /**
   * Weight of an auxiliary cross-entropy on the DC's logits at the sampled σ (0: off, the EDM loss
   * alone). `ceScale` scales the logits −λ(σ)·err_k; measured on v1, their spread over classes is
   * about 1e-3, so 1000 puts it near 1.
   */
  ceWeight: z.number().min(0).default(0),
  ceScale: z.number().positive().default(1000),
  emaHalflifeImages: z.number().positive().default(20_000),
  emaRampup: z.number().positive().nullable().default(0.1),
  /** σ for training: EDM's log-normal, or concentrated where the DC's weights are. */
  sigmaSampling: z.enum(['edm', 'dc']).default('edm'),
  pMean: z.number().default(-1.2),
  pStd: z.number().positive().default(1.2),
  flip: z.boolean().default(true),
  /** Held-out images carved from the training batches. */
  valSize: z.number().int().nonnegative().default(1000),
  valEvery: z.number().int().positive().default(500),
  /** Images and σ levels of the validation DC accuracy. */
  valImages: z.number().int().positive().default(200),
  valLevels: z.number().int().positive().default(10),
  ckptEvery: z.number().int().positive().default(500),
  keepCheckpoints: z.number().int().positive().default(2),
  seed: z.number().int().default(0),
});
export type TrainConfig = z.infer<typeof TrainConfig>;
