/**
 * The attack verb: one image attacked white-box (`POST /v1/attack`) by the attacks package's
 * `attackOneImage`, a request's settings completed by `OneImageFields`' defaults and the model's;
 * its cost.
 *
 * @example
 * const r = await attackImage(model, pixels, { eps: 8 / 255 }, signal);
 */
import { randomInt } from 'node:crypto';
import { InputError, MAX_SEED, Random, type Tensor } from '@rdc/core/runtime';
import { attackOneImage, attackVerdict, CancellableClassifier, DEFAULT_EPS, OneImageFields } from '@rdc/attacks';
import type { z } from 'zod';
import type { AttackFields } from '../contract/requests.js';
import type { AttackProgress, AttackResult } from '../contract/responses.js';
import { pngDataUrl, visibleChange } from '../image.js';
import type { ServedModel } from './served-model.js';

/** The σ levels of an attack that names none: few enough that the page's default attack fits the default work cap and timeout. */
export const ATTACK_LEVELS = 10;

/** An attack's settings with the API's defaults. */
export type AttackSettings = ReturnType<typeof attackSettings>;

/** An attack's settings, with the API's defaults; more σ levels than the model's is a 400. */
export function attackSettings(m: ServedModel, o: AttackFields) {
  const own = m.model.config.dc.levels;
  if (!m.isCnn && o.levels !== undefined && o.levels > own) throw new InputError(`levels ${o.levels}: at most the model's own ${own}`, 'bad_options');
  m.labelIndex(o.label);
  const { model: _, defense, method, seed: __, label: ___, ...fields } = o;
  const r = OneImageFields.safeParse(fields);
  if (!r.success) throw new InputError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), 'bad_options');
  const s = r.data;
  const classifier = m.options({ defense, method, levels: m.isCnn ? s.levels : (s.levels ?? Math.min(ATTACK_LEVELS, own)) });
  return { ...s, classifier, eps: s.eps ?? DEFAULT_EPS[s.norm] };
}

/**
 * The estimated work of an attack: each gradient ≈ 3 forward passes (iterations + 1, × EOT), up to
 * 3 confirmation draws per iteration on a randomized classifier, and the 2k re-checks.
 */
export function attackCost(m: ServedModel, s: AttackSettings): number {
  const forward = m.factory.cost(s.classifier, 1);
  const stochastic = s.classifier.defense !== 'none';
  return forward * (3 * (s.iterations + 1) * s.eot + (stochastic ? 3 * s.iterations : 0) + 2 * s.recheck);
}

/** An attack request's work (MACs) and what it is, in words (for the work limit's refusal). */
export function attackWork(m: ServedModel, req: AttackFields): [number, string] {
  const s = attackSettings(m, req);
  const levels = s.classifier.dc ? `${s.classifier.dc.levels} σ levels × ${m.passesPerLevel} passes` : 'one pass';
  return [attackCost(m, s), `${s.iterations} iterations × ${s.eot} EOT draws of a gradient (≈ 3 forward passes of ${levels}), plus ${2 * s.recheck} re-checks`];
}

/**
 * Attacks one image [1, C, H, W] (the clean answer, not a label): the adversarial 8-bit image and
 * both answers from k fresh draws, each draw with its own seed (given: a classification with that
 * seed repeats it). `onProgress` after every iteration; an aborted `signal` stops it at the next query.
 */
export async function attackImage(
  m: ServedModel,
  pixels: Tensor,
  req: AttackFields,
  signal: AbortSignal,
  onProgress?: (p: z.infer<typeof AttackProgress>) => void,
): Promise<Omit<AttackResult, 'timings'>> {
  const s = attackSettings(m, req);
  const truth = m.labelIndex(req.label);
  const seed = req.seed ?? randomInt(MAX_SEED);
  const clf = m.factory.get(s.classifier);
  const seeds = { clean: [] as number[], adversarial: [] as number[] };
  const rng = new Random(seed);
  // The re-checks' seeds: a stream of their own, apart from the attack's.
  const seedRng = rng.split();
  const r = await attackOneImage({
    classifier: new CancellableClassifier(clf, signal),
    x0: pixels.data,
    attack: s.attack,
    iterations: s.iterations,
    threat: { norm: s.norm, eps: s.eps },
    eot: s.eot,
    recheck: s.recheck,
    rule: s.rule,
    rng,
    drawRng: (image, i) => {
      const list = seeds[image];
      // Deterministic classifiers take one draw, repeated.
      while (list.length <= i) list.push(seedRng.int(MAX_SEED));
      return new Random(list[i]);
    },
    onIteration: (i, loss, logits) => {
      const top = logits ? m.top(logits, clf.temperature) : null;
      onProgress?.({ iteration: i, iterations: s.iterations, loss, answer: top && { index: top.index, label: top.label, probability: top.probability } });
    },
  });
  const change = await visibleChange(r.adv, r.x0, pixels.dims);
  const answer = (a: typeof r.clean, list: number[]) => ({
    top: { index: a.top, label: m.classes[a.top], probability: a.probability },
    draws: a.draws,
    seeds: a.draws.map((_, i) => list[Math.min(i, list.length - 1)]),
  });
  return {
    model: m.name,
    defense: s.classifier.defense,
    options: {
      norm: s.norm,
      eps: s.eps,
      attack: s.attack,
      iterations: s.iterations,
      levels: s.classifier.dc?.levels ?? null,
      eot: s.eot,
      recheck: s.recheck,
      rule: s.rule,
      seed,
    },
    input: await pngDataUrl({ data: r.x0, dims: pixels.dims }),
    adversarial: {
      image: await pngDataUrl({ data: r.adv, dims: pixels.dims }),
      linf: r.linf,
      l2: r.l2,
      perturbation: change.image,
      perturbationGain: change.gain,
    },
    clean: answer(r.clean, seeds.clean),
    attacked: answer(r.attacked, seeds.adversarial),
    changed: r.changed,
    trueLabel: truth === null ? null : m.classes[truth],
    verdict: attackVerdict({ label: truth, rule: s.rule, clean: r.clean.draws, attacked: r.attacked.draws, changed: r.changed }),
    iterations: r.iterations,
    queries: r.queries,
    found: r.found,
  };
}
