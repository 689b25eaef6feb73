/**
 * `POST /v1/certify`: one image (any accepted form) certified by randomized smoothing: the smoothed
 * classifier's answer, or an abstention, and the ℓ2 radius within which no perturbation changes it
 * (except with probability alpha). Bounded like every route: the work (draws × network passes per
 * draw × MACs) checked against the cap before any is done, one time limit, cancelled when it passes
 * or the client leaves. With `Accept: text/event-stream`: a `progress` event per batch of draws,
 * then `result` (or `error`).
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { CertifyBody, CertifyQuery, ImageContent, type CertifyFields } from '../contract/requests.js';
import { CertifyProgress, CertifyResult, ERRORS } from '../contract/responses.js';
import { certifyImage, certifyWork } from '../service/certify.js';
import { queueWork, readImageRequest, type RouteContext } from './context.js';
import { defineRoute } from './define.js';
import { answerWithProgress } from './events.js';

const SCHEMAS = { query: CertifyQuery, body: CertifyBody };

export function certifyRoutes(app: OpenAPIHono, ctx: RouteContext, limit: MiddlewareHandler): void {
  const { cfg } = ctx;
  defineRoute(
    app,
    createRoute({
      method: 'post',
      path: '/v1/certify',
      summary: 'Certify one image by randomized smoothing (ℓ2)',
      description: `The image as for /v1/classify; options in the query, form or JSON. The smoothed classifier's answer (or −1: abstained) and its certified ℓ2 radius in pixel units: no perturbation smaller than the radius changes the answer, except with probability alpha over the draws. It certifies the smoothed classifier, not the base classifier. With \`Accept: text/event-stream\` the answer is a stream of server-sent events: \`progress\` (CertifyProgress) after every batch of draws, then \`result\` (CertifyResult) or \`error\`. Each request has ${cfg.timeoutMs} ms; its work (draws × network passes per draw) must fit the server's limit (GET /v1/model).`,
      request: { query: CertifyQuery, body: { content: { ...ImageContent, 'application/json': { schema: CertifyBody } } } },
      responses: {
        200: {
          description: 'the certificate (JSON), or its progress and result as server-sent events',
          content: {
            'application/json': { schema: CertifyResult },
            'text/event-stream': { schema: z.string().openapi({ description: 'events: progress (CertifyProgress), then result (CertifyResult) or error' }) },
          },
        },
        ...ERRORS,
      },
    }),
    async (c) => {
      const t0 = performance.now();
      const { options: req, model, pixels, macs } = await readImageRequest<CertifyFields>(c, ctx, SCHEMAS, certifyWork);
      const decodeMs = performance.now() - t0;
      let timings = () => ({ queueMs: 0, workMs: 0 });
      return answerWithProgress<z.infer<typeof CertifyProgress>, Omit<CertifyResult, 'timings'>>(
        c,
        (onProgress) => {
          const q = queueWork(ctx, c, model, macs, (signal) => certifyImage(model, pixels, req, signal, cfg.certifyMemoryMb, onProgress));
          timings = q.timings;
          return q.job;
        },
        (r): CertifyResult => {
          const { queueMs, workMs } = timings();
          return { ...r, timings: { decodeMs, queueMs, certifyMs: workMs, totalMs: performance.now() - t0 } };
        },
      );
    },
    limit,
  );
}
