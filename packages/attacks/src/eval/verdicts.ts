/**
 * What an attack or a certification says about one picture, in words a reader of a robustness paper
 * would accept; the API's `verdict` and `certified` fields and the page's words use these
 * vocabularies. With the picture's label:
 * - after an attack: `held` (right before, right after), `fooled` (right before, wrong after),
 *   `wrong-before` (wrong before and after: the attack proves nothing), `made-right` (wrong before,
 *   right after); "right" is the k fresh re-checks counted under the rule;
 * - after a certification: `certified-right`, `certified-wrong` (an error, not a success) or
 *   `abstained`.
 * Without a label: `changed` / `unchanged` (the re-checked answer against the clean one), and
 * `certified` / `abstained`.
 *
 * @example
 * attackVerdict({ label: 3, rule: 'majority', clean: [3, 3, 5], attacked: [5, 5, 5], changed: true }); // 'fooled'
 */
import { z } from 'zod';
import { correctUnder, type RecheckRule } from './rules.js';

/** A picture's true class as a request names it (a class name of the model), for the verdicts. */
export const TrueLabel = z
  .string()
  .min(1)
  .max(64)
  .describe(
    "the picture's true class, a class name of the model (GET /v1/models lists them); the answer then says whether a right answer was fooled or certified",
  );

export const AttackVerdict = z.enum(['held', 'fooled', 'wrong-before', 'made-right', 'changed', 'unchanged']);
export type AttackVerdict = z.infer<typeof AttackVerdict>;

export const CertifiedVerdict = z.enum(['certified-right', 'certified-wrong', 'abstained', 'certified']);
export type CertifiedVerdict = z.infer<typeof CertifiedVerdict>;

/** The verdict of one attack: against the label where there is one, else whether the answer changed. */
export function attackVerdict(o: {
  label: number | null;
  rule: RecheckRule;
  clean: readonly number[];
  attacked: readonly number[];
  changed: boolean;
}): AttackVerdict {
  if (o.label === null) return o.changed ? 'changed' : 'unchanged';
  const before = correctUnder(o.rule, o.clean, o.label);
  const after = correctUnder(o.rule, o.attacked, o.label);
  return before ? (after ? 'held' : 'fooled') : after ? 'made-right' : 'wrong-before';
}

/** The verdict of one certificate (prediction −1: abstained). */
export function certifiedVerdict(prediction: number, label: number | null): CertifiedVerdict {
  if (prediction < 0) return 'abstained';
  if (label === null) return 'certified';
  return prediction === label ? 'certified-right' : 'certified-wrong';
}
