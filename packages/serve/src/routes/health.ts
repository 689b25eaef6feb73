/** Liveness, readiness and Prometheus metrics. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { errorBody } from '../http/errors.js';
import type { Metrics } from '../metrics.js';
import { ErrorBody, jsonResponse, Status } from '../contract/responses.js';
import { defineRoute } from './define.js';

export function healthRoutes(app: OpenAPIHono, metrics: Metrics, isReady: () => boolean): void {
  defineRoute(app, createRoute({ method: 'get', path: '/healthz', summary: 'Liveness', responses: { 200: jsonResponse(Status, 'the process is up') } }), (c) =>
    c.json({ status: 'ok' }),
  );
  defineRoute(
    app,
    createRoute({
      method: 'get',
      path: '/readyz',
      summary: 'Readiness (models loaded and warmed up)',
      responses: { 200: jsonResponse(Status, 'ready'), 503: jsonResponse(ErrorBody, 'loading or shutting down') },
    }),
    (c) => (isReady() ? c.json({ status: 'ready' }) : c.json(errorBody('not_ready', 'the model is loading or the server is shutting down'), 503)),
  );
  defineRoute(
    app,
    createRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics',
      responses: { 200: { description: 'text exposition format', content: { 'text/plain': { schema: z.string() } } } },
    }),
    async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
}
