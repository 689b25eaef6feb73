/**
 * `POST /v1/attack`: one image (any accepted form) attacked white-box within an ε ball: the
 * adversarial 8-bit image, its distance from the input, the perturbation made visible, and the
 * clean and adversarial answers from k fresh draws counted by a re-check rule (the attack's own
 * noisy success never counts). With `Accept: text/event-stream`: a `progress` event per iteration,
 * then the `result` (or an `error`) event. Bounded like every route: the work checked against the
 * cap before any is done, one time limit, cancelled when the client goes away.
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { ONE_IMAGE_LIMITS } from '@rdc/attacks';
import { AttackBody, AttackQuery, ImageContent, type AttackFields } from '../contract/requests.js';
import { AttackProgress, AttackResult, ERRORS } from '../contract/responses.js';
import { attackImage, attackWork } from '../service/attack.js';
import { queueWork, readImageRequest, type RouteContext } from './context.js';
import { defineRoute } from './define.js';
import { answerWithProgress } from './events.js';

const SCHEMAS = { query: AttackQuery, body: AttackBody };

export function attackRoutes(app: OpenAPIHono, ctx: RouteContext, limit: MiddlewareHandler): void {
  const { cfg } = ctx;
  defineRoute(
    app,
    createRoute({
      method: 'post',
      path: '/v1/attack',
      summary: 'Attack one image (white-box, within an ε ball)',
      description: `The image as for /v1/classify; options in the query, form or JSON. The attack moves the image away from the classifier's clean answer (PGD or APGD, at most ${ONE_IMAGE_LIMITS.iterations} iterations, gradients of the DC exact and of the RDC by BPDA through LM), inside the ε ball (ℓ∞ at most 16/255, ℓ2 at most 1) and [0, 1]. The input is rounded to 8 bits first and the adversarial image rounded to 8 bits inside the ball (to the nearest level where that stays inside, else toward the input), so the returned PNG is exactly what was re-checked. Answers come from k fresh draws each (their seeds given: /v1/classify with a draw's seed repeats it). With \`Accept: text/event-stream\` the answer is a stream of server-sent events: \`progress\` (AttackProgress) after every iteration, then \`result\` (AttackResult) or \`error\` ({ status, error: { code, message } }). Each request has ${cfg.timeoutMs} ms; its work must fit the server's limit (GET /v1/model).`,
      request: { query: AttackQuery, body: { content: { ...ImageContent, 'application/json': { schema: AttackBody } } } },
      responses: {
        200: {
          description: 'the attack and both answers (JSON), or its progress and result as server-sent events',
          content: {
            'application/json': { schema: AttackResult },
            'text/event-stream': { schema: z.string().openapi({ description: 'events: progress (AttackProgress), then result (AttackResult) or error' }) },
          },
        },
        ...ERRORS,
      },
    }),
    async (c) => {
      const t0 = performance.now();
      const { options: req, model, pixels, macs } = await readImageRequest<AttackFields>(c, ctx, SCHEMAS, attackWork);
      const decodeMs = performance.now() - t0;
      let timings = () => ({ queueMs: 0, workMs: 0 });
      return answerWithProgress<z.infer<typeof AttackProgress>, Omit<AttackResult, 'timings'>>(
        c,
        (onProgress) => {
          const q = queueWork(ctx, c, model, macs, (signal) => attackImage(model, pixels, req, signal, onProgress));
          timings = q.timings;
          return q.job;
        },
        (r): AttackResult => {
          const { queueMs, workMs } = timings();
          return { ...r, timings: { decodeMs, queueMs, attackMs: workMs, totalMs: performance.now() - t0 } };
        },
      );
    },
    limit,
  );
}
