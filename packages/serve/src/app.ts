import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ClassifyOptions, InputError, type Tensor } from '@rdc/core/runtime';
import { ServeConfig } from './config.js';
import { decodeImage, decodeJsonPixels, IMAGE_TYPES, type JsonPixels } from './image.js';
import type { InferenceService } from './inference.js';
import { Metrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { PAGE_HTML } from './page.js';
import { QueueFullError, TimeoutError, WorkQueue } from './queue.js';

/**
 * The HTTP API (Hono): classify images with the DC or the RDC on ONNX Runtime.
 *
 * Routes: `POST /v1/classify`, `POST /v1/classify/batch`, `GET /v1/model`, `GET /healthz`,
 * `GET /readyz`, `GET /metrics` (Prometheus), `GET /openapi.json`, `GET /docs`, and a page at `/`.
 * Every error is JSON `{ error: { code, message } }` with a 4xx status for bad input, 413 for bodies
 * over the limit, 503 (with Retry-After) when the work queue is full or a request times out.
 *
 * @example
 * const { app } = createApp(await InferenceService.load('models/default'));
 * const res = await app.request('/v1/classify?defense=dc', { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
 */
export class HttpError extends Error {
  constructor(
    readonly status: 400 | 404 | 413 | 415 | 422 | 503,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const errorBody = (code: string, message: string) => ({ error: { code, message } });

export interface AppHandle {
  app: OpenAPIHono;
  queue: WorkQueue;
  metrics: Metrics;
  /** Marks the service ready (after warm-up) or not (while shutting down). */
  setReady(ready: boolean): void;
}

function mediaType(c: Context): string {
  return (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
}

async function readJson(c: Context): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new HttpError(400, 'bad_json', 'the body is not valid JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'bad_json', 'the JSON body must be an object');
  return body as Record<string, unknown>;
}

function parseOptions(query: Record<string, string>, json: Record<string, unknown> = {}): ClassifyOptions {
  const raw: Record<string, unknown> = {};
  for (const k of ['defense', 'method', 'levels', 'seed']) {
    const v = json[k] ?? query[k];
    if (v !== undefined) raw[k] = v;
  }
  const parsed = ClassifyOptions.safeParse(raw);
  if (!parsed.success) throw new HttpError(400, 'bad_options', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

export function createApp(service: InferenceService, config: Partial<ServeConfig> = {}): AppHandle {
  const cfg = ServeConfig.parse(config);
  const queue = new WorkQueue({ capacity: cfg.queueCapacity, concurrency: cfg.concurrency });
  const metrics = new Metrics(queue);
  const dims = service.imageDims;
  let ready = false;
  const app = new OpenAPIHono();

  // Metrics for every request; the route label is the matched path pattern.
  app.use('*', async (c, next) => {
    const end = metrics.latency.startTimer();
    await next();
    const route = c.req.routePath ?? 'unmatched';
    end({ route });
    metrics.requests.inc({ route, method: c.req.method, status: String(c.res.status) });
  });

  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message), err.status, err.headers);
    if (err instanceof InputError) return c.json(errorBody(err.code, err.message), 400);
    if (err instanceof QueueFullError)
      return c.json(errorBody('busy', `${err.message}; retry after ${err.retryAfterSeconds} s`), 503, { 'Retry-After': String(err.retryAfterSeconds) });
    if (err instanceof TimeoutError) return c.json(errorBody('timeout', err.message), 503, { 'Retry-After': '5' });
    // Never leak internals: log the error, answer a generic message.
    process.stderr.write(`${JSON.stringify({ level: 50, msg: 'internal error', error: String(err), stack: (err as Error).stack })}\n`);
    return c.json(errorBody('internal', 'internal error'), 500);
  });
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));

  const limit = bodyLimit({
    maxSize: cfg.maxBodyBytes,
    onError: (c) => c.json(errorBody('payload_too_large', `the body is larger than ${cfg.maxBodyBytes} bytes`), 413),
  });

  /** One image from the request body, in any of the accepted forms. */
  async function readOne(c: Context): Promise<{ pixels: Tensor; opts: ClassifyOptions }> {
    const type = mediaType(c);
    const query = c.req.query();
    if ((IMAGE_TYPES as readonly string[]).includes(type)) {
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      return { pixels: await decodeImage(bytes, dims), opts: parseOptions(query) };
    }
    if (type === 'multipart/form-data') {
      const form = await c.req.parseBody();
      const file = form.image ?? form.file;
      if (!(file instanceof File)) throw new HttpError(400, 'missing_image', "the form needs a file field named 'image'");
      const fields = Object.fromEntries(Object.entries(form).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
      return { pixels: await decodeImage(new Uint8Array(await file.arrayBuffer()), dims), opts: parseOptions(query, fields) };
    }
    if (type === 'application/json') {
      const body = await readJson(c);
      if (!body.image || typeof body.image !== 'object')
        throw new HttpError(400, 'missing_image', "the JSON body needs 'image': { data, dtype, shape, layout }");
      return { pixels: await decodeJsonPixels(body.image as JsonPixels, dims), opts: parseOptions(query, body) };
    }
    if (!type)
      throw new HttpError(
        415,
        'unsupported_media_type',
        'missing content-type: send image/png, image/jpeg, image/webp, multipart/form-data or application/json',
      );
    throw new HttpError(
      415,
      'unsupported_media_type',
      `content-type '${type}' is not accepted: send image/png, image/jpeg, image/webp, multipart/form-data or application/json`,
    );
  }

  app.post('/v1/classify', limit, async (c) => {
    const t0 = performance.now();
    const { pixels, opts } = await readOne(c);
    const decodeMs = performance.now() - t0;
    const queued = performance.now();
    let started = 0;
    const r = await queue.run(() => {
      started = performance.now();
      return service.classify(pixels, opts);
    }, cfg.timeoutMs);
    return c.json({ ...r, timings: { decodeMs, queueMs: started - queued, ...r.timings, totalMs: performance.now() - t0 } });
  });

  app.post('/v1/classify/batch', limit, async (c) => {
    const t0 = performance.now();
    const type = mediaType(c);
    let images: Tensor[] = [];
    let opts: ClassifyOptions;
    if (type === 'multipart/form-data') {
      const form = await c.req.parseBody({ all: true });
      const files = Object.values(form)
        .flat()
        .filter((v): v is File => v instanceof File);
      if (files.length === 0) throw new HttpError(400, 'missing_image', "the form needs one or more file fields named 'images'");
      if (files.length > cfg.maxBatch) throw new HttpError(413, 'too_many_images', `at most ${cfg.maxBatch} images per batch`);
      images = await Promise.all(files.map(async (f) => decodeImage(new Uint8Array(await f.arrayBuffer()), dims)));
      opts = parseOptions(c.req.query(), Object.fromEntries(Object.entries(form).filter(([, v]) => typeof v === 'string')) as Record<string, string>);
    } else if (type === 'application/json') {
      const body = await readJson(c);
      if (!Array.isArray(body.images) || body.images.length === 0)
        throw new HttpError(400, 'missing_image', "the JSON body needs 'images': [{ data, dtype, shape, layout }, ...]");
      if (body.images.length > cfg.maxBatch) throw new HttpError(413, 'too_many_images', `at most ${cfg.maxBatch} images per batch`);
      images = await Promise.all(body.images.map((p) => decodeJsonPixels(p as JsonPixels, dims)));
      opts = parseOptions(c.req.query(), body);
    } else {
      throw new HttpError(415, 'unsupported_media_type', 'send multipart/form-data with image files, or application/json with { images: [...] }');
    }
    const decodeMs = performance.now() - t0;
    const results = await queue.run(async () => {
      const out = [];
      // One seed for the batch: image i uses seed + i, so each answer is reproducible on its own.
      const base = opts.seed;
      for (let i = 0; i < images.length; i++) out.push(await service.classify(images[i], { ...opts, seed: base === undefined ? undefined : base + i }));
      return out;
    }, cfg.timeoutMs * images.length);
    return c.json({ results, timings: { decodeMs, totalMs: performance.now() - t0 } });
  });

  app.get('/v1/model', (c) => {
    const { config, dir } = service.model;
    let card = '';
    try {
      card = readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8');
    } catch {
      card = '';
    }
    return c.json({ config, card });
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => (ready ? c.json({ status: 'ready' }) : c.json(errorBody('not_ready', 'the model is loading or the server is shutting down'), 503)));
  app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  app.get('/', (c) => c.html(PAGE_HTML));

  registerOpenApi(app, cfg);
  const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const asset = (file: string, type: string) => (c: Context) =>
    c.body(readFileSync(join(swaggerDir, file)), 200, { 'content-type': type, 'cache-control': 'max-age=86400' });
  app.get('/docs/swagger-ui.css', asset('swagger-ui.css', 'text/css'));
  app.get('/docs/swagger-ui-bundle.js', asset('swagger-ui-bundle.js', 'application/javascript'));
  app.get('/docs', (c) =>
    c.html(`<!doctype html><html><head><meta charset="utf-8"><title>RDC API</title><link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui' });</script></body></html>`),
  );

  return { app, queue, metrics, setReady: (r) => (ready = r) };
}
