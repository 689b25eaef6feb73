/**
 * A schema of text fields (a query string, multipart fields) from a schema of values: integers must
 * be decimal digits, numbers decimals or fractions like 8/255, booleans true/false/1/0, a field
 * given twice is refused; then the value schema applies. Unknown fields are refused (the object
 * stays strict).
 *
 * @example
 * const ClassifyQuery = textFields(RouteOptions);
 */
import { z } from '@hono/zod-openapi';

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

/**
 * Request fields from declared option schemas: the fields named, each optional with its default
 * removed (the server applies the defaults, some of them the model's), its type, bounds and
 * description kept; `notes` adds a word to a field's description (a request's own default).
 *
 * @example
 * const CertifyFields = requestFields(CertifyOptions, ['base', 'sigma', 'n0', 'n', 'alpha', 'levels']);
 */
export function requestFields<T extends z.ZodRawShape, K extends keyof T & string>(
  schema: z.ZodObject<T>,
  keys: readonly K[],
  notes: Partial<Record<K, string>> = {},
): { [P in K]: z.ZodOptional<z.ZodType<z.output<T[P]>>> } {
  const out: Record<string, z.ZodType> = {};
  for (const key of keys) {
    const field = schema.shape[key] as unknown as z.ZodType;
    let base: z.ZodType = field;
    while (base instanceof z.ZodOptional || base instanceof z.ZodDefault || base instanceof z.ZodNullable) base = base.unwrap() as z.ZodType;
    const description = [field.description ?? base.description, notes[key]].filter(Boolean).join('; ');
    out[key] = base.optional().openapi({ description });
  }
  return out as { [P in K]: z.ZodOptional<z.ZodType<z.output<T[P]>>> };
}
