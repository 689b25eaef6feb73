/**
 * The robust-accuracy evaluation. For each image: `recheck` = k fresh classifications of the clean
 * image; then, if it is clean, every attack run on it independently (so per-attack numbers stand
 * alone) and k fresh classifications of each adversarial image, counted by the re-check rules of
 * rules.ts. An image is robust (worst case) when it is clean and correct after every attack. An
 * attack's own "success" never counts: only the fresh re-checks do.
 *
 * With `cascade` (AutoAttack's way, protocol `standard`), an attack runs only on an image every
 * earlier attack left correct under that rule; an image broken earlier keeps that attack's record for
 * the later ones (marked `from`), so each per-attack figure is the robust accuracy after it and every
 * earlier attack.
 *
 * The **null attack** is the baseline that tells noise from attack success: the "attack" that
 * returns the clean image, re-checked with the same rule and the same number of fresh draws as the
 * worst case (k per attack). On a deterministic classifier it equals clean accuracy; on the DC and
 * the RDC it is what robust accuracy would be if every attack did nothing.
 *
 * Gradient attacks see the classifier through EOT (`eot` draws); score-based attacks (Square) see
 * it with the noise fixed per image (`squareDraws` fixed draws averaged). Attacks may stop early
 * only on an iterate misclassified under `confirm` fresh draws. Each image uses its own seed
 * (seed, index), so a resumed or sharded run reproduces the same records.
 *
 * @example
 * const summary = await evaluateRobustness({ classifier, attacks, threat, images, labels, indices, log, seed: 0 });
 * summary.worstCase; summary.nullAttack; summary.rules.majority.worstCase;
 */
import { Random, type Classifier, type Tensor } from '@rdc/core/runtime';
import type { Attack } from '../attack.js';
import { drawAnswer } from './draws.js';
import { inThreat, perturbation, type ThreatModel } from '../threat.js';
import { EotClassifier, FixedNoiseClassifier } from '../wrappers.js';
import { JsonlLog } from './log.js';
import { isClean, scoreUnder, summarize, type AttackRecord, type ImageRecord, type Rate, type RecheckRule, type RuleSummary } from './rules.js';

export interface RobustOptions {
  classifier: Classifier;
  attacks: Attack[];
  threat: ThreatModel;
  /** The images, by position in `indices`. */
  images: (position: number) => Tensor;
  labels: ArrayLike<number>;
  /** Dataset indices of the images (for the log and seeds). */
  indices: ArrayLike<number>;
  eot?: number;
  /** k: fresh re-classifications of each clean and adversarial image (default 1). */
  recheck?: number;
  /** Confirmation draws before an attack may stop early (default: 3 on a stochastic classifier, 1 otherwise; 0 never). */
  confirm?: number;
  /** Fixed noise draws Square averages per query (default 1). */
  squareDraws?: number;
  /** Run the attacks as a cascade under this re-check rule (unset: every attack on every clean image). */
  cascade?: RecheckRule;
  seed?: number;
  log?: JsonlLog<ImageRecord>;
  /** Keep adversarial images of the first few images (for the report's grid). */
  keepAdversarial?: number;
  /** Called when an image is attacked (not for images read back from the log). */
  onAttack?: (index: number) => void;
  onImage?: (done: number, total: number, rec: ImageRecord) => void;
  /** Within an image: each attack's iterations as they go (a long protocol's sign of life). */
  onIteration?: (attack: string, iteration: number) => void;
}

export interface RobustSummary {
  images: number;
  /** k. */
  recheck: number;
  /** Fresh draws the worst case needs per image (k per attack; the null attack uses as many). */
  nullDraws: number;
  /** Under the default rule (`single`). */
  clean: Rate;
  attacks: Record<string, Rate & { meanLinf: number; meanL2: number }>;
  worstCase: Rate;
  nullAttack: Rate;
  /** Every rule side by side. */
  rules: Record<RecheckRule, RuleSummary>;
  secondsPerImage: number;
  records: ImageRecord[];
  adversarial: { index: number; label: number; clean: Float32Array; adv: Record<string, Float32Array> }[];
}

/** The seed of one image's noise and attacks: from the run's seed and the image's dataset index, so shards and resumed runs repeat it. */
export function imageSeed(seed: number, index: number): number {
  return (seed * 1_000_003 + index) | 0;
}

/** k fresh classifications (one call on a deterministic classifier, repeated). */
async function recheck(clf: Classifier, x: Float32Array, times: number, rng: Random): Promise<number[]> {
  return (await drawAnswer(clf, x, times, rng)).draws;
}

export const encodePixels = (x: Float32Array): string => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
export function decodePixels(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export async function evaluateRobustness(o: RobustOptions): Promise<RobustSummary> {
  const clf = o.classifier;
  const k = o.recheck ?? 1;
  const seed = o.seed ?? 0;
  const done = o.log?.read() ?? new Map<number, ImageRecord>();
  const records: ImageRecord[] = [];
  const adversarial: RobustSummary['adversarial'] = [];
  const names = o.attacks.map((a) => a.name);
  const n = o.labels.length;
  for (let p = 0; p < n; p++) {
    const index = o.indices[p];
    const label = o.labels[p];
    const keep = p < (o.keepAdversarial ?? 0);
    let rec = done.get(index);
    if (!rec) {
      o.onAttack?.(index);
      rec = await attackImage(o, clf, index, label, o.images(p).data, k, seed, keep);
      o.log?.append(rec);
    }
    records.push(rec);
    if (keep && rec.examples) {
      const adv = Object.fromEntries(Object.entries(rec.examples).map(([a, s]) => [a, decodePixels(s)]));
      adversarial.push({ index, label, clean: o.images(p).data, adv });
    }
    o.onImage?.(p + 1, n, rec);
  }
  return { ...summarize(records, names, k), records, adversarial };
}

async function attackImage(
  o: RobustOptions,
  clf: Classifier,
  index: number,
  label: number,
  x0: Float32Array,
  k: number,
  seed: number,
  keep: boolean,
): Promise<ImageRecord> {
  const t0 = performance.now();
  const rng = new Random(imageSeed(seed, index));
  const cleanPredictions = await recheck(clf, x0, k, rng);
  const partial = { index, label, cleanPredictions, nullPredictions: [] as number[][], attacks: {}, seconds: 0 };
  const attacked = isClean(partial, 'single') || isClean(partial, 'majority');
  const nullPredictions: number[][] = [];
  if (attacked) for (let a = 0; a < o.attacks.length; a++) nullPredictions.push(clf.stochastic ? await recheck(clf, x0, k, rng) : [...cleanPredictions]);
  const attacks: Record<string, AttackRecord | null> = {};
  const examples: Record<string, string> = {};
  // The attack that broke the image, in a cascade.
  let broken: string | null = null;
  for (const attack of o.attacks) {
    if (!attacked) {
      attacks[attack.name] = null;
      continue;
    }
    if (broken) {
      attacks[attack.name] = { ...attacks[broken]!, queries: 0, iterations: 0, seconds: 0, from: broken };
      continue;
    }
    const ta = performance.now();
    const attackRng = rng.split();
    // A score-based attack compares scores across queries: a deterministic classifier (noise fixed per image).
    const seen =
      attack.needs === 'scores'
        ? new FixedNoiseClassifier(clf, attackRng.int(2 ** 31), o.squareDraws ?? 1)
        : o.eot && o.eot > 1
          ? new EotClassifier(clf, o.eot)
          : clf;
    const r = await attack.run(x0, label, {
      classifier: seen,
      judge: clf,
      confirm: o.confirm,
      threat: o.threat,
      rng: attackRng,
      onIteration: o.onIteration && ((i) => o.onIteration!(attack.name, i)),
    });
    if (!inThreat(o.threat, r.adv, x0)) throw new Error(`${attack.name} left the threat model (a bug): refusing to report it`);
    const predictions = await recheck(clf, r.adv, k, rng);
    const size = perturbation(r.adv, x0);
    attacks[attack.name] = {
      predictions,
      linf: size.linf,
      l2: size.l2,
      queries: r.queries,
      iterations: r.iterations,
      seconds: (performance.now() - ta) / 1000,
      found: r.success,
      confirmed: r.confirmed,
    };
    if (o.cascade && scoreUnder(o.cascade, predictions, label) < 1) broken = attack.name;
    if (keep) examples[attack.name] = encodePixels(r.adv);
  }
  return {
    index,
    label,
    cleanPredictions,
    nullPredictions,
    attacks,
    seconds: (performance.now() - t0) / 1000,
    ...(keep && Object.keys(examples).length ? { examples } : {}),
  };
}
