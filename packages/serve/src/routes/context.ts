/**
 * What every route handler shares: the models, the work queue, the settings, the work limit of
 * each model, and the decoding of a request's images for a model.
 */
import type { ServeConfig, Tensor } from '@rdc/core/runtime';
import { RequestError } from '../http/errors.js';
import type { Context } from 'hono';
import type { z } from 'zod';
import { readRequest, type ImageSource, type Options } from '../http/inputs.js';
import type { JsonBounds } from '../http/json.js';
import { decodeImage, decodeJsonPixels } from '../image.js';
import { ModelNotFoundError, type ModelRegistry } from '../service/registry.js';
import type { ServedModel } from '../service/served-model.js';
import type { WorkQueue } from '../queue.js';

export interface RouteContext {
  models: ModelRegistry;
  queue: WorkQueue;
  cfg: ServeConfig;
  /** JSON bodies' structure limits. */
  bounds: JsonBounds;
  /** The work limit of one request to a model (multiply–accumulates). */
  maxWork(model: ServedModel): number;
}

/** The model a request names (404 naming the models there are). */
export function modelOf(ctx: RouteContext, options: Pick<Options, 'model'>): ServedModel {
  try {
    return ctx.models.get(options.model);
  } catch (err) {
    if (err instanceof ModelNotFoundError) throw new RequestError(404, 'no_model', err.message);
    throw err;
  }
}

/** A request's images decoded for a model. */
export function decodeFor(model: ServedModel, images: ImageSource[]): Promise<Tensor[]> {
  return Promise.all(
    images.map((src) => ('pixels' in src ? decodeJsonPixels(src.pixels, model.imageDims) : decodeImage(src.bytes, model.imageDims, src.declared))),
  );
}

/** Refuses work over the model's limit before any is done. */
export function checkWork(ctx: RouteContext, model: ServedModel, macs: number, what: string): void {
  const limit = ctx.maxWork(model);
  if (macs > limit)
    throw new RequestError(
      400,
      'too_much_work',
      `this request needs about ${(macs / 1e9).toFixed(1)} GMAC (${what}; ${(model.macsPerPass / 1e6).toFixed(1)} M MACs per network pass), more than this server's limit of ${(limit / 1e9).toFixed(1)} GMAC per request for ${model.name}: ask for less`,
    );
}

/**
 * A request's work (`macs` multiply–accumulates on `model`) put in the queue under the server's time
 * limit, cancelled as well when the client goes away (`c`'s connection closes), with its estimated
 * seconds from the model's measured speed; once done, its time teaches the model's speed. With its
 * timings: how long it waited, how long it ran.
 */
export function queueWork<T>(ctx: RouteContext, c: Context, model: ServedModel, macs: number, work: (signal: AbortSignal) => Promise<T>) {
  const queued = performance.now();
  let started = 0;
  const job = ctx.queue.run(
    async (signal) => {
      started = performance.now();
      const r = await work(signal);
      model.observe(macs, (performance.now() - started) / 1000);
      return r;
    },
    ctx.cfg.timeoutMs,
    { cancelled: c.req.raw.signal, seconds: model.estimateSeconds(macs) },
  );
  return { job, timings: () => ({ queueMs: started - queued, workMs: performance.now() - started }) };
}

/**
 * One image's request read to the point where work can start: its options (validated by the
 * route's schemas), the model it names, the work checked against the limit (`work` gives the MACs
 * and what they are, in words) before any image is decoded, then the image decoded for the model.
 */
export async function readImageRequest<O>(
  c: Context,
  ctx: RouteContext,
  schemas: { query?: z.ZodType; body?: z.ZodType },
  work: (model: ServedModel, options: O) => [macs: number, what: string],
): Promise<{ options: O; model: ServedModel; pixels: Tensor; macs: number }> {
  const { options, images } = await readRequest(c, { batch: false, maxImages: 1, bounds: ctx.bounds, querySchema: schemas.query, bodySchema: schemas.body });
  const model = modelOf(ctx, options);
  const [macs, what] = work(model, options as O);
  checkWork(ctx, model, macs, what);
  const [pixels] = await decodeFor(model, images);
  return { options: options as O, model, pixels, macs };
}
