/**
 * One image attacked the way the API and the page do it. The input is rounded to 8 bits (what a PNG
 * holds); its answer is the most frequent class of k fresh draws; the attack moves away from that
 * answer (the clean prediction: a visitor's image has no label); the adversarial image is rounded
 * to 8 bits inside the ε ball (`roundIntoBall`), so it is exactly the PNG returned; and
 * its answer is again k fresh draws, counted by a re-check rule the way `rdc attack` counts them.
 * The attack's own noisy success never counts.
 *
 * @example
 * const r = await attackOneImage({ classifier, x0, attack: 'apgd-ce', iterations: 20, threat: { norm: 'linf', eps: 8 / 255 }, rng: new Random(0) });
 * r.changed; r.attacked.top; r.linf;
 */
import type { Classifier, Random } from '@rdc/core/runtime';
import { z } from 'zod';
import { AttackName } from './attack.js';
import { correctUnder, RecheckRule } from './eval/rules.js';
import { AttackFields, checkLinfRadius } from './options.js';
import { drawAnswer, type DrawnAnswer } from './eval/draws.js';
import { ATTACKS, protocolPreset } from './protocol.js';
import { inThreat, perturbation, type ThreatModel } from './threat.js';
import { EotClassifier } from './wrappers.js';

/** The gradient attacks a one-image attack runs. */
export const OneImageAttack = AttackName.extract(['pgd', 'apgd-ce', 'apgd-dlr']);
/** The re-check rules of one image (`mean` is a rate over many images). */
export const OneImageRule = RecheckRule.exclude(['mean']);

/** The most a one-image attack may ask for (a server's request stays bounded). */
export const ONE_IMAGE_LIMITS = { eps: { linf: 16 / 255, l2: 1 }, iterations: 50, eot: 8, recheck: 15 } as const;

/**
 * What a one-image attack may be told (the API's attack fields), with the defaults a request gets:
 * the fields of `AttackFields` with the bounds of `ONE_IMAGE_LIMITS`. `eps` defaults by norm
 * (`DEFAULT_EPS`); `levels` to the server's choice.
 */
export const OneImageFields = z
  .object({
    attack: OneImageAttack.default('apgd-ce').describe('the white-box attack'),
    norm: AttackFields.shape.norm,
    eps: AttackFields.shape.eps
      .unwrap()
      .max(ONE_IMAGE_LIMITS.eps.l2)
      .optional()
      .describe(
        `the perturbation budget in pixel units, e.g. 8/255 (default 8/255 for ℓ∞, 0.5 for ℓ2; at most 16/255 for ℓ∞, ${ONE_IMAGE_LIMITS.eps.l2} for ℓ2)`,
      ),
    iterations: AttackFields.shape.iterations.unwrap().max(ONE_IMAGE_LIMITS.iterations).default(10).describe('gradient steps'),
    levels: AttackFields.shape.levels,
    eot: AttackFields.shape.eot.unwrap().max(ONE_IMAGE_LIMITS.eot).default(1).describe('draws averaged per gradient (EOT)'),
    recheck: AttackFields.shape.recheck
      .unwrap()
      .max(ONE_IMAGE_LIMITS.recheck)
      .default(5)
      .describe('k: fresh classifications of the clean and of the adversarial image'),
    rule: OneImageRule.default('majority').describe('when the k adversarial draws count as the clean answer: the first draw, most of them, or all'),
  })
  .superRefine((o, ctx) => {
    checkLinfRadius(o, ctx);
    if (o.norm === 'linf' && o.eps !== undefined && o.eps > ONE_IMAGE_LIMITS.eps.linf + 1e-9)
      ctx.addIssue({ code: 'custom', path: ['eps'], message: `at most 16/255 for linf` });
  });
export type OneImageFields = z.infer<typeof OneImageFields>;

export interface OneImageOptions {
  /** The classifier as served (for the RDC, gradients by BPDA through LM). */
  classifier: Classifier;
  /** The image [C·H·W] in [0, 1]; rounded to 8 bits first. */
  x0: Float32Array;
  attack: z.infer<typeof OneImageAttack>;
  iterations: number;
  threat: ThreatModel;
  rng: Random;
  /** Draws averaged per gradient (EOT; default 1). */
  eot?: number;
  /** k: fresh draws of the clean and of the adversarial image (default 5; 1 suffices for a deterministic classifier). */
  recheck?: number;
  /** When the adversarial answer counts as unchanged (default `majority`). */
  rule?: z.infer<typeof OneImageRule>;
  /** Draw i's generator for the re-checks of the clean (`clean`) and the adversarial image (default: `rng`). */
  drawRng?: (image: 'clean' | 'adversarial', draw: number) => Random;
  /** After every iteration: its index, the attack's loss and, where the attack has them, the iterate's logits. */
  onIteration?: (i: number, loss: number, logits?: Float32Array) => void;
}

export interface OneImageResult {
  /** The input rounded to 8 bits: what the attack started from and distances are measured from. */
  x0: Float32Array;
  /** The adversarial image, 8-bit, inside the ball around `x0` and inside [0, 1]. */
  adv: Float32Array;
  linf: number;
  l2: number;
  clean: DrawnAnswer;
  attacked: DrawnAnswer;
  /** Whether the adversarial draws do not count as the clean answer under the rule. */
  changed: boolean;
  rule: z.infer<typeof OneImageRule>;
  iterations: number;
  queries: number;
  /** Whether the attack saw a misclassification during its search (not counted). */
  found: boolean;
}

/** x rounded to the nearest multiple of 1/255. */
export function toEightBits(x: Float32Array): Float32Array {
  return x.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);
}

/**
 * x rounded to 8 bits toward x0 (itself 8-bit): every pixel moves no farther from x0 than it was,
 * so the result stays in any ℓp ball around x0 that x is in, and in [0, 1].
 */
export function roundTowards(x: Float32Array, x0: Float32Array): Float32Array {
  return x.map((v, i) => {
    const steps = (v - x0[i]) * 255;
    // The slack absorbs float32 error on a step that is exactly an integer (ε = 8/255).
    const whole = Math.sign(steps) * Math.floor(Math.abs(steps) + 1e-4);
    return Math.round(x0[i] * 255 + whole) / 255;
  });
}

/**
 * x rounded to 8 bits inside the ball around x0 (itself 8-bit): each pixel to its nearest level,
 * except where that would leave the ball — for ℓ∞ those pixels go toward x0; for ℓ2 the pixels whose
 * rounding added the most go toward x0, one by one, until the whole change fits. Rounding to the
 * nearest level keeps as much of the attack as 8 bits can.
 */
export function roundIntoBall(x: Float32Array, x0: Float32Array, t: ThreatModel): Float32Array {
  const toward = roundTowards(x, x0);
  const q = x.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);
  if (t.norm === 'linf') return q.map((v, i) => (Math.abs(v - x0[i]) > t.eps + 1e-7 ? toward[i] : v));
  let sq = 0;
  for (let i = 0; i < q.length; i++) sq += (q[i] - x0[i]) ** 2;
  // Pixels rounded away from x0, the largest addition to the squared norm first.
  const added = Array.from(q, (v, i) => [i, (v - x0[i]) ** 2 - (toward[i] - x0[i]) ** 2] as const)
    .filter(([, d]) => d > 0)
    .sort((a, b) => b[1] - a[1]);
  for (const [i, d] of added) {
    if (sq <= t.eps * t.eps) break;
    q[i] = toward[i];
    sq -= d;
  }
  // Float error in the running sum: the exact norm decides.
  return perturbation(q, x0).l2 <= t.eps ? q : toward;
}

export async function attackOneImage(o: OneImageOptions): Promise<OneImageResult> {
  const clf = o.classifier;
  const k = o.recheck ?? 5;
  const rule = o.rule ?? 'majority';
  const x0 = toEightBits(o.x0);
  const clean = await drawAnswer(clf, x0, k, o.drawRng ? (i) => o.drawRng!('clean', i) : o.rng);
  const attack = ATTACKS[o.attack](protocolPreset('quick', { iterations: o.iterations, restarts: 1 }));
  if (attack.needs !== 'gradients') throw new Error(`${o.attack} is not a gradient attack: one-image attacks run pgd, apgd-ce or apgd-dlr`);
  const seen = o.eot && o.eot > 1 ? new EotClassifier(clf, o.eot) : clf;
  const r = await attack.run(x0, clean.top, { classifier: seen, judge: clf, threat: o.threat, rng: o.rng.split(), onIteration: o.onIteration });
  const adv = roundIntoBall(r.adv, x0, o.threat);
  if (!inThreat(o.threat, adv, x0)) throw new Error(`${o.attack} left the threat model (a bug): refusing to return it`);
  const attacked = await drawAnswer(clf, adv, k, o.drawRng ? (i) => o.drawRng!('adversarial', i) : o.rng);
  const size = perturbation(adv, x0);
  return {
    x0,
    adv,
    linf: size.linf,
    l2: size.l2,
    clean,
    attacked,
    changed: !correctUnder(rule, attacked.draws, clean.top),
    rule,
    iterations: r.iterations,
    queries: r.queries + 2 * k,
    found: r.success,
  };
}
