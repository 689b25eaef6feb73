/**
 * Reading a request: its options (the query string, multipart text fields, JSON fields — each
 * validated by the contract's schemas) and its images, as bytes to decode (raw bodies, multipart
 * files) or JSON pixels, still undecoded: the model the options name decides the size.
 *
 * @example
 * const { options, images } = await readRequest(c, { batch: false, maxImages: 1, bounds });
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import { BatchBody, ClassifyBody, ClassifyQuery, type Pixels, type RouteOptions } from '../contract/requests.js';
import { brief, ClientGoneError, issuesMessage, parseWith, RequestError } from './errors.js';
import { parseBoundedJson, type JsonBounds } from './json.js';
import { IMAGE_TYPES } from './sniff.js';

export type Options = RouteOptions;

/** One image of a request, not yet decoded. */
export type ImageSource = { bytes: Uint8Array; declared?: string } | { pixels: Pixels };

const ACCEPTED = 'send image/png, image/jpeg, image/webp (or application/octet-stream), multipart/form-data or application/json';

function mediaType(c: Context): string {
  return (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
}

/** Reads the body; a client that hangs up while sending it becomes a ClientGoneError. */
async function readBody<T>(c: Context, read: () => Promise<T>, invalid: RequestError): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (c.req.raw.signal.aborted) throw new ClientGoneError();
    if (err instanceof RequestError) throw err;
    throw invalid;
  }
}

/** The query string's options (a key given twice or an unknown one is a 400). */
export function queryOptions(c: Context, schema: z.ZodType = ClassifyQuery): Record<string, unknown> {
  // Every key as given, an empty one included, with all its values.
  const fields: Record<string, string[]> = {};
  for (const [k, v] of new URL(c.req.url).searchParams) (fields[k] ??= []).push(v);
  return fieldsOf(schema, fields, 'query');
}

/** Text fields parsed by a schema of text fields; an unknown field is `unknown_option`, naming the known ones. */
function fieldsOf(schema: z.ZodType, fields: Record<string, string[]>, where: string): Record<string, unknown> {
  const r = schema.safeParse(fields);
  if (r.success) return r.data as Record<string, unknown>;
  const unknown = r.error.issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown) {
    const known = Object.keys((schema as z.ZodObject).shape ?? {});
    throw new RequestError(400, 'unknown_option', `${where}: ${issuesMessage(r.error).replace(/^\(body\): /, '')}; the options are ${known.join(', ')}`);
  }
  throw new RequestError(400, 'bad_options', issuesMessage(r.error, where));
}

async function readForm(c: Context): Promise<Record<string, (string | File)[]>> {
  const unparsable = new RequestError(400, 'bad_multipart', 'the multipart/form-data body cannot be parsed (a missing or wrong boundary, or a truncated body)');
  const bytes = await readBody(c, () => c.req.arrayBuffer(), unparsable);
  refuseEncodedParts(new Uint8Array(bytes));
  // Parsed from the bytes read (and checked) above.
  const form = await readBody(c, () => new Response(bytes, { headers: { 'content-type': c.req.header('content-type') ?? '' } }).formData(), unparsable);
  const out: Record<string, (string | File)[]> = {};
  for (const [k, v] of form.entries()) (out[k] ??= []).push(v);
  return out;
}

/**
 * Parts are taken as declared: raw bytes are bytes. A part header `Content-Transfer-Encoding` other
 * than binary, 8bit or 7bit (base64, quoted-printable: RFC 7578 retired them) would have the parser
 * decode the part, so a body could carry base64 where raw bytes are expected: refused.
 */
function refuseEncodedParts(bytes: Uint8Array): void {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const lower = text.toLowerCase();
  for (let at = lower.indexOf('content-transfer-encoding'); at >= 0; at = lower.indexOf('content-transfer-encoding', at + 1)) {
    // Only a header line counts: at the start of a line, inside a part's header block.
    if (at < 2 || text.slice(at - 2, at) !== '\r\n') continue;
    const end = lower.indexOf('\r\n', at);
    const value = lower.slice(lower.indexOf(':', at) + 1, end < 0 ? undefined : end).trim();
    if (!['binary', '8bit', '7bit'].includes(value))
      throw new RequestError(400, 'bad_multipart', `a part declares Content-Transfer-Encoding ${brief(value, 20)}: send its bytes as they are (binary)`);
  }
}

/** A form's text fields apart from its file fields. */
function textFieldsOf(form: Record<string, (string | File)[]>, files: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, values] of Object.entries(form)) {
    if (k === files) continue;
    if (values.some((v) => typeof v !== 'string')) throw new RequestError(400, 'bad_multipart', `field ${brief(k, 40)}: expected text, got a file`);
    out[k] = values as string[];
  }
  return out;
}

/**
 * The type a multipart file part declared: none when it gave no Content-Type (which the form parser
 * reports as text/plain or application/octet-stream): then the bytes decide.
 */
function declaredType(f: File): string | undefined {
  const t = f.type.split(';')[0].trim().toLowerCase();
  return t === '' || t === 'text/plain' || t === 'application/octet-stream' ? undefined : t;
}

/**
 * The options and images of a classifying request. `batch`: multipart file fields `images` or JSON
 * `images: [...]`; else one image (raw body, multipart field `image`, or JSON `image`).
 */
export async function readRequest(
  c: Context,
  o: { batch: boolean; maxImages: number; bounds: JsonBounds; querySchema?: z.ZodType; bodySchema?: z.ZodType },
): Promise<{ options: Options; images: ImageSource[] }> {
  const type = mediaType(c);
  const query = queryOptions(c, o.querySchema);
  const tooMany = () => new RequestError(413, 'too_many_images', `at most ${o.maxImages} images per batch`);
  if (!o.batch && ((IMAGE_TYPES as readonly string[]).includes(type) || type === 'application/octet-stream')) {
    const bytes = new Uint8Array(await readBody(c, () => c.req.arrayBuffer(), new RequestError(400, 'bad_body', 'the body could not be read')));
    return { options: query as Options, images: [{ bytes, declared: type }] };
  }
  if (type === 'multipart/form-data') {
    const field = o.batch ? 'images' : 'image';
    const form = await readForm(c);
    const files = form[field] ?? [];
    if (files.some((v) => typeof v === 'string')) throw new RequestError(400, 'bad_multipart', `field '${field}' must be a file`);
    if (files.length === 0 || (!o.batch && files.length !== 1))
      throw new RequestError(
        400,
        'missing_image',
        o.batch ? "the form needs one or more file fields named 'images'" : "the form needs exactly one file field named 'image'",
      );
    if (files.length > o.maxImages) throw tooMany();
    const fields = fieldsOf(o.querySchema ?? ClassifyQuery, textFieldsOf(form, field), 'form');
    const images = await Promise.all((files as File[]).map(async (f) => ({ bytes: new Uint8Array(await f.arrayBuffer()), declared: declaredType(f) })));
    return { options: { ...query, ...fields } as Options, images };
  }
  if (type === 'application/json') {
    const text = await readBody(c, () => c.req.text(), new RequestError(400, 'bad_body', 'the body could not be read'));
    const raw = parseBoundedJson(text, { ...o.bounds, maxItems: Math.max(o.bounds.maxItems, o.maxImages + 1) });
    if (
      o.batch &&
      raw &&
      typeof raw === 'object' &&
      Array.isArray((raw as { images?: unknown }).images) &&
      (raw as { images: unknown[] }).images.length > o.maxImages
    )
      throw tooMany();
    const body = parseWith(o.bodySchema ?? (o.batch ? BatchBody : ClassifyBody), raw) as Record<string, unknown> & { image?: Pixels; images?: Pixels[] };
    const { image, images, ...fields } = body;
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    return { options: { ...query, ...defined } as Options, images: (images ?? [image!]).map((pixels) => ({ pixels })) };
  }
  throw new RequestError(
    415,
    'unsupported_media_type',
    type ? `content-type ${brief(type, 60)} is not accepted: ${ACCEPTED}` : `missing content-type: ${ACCEPTED}`,
  );
}
