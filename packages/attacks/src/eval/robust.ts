import { Random, wilson, type Classifier, type Tensor } from '@rdc/core/runtime';
import type { Attack } from '../attack.js';
import { predicted } from '../losses.js';
import { inThreat, perturbation, type ThreatModel } from '../threat.js';
import { EotClassifier, FixedNoiseClassifier } from '../wrappers.js';
import { JsonlLog } from './log.js';

/**
 * The robust-accuracy evaluation: for each image, a clean classification, then every attack run on
 * it independently (so per-attack numbers stand alone), and a final check of each adversarial image
 * with fresh noise, `recheck` times (it is robust only if classified correctly every time). The worst
 * case counts an image only if every attack failed. Gradient attacks see the classifier through EOT
 * (`eot` draws); score-based attacks (Square) see it with the noise fixed per image. Each image uses
 * its own seed (seed, index), so a resumed run reproduces the same records.
 *
 * @example
 * const summary = await evaluateRobustness({ classifier, attacks, threat, images, labels, log, seed: 0 });
 */
export interface AttackRecord {
  robust: boolean;
  /** Predictions of the final re-checks of the adversarial image. */
  predictions: number[];
  linf: number;
  l2: number;
  queries: number;
  iterations: number;
  seconds: number;
  /** Whether the attack itself saw a misclassification. */
  found: boolean;
}

export interface ImageRecord {
  index: number;
  label: number;
  cleanPredictions: number[];
  clean: boolean;
  attacks: Record<string, AttackRecord | null>;
  /** Correct and not broken by any attack. */
  robust: boolean;
  seconds: number;
}

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
  recheck?: number;
  seed?: number;
  log?: JsonlLog<ImageRecord>;
  /** Keep adversarial images of the first few images (for the report's grid). */
  keepAdversarial?: number;
  onImage?: (done: number, total: number, rec: ImageRecord) => void;
}

export interface Rate {
  correct: number;
  total: number;
  rate: number;
  ci95: [number, number];
}

export interface RobustSummary {
  images: number;
  clean: Rate;
  attacks: Record<string, Rate & { meanLinf: number; meanL2: number }>;
  worstCase: Rate;
  secondsPerImage: number;
  records: ImageRecord[];
  adversarial: { index: number; label: number; clean: Float32Array; adv: Record<string, Float32Array> }[];
}

function rate(correct: number, total: number): Rate {
  const w = wilson(correct, total);
  return { correct, total, rate: w.rate, ci95: [w.low, w.high] };
}

async function recheck(clf: Classifier, x: Float32Array, times: number, rng: Random): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) out.push(predicted((await clf.logits({ data: x, dims: [1, ...clf.imageDims] }, rng)).data));
  return out;
}

export async function evaluateRobustness(o: RobustOptions): Promise<RobustSummary> {
  const clf = o.classifier;
  const times = o.recheck ?? 1;
  const seed = o.seed ?? 0;
  const done = o.log?.read() ?? new Map<number, ImageRecord>();
  const records: ImageRecord[] = [];
  const adversarial: RobustSummary['adversarial'] = [];
  const n = o.labels.length;
  for (let p = 0; p < n; p++) {
    const index = o.indices[p];
    const label = o.labels[p];
    const previous = done.get(index);
    if (previous && (!o.keepAdversarial || adversarial.length >= o.keepAdversarial)) {
      records.push(previous);
      o.onImage?.(p + 1, n, previous);
      continue;
    }
    const t0 = performance.now();
    const rng = new Random((seed * 1_000_003 + index) | 0);
    const x0 = o.images(p).data;
    const cleanPredictions = await recheck(clf, x0, times, rng);
    const clean = cleanPredictions.every((q) => q === label);
    const attacks: Record<string, AttackRecord | null> = {};
    const keep = o.keepAdversarial && adversarial.length < o.keepAdversarial ? { index, label, clean: x0, adv: {} as Record<string, Float32Array> } : null;
    for (const attack of o.attacks) {
      if (!clean) {
        attacks[attack.name] = null;
        continue;
      }
      const ta = performance.now();
      const attackRng = rng.split();
      // Square compares scores across queries: a deterministic classifier (noise fixed per image).
      const seen = attack.name === 'square' ? new FixedNoiseClassifier(clf, attackRng.int(2 ** 31)) : o.eot && o.eot > 1 ? new EotClassifier(clf, o.eot) : clf;
      const r = await attack.run(x0, label, { classifier: seen, threat: o.threat, rng: attackRng });
      if (!inThreat(o.threat, r.adv, x0)) throw new Error(`${attack.name} left the threat model (a bug): refusing to report it`);
      const predictions = await recheck(clf, r.adv, times, rng);
      const size = perturbation(r.adv, x0);
      attacks[attack.name] = {
        robust: predictions.every((q) => q === label),
        predictions,
        linf: size.linf,
        l2: size.l2,
        queries: r.queries,
        iterations: r.iterations,
        seconds: (performance.now() - ta) / 1000,
        found: r.success,
      };
      if (keep) keep.adv[attack.name] = r.adv;
    }
    const rec: ImageRecord = {
      index,
      label,
      cleanPredictions,
      clean,
      attacks,
      robust: clean && Object.values(attacks).every((a) => a?.robust),
      seconds: (performance.now() - t0) / 1000,
    };
    if (!previous) o.log?.append(rec);
    records.push(previous ?? rec);
    if (keep) adversarial.push(keep);
    o.onImage?.(p + 1, n, previous ?? rec);
  }
  const attacked = (name: string) => records.filter((r) => r.attacks[name]);
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  return {
    images: n,
    clean: rate(records.filter((r) => r.clean).length, n),
    attacks: Object.fromEntries(
      o.attacks.map((a) => [
        a.name,
        {
          ...rate(records.filter((r) => r.attacks[a.name]?.robust).length, n),
          meanLinf: mean(attacked(a.name).map((r) => r.attacks[a.name]!.linf)),
          meanL2: mean(attacked(a.name).map((r) => r.attacks[a.name]!.l2)),
        },
      ]),
    ),
    worstCase: rate(records.filter((r) => r.robust).length, n),
    secondsPerImage: mean(records.map((r) => r.seconds)),
    records,
    adversarial,
  };
}
