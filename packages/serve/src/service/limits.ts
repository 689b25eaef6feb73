/**
 * The default work limit of one request to a model (multiply–accumulates): a full batch at the
 * model's own σ levels (with LM), a certification or an attack with the API's defaults, whichever
 * is most; `--max-work` overrides it.
 *
 * @example
 * const limit = workLimit(model, cfg);
 */
import type { ServeConfig } from '@rdc/core/runtime';
import { attackCost, attackSettings } from './attack.js';
import { certifyCost, certifyOptions } from './certify.js';
import { classifyCost } from './classify.js';
import type { ServedModel } from './served-model.js';

export function workLimit(m: ServedModel, cfg: Pick<ServeConfig, 'maxWorkMacs' | 'maxBatch'>): number {
  return (
    cfg.maxWorkMacs ??
    Math.max(classifyCost(m, { defense: m.defaultDefense }, cfg.maxBatch), certifyCost(m, certifyOptions(m, {})), attackCost(m, attackSettings(m, {})))
  );
}
