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
import { streamSSE } from 'hono/streaming';
import { ONE_IMAGE_LIMITS } from '@rdc/attacks';
import { AttackBody, AttackQuery, ImageContent, type AttackFields } from '../contract/requests.js';
import { AttackProgress, AttackResult, ERRORS } from '../contract/responses.js';
import { errorAnswer } from '../middleware/errors.js';
import { attackImage, attackWork } from '../service/attack.js';
import { queueWork, readImageRequest, type RouteContext } from './context.js';
import { defineRoute } from './define.js';

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
      const stream = (c.req.header('accept') ?? '').includes('text/event-stream');
      const events = new ProgressEvents();
      const { job, timings } = queueWork(ctx, c, model, macs, (signal) => attackImage(model, pixels, req, signal, stream ? (p) => events.push(p) : undefined));
      const answer = (r: Awaited<typeof job>): AttackResult => {
        const { queueMs, workMs } = timings();
        return { ...r, timings: { decodeMs, queueMs, attackMs: workMs, totalMs: performance.now() - t0 } };
      };
      if (!stream) return c.json(answer(await job));
      // A full queue is refused at once: answer it with its status before the stream starts.
      await Promise.race([job, Promise.resolve()]);
      return streamSSE(c, async (sse) => {
        const outcome = job.then(
          (r) => ({ ok: true as const, r }),
          (err: unknown) => ({ ok: false as const, err }),
        );
        void outcome.then(() => events.close());
        for await (const p of events) await sse.writeSSE({ event: 'progress', data: JSON.stringify(p) });
        const o = await outcome;
        if (o.ok) await sse.writeSSE({ event: 'result', data: JSON.stringify(answer(o.r)) });
        else {
          const a = errorAnswer(o.err);
          await sse.writeSSE({ event: 'error', data: JSON.stringify({ status: a.status, error: { code: a.code, message: a.message } }) });
        }
      });
    },
    limit,
  );
}

/** Progress events from a running job, read in order by the stream until the job ends. */
class ProgressEvents implements AsyncIterable<z.infer<typeof AttackProgress>> {
  private readonly items: z.infer<typeof AttackProgress>[] = [];
  private closed = false;
  private wake: (() => void) | null = null;
  push(p: z.infer<typeof AttackProgress>): void {
    this.items.push(p);
    this.wake?.();
  }
  close(): void {
    this.closed = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator]() {
    for (;;) {
      while (this.items.length) yield this.items.shift()!;
      if (this.closed) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}
