/**
 * The HTTP contract, declared once: the zod schemas of every request and response. The routes
 * validate requests with them (query strings and form fields through `textFields`, JSON bodies
 * directly), the OpenAPI document is generated from them (`defineRoute`), and the tests validate
 * real responses against that document.
 *
 * @example
 * const opts = parseWith(ClassifyQuery, c.req.queries(), 'bad_options', 'query');
 */
import { z } from '@hono/zod-openapi';
import { CertifyOptions, ClassifyFields, MAX_SEED, SmoothingBaseName } from '@rdc/core/runtime';

/** A model's name: its folder's name under models/ (default: `default`). */
export const ModelName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a model name: letters, digits, _ . - (GET /v1/models lists them)')
  .openapi({ description: 'the model (GET /v1/models lists them; default: `default`)' });

/** The options every classifying route takes: core's `ClassifyFields` and the model. */
export const RouteOptions = ClassifyFields.extend({ model: ModelName.optional() });

/**
 * A schema of text fields (a query string, multipart fields) from a schema of values: integers must
 * be decimal digits, booleans true/false/1/0, a field given twice is refused; then the value schema
 * applies. Unknown fields are refused (the object stays strict).
 */
export function textFields<T extends z.ZodRawShape>(schema: z.ZodObject<T>) {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(schema.shape) as [string, z.ZodType][]) {
    let base: z.ZodType = field;
    while (base instanceof z.ZodOptional || base instanceof z.ZodDefault) base = base.unwrap() as z.ZodType;
    const kind = base instanceof z.ZodNumber ? (base.isInt ? 'integer' : 'number') : base instanceof z.ZodBoolean ? 'boolean' : 'text';
    shape[key] = z
      .preprocess((v, ctx) => {
        if (Array.isArray(v)) {
          if (v.length === 1) v = v[0];
          else {
            ctx.addIssue({ code: 'custom', message: `given ${v.length} times: give each field once` });
            return z.NEVER;
          }
        }
        if (typeof v !== 'string') return v;
        if (kind === 'integer') {
          if (/^\d{1,10}$/.test(v)) return Number(v);
          ctx.addIssue({ code: 'custom', message: `expected a non-negative integer in decimal digits, got ${JSON.stringify(v.slice(0, 40))}` });
          return z.NEVER;
        }
        if (kind === 'number') {
          const m = /^(\d{1,10}(?:\.\d{1,20})?)(?:\/(\d{1,10}))?$/.exec(v);
          if (m && (m[2] === undefined || Number(m[2]) > 0)) return Number(m[1]) / (m[2] ? Number(m[2]) : 1);
          ctx.addIssue({ code: 'custom', message: `expected a non-negative decimal number or a fraction like 8/255, got ${JSON.stringify(v.slice(0, 40))}` });
          return z.NEVER;
        }
        if (kind === 'boolean') {
          if (/^(true|false|1|0)$/.test(v)) return v === 'true' || v === '1';
          ctx.addIssue({ code: 'custom', message: `expected true, false, 1 or 0, got ${JSON.stringify(v.slice(0, 40))}` });
          return z.NEVER;
        }
        return v;
      }, base)
      .optional()
      .openapi({ description: field.description });
  }
  return z.strictObject(shape);
}

/** The classification options as query parameters or multipart text fields. */
export const ClassifyQuery = textFields(RouteOptions).openapi('ClassifyQuery');

export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).openapi('Error');

/** JSON pixels: base64 of uint8 (0–255) or float32 (0–1) values, shape [C, H, W] (CHW) or [H, W, C] (HWC). */
export const Pixels = z
  .strictObject({
    data: z
      .string()
      .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'must be base64 (standard alphabet, padded, nothing after the padding)')
      .openapi({ description: 'base64 of the pixel values' }),
    dtype: z.enum(['uint8', 'float32']).default('uint8').openapi({ description: 'uint8 0–255 or float32 0–1' }),
    shape: z
      .array(z.number().int().positive())
      .length(3)
      .openapi({ example: [3, 32, 32], description: '[C, H, W] (CHW) or [H, W, C] (HWC), sizes > 0' }),
    layout: z.enum(['CHW', 'HWC']).default('CHW'),
  })
  .openapi('Pixels');
export type Pixels = z.infer<typeof Pixels>;

/** `POST /v1/certify`'s options: core's certification settings with defaults that fit the default work cap. */
export const CertifyFields = z.strictObject({
  model: ModelName.optional(),
  base: SmoothingBaseName.optional().openapi({ description: 'the base classifier: apndc (default for a diffusion model), epndc, dc, or none (a CNN)' }),
  sigma: CertifyOptions.shape.sigma.unwrap().optional().openapi({ description: 'τ, the smoothing noise in pixel units (default 0.25)' }),
  n0: z.number().int().min(1).max(1000).optional().openapi({ description: 'draws that select the top class (default 20)' }),
  n: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .openapi({ description: 'draws that bound its probability (default 100; the certifiable radius grows with n)' }),
  alpha: CertifyOptions.shape.alpha.unwrap().optional().openapi({ description: 'failure probability of the certificate (default 0.001)' }),
  levels: z.number().int().min(2).max(1000).optional().openapi({ description: 'σ levels of the DC (apndc, epndc: evaluated levels above 2τ; default 10)' }),
  seed: ClassifyFields.shape.seed,
});
export const CertifyQuery = textFields(CertifyFields).openapi('CertifyQuery');
export const CertifyBody = CertifyFields.extend({ image: Pixels }).openapi('CertifyBody');

export const CertifyResult = z
  .object({
    model: z.string(),
    prediction: z.number().int().openapi({ description: 'the certified class; −1: abstained' }),
    label: z.string().nullable().openapi({ description: "the certified class's name (null on abstention)" }),
    radius: z.number().openapi({
      description: 'ℓ2 radius (pixel units) within which no perturbation changes the smoothed answer, except with probability alpha; 0 on abstention',
    }),
    pALower: z.number(),
    nA: z.number().int(),
    n: z.number().int(),
    n0: z.number().int(),
    sigma: z.number(),
    alpha: z.number(),
    base: SmoothingBaseName,
    levels: z.number().int().nullable(),
    seed: z.number().int(),
    timings: z.object({ decodeMs: z.number(), queueMs: z.number(), certifyMs: z.number(), totalMs: z.number() }),
  })
  .openapi('CertifyResult');
export type CertifyResult = z.infer<typeof CertifyResult>;

/** The largest ε of `POST /v1/attack`, by norm (pixel units). */
export const MAX_ATTACK_EPS = { linf: 16 / 255, l2: 1.0 } as const;
/** The most iterations `POST /v1/attack` runs. */
export const MAX_ATTACK_ITERATIONS = 50;

/** `POST /v1/attack`'s options: the threat model, the attack and its budget, how its answer is counted. */
export const AttackFields = z.strictObject({
  model: ModelName.optional(),
  defense: ClassifyFields.shape.defense,
  method: ClassifyFields.shape.method,
  norm: z.enum(['linf', 'l2']).optional().openapi({ description: 'the threat model: ℓ∞ (default) or ℓ2' }),
  eps: z
    .number()
    .positive()
    .max(MAX_ATTACK_EPS.l2)
    .optional()
    .openapi({
      description: `the perturbation budget in pixel units (default 8/255 for ℓ∞, 0.5 for ℓ2; at most 16/255 for ℓ∞, ${MAX_ATTACK_EPS.l2} for ℓ2); a fraction like 8/255 is accepted`,
    }),
  attack: z.enum(['pgd', 'apgd-ce', 'apgd-dlr']).optional().openapi({ description: 'the white-box attack (default apgd-ce)' }),
  iterations: z
    .number()
    .int()
    .min(1)
    .max(MAX_ATTACK_ITERATIONS)
    .optional()
    .openapi({ description: `gradient steps (default 10, at most ${MAX_ATTACK_ITERATIONS})` }),
  levels: z.number().int().min(2).max(1000).optional().openapi({ description: "σ levels of the DC (default 10; at most the model's own)" }),
  eot: z.number().int().min(1).max(8).optional().openapi({ description: 'draws averaged per gradient (Expectation over Transformation; default 1)' }),
  recheck: z
    .number()
    .int()
    .min(1)
    .max(15)
    .optional()
    .openapi({ description: 'k: fresh classifications of the clean and of the adversarial image (default 5)' }),
  rule: z
    .enum(['single', 'majority', 'all'])
    .optional()
    .openapi({ description: 'when the k adversarial draws count as the clean answer: the first draw, most of them (default), or all' }),
  seed: ClassifyFields.shape.seed,
});
export const AttackQuery = textFields(AttackFields).openapi('AttackQuery');
export const AttackBody = AttackFields.extend({ image: Pixels }).openapi('AttackBody');

/** An answer from k fresh draws: the most frequent class with its mean probability, and each draw's class. */
export const DrawnTop = z
  .object({
    top: z.object({ index: z.number().int(), label: z.string(), probability: z.number() }),
    draws: z.array(z.number().int()).openapi({ description: "each fresh draw's class" }),
    seeds: z
      .array(z.number().int())
      .openapi({ description: "each draw's seed: /v1/classify with that seed on the same image (for `attacked`, the returned PNG) gives that draw's class" }),
  })
  .openapi('DrawnTop');

export const AttackResult = z
  .object({
    model: z.string(),
    defense: z.enum(['none', 'dc', 'rdc']),
    options: z.object({
      norm: z.enum(['linf', 'l2']),
      eps: z.number(),
      attack: z.enum(['pgd', 'apgd-ce', 'apgd-dlr']),
      iterations: z.number().int(),
      levels: z.number().int().nullable(),
      eot: z.number().int(),
      recheck: z.number().int(),
      rule: z.enum(['single', 'majority', 'all']),
      seed: z.number().int(),
    }),
    input: z.string().openapi({ description: 'the input as attacked (PNG data URL, 8-bit): distances are measured from it' }),
    adversarial: z.object({
      image: z.string().openapi({ description: 'the adversarial image (PNG data URL, 8-bit, inside the ε ball and [0, 1])' }),
      linf: z.number().openapi({ description: 'ℓ∞ distance from the input, pixel units' }),
      l2: z.number().openapi({ description: 'ℓ2 distance from the input, pixel units' }),
      perturbation: z.string().openapi({ description: 'the perturbation made visible: 0.5 + δ·perturbationGain (PNG data URL)' }),
      perturbationGain: z.number(),
    }),
    clean: DrawnTop,
    attacked: DrawnTop.openapi({ description: 'computed on exactly the returned PNG' }),
    changed: z.boolean().openapi({ description: 'whether the adversarial draws do not count as the clean answer under the rule' }),
    iterations: z.number().int(),
    queries: z.number().int().openapi({ description: 'classifier calls, re-checks included' }),
    found: z.boolean().openapi({ description: "whether the attack's own (possibly noisy) evaluation saw a change; not counted" }),
    timings: z.object({ decodeMs: z.number(), queueMs: z.number(), attackMs: z.number(), totalMs: z.number() }),
  })
  .openapi('AttackResult');
export type AttackResult = z.infer<typeof AttackResult>;

/** One server-sent `progress` event of `POST /v1/attack`. */
export const AttackProgress = z
  .object({
    iteration: z.number().int(),
    iterations: z.number().int(),
    loss: z.number(),
    answer: z
      .object({ index: z.number().int(), label: z.string(), probability: z.number() })
      .nullable()
      .openapi({ description: "the current iterate's class as the attack saw it (one draw: noisy on the DC and the RDC)" }),
  })
  .openapi('AttackProgress');

export const ClassifyBody = RouteOptions.extend({ image: Pixels }).openapi('ClassifyBody');
export const BatchBody = RouteOptions.extend({ images: z.array(Pixels).min(1) }).openapi('BatchBody');

const Binary = z.string().openapi({ format: 'binary' });

/** One image in any accepted form. */
export const ImageContent = {
  'image/png': { schema: Binary },
  'image/jpeg': { schema: Binary },
  'image/webp': { schema: Binary },
  'application/octet-stream': { schema: Binary },
  'multipart/form-data': { schema: z.object({ image: Binary }).extend(ClassifyQuery.shape) },
  'application/json': { schema: ClassifyBody },
};

export const BatchContent = {
  'multipart/form-data': { schema: z.object({ images: z.array(Binary) }).extend(ClassifyQuery.shape) },
  'application/json': { schema: BatchBody },
};

export const Top = z.object({ index: z.number().int(), label: z.string(), probability: z.number() }).openapi('Top');

export const ClassifyResult = z
  .object({
    model: z.string().openapi({ description: 'the model that answered' }),
    top: Top,
    probabilities: z.array(z.object({ label: z.string(), probability: z.number() })),
    logits: z.array(z.number()),
    options: z.object({
      defense: z.enum(['none', 'dc', 'rdc']),
      method: z.enum(['released', 'paper']).optional(),
      levels: z.number().int().optional().openapi({ description: 'σ levels (diffusion models)' }),
      seed: z.number().int().min(0).max(MAX_SEED),
      temperature: z.number(),
      grid: z.string().optional(),
      weighting: z.string().optional(),
    }),
    timings: z
      .object({
        decodeMs: z.number().optional(),
        queueMs: z.number().optional(),
        lmMs: z.number().optional(),
        dcMs: z.number(),
        totalMs: z.number().optional(),
      })
      .openapi({ description: 'milliseconds: decoding, waiting in the queue, LM, the classifier (dcMs; the network for a CNN), in all' }),
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
export type ClassifyResult = z.infer<typeof ClassifyResult>;

export const BatchResult = z
  .object({
    results: z.array(ClassifyResult),
    timings: z.object({ decodeMs: z.number(), totalMs: z.number() }).openapi({ description: 'milliseconds for the whole batch' }),
  })
  .openapi('BatchResult');

export const Limits = z
  .object({
    maxBodyBytes: z.number().int(),
    maxBatch: z.number().int(),
    maxWorkMacs: z.number().openapi({ description: 'the work limit of one request, multiply–accumulates (GET /v1/model gives the model’s)' }),
    timeoutMs: z.number().int(),
  })
  .openapi('Limits');

export const ModelSummary = z
  .object({
    name: z.string(),
    arch: z.enum(['unet', 'gmm', 'cnn']),
    defenses: z.array(z.enum(['none', 'dc', 'rdc'])).openapi({ description: 'what the model can run' }),
    defaultDefense: z.enum(['none', 'dc', 'rdc']),
    classes: z.array(z.string()),
    guard: z
      .object({ status: z.enum(['denoises', 'discriminative', 'unmeasured', 'not-applicable']), label: z.string().nullable() })
      .openapi({ description: 'the generative guard: whether the class heads denoise (a diffusion classifier), and the label shown if they do not' }),
    description: z.string().openapi({ description: "what the model is: its card's first paragraph (Markdown)" }),
    measured: z.record(z.string(), z.string()).openapi({ description: 'the figures `rdc eval/attack --record` wrote into the model card, by section' }),
  })
  .openapi('ModelSummary');

export const ModelInfo = ModelSummary.extend({
  config: z.record(z.string(), z.unknown()).openapi({ description: "the model folder's config.json (verified at start-up)" }),
  card: z.string().openapi({ description: 'MODEL_CARD.md as verified at start-up' }),
  limits: Limits,
}).openapi('ModelInfo');

export const ModelList = z.object({ models: z.array(ModelSummary) }).openapi('ModelList');

export const Examples = z
  .array(z.object({ label: z.string(), testIndex: z.number().int(), url: z.string() }))
  .openapi({ description: 'bundled CIFAR-10 test images for the page' });

export const Status = z.object({ status: z.string() }).openapi('Status');

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });

/** The error answers every route that reads a request may give. */
export const ERRORS = {
  400: json(ErrorBody, 'bad image, pixels, shape, options, JSON or Host; too much work'),
  403: json(ErrorBody, 'a cross-origin browser request (CORS is off unless the server allows the origin)'),
  404: json(ErrorBody, 'no such model'),
  413: json(ErrorBody, 'body too large or too many images'),
  415: json(ErrorBody, 'unsupported content type or image format'),
  503: json(ErrorBody, 'busy (queue full) or timed out; see Retry-After'),
};

export { json as jsonResponse };
