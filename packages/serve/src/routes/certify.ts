/**
 * `POST /v1/certify`: one image (any accepted form) certified by randomized smoothing: the smoothed
 * classifier's answer, or an abstention, and the ℓ2 radius within which no perturbation changes it
 * (except with probability alpha). Bounded like every route: the work (draws × network passes per
 * draw × MACs) checked against the cap before any is done, one time limit, cancelled when it passes.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { readRequest } from '../http/inputs.js';
import type { CertifyRequest } from '../inference.js';
import { CertifyBody, CertifyQuery, CertifyResult, ERRORS, ImageContent, jsonResponse } from './contract.js';
import { checkWork, decodeFor, modelOf, type RouteContext } from './context.js';
import { defineRoute } from './define.js';

export function certifyRoutes(app: OpenAPIHono, ctx: RouteContext, limit: MiddlewareHandler): void {
  const { cfg, queue } = ctx;
  defineRoute(
    app,
    createRoute({
      method: 'post',
      path: '/v1/certify',
      summary: 'Certify one image by randomized smoothing (ℓ2)',
      description: `The image as for /v1/classify; options in the query, form or JSON. The smoothed classifier's answer (or −1: abstained) and its certified ℓ2 radius in pixel units: no perturbation smaller than the radius changes the answer, except with probability alpha over the draws. It certifies the smoothed classifier, not the base classifier. Each request has ${cfg.timeoutMs} ms; its work (draws × network passes per draw) must fit the server's limit (GET /v1/model).`,
      request: { query: CertifyQuery, body: { content: { ...ImageContent, 'application/json': { schema: CertifyBody } } } },
      responses: { 200: jsonResponse(CertifyResult, 'the certificate'), ...ERRORS },
    }),
    async (c) => {
      const t0 = performance.now();
      const { options, images } = await readRequest(c, { batch: false, maxImages: 1, bounds: ctx.bounds, querySchema: CertifyQuery, bodySchema: CertifyBody });
      const req = options as CertifyRequest;
      const model = modelOf(ctx, req);
      const o = model.certifyOptions(req);
      checkWork(ctx, model, model.certifyCost(o), `${o.n0} + ${o.n} draws × ${o.base === 'none' ? 1 : `${o.levels} σ levels`} network passes`);
      const [pixels] = await decodeFor(model, images);
      const decodeMs = performance.now() - t0;
      const queued = performance.now();
      let started = 0;
      const r = await queue.run((signal) => {
        started = performance.now();
        return model.certify(pixels, req, signal);
      }, cfg.timeoutMs);
      const now = performance.now();
      return c.json({ ...r, timings: { decodeMs, queueMs: started - queued, certifyMs: now - started, totalMs: now - t0 } });
    },
    limit,
  );
}
