/**
 * `POST /v1/classify` (one image) and `POST /v1/classify/batch` (up to `maxBatch`; image i uses
 * seed + i): the image in any accepted form, the options validated by the contract, the work
 * checked against the limit before any is done, one time limit per request.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { MAX_SEED } from '@rdc/core/runtime';
import { RequestError } from '../http/errors.js';
import { readRequest, type Options } from '../http/inputs.js';
import { BatchContent, ClassifyQuery, ImageContent } from '../contract/requests.js';
import { BatchResult, ClassifyResult, ERRORS, jsonResponse } from '../contract/responses.js';
import { classifyImage, classifyWork } from '../service/classify.js';
import { checkWork, decodeFor, modelOf, queueWork, readImageRequest, type RouteContext } from './context.js';
import { defineRoute } from './define.js';

export function classifyRoutes(app: OpenAPIHono, ctx: RouteContext, limit: MiddlewareHandler): void {
  const { cfg } = ctx;
  defineRoute(
    app,
    createRoute({
      method: 'post',
      path: '/v1/classify',
      summary: 'Classify one image',
      description: `Send the image as a raw PNG/JPEG/WebP body (the format is checked against the bytes; application/octet-stream: read from the bytes), as multipart/form-data (one file field \`image\`), or as JSON \`{ image: Pixels, ...options }\`. Fields are validated strictly (unknown fields and values, and a field given twice, are 400s). Images that are not the model's size are scaled to cover it (Lanczos-3) and centre-cropped; alpha is composited onto white. Bodies up to ${cfg.maxBodyBytes} bytes; requests whose estimated work exceeds the server's limit (GET /v1/model) are refused with 400; each request or batch has ${cfg.timeoutMs} ms.`,
      request: { query: ClassifyQuery, body: { content: ImageContent } },
      responses: { 200: jsonResponse(ClassifyResult, 'the prediction'), ...ERRORS },
    }),
    async (c) => {
      const t0 = performance.now();
      const { options, model, pixels, macs } = await readImageRequest<Options>(c, ctx, {}, (model, o) => classifyWork(model, o, 1));
      const decodeMs = performance.now() - t0;
      const { job, timings } = queueWork(ctx, c, model, macs, (signal) => classifyImage(model, pixels, options, signal));
      const r = await job;
      return c.json({ ...r, timings: { decodeMs, queueMs: timings().queueMs, ...r.timings, totalMs: performance.now() - t0 } });
    },
    limit,
  );

  defineRoute(
    app,
    createRoute({
      method: 'post',
      path: '/v1/classify/batch',
      summary: `Classify up to ${cfg.maxBatch} images`,
      description: `multipart/form-data with file fields \`images\`, or JSON \`{ images: [Pixels, …], ...options }\`; image i uses seed + i (so seed + images − 1 may not pass ${MAX_SEED}). One time limit for the whole batch.`,
      request: { query: ClassifyQuery, body: { content: BatchContent } },
      responses: { 200: jsonResponse(BatchResult, 'one result per image, in order'), ...ERRORS },
    }),
    async (c) => {
      const t0 = performance.now();
      const { options, images: sources } = await readRequest(c, { batch: true, maxImages: cfg.maxBatch, bounds: ctx.bounds });
      const model = modelOf(ctx, options);
      if (options.seed !== undefined && options.seed + sources.length - 1 > MAX_SEED)
        throw new RequestError(
          400,
          'bad_options',
          `seed: image i uses seed + i, and ${options.seed} + ${sources.length - 1} passes the largest seed ${MAX_SEED}`,
        );
      const [macs, what] = classifyWork(model, options, sources.length);
      checkWork(ctx, model, macs, what);
      const images = await decodeFor(model, sources);
      const decodeMs = performance.now() - t0;
      // One time limit for the whole batch; one seed for it: image i uses seed + i.
      const { job } = queueWork(ctx, c, model, macs, async (signal) => {
        const out = [];
        for (let i = 0; i < images.length; i++)
          out.push(await classifyImage(model, images[i], { ...options, seed: options.seed === undefined ? undefined : options.seed + i }, signal));
        return out;
      });
      const results = await job;
      return c.json({ results, timings: { decodeMs, totalMs: performance.now() - t0 } });
    },
    limit,
  );
}
