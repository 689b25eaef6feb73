/**
 * A model folder's config.json: its schema (network, classes, DC settings, temperature, LM preset,
 * calibration, the generative guard, provenance, and the sha256 of every other file) and what the
 * guard says of the model.
 *
 * @example
 * const config = ModelConfig.parse(JSON.parse(text));
 * guardLabel(config); // 'not a diffusion classifier: …' or null
 */
import { z } from 'zod';
import { DcConfig, DefenseName, GmmConfig, MethodName, NetworkConfig, UNetConfig, isClassifierNetwork } from '../config/schema.js';
import { NormName } from '../math/ball.js';
import { GuardReport, NOT_A_DIFFUSION_CLASSIFIER } from '../method/guard.js';
import { SmoothingBaseName } from '../method/smoothing.js';

export const MODEL_FORMAT = 'rdc-model';

/** A file of a model folder: a plain name inside it, never a path (no '/', no '..', not hidden). */
export const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export const FileEntry = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative() });

export const Calibration = z.object({
  images: z.number().int().positive(),
  split: z.string(),
  levels: z.number().int().positive(),
  nllBefore: z.number(),
  nllAfter: z.number(),
  accuracy: z.number(),
});
export type Calibration = z.infer<typeof Calibration>;

export const ModelGuard = z.object({ validation: GuardReport, test: GuardReport.nullable() });

const Interval = z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]);

/**
 * A robust accuracy a card records (`rdc attack --record`, `rdc sweeps --record`): the worst case
 * over the attacks at one ε under the re-check rule, beside the null attack under the same rule;
 * fractions, `eps` in pixel units (1/255 = 0.00392). Clean accuracy (ε 0) is not one.
 */
export const RobustFigure = z.object({
  /** The card section that states it. */
  section: z.string(),
  defense: DefenseName,
  method: MethodName.optional(),
  eps: z.number().positive(),
  norm: NormName,
  accuracy: z.number().min(0).max(1),
  ci95: Interval,
  nullAttack: z.number().min(0).max(1),
  rule: z.string(),
  protocol: z.string(),
  images: z.number().int().positive(),
});
export type RobustFigure = z.infer<typeof RobustFigure>;

/** A certified accuracy a card records (`rdc certify --record`): at one ℓ2 radius of randomized smoothing with noise σ (τ); fractions. */
export const CertifiedFigure = z.object({
  section: z.string(),
  base: SmoothingBaseName,
  sigma: z.number().positive(),
  radius: z.number().nonnegative(),
  accuracy: z.number().min(0).max(1),
  ci95: Interval,
  abstained: z.number().min(0).max(1),
  images: z.number().int().positive(),
});
export type CertifiedFigure = z.infer<typeof CertifiedFigure>;

/** The figures a card states, as data beside its prose (what the API and the page show). */
export const MeasuredFigures = z.object({ robust: z.array(RobustFigure).default([]), certified: z.array(CertifiedFigure).default([]) });
export type MeasuredFigures = z.infer<typeof MeasuredFigures>;
export type ModelGuard = z.infer<typeof ModelGuard>;

/**
 * What the generative guard says of a model: its class heads denoise, they do not (a discriminative
 * readout: labelled wherever the model is shown), it was never measured, or it does not apply (a CNN).
 */
export const GuardStatus = z.enum(['denoises', 'discriminative', 'unmeasured', 'not-applicable']);
export type GuardStatus = z.infer<typeof GuardStatus>;

export function guardStatus(config: Pick<ModelConfig, 'network' | 'guard'>): GuardStatus {
  if (isClassifierNetwork(config.network)) return 'not-applicable';
  if (!config.guard) return 'unmeasured';
  return config.guard.validation.denoises ? 'denoises' : 'discriminative';
}

/** The label shown beside a model (outputs, the API, the page): null when there is nothing to say. */
export function guardLabel(config: Pick<ModelConfig, 'network' | 'guard'>): string | null {
  const status = guardStatus(config);
  if (status === 'discriminative') return NOT_A_DIFFUSION_CLASSIFIER;
  if (status === 'unmeasured') return 'the generative guard was not measured on this model (re-export it to check that its class heads denoise)';
  return null;
}

export const ModelConfig = z.object({
  format: z.literal(MODEL_FORMAT),
  version: z.literal(1),
  network: NetworkConfig,
  classes: z.array(z.string().min(1)).min(1),
  /** The DC settings the model was calibrated with (and serves by default). */
  dc: DcConfig,
  /** A separate unconditional network for LM (weights in lm.safetensors), or null: LM uses the network's own unconditional head. */
  lmNetwork: z.union([UNetConfig, GmmConfig]).nullable().default(null),
  /** Softmax temperature fitted on a validation split (null: not calibrated, T = 1). */
  temperature: z.number().positive().nullable(),
  /** The LM preset of the RDC unless a request or command names one (chosen on a validation split). */
  lmMethod: MethodName.default('released'),
  calibration: Calibration.nullable().default(null),
  /**
   * The generative guard (method/guard.ts) measured when the folder was written: the verdict on
   * validation images, and the same table on the first test images (for the card). Absent in folders
   * written before the guard existed.
   */
  guard: ModelGuard.optional(),
  /** The robust and certified figures the card states (written with the card's sections). */
  measured: MeasuredFigures.default({ robust: [], certified: [] }),
  /** How the weights were made: command, data, steps, wall time, machine, commit (paths relative or omitted). */
  training: z.record(z.string(), z.unknown()).default({}),
  createdAt: z.string(),
  /** The other files of the folder (plain names inside it) with their sha256. */
  files: z.record(z.string(), FileEntry),
  /** sha256 of this config's canonical JSON without this field (`configChecksum`): any change to config.json is detected. */
  configSha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ModelConfig = z.infer<typeof ModelConfig>;
