/**
 * The certify verb: randomized smoothing of one image (`POST /v1/certify`) with core's `certify`,
 * a request's settings completed by `CERTIFY_REQUEST_DEFAULTS` and the model's base; its cost.
 *
 * @example
 * const c = await certifyImage(model, pixels, { sigma: 0.25, n: 100 });
 */
import { randomInt } from 'node:crypto';
import { certify, CERTIFY_REQUEST_DEFAULTS, CertifyOptions, InputError, MAX_SEED, Random, ServeConfig, type Tensor } from '@rdc/core/runtime';
import { certifiedVerdict } from '@rdc/attacks';
import type { CertifyFields } from '../contract/requests.js';
import type { CertifyProgress as CertifyProgressEvent, CertifyResult } from '../contract/responses.js';
import type { ServedModel } from './served-model.js';

/**
 * Certification settings of a request, with the API's defaults (they fit the default work cap);
 * the draws per network batch fit `memoryMb` (`ServeConfig.certifyMemoryMb`).
 */
export function certifyOptions(m: ServedModel, o: CertifyFields, memoryMb = ServeConfig.shape.certifyMemoryMb.parse(undefined)): CertifyOptions {
  const base = o.base ?? (m.isCnn ? 'none' : m.hasLm ? 'apndc' : 'dc');
  if (m.isCnn !== (base === 'none'))
    throw new InputError(
      `base ${base}: ${m.isCnn ? 'a CNN is certified with base none' : 'a diffusion model is certified with base dc, apndc or epndc'}`,
      'bad_defense',
    );
  if (m.isCnn && o.levels !== undefined) throw new InputError('levels: a CNN has no σ levels', 'bad_options');
  m.labelIndex(o.label);
  const { model: _, seed: __, label: ___, ...given } = o;
  const settings = CertifyOptions.parse({ ...CERTIFY_REQUEST_DEFAULTS, ...given, base });
  const passes = m.factory.smoothingBase(base, { sigma: settings.sigma, levels: base === 'none' ? undefined : settings.levels }).passesPerDraw;
  settings.batch = Math.max(1, Math.min(settings.batch, Math.floor((memoryMb * 2 ** 20) / (passes * m.activationBytes))));
  if (settings.n0 > settings.n)
    throw new InputError(`n0 ${settings.n0} is more than n ${settings.n}: the estimation draws should outnumber the selection draws`, 'bad_options');
  return base === 'none' ? { ...settings, levels: undefined } : settings;
}

/** The estimated work of a certification: every draw's network passes × MACs per pass. */
export function certifyCost(m: ServedModel, o: CertifyOptions): number {
  const base = m.factory.smoothingBase(o.base, { sigma: o.sigma, levels: o.levels });
  return (o.n0 + o.n) * base.passesPerDraw * m.macsPerPass;
}

/** A certification request's work (MACs) and what it is, in words (for the work limit's refusal). */
export function certifyWork(m: ServedModel, req: CertifyFields): [number, string] {
  const o = certifyOptions(m, req);
  return [certifyCost(m, o), `${o.n0} + ${o.n} draws × ${o.base === 'none' ? 1 : `${o.levels} σ levels`} network passes`];
}

/** Certifies one image [1, C, H, W]; an aborted `signal` stops it at the next batch of draws. */
export async function certifyImage(
  m: ServedModel,
  pixels: Tensor,
  req: CertifyFields,
  signal?: AbortSignal,
  memoryMb?: number,
  onProgress?: (p: CertifyProgressEvent) => void,
): Promise<Omit<CertifyResult, 'timings'>> {
  const o = certifyOptions(m, req, memoryMb);
  const truth = m.labelIndex(req.label);
  const seed = req.seed ?? randomInt(MAX_SEED);
  const base = m.factory.smoothingBase(o.base, { sigma: o.sigma, levels: o.levels });
  const c = await certify(base, pixels, o, new Random(seed), signal, onProgress);
  return {
    model: m.name,
    prediction: c.prediction,
    label: c.prediction >= 0 ? m.classes[c.prediction] : null,
    radius: c.radius,
    pALower: c.pALower,
    nA: c.nA,
    n: c.n,
    n0: o.n0,
    sigma: o.sigma,
    alpha: o.alpha,
    base: o.base,
    levels: o.levels ?? null,
    seed,
    trueLabel: truth === null ? null : m.classes[truth],
    certified: certifiedVerdict(c.prediction, truth),
  };
}
