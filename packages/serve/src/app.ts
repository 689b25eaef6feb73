import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { InputError, modelCardSections, type ClassifyOptions, type Tensor } from '@rdc/core/runtime';
import { ServeConfig } from '@rdc/core/runtime';
import { decodeImage, decodeJsonPixels } from './image.js';
import type { InferenceService } from './inference.js';
import { Metrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { PAGE_HTML } from './page.js';
import { QueueFullError, ShutdownError, TimeoutError, WorkQueue } from './queue.js';
import { BatchBody, brief, ClassifyBody, IMAGE_TYPES, optionsFromText, parseBody, parseOptions, RequestError } from './request.js';

/**
 * The HTTP API (Hono): classify images with the DC or the RDC on ONNX Runtime.
 *
 * Routes: `POST /v1/classify`, `POST /v1/classify/batch`, `GET /v1/model`, `GET /healthz`,
 * `GET /readyz`, `GET /metrics` (Prometheus), `GET /openapi.json`, `GET /docs`, and a page at `/`.
 * Every error is JSON `{ error: { code, message } }`: 400 for bad input (named field, short echo),
 * 403 for cross-origin browser requests unless allowed (`cors`), 404, 413 for bodies or batches
 * over the limit, 415 for other content types and image formats, 503 (with Retry-After) when the
 * work queue is full or a request timed out. A request whose estimated work is over the limit is
 * refused (400) before any work; a timed-out one is cancelled. Internal errors never leak details.
 *
 * @example
 * const { app } = createApp(await InferenceService.load('models/default'));
 * const res = await app.request('/v1/classify?defense=dc', { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
 */
/** The client went away before its request was read: nobody is left to answer (logged as 499). */
class ClientGoneError extends Error {}

const errorBody = (code: string, message: string) => ({ error: { code, message } });

export interface AppHandle {
  app: OpenAPIHono;
  queue: WorkQueue;
  metrics: Metrics;
  /** The work limit of one request (multiply–accumulates). */
  maxWorkMacs: number;
  /** Marks the service ready (after warm-up) or not (while shutting down). */
  setReady(ready: boolean): void;
}

function mediaType(c: Context): string {
  return (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
}

/** Reads the body; a client that hangs up while sending it becomes a ClientGoneError. */
async function readBody<T>(c: Context, read: () => Promise<T>, invalid: RequestError): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (c.req.raw.signal.aborted) throw new ClientGoneError();
    if (err instanceof RequestError || err instanceof InputError) throw err;
    throw invalid;
  }
}

const readJson = (c: Context) => readBody(c, () => c.req.json() as Promise<unknown>, new RequestError(400, 'bad_json', 'the body is not valid JSON'));

async function readForm(c: Context): Promise<Record<string, (string | File)[]>> {
  const form = await readBody(
    c,
    () => c.req.parseBody({ all: true }),
    new RequestError(400, 'bad_multipart', 'the multipart/form-data body cannot be parsed (a missing or wrong boundary, or a truncated body)'),
  );
  return Object.fromEntries(Object.entries(form).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
}

/** A form's text fields (one value each) apart from its file fields. */
function textFields(form: Record<string, (string | File)[]>, files: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, values] of Object.entries(form)) {
    if (files.includes(k)) continue;
    if (values.length !== 1 || typeof values[0] !== 'string') throw new RequestError(400, 'bad_multipart', `field ${brief(k, 40)}: expected one text value`);
    out[k] = values[0];
  }
  return out;
}

function formFiles(form: Record<string, (string | File)[]>, field: string): File[] {
  const values = form[field] ?? [];
  if (values.some((v) => typeof v === 'string')) throw new RequestError(400, 'bad_multipart', `field '${field}' must be a file`);
  return values as File[];
}

const EXAMPLES_DIR = new URL('../assets/examples/', import.meta.url);

function readExamples(): { file: string; label: string; testIndex: number }[] {
  try {
    return JSON.parse(readFileSync(new URL('examples.json', EXAMPLES_DIR), 'utf8')) as { file: string; label: string; testIndex: number }[];
  } catch {
    return [];
  }
}

/** The figures `rdc eval --record` and `rdc attack --record` wrote into the model card, by section name. */
export function measuredSections(card: string): Record<string, string> {
  return Object.fromEntries(Object.entries(modelCardSections(card)).filter(([name]) => /^(eval|attack)-./.test(name)));
}

export function createApp(service: InferenceService, config: Partial<ServeConfig> = {}): AppHandle {
  const cfg = ServeConfig.parse(config);
  const queue = new WorkQueue({ capacity: cfg.queueCapacity, concurrency: cfg.concurrency });
  const metrics = new Metrics(queue);
  const dims = service.imageDims;
  const maxWorkMacs = cfg.maxWorkMacs ?? service.cost({ defense: service.hasLm ? 'rdc' : 'dc' }, cfg.maxBatch);
  let ready = false;
  const app = new OpenAPIHono();

  // Metrics for every request; the route label is the matched path pattern.
  app.use('*', async (c, next) => {
    const end = metrics.latency.startTimer();
    await next();
    const route = c.req.routePath ?? 'unmatched';
    end({ route });
    metrics.requests.inc({ route, method: c.req.method, status: c.req.raw.signal.aborted && c.res.status >= 400 ? '499' : String(c.res.status) });
  });

  // Browsers: cross-origin requests only from the allowed origins, and refused before any work.
  if (cfg.cors.length) app.use('*', cors({ origin: cfg.cors.includes('*') ? '*' : cfg.cors, allowMethods: ['GET', 'POST', 'OPTIONS'] }));
  app.use('*', async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && origin !== new URL(c.req.url).origin && !cfg.cors.includes('*') && !cfg.cors.includes(origin))
      return c.json(
        errorBody(
          'cross_origin',
          `cross-origin requests from ${brief(origin, 60)} are refused (the server allows ${cfg.cors.length ? cfg.cors.join(', ') : 'none: start it with --cors ORIGIN'})`,
        ),
        403,
      );
    await next();
  });

  app.onError((err, c) => {
    if (err instanceof RequestError) return c.json(errorBody(err.code, err.message), err.status);
    if (err instanceof InputError) return c.json(errorBody(err.code, err.message), 400);
    if (err instanceof ClientGoneError) return c.json(errorBody('client_closed', 'the client closed the connection'), 400);
    if (err instanceof QueueFullError)
      return c.json(errorBody('busy', `${err.message}; retry after ${err.retryAfterSeconds} s`), 503, { 'Retry-After': String(err.retryAfterSeconds) });
    if (err instanceof TimeoutError) return c.json(errorBody('timeout', err.message), 503, { 'Retry-After': '5' });
    if (err instanceof ShutdownError) return c.json(errorBody('shutting_down', err.message), 503, { 'Retry-After': '5' });
    // Never leak internals: log the error, answer a generic message.
    process.stderr.write(`${JSON.stringify({ level: 50, msg: 'internal error', error: String(err), stack: (err as Error).stack })}\n`);
    return c.json(errorBody('internal', 'internal error'), 500);
  });
  app.notFound((c) => c.json(errorBody('not_found', `no route ${brief(c.req.method, 20)} ${brief(c.req.path, 80)}`), 404));

  const limit = bodyLimit({
    maxSize: cfg.maxBodyBytes,
    onError: (c) => c.json(errorBody('payload_too_large', `the body is larger than ${cfg.maxBodyBytes} bytes`), 413),
  });

  const ACCEPTED = 'send image/png, image/jpeg, image/webp (or application/octet-stream), multipart/form-data or application/json';

  /** One image from the request body, in any of the accepted forms. */
  async function readOne(c: Context): Promise<{ pixels: Tensor; opts: ClassifyOptions }> {
    const type = mediaType(c);
    if ((IMAGE_TYPES as readonly string[]).includes(type) || type === 'application/octet-stream') {
      const text = optionsFromText(c.req.query());
      const bytes = new Uint8Array(await readBody(c, () => c.req.arrayBuffer(), new RequestError(400, 'bad_body', 'the body could not be read')));
      return { pixels: await decodeImage(bytes, dims, type), opts: parseOptions(text) };
    }
    if (type === 'multipart/form-data') {
      const form = await readForm(c);
      const files = formFiles(form, 'image');
      if (files.length !== 1) throw new RequestError(400, 'missing_image', "the form needs exactly one file field named 'image'");
      const opts = parseOptions({ ...optionsFromText(c.req.query()), ...optionsFromText(textFields(form, ['image']), 'form') });
      return { pixels: await decodeImage(new Uint8Array(await files[0].arrayBuffer()), dims, files[0].type || undefined), opts };
    }
    if (type === 'application/json') {
      const body = parseBody(ClassifyBody, await readJson(c));
      const { image, ...options } = body;
      return { pixels: await decodeJsonPixels(image, dims), opts: parseOptions(optionsFromText(c.req.query()), stripUndefined(options)) };
    }
    throw new RequestError(
      415,
      'unsupported_media_type',
      type ? `content-type ${brief(type, 60)} is not accepted: ${ACCEPTED}` : `missing content-type: ${ACCEPTED}`,
    );
  }

  /** Refuses work over the limit before any is done. */
  function checkWork(opts: ClassifyOptions, images: number): void {
    const macs = service.cost(opts, images);
    if (macs > maxWorkMacs)
      throw new RequestError(
        400,
        'too_much_work',
        `this request needs about ${(macs / 1e9).toFixed(1)} GMAC (${images} image${images > 1 ? 's' : ''} × ${opts.levels ?? service.model.config.dc.levels} σ levels × ${service.passesPerLevel} network pass${service.passesPerLevel > 1 ? 'es' : ''} per level${opts.defense === 'rdc' ? ', plus LM' : ''}, ${(service.macsPerPass / 1e6).toFixed(1)} M MACs per pass), more than this server's limit of ${(maxWorkMacs / 1e9).toFixed(1)} GMAC per request: ask for fewer σ levels or images`,
      );
  }

  app.post('/v1/classify', limit, async (c) => {
    const t0 = performance.now();
    const { pixels, opts } = await readOne(c);
    checkWork(opts, 1);
    const decodeMs = performance.now() - t0;
    const queued = performance.now();
    let started = 0;
    const r = await queue.run((signal) => {
      started = performance.now();
      return service.classify(pixels, opts, signal);
    }, cfg.timeoutMs);
    return c.json({ ...r, timings: { decodeMs, queueMs: started - queued, ...r.timings, totalMs: performance.now() - t0 } });
  });

  app.post('/v1/classify/batch', limit, async (c) => {
    const t0 = performance.now();
    const type = mediaType(c);
    const tooMany = new RequestError(413, 'too_many_images', `at most ${cfg.maxBatch} images per batch`);
    let images: Tensor[];
    let opts: ClassifyOptions;
    if (type === 'multipart/form-data') {
      const form = await readForm(c);
      const files = formFiles(form, 'images');
      if (files.length === 0) throw new RequestError(400, 'missing_image', "the form needs one or more file fields named 'images'");
      if (files.length > cfg.maxBatch) throw tooMany;
      opts = parseOptions({ ...optionsFromText(c.req.query()), ...optionsFromText(textFields(form, ['images']), 'form') });
      checkWork(opts, files.length);
      images = await Promise.all(files.map(async (f) => decodeImage(new Uint8Array(await f.arrayBuffer()), dims, f.type || undefined)));
    } else if (type === 'application/json') {
      const raw = await readJson(c);
      if (raw && typeof raw === 'object' && Array.isArray((raw as { images?: unknown }).images) && (raw as { images: unknown[] }).images.length > cfg.maxBatch)
        throw tooMany;
      const { images: pixels, ...options } = parseBody(BatchBody, raw);
      opts = parseOptions(optionsFromText(c.req.query()), stripUndefined(options));
      checkWork(opts, pixels.length);
      images = await Promise.all(pixels.map((p) => decodeJsonPixels(p, dims)));
    } else {
      throw new RequestError(415, 'unsupported_media_type', 'send multipart/form-data with image files, or application/json with { images: [...] }');
    }
    const decodeMs = performance.now() - t0;
    // One time limit for the whole batch; one seed for it: image i uses seed + i.
    const results = await queue.run(async (signal) => {
      const out = [];
      const base = opts.seed;
      for (let i = 0; i < images.length; i++) out.push(await service.classify(images[i], { ...opts, seed: base === undefined ? undefined : base + i }, signal));
      return out;
    }, cfg.timeoutMs);
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
    return c.json({
      config,
      card,
      measured: measuredSections(card),
      limits: { maxBodyBytes: cfg.maxBodyBytes, maxBatch: cfg.maxBatch, maxWorkMacs, timeoutMs: cfg.timeoutMs },
    });
  });

  // A few CIFAR-10 test images for the page (scripts/make-examples.mjs); only the listed files are served.
  const examples = readExamples();
  app.get('/v1/examples', (c) => c.json(examples.map((e) => ({ label: e.label, testIndex: e.testIndex, url: `/examples/${e.file}` }))));
  app.get('/examples/:file', (c) => {
    const e = examples.find((x) => x.file === c.req.param('file'));
    if (!e) return c.json(errorBody('not_found', 'no such example image; GET /v1/examples lists them'), 404);
    return c.body(readFileSync(new URL(e.file, EXAMPLES_DIR)), 200, { 'content-type': 'image/png', 'cache-control': 'max-age=86400' });
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

  return { app, queue, metrics, maxWorkMacs, setReady: (r) => (ready = r) };
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
