/**
 * What a request may send, derived from the declarations of the options (core's `ClassifyFields`
 * and `CertifyOptions`, the attacks package's `OneImageFields`): the routes validate with these
 * schemas (query strings and form fields through `textFields`, JSON bodies directly) and the
 * OpenAPI document is generated from them. Only the image's JSON form is the API's own.
 *
 * @example
 * const opts = parseWith(ClassifyQuery, c.req.queries(), 'bad_options', 'query');
 */
import { z } from '@hono/zod-openapi';
import { CERTIFY_REQUEST_DEFAULTS, CertifyOptions, ClassifyFields } from '@rdc/core/runtime';
import { OneImageFields, TrueLabel } from '@rdc/attacks';
import { requestFields, textFields } from './text-fields.js';

/** A model's name: its folder's name under models/ (default: `default`). */
export const ModelName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a model name: letters, digits, _ . - (GET /v1/models lists them)')
  .openapi({ description: 'the model (GET /v1/models lists them; default: `default`)' });

/** The options every classifying route takes: core's `ClassifyFields` and the model. */
export const RouteOptions = ClassifyFields.extend({ model: ModelName.optional() });
export type RouteOptions = z.infer<typeof RouteOptions>;

/** The classification options as query parameters or multipart text fields. */
export const ClassifyQuery = textFields(RouteOptions).openapi('ClassifyQuery');

/** JSON pixels: base64 of uint8 (0–255) or float32 (0–1) values, shape [C, H, W] (CHW) or [H, W, C] (HWC). */
export const Pixels = z
  .strictObject({
    data: z.string().openapi({ description: 'base64 of the pixel values (standard alphabet, padded)' }),
    dtype: z.enum(['uint8', 'float32']).default('uint8').openapi({ description: 'uint8 0–255 or float32 0–1' }),
    shape: z
      .array(z.number().int().positive())
      .length(3)
      .openapi({ example: [3, 32, 32], description: '[C, H, W] (CHW) or [H, W, C] (HWC), sizes > 0' }),
    layout: z.enum(['CHW', 'HWC']).default('CHW'),
  })
  .openapi('Pixels');
export type Pixels = z.infer<typeof Pixels>;

const d = CERTIFY_REQUEST_DEFAULTS;
/** `POST /v1/certify`'s options: core's certification settings; a request's defaults are `CERTIFY_REQUEST_DEFAULTS`. */
export const CertifyFields = z.strictObject({
  model: ModelName.optional(),
  ...requestFields(CertifyOptions, ['base', 'sigma', 'n0', 'n', 'alpha', 'levels'], {
    base: 'default: apndc for a diffusion model, none for a CNN',
    n0: `a request's default ${d.n0}`,
    n: `a request's default ${d.n}`,
    levels: `a request's default ${d.levels}`,
  }),
  seed: ClassifyFields.shape.seed,
  label: TrueLabel.optional(),
});
export type CertifyFields = z.infer<typeof CertifyFields>;
export const CertifyQuery = textFields(CertifyFields).openapi('CertifyQuery');
export const CertifyBody = CertifyFields.extend({ image: Pixels }).openapi('CertifyBody');

/** `POST /v1/attack`'s options: the classifier (as for classify) and the one-image attack's fields. */
export const AttackFields = z.strictObject({
  model: ModelName.optional(),
  defense: ClassifyFields.shape.defense,
  method: ClassifyFields.shape.method,
  ...requestFields(OneImageFields, ['attack', 'norm', 'eps', 'iterations', 'levels', 'eot', 'recheck', 'rule'], {
    levels: "default 10; at most the model's own",
  }),
  seed: ClassifyFields.shape.seed,
  label: TrueLabel.optional(),
});
export type AttackFields = z.infer<typeof AttackFields>;
export const AttackQuery = textFields(AttackFields).openapi('AttackQuery');
export const AttackBody = AttackFields.extend({ image: Pixels }).openapi('AttackBody');

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
  'multipart/form-data': { schema: z.object({ images: Binary.array() }).extend(ClassifyQuery.shape) },
  'application/json': { schema: BatchBody },
};
