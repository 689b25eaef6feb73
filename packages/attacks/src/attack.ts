import type { Classifier, Random } from '@rdc/core/runtime';
import { lossAndGrad, type LossName } from './losses.js';
import type { ThreatModel } from './threat.js';

/**
 * The attack interface: one clean image (pixels [C·H·W] in [0, 1]) and its label in, an adversarial
 * image inside the threat model out. Attacks see only `Classifier`: logits and input gradients.
 */
export interface AttackContext {
  classifier: Classifier;
  threat: ThreatModel;
  rng: Random;
  /** Called after every iteration (progress, logs). */
  onIteration?: (i: number, loss: number) => void;
}

export interface AttackResult {
  adv: Float32Array;
  /** Whether the attack saw a misclassification of `adv` during its own search. */
  success: boolean;
  iterations: number;
  /** Classifier calls (forward or gradient). */
  queries: number;
  bestLoss: number;
}

export interface Attack {
  readonly name: string;
  run(x0: Float32Array, label: number, ctx: AttackContext): Promise<AttackResult>;
}

/** The loss at x, its gradient with respect to the pixels, and the logits (one classifier call). */
export async function lossGradient(
  ctx: AttackContext,
  x: Float32Array,
  label: number,
  loss: LossName,
  target?: number,
): Promise<{ value: number; grad: Float32Array; logits: Float32Array }> {
  const clf = ctx.classifier;
  const opts = { temperature: clf.temperature, target };
  const r = await clf.gradient({ data: x, dims: [1, ...clf.imageDims] }, (logits) => lossAndGrad(loss, logits, label, opts).grad, ctx.rng);
  // With EOT the logits are an average: report the loss of the averaged logits.
  return { value: lossAndGrad(loss, r.logits, label, opts).value, grad: r.grad.data, logits: r.logits };
}

/** The loss at x from the logits alone (one forward classification; no gradient). */
export async function lossAt(
  ctx: AttackContext,
  x: Float32Array,
  label: number,
  loss: LossName,
  target?: number,
): Promise<{ value: number; logits: Float32Array }> {
  const clf = ctx.classifier;
  const logits = (await clf.logits({ data: x, dims: [1, ...clf.imageDims] }, ctx.rng)).data;
  return { value: lossAndGrad(loss, logits, label, { temperature: clf.temperature, target }).value, logits };
}
