/**
 * The HTTP API (Hono) on ONNX Runtime: classify images with the DC, the RDC or a CNN, for every
 * model the server holds. `createApp` composes the middleware (metrics, the Host check against DNS
 * rebinding, the origin check, error bodies) and the routes (routes/), each defined once with the
 * schemas of contract/, from which /openapi.json is generated.
 *
 * Every error is JSON `{ error: { code, message } }`: 400 for bad input (named field, short echo) or
 * a foreign Host, 403 for cross-origin browser requests unless allowed (`cors`), 404, 413 for bodies
 * or batches over the limit, 415 for other content types and image formats, 503 (with Retry-After)
 * when the work queue is full or a request timed out. A request whose estimated work is over the
 * limit is refused (400) before any work; a timed-out one is cancelled. Internal errors never leak.
 *
 * @example
 * const { app } = createApp(await ServedModel.load('models/default'));
 * const res = await app.request('/v1/classify?defense=dc', { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { ServeConfig } from '@rdc/core/runtime';
import { errorBody } from './http/errors.js';
import { Metrics } from './metrics.js';
import { errorHandler, notFound } from './middleware/errors.js';
import { hostCheck } from './middleware/host-check.js';
import { originCheck } from './middleware/origin-check.js';
import { requestMetrics } from './middleware/request-metrics.js';
import { securityHeaders } from './middleware/security-headers.js';
import { WorkQueue } from './queue.js';
import { attackRoutes } from './routes/attack.js';
import { certifyRoutes } from './routes/certify.js';
import { classifyRoutes } from './routes/classify.js';
import type { RouteContext } from './routes/context.js';
import { docsRoutes } from './routes/docs.js';
import { healthRoutes } from './routes/health.js';
import { modelRoutes } from './routes/models.js';
import { optionsRoutes } from './routes/options.js';
import { pageRoutes } from './routes/page.js';
import { workLimit } from './service/limits.js';
import { ModelRegistry } from './service/registry.js';
import { ServedModel } from './service/served-model.js';

export interface AppHandle {
  app: OpenAPIHono;
  queue: WorkQueue;
  metrics: Metrics;
  models: ModelRegistry;
  /** The work limit of one request to the default model (multiply–accumulates). */
  maxWorkMacs: number;
  /** Marks the service ready (after warm-up) or not (while shutting down). */
  setReady(ready: boolean): void;
}

export function createApp(models: ServedModel | ModelRegistry, config: Partial<ServeConfig> = {}): AppHandle {
  const cfg = ServeConfig.parse(config);
  const registry = models instanceof ServedModel ? new ModelRegistry([models]) : models;
  const queue = new WorkQueue({ capacity: cfg.queueCapacity, concurrency: cfg.concurrency });
  const metrics = new Metrics(queue);
  let ready = false;
  const maxWork = (m: ServedModel) => workLimit(m, cfg);
  const ctx: RouteContext = { models: registry, queue, cfg, bounds: { maxDepth: 6, maxItems: 64 }, maxWork };
  const app = new OpenAPIHono();

  app.use('*', requestMetrics(metrics));
  app.use('*', securityHeaders());
  app.use('*', hostCheck(cfg));
  for (const m of originCheck(cfg.cors)) app.use('*', m);
  app.onError(errorHandler);
  app.notFound(notFound);

  const limit = bodyLimit({
    maxSize: cfg.maxBodyBytes,
    onError: (c) => c.json(errorBody('payload_too_large', `the body is larger than ${cfg.maxBodyBytes} bytes`), 413),
  });
  classifyRoutes(app, ctx, limit);
  certifyRoutes(app, ctx, limit);
  attackRoutes(app, ctx, limit);
  modelRoutes(app, ctx);
  optionsRoutes(app);
  healthRoutes(app, metrics, () => ready);
  docsRoutes(app);
  pageRoutes(app, ctx);
  return { app, queue, metrics, models: registry, maxWorkMacs: maxWork(registry.get()), setReady: (r) => (ready = r) };
}
