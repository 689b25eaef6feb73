/**
 * What the server serves: `GET /v1/models` (every model, with its generative guard and measured
 * figures), `GET /v1/model` (one model: config.json and the card as verified at start-up, and the
 * server's limits for it), `GET /v1/examples` and the example images for the page.
 */
import { readFileSync } from 'node:fs';
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { errorBody } from '../http/errors.js';
import { queryOptions } from '../http/inputs.js';
import { ModelName } from '../contract/requests.js';
import { ERRORS, Examples, jsonResponse, ModelInfo, ModelList } from '../contract/responses.js';
import { textFields } from '../contract/text-fields.js';
import { modelOf, type RouteContext } from './context.js';
import { defineRoute } from './define.js';

const EXAMPLES_DIR = new URL('../../assets/examples/', import.meta.url);

function readExamples(): { file: string; label: string; testIndex: number }[] {
  try {
    return JSON.parse(readFileSync(new URL('examples.json', EXAMPLES_DIR), 'utf8')) as { file: string; label: string; testIndex: number }[];
  } catch {
    return [];
  }
}

const ModelQuery = textFields(z.object({ model: ModelName.optional() }));

export function modelRoutes(app: OpenAPIHono, ctx: RouteContext): void {
  defineRoute(
    app,
    createRoute({ method: 'get', path: '/v1/models', summary: 'The models this server serves', responses: { 200: jsonResponse(ModelList, 'every model') } }),
    (c) => c.json({ models: ctx.models.list().map((m) => m.summary()) }),
  );
  defineRoute(
    app,
    createRoute({
      method: 'get',
      path: '/v1/model',
      summary: 'One model: config.json, MODEL_CARD.md (as verified at start-up), its measured figures and the limits',
      request: { query: ModelQuery },
      responses: { 200: jsonResponse(ModelInfo, 'the model'), 400: ERRORS[400], 404: ERRORS[404] },
    }),
    (c) => {
      const model = modelOf(ctx, queryOptions(c, ModelQuery));
      const { cfg } = ctx;
      return c.json({
        ...model.summary(),
        config: model.model.config,
        card: model.card,
        limits: { maxBodyBytes: cfg.maxBodyBytes, maxBatch: cfg.maxBatch, maxWorkMacs: ctx.maxWork(model), timeoutMs: cfg.timeoutMs },
      });
    },
  );

  // A few CIFAR-10 test images for the page (scripts/make-examples.mjs); only the listed files are served.
  const examples = readExamples();
  defineRoute(
    app,
    createRoute({
      method: 'get',
      path: '/v1/examples',
      summary: 'Bundled CIFAR-10 test images to try',
      responses: { 200: jsonResponse(Examples, 'the examples') },
    }),
    (c) => c.json(examples.map((e) => ({ label: e.label, testIndex: e.testIndex, url: `/examples/${e.file}` }))),
  );
  defineRoute(
    app,
    createRoute({
      method: 'get',
      path: '/examples/{file}',
      summary: 'One bundled example image (PNG)',
      request: { params: z.object({ file: z.string() }) },
      responses: { 200: { description: 'the PNG', content: { 'image/png': { schema: z.string().openapi({ format: 'binary' }) } } }, 404: ERRORS[404] },
    }),
    (c) => {
      const e = examples.find((x) => x.file === c.req.param('file'));
      if (!e) return c.json(errorBody('not_found', 'no such example image; GET /v1/examples lists them'), 404);
      return c.body(readFileSync(new URL(e.file, EXAMPLES_DIR)), 200, { 'content-type': 'image/png', 'cache-control': 'max-age=86400' });
    },
  );
}
