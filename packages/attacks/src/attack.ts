/**
 * The attack interface: one clean image (pixels [C·H·W] in [0, 1]) and its label in, an adversarial
 * image inside the threat model out. Attacks see only `Classifier`: logits and input gradients.
 *
 * On a randomized classifier (the DC, the RDC) one evaluation that misclassifies an iterate proves
 * little: the point may sit on the decision boundary, and a fresh draw flips it back. So every
 * attack runs its whole budget, as AutoAttack does, and returns the highest-loss iterate it saw
 * misclassified, else its highest-loss iterate (`BestIterate`). It may stop early only once an
 * iterate is misclassified under `confirm` fresh forward draws of the `judge` (`confirmMisclassified`).
 */
import type { Classifier, Random } from '@rdc/core/runtime';
import { z } from 'zod';
import { lossAndGrad, predicted, type LossName } from './losses.js';
import type { ThreatModel } from './threat.js';

export interface AttackContext {
  /** What the attack queries (possibly wrapped: EOT, fixed noise). */
  classifier: Classifier;
  threat: ThreatModel;
  rng: Random;
  /**
   * Fresh draws that must all misclassify an iterate before the attack may stop early; 0: never stop
   * early. Default: 3 for a stochastic judge, 1 for a deterministic one (which costs no query: the
   * evaluation the attack saw is the answer).
   */
  confirm?: number;
  /** The classifier the confirmation draws query (default: `classifier`), e.g. the DC under an EOT wrapper. */
  judge?: Classifier;
  /** Called after every iteration (progress, logs; APGD's starting point is iteration 0), with the iterate's logits where the attack has them. */
  onIteration?: (i: number, loss: number, logits?: Float32Array) => void;
}

export interface AttackResult {
  adv: Float32Array;
  /** Whether the attack saw a misclassification of `adv` during its own search. */
  success: boolean;
  /** Whether `adv` passed the confirmation draws (the attack stopped early on it). */
  confirmed: boolean;
  iterations: number;
  /** Classifier calls (forward or gradient), confirmation draws included. */
  queries: number;
  bestLoss: number;
}

/** The attacks there are (the registry in protocol.ts builds each). */
export const AttackName = z.enum(['fgsm', 'pgd', 'apgd-ce', 'apgd-dlr', 'apgd-t', 'fab-t', 'square']);
export type AttackName = z.infer<typeof AttackName>;

/**
 * What an attack queries: input gradients (white-box), or only scores (black-box: the evaluation
 * fixes the noise of a randomized classifier for it, so that scores compare across queries).
 */
export type AttackNeeds = 'gradients' | 'scores';

export interface Attack {
  readonly name: AttackName;
  readonly needs: AttackNeeds;
  run(x0: Float32Array, label: number, ctx: AttackContext): Promise<AttackResult>;
}

/** The default number of confirmation draws for a classifier. */
export function defaultConfirm(clf: Classifier): number {
  return clf.stochastic ? 3 : 1;
}

/**
 * Whether x is misclassified under the context's confirmation rule: `confirm` fresh forward draws of
 * the judge, all misclassifying (stops at the first correct one). A deterministic judge that the
 * attack queries directly needs no draw: the evaluation the attack saw is its answer.
 */
export async function confirmMisclassified(ctx: AttackContext, x: Float32Array, label: number): Promise<{ confirmed: boolean; queries: number }> {
  const judge = ctx.judge ?? ctx.classifier;
  const k = ctx.confirm ?? defaultConfirm(judge);
  if (k === 0) return { confirmed: false, queries: 0 };
  if (judge === ctx.classifier && !judge.stochastic) return { confirmed: true, queries: 0 };
  let queries = 0;
  for (let i = 0; i < k; i++) {
    queries++;
    const z = (await judge.logits({ data: x, dims: [1, ...judge.imageDims] }, ctx.rng)).data;
    if (predicted(z) === label) return { confirmed: false, queries };
  }
  return { confirmed: true, queries };
}

/**
 * The iterate an attack returns: the highest-loss one it saw misclassified, else the highest-loss
 * one. Offer every evaluated iterate.
 *
 * @example
 * const best = new BestIterate(x0);
 * best.offer(x, loss, predicted(logits) !== label);
 */
export class BestIterate {
  adv: Float32Array;
  loss = -Infinity;
  misclassified = false;
  constructor(x0: Float32Array) {
    this.adv = Float32Array.from(x0);
  }
  /** Returns true when x becomes the answer. */
  offer(x: Float32Array, loss: number, misclassified: boolean): boolean {
    const better = misclassified ? !this.misclassified || loss > this.loss : !this.misclassified && loss > this.loss;
    if (!better) return false;
    this.adv = Float32Array.from(x);
    this.loss = loss;
    this.misclassified = misclassified;
    return true;
  }
  /** Takes another attack run's answer by the same rule. */
  merge(o: { adv: Float32Array; loss: number; misclassified: boolean }): void {
    this.offer(o.adv, o.loss, o.misclassified);
  }
}

/**
 * Offers an evaluated iterate and, when it becomes a new best misclassified point, asks for the
 * confirmation draws. Returns whether the attack may stop on it, and the draws spent.
 */
export async function offerAndConfirm(
  ctx: AttackContext,
  best: BestIterate,
  x: Float32Array,
  label: number,
  loss: number,
  logits: Float32Array,
): Promise<{ stop: boolean; queries: number }> {
  const mis = predicted(logits) !== label;
  if (!best.offer(x, loss, mis) || !mis) return { stop: false, queries: 0 };
  const c = await confirmMisclassified(ctx, x, label);
  return { stop: c.confirmed, queries: c.queries };
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
