/**
 * The classify verb: what a classification request costs and its answer (`POST /v1/classify`, the
 * batch route, `rdc classify`). One image [1, C, H, W] of pixels in [0, 1]; an aborted `signal`
 * stops it at the next σ chunk or LM step.
 *
 * @example
 * const r = await classifyImage(model, pixels, { defense: 'dc', seed: 1 });
 */
import { randomInt } from 'node:crypto';
import { classification, MAX_SEED, Random, type Tensor } from '@rdc/core/runtime';
import type { ClassifyResult } from '../contract/responses.js';
import { pngDataUrl, visibleChange } from '../image.js';
import type { RequestOptions, ServedModel } from './served-model.js';

/** The estimated work of classifying `images` images, in multiply–accumulates (`ClassifierFactory.cost`). */
export function classifyCost(m: ServedModel, opts: RequestOptions, images: number): number {
  return m.factory.cost(m.options(opts), images);
}

/** A classification request's work (MACs) and what it is, in words (for the work limit's refusal). */
export function classifyWork(m: ServedModel, opts: RequestOptions, images: number): [number, string] {
  const o = m.options(opts);
  const n = `${images} image${images > 1 ? 's' : ''}`;
  const p = m.passesPerLevel;
  const words =
    o.defense === 'none'
      ? `${n} × one pass`
      : `${n} × ${o.dc?.levels} σ levels × ${p} network pass${p > 1 ? 'es' : ''} per level${o.defense === 'rdc' ? ', plus LM' : ''}`;
  return [classifyCost(m, opts, images), words];
}

/** Classifies one image [1, C, H, W] of pixels in [0, 1]. */
export async function classifyImage(m: ServedModel, pixels: Tensor, opts: RequestOptions, signal?: AbortSignal): Promise<ClassifyResult> {
  const options = m.options(opts);
  const seed = opts.seed ?? randomInt(MAX_SEED);
  const clf = m.factory.get(options);
  const { logits: out, purified, timings } = await classification(clf, pixels, new Random(seed), signal);
  const logits = out.data;
  const top = m.top(logits, clf.temperature);
  const dc = options.dc ? { ...m.model.config.dc, ...options.dc } : null;
  return {
    model: m.name,
    top: { index: top.index, label: top.label, probability: top.probability },
    probabilities: m.classes.map((label, i) => ({ label, probability: top.probabilities[i] })),
    logits: Array.from(logits),
    options: {
      defense: options.defense,
      method: options.defense === 'rdc' ? options.method : undefined,
      levels: dc?.levels,
      seed,
      temperature: clf.temperature,
      grid: dc?.grid,
      weighting: dc?.weighting,
    },
    timings,
    ...(opts.explain ? { explain: await explainOf(pixels, purified) } : {}),
  };
}

/** The input as the model saw it, and for the RDC LM's output and its perturbation (made visible). */
async function explainOf(pixels: Tensor, purified?: Tensor): Promise<NonNullable<ClassifyResult['explain']>> {
  const explain: NonNullable<ClassifyResult['explain']> = { input: await pngDataUrl(pixels) };
  if (purified) {
    const change = await visibleChange(purified.data, pixels.data, pixels.dims);
    explain.lm = await pngDataUrl(purified);
    explain.perturbation = change.image;
    explain.perturbationGain = change.gain;
    explain.perturbationLinf = change.linf;
    explain.perturbationL2 = change.l2;
  }
  return explain;
}
