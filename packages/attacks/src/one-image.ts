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
import { softmax, type Classifier, type Random } from '@rdc/core/runtime';
import type { AttackName } from './attack.js';
import { correctUnder, type RecheckRule } from './eval/rules.js';
import { predicted } from './losses.js';
import { ATTACKS, protocolPreset } from './protocol.js';
import { inThreat, perturbation, type ThreatModel } from './threat.js';
import { EotClassifier } from './wrappers.js';

/** An answer from k fresh draws: each draw's class, the most frequent class, and its mean probability. */
export interface DrawnAnswer {
  draws: number[];
  top: number;
  /** The mean over the draws of the top class's probability. */
  probability: number;
  /** The mean over the draws of every class's probability. */
  probabilities: number[];
}

export interface OneImageOptions {
  /** The classifier as served (for the RDC, gradients by BPDA through LM). */
  classifier: Classifier;
  /** The image [C·H·W] in [0, 1]; rounded to 8 bits first. */
  x0: Float32Array;
  attack: AttackName;
  iterations: number;
  threat: ThreatModel;
  rng: Random;
  /** Draws averaged per gradient (EOT; default 1). */
  eot?: number;
  /** k: fresh draws of the clean and of the adversarial image (default 5; 1 suffices for a deterministic classifier). */
  recheck?: number;
  /** When the adversarial answer counts as unchanged (default `majority`). */
  rule?: Exclude<RecheckRule, 'mean'>;
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
  rule: RecheckRule;
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

/**
 * k fresh draws of a classifier's answer (one call repeated on a deterministic classifier); the
 * noise from one stream, or draw i's from its own generator (`rng(i)`: e.g. one seed per draw, so
 * that a classification with that seed repeats it).
 */
export async function drawAnswer(clf: Classifier, x: Float32Array, k: number, rng: Random | ((draw: number) => Random)): Promise<DrawnAnswer> {
  const K = clf.numClasses;
  const draws: number[] = [];
  const sum = new Float64Array(K);
  for (let i = 0; i < k; i++) {
    const z = i > 0 && !clf.stochastic ? null : (await clf.logits({ data: x, dims: [1, ...clf.imageDims] }, typeof rng === 'function' ? rng(i) : rng)).data;
    if (!z) {
      draws.push(draws[0]);
      continue;
    }
    draws.push(predicted(z));
    const p = softmax(
      Array.from(z, (v) => v / clf.temperature),
      K,
    );
    for (let c = 0; c < K; c++) sum[c] += p[c];
  }
  const computed = clf.stochastic ? k : Math.min(k, 1);
  const probabilities = Array.from(sum, (v) => v / computed);
  const counts = new Array<number>(K).fill(0);
  for (const d of draws) counts[d]++;
  let top = draws[0];
  for (let c = 0; c < K; c++) if (counts[c] > counts[top] || (counts[c] === counts[top] && probabilities[c] > probabilities[top])) top = c;
  return { draws, top, probability: probabilities[top], probabilities };
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
