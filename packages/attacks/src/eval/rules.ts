/**
 * What counts as correct on a randomized classifier: each clean and adversarial image is
 * re-classified k times with fresh noise, and a re-check rule turns those k answers into a score —
 * `single` (the first fresh draw: the paper's rule), `majority` (more than half), `all` (every one:
 * `strong`'s rule), or `mean` (the fraction correct, averaged over images: DiffHammer's "average
 * robustness"; per image the worst case is the smallest fraction over the attacks, and its interval
 * is a normal one over the per-image fractions, not Wilson's). The per-image records, and the
 * figures of a set of them under every rule, with the null attack.
 *
 * @example
 * const s = summarize(records, ['apgd-ce', 'apgd-dlr'], 5);
 * s.rules.majority.worstCase; s.rules.mean.nullAttack;
 */
import { wilson } from '@rdc/core/runtime';
import { z } from 'zod';

export const RecheckRule = z.enum(['single', 'majority', 'all', 'mean']);
export type RecheckRule = z.infer<typeof RecheckRule>;
export const RECHECK_RULES: readonly RecheckRule[] = RecheckRule.options;

export interface AttackRecord {
  /** Predictions of the k fresh re-checks of the adversarial image. */
  predictions: number[];
  linf: number;
  l2: number;
  queries: number;
  iterations: number;
  seconds: number;
  /** Whether the attack itself saw a misclassification (not counted: only re-checks count). */
  found: boolean;
  /** Whether the attack stopped early on an iterate that passed its confirmation draws. */
  confirmed: boolean;
  /** In a cascade: not run, the image having fallen to this earlier attack (whose record this copies). */
  from?: string;
}

export interface ImageRecord {
  index: number;
  label: number;
  /** The k fresh classifications of the clean image. */
  cleanPredictions: number[];
  /** The null attack: for each attack, k fresh classifications of the clean image (empty when not attacked). */
  nullPredictions: number[][];
  /** Per attack; null when the image was not attacked (not clean under any rule). */
  attacks: Record<string, AttackRecord | null>;
  seconds: number;
  /** The adversarial images (base64 float32), kept for the first few images (the report's grid). */
  examples?: Record<string, string>;
}

export interface Rate {
  correct: number;
  total: number;
  rate: number;
  ci95: [number, number];
}

export interface RuleSummary {
  clean: Rate;
  attacks: Record<string, Rate>;
  worstCase: Rate;
  nullAttack: Rate;
}

export function rate(correct: number, total: number): Rate {
  const w = wilson(correct, total);
  return { correct, total, rate: w.rate, ci95: [w.low, w.high] };
}

/**
 * The mean of per-image scores in [0, 1] as a Rate: `correct` their sum, the interval normal
 * (mean ± 1.96·s/√n, clipped to [0, 1]; Wilson's when every score is 0 or 1).
 */
export function meanRate(scores: readonly number[]): Rate {
  const n = scores.length;
  const sum = scores.reduce((a, b) => a + b, 0);
  if (scores.every((v) => v === 0 || v === 1)) return rate(sum, n);
  const mean = sum / n;
  const sd = Math.sqrt(scores.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, n - 1));
  const half = (1.959963984540054 * sd) / Math.sqrt(n);
  return { correct: sum, total: n, rate: mean, ci95: [Math.max(0, mean - half), Math.min(1, mean + half)] };
}

/** How much k fresh predictions count as correct under a rule: 0 or 1, or for `mean` the fraction correct. */
export function scoreUnder(rule: RecheckRule, predictions: readonly number[], label: number): number {
  if (predictions.length === 0) return 0;
  if (rule === 'single') return predictions[0] === label ? 1 : 0;
  const right = predictions.filter((p) => p === label).length;
  if (rule === 'mean') return right / predictions.length;
  return (rule === 'all' ? right === predictions.length : 2 * right > predictions.length) ? 1 : 0;
}

/** Whether k fresh predictions count as correct under a rule (for `mean`: all of them). */
export function correctUnder(rule: RecheckRule, predictions: readonly number[], label: number): boolean {
  return scoreUnder(rule, predictions, label) === 1;
}

export const isClean = (r: ImageRecord, rule: RecheckRule): boolean => correctUnder(rule, r.cleanPredictions, r.label);

/** Correct after `attack` under the rule (false when the image was not attacked). */
export function survives(r: ImageRecord, attack: string, rule: RecheckRule): boolean {
  return survivalScore(r, attack, rule) === 1;
}

/** Robust in the worst case: clean and correct after every attack. */
export function isRobust(r: ImageRecord, attacks: readonly string[], rule: RecheckRule): boolean {
  return robustScore(r, attacks, rule) === 1;
}

/** An image's score after one attack: the clean score and the adversarial one, the smaller (0 when not attacked). */
function survivalScore(r: ImageRecord, attack: string, rule: RecheckRule): number {
  const a = r.attacks[attack];
  return a ? Math.min(scoreUnder(rule, r.cleanPredictions, r.label), scoreUnder(rule, a.predictions, r.label)) : 0;
}

/** The worst case over the attacks (and the clean image). */
function robustScore(r: ImageRecord, attacks: readonly string[], rule: RecheckRule): number {
  return attacks.reduce((m, a) => Math.min(m, survivalScore(r, a, rule)), scoreUnder(rule, r.cleanPredictions, r.label));
}

/** The null attack: the clean score and every null re-check's, the smallest. */
function nullScore(r: ImageRecord, rule: RecheckRule): number {
  if (r.nullPredictions.length === 0) return 0;
  return r.nullPredictions.reduce((m, p) => Math.min(m, scoreUnder(rule, p, r.label)), scoreUnder(rule, r.cleanPredictions, r.label));
}

/** The figures of a set of per-image records (a run, a resumed run or merged shards). */
export function summarize(records: readonly ImageRecord[], attackNames: readonly string[], recheck: number) {
  const over = (f: (r: ImageRecord) => number) => meanRate(records.map(f));
  const byRule = (rule: RecheckRule): RuleSummary => ({
    clean: over((r) => scoreUnder(rule, r.cleanPredictions, r.label)),
    attacks: Object.fromEntries(attackNames.map((a) => [a, over((r) => survivalScore(r, a, rule))])),
    worstCase: over((r) => robustScore(r, attackNames, rule)),
    nullAttack: over((r) => nullScore(r, rule)),
  });
  const rules = Object.fromEntries(RECHECK_RULES.map((rule) => [rule, byRule(rule)])) as Record<RecheckRule, RuleSummary>;
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  const attacked = (a: string) => records.map((r) => r.attacks[a]).filter((x): x is AttackRecord => !!x);
  return {
    images: records.length,
    recheck,
    nullDraws: recheck * attackNames.length,
    clean: rules.single.clean,
    attacks: Object.fromEntries(
      attackNames.map((a) => [a, { ...rules.single.attacks[a], meanLinf: mean(attacked(a).map((x) => x.linf)), meanL2: mean(attacked(a).map((x) => x.l2)) }]),
    ),
    worstCase: rules.single.worstCase,
    nullAttack: rules.single.nullAttack,
    rules,
    secondsPerImage: mean(records.map((r) => r.seconds)),
  };
}
