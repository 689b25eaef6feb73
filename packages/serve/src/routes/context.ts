/**
 * What every route handler shares: the models, the work queue, the settings, the work limit of
 * each model, and the decoding of a request's images for a model.
 */
import type { ServeConfig, Tensor } from '@rdc/core/runtime';
import { RequestError } from '../http/errors.js';
import type { ImageSource, Options } from '../http/inputs.js';
import type { JsonBounds } from '../http/json.js';
import { decodeImage, decodeJsonPixels } from '../image.js';
import type { InferenceService } from '../inference.js';
import { ModelNotFoundError, type ModelRegistry } from '../models.js';
import type { WorkQueue } from '../queue.js';

export interface RouteContext {
  models: ModelRegistry;
  queue: WorkQueue;
  cfg: ServeConfig;
  /** JSON bodies' structure limits. */
  bounds: JsonBounds;
  /** The work limit of one request to a model (multiply–accumulates). */
  maxWork(model: InferenceService): number;
}

/** The model a request names (404 naming the models there are). */
export function modelOf(ctx: RouteContext, options: Pick<Options, 'model'>): InferenceService {
  try {
    return ctx.models.get(options.model);
  } catch (err) {
    if (err instanceof ModelNotFoundError) throw new RequestError(404, 'no_model', err.message);
    throw err;
  }
}

/** A request's images decoded for a model. */
export function decodeFor(model: InferenceService, images: ImageSource[]): Promise<Tensor[]> {
  return Promise.all(
    images.map((src) => ('pixels' in src ? decodeJsonPixels(src.pixels, model.imageDims) : decodeImage(src.bytes, model.imageDims, src.declared))),
  );
}

/** Refuses work over the model's limit before any is done. */
export function checkWork(ctx: RouteContext, model: InferenceService, macs: number, what: string): void {
  const limit = ctx.maxWork(model);
  if (macs > limit)
    throw new RequestError(
      400,
      'too_much_work',
      `this request needs about ${(macs / 1e9).toFixed(1)} GMAC (${what}; ${(model.macsPerPass / 1e6).toFixed(1)} M MACs per network pass), more than this server's limit of ${(limit / 1e9).toFixed(1)} GMAC per request for ${model.name}: ask for less`,
    );
}
