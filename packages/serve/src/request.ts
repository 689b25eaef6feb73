import { z } from 'zod';
import { ClassifyFields, ClassifyOptions } from '@rdc/core/runtime';

/**
 * What a request may say, validated strictly: unknown fields, wrong JSON types and unknown enum
 * values are errors that name the field (no silent coercion). Query strings and multipart fields
 * are text: `levels` and `seed` there must be decimal digits, and become integers (the only
 * conversion). Echoed values are cut short.
 *
 * @example
 * const opts = optionsFromText(c.req.query()); // { defense: 'rdc', levels: 25 } from ?levels=25
 */

/** An error in what the client sent: the API answers it with `status` and `{ error: { code, message } }`. */
export class RequestError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 413 | 415,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A value as it may appear inside an error message: JSON, at most `max` characters. */
export function brief(value: unknown, max = 80): string {
  let s: string;
  try {
    s = typeof value === 'string' ? JSON.stringify(value.length > max ? value.slice(0, max) : value) : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** zod issues as one short message naming each field. */
export function issuesMessage(error: z.ZodError, prefix = ''): string {
  const parts = error.issues.slice(0, 5).map((i) => {
    const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(body)';
    const keys =
      i.code === 'unrecognized_keys'
        ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys
            .slice(0, 5)
            .map((k) => brief(k, 40))
            .join(', ')}`
        : i.message;
    return `${path}: ${keys}`;
  });
  const more = error.issues.length > 5 ? `; and ${error.issues.length - 5} more` : '';
  return `${parts.join('; ')}${more}`.slice(0, 600);
}

/** JSON pixels: base64 of uint8 (0–255) or float32 (0–1) values, shape [C, H, W] (CHW) or [H, W, C] (HWC). */
export const JsonPixels = z.strictObject({
  data: z.string(),
  dtype: z.enum(['uint8', 'float32']).default('uint8'),
  shape: z.array(z.number().int().positive()).length(3),
  layout: z.enum(['CHW', 'HWC']).default('CHW'),
});
export type JsonPixels = z.infer<typeof JsonPixels>;

const OPTION_KEYS = ['defense', 'method', 'levels', 'seed', 'explain'] as const;
const INTEGER_KEYS = new Set(['levels', 'seed']);
const BOOLEAN_KEYS = new Set(['explain']);

export const ClassifyBody = ClassifyFields.extend({ image: JsonPixels });
export const BatchBody = ClassifyFields.extend({ images: z.array(JsonPixels).min(1) });

/** Classification options from text fields (the query string, multipart fields). `extra` names other allowed fields. */
export function optionsFromText(fields: Record<string, string>, where = 'query', extra: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (extra.includes(k)) continue;
    if (!(OPTION_KEYS as readonly string[]).includes(k))
      throw new RequestError(400, 'unknown_option', `${where}: unknown field ${brief(k, 40)}; the options are ${OPTION_KEYS.join(', ')}`);
    if (INTEGER_KEYS.has(k)) {
      if (!/^\d{1,10}$/.test(v))
        throw new RequestError(400, 'bad_options', `${where}.${k}: expected a non-negative integer in decimal digits, got ${brief(v)}`);
      out[k] = Number(v);
    } else if (BOOLEAN_KEYS.has(k)) {
      if (!/^(true|false|1|0)$/.test(v)) throw new RequestError(400, 'bad_options', `${where}.${k}: expected true, false, 1 or 0, got ${brief(v)}`);
      out[k] = v === 'true' || v === '1';
    } else out[k] = v;
  }
  return out;
}

/** Options from text fields and (taking precedence) a JSON body, validated together. */
export function parseOptions(text: Record<string, unknown>, json: Record<string, unknown> = {}): ClassifyOptions {
  const r = ClassifyOptions.safeParse({ ...text, ...json });
  if (!r.success) throw new RequestError(400, 'bad_options', issuesMessage(r.error));
  return r.data;
}

/** Parses a JSON body against a schema (400 naming the fields on failure). */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const r = schema.safeParse(body);
  if (!r.success) throw new RequestError(400, 'bad_json', issuesMessage(r.error));
  return r.data;
}

/** The image formats accepted, by their magic bytes. */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

/** What the bytes are, by their magic numbers: an accepted type, the name of a refused format, or null. */
export function sniffImage(b: Uint8Array): ImageType | { refused: string } | null {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  if (b.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return { refused: 'GIF' };
  if (b.length >= 4 && (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*')) return { refused: 'TIFF' };
  if (b.length >= 12 && ascii(4, 8) === 'ftyp') return { refused: 'AVIF/HEIF' };
  if (b.length >= 2 && ascii(0, 2) === 'BM') return { refused: 'BMP' };
  const head = ascii(0, Math.min(b.length, 256)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg')) || head.startsWith('<!doctype svg')) return { refused: 'SVG' };
  return null;
}

/**
 * Checks image bytes against the accepted formats and against the type the client declared
 * (`declared`: a content type, or undefined when none was given, e.g. a multipart part without one).
 */
export function checkImageBytes(bytes: Uint8Array, declared?: string): ImageType {
  if (bytes.length === 0) throw new RequestError(400, 'empty_body', 'the image is empty; send a PNG, JPEG or WebP file');
  const kind = sniffImage(bytes);
  if (kind && typeof kind === 'object') throw new RequestError(415, 'unsupported_image', `${kind.refused} images are not accepted: send PNG, JPEG or WebP`);
  if (!kind) throw new RequestError(400, 'bad_image', 'the bytes are not a PNG, JPEG or WebP image (unknown signature); send one of those');
  const type = declared?.split(';')[0].trim().toLowerCase();
  if (type && type !== 'application/octet-stream' && type !== kind)
    throw new RequestError(400, 'type_mismatch', `the image is ${kind.slice(6).toUpperCase()} but was declared as ${brief(type, 40)}; declare the type it is`);
  return kind;
}
