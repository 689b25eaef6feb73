import { z, type OpenAPIHono } from '@hono/zod-openapi';
import type { ServeConfig } from '@rdc/core/runtime';

const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).openapi('Error');
const Pixels = z
  .object({
    data: z.string().openapi({ description: 'base64 of the pixel values' }),
    dtype: z.enum(['uint8', 'float32']).default('uint8').openapi({ description: 'uint8 0–255 or float32 0–1' }),
    shape: z
      .array(z.number().int())
      .length(3)
      .openapi({ example: [3, 32, 32] }),
    layout: z.enum(['CHW', 'HWC']).default('CHW'),
  })
  .openapi('Pixels');
const Options = {
  defense: z.enum(['dc', 'rdc']).default('rdc').openapi({ description: 'diffusion classifier alone, or with likelihood maximization first' }),
  method: z.enum(['released', 'paper']).optional().openapi({ description: "LM preset (RDC only); default: the model's" }),
  levels: z.number().int().min(1).max(1000).optional().openapi({ description: "σ levels (default: the model's calibrated grid)" }),
  seed: z.number().int().min(0).optional().openapi({ description: 'noise seed (default: fresh, reported in the answer)' }),
  explain: z.boolean().optional().openapi({
    description: "also return the input as the model saw it and, for the RDC, LM's output and its perturbation, as PNG data URLs (query: true/false/1/0)",
  }),
};
const Result = z
  .object({
    top: z.object({ index: z.number(), label: z.string(), probability: z.number() }),
    probabilities: z.array(z.object({ label: z.string(), probability: z.number() })),
    logits: z.array(z.number()),
    options: z.object({
      defense: z.string(),
      method: z.string().optional(),
      levels: z.number(),
      seed: z.number(),
      temperature: z.number(),
      grid: z.string(),
      weighting: z.string(),
    }),
    timings: z.record(z.string(), z.number()),
    explain: z
      .object({
        input: z.string(),
        lm: z.string().optional(),
        perturbation: z.string().optional().openapi({ description: "LM's change shown as 0.5 + δ·perturbationGain" }),
        perturbationGain: z.number().optional(),
        perturbationLinf: z.number().optional(),
        perturbationL2: z.number().optional(),
      })
      .optional(),
  })
  .openapi('ClassifyResult');

const errors = {
  400: { description: 'bad image, pixels, shape, options or JSON; too much work', content: { 'application/json': { schema: ErrorBody } } },
  403: {
    description: 'a cross-origin browser request (CORS is off unless the server allows the origin)',
    content: { 'application/json': { schema: ErrorBody } },
  },
  413: { description: 'body too large or too many images', content: { 'application/json': { schema: ErrorBody } } },
  415: { description: 'unsupported content type or image format', content: { 'application/json': { schema: ErrorBody } } },
  503: { description: 'busy (queue full) or timed out; see Retry-After', content: { 'application/json': { schema: ErrorBody } } },
};

/** Documents the routes (the handlers in app.ts parse bodies themselves: raw, multipart or JSON). */
export function registerOpenApi(app: OpenAPIHono, cfg: ServeConfig): void {
  const r = app.openAPIRegistry;
  const query = z.object(Object.fromEntries(Object.entries(Options).map(([k, v]) => [k, v.optional()])));
  r.registerPath({
    method: 'post',
    path: '/v1/classify',
    summary: 'Classify one image',
    description: `Send the image as a raw PNG/JPEG/WebP body (the format is checked against the bytes; application/octet-stream: read from the bytes), as multipart/form-data (one file field \`image\`), or as JSON \`{ image: Pixels, ...options }\`. Fields are validated strictly (unknown fields and values are 400s). Images that are not the model's size are scaled to cover it (Lanczos-3) and centre-cropped; alpha is composited onto white. Bodies up to ${cfg.maxBodyBytes} bytes; requests whose estimated work exceeds the server's limit (GET /v1/model) are refused with 400; each request or batch has ${cfg.timeoutMs} ms.`,
    request: {
      query,
      body: {
        content: {
          'image/png': { schema: z.string().openapi({ format: 'binary' }) },
          'image/jpeg': { schema: z.string().openapi({ format: 'binary' }) },
          'image/webp': { schema: z.string().openapi({ format: 'binary' }) },
          'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) },
          'multipart/form-data': { schema: z.object({ image: z.string().openapi({ format: 'binary' }) }) },
          'application/json': { schema: z.object({ image: Pixels, ...Options }) },
        },
      },
    },
    responses: { 200: { description: 'the prediction', content: { 'application/json': { schema: Result } } }, ...errors },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/classify/batch',
    summary: `Classify up to ${cfg.maxBatch} images`,
    request: {
      query,
      body: {
        content: {
          'multipart/form-data': { schema: z.object({ images: z.array(z.string().openapi({ format: 'binary' })) }) },
          'application/json': { schema: z.object({ images: z.array(Pixels), ...Options }) },
        },
      },
    },
    responses: {
      200: { description: 'one result per image, in order', content: { 'application/json': { schema: z.object({ results: z.array(Result) }) } } },
      ...errors,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/model',
    summary: 'The model: config.json and MODEL_CARD.md',
    responses: {
      200: {
        description: 'config and card',
        content: { 'application/json': { schema: z.object({ config: z.record(z.string(), z.unknown()), card: z.string() }) } },
      },
    },
  });
  r.registerPath({ method: 'get', path: '/healthz', summary: 'Liveness', responses: { 200: { description: 'the process is up' } } });
  r.registerPath({
    method: 'get',
    path: '/readyz',
    summary: 'Readiness (model loaded)',
    responses: { 200: { description: 'ready' }, 503: { description: 'loading or shutting down' } },
  });
  r.registerPath({ method: 'get', path: '/metrics', summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format' } } });
  app.doc('/openapi.json', {
    openapi: '3.0.0',
    info: {
      title: 'Robust Diffusion Classifier API',
      version: '1.0.0',
      description: 'Classify images with the diffusion classifier (DC) or the robust diffusion classifier (RDC = DC ∘ LM), on ONNX Runtime.',
    },
  });
}
