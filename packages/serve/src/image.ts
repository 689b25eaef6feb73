/**
 * Turning uploads into model input: pixels [1, C, H, W] in [0, 1].
 *
 * Accepted: PNG, JPEG and WebP, recognised by their magic bytes (which must agree with the declared
 * type); nothing else is handed to the decoder (SVG is never rendered), and a file the decoder warns
 * about (truncated data, a header that claims more pixels than the data holds) is refused.
 *
 * Resizing rule (documented in the README): images that are not exactly the model's size are scaled
 * so that they cover it (the shorter side matches), with Lanczos-3, then centre-cropped; an alpha
 * channel is composited onto white; greyscale is replicated to three channels; EXIF orientation is
 * applied.
 *
 * @example
 * const x = await decodeImage(pngBytes, [3, 32, 32]);
 */
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { InputError, type Tensor } from '@rdc/core/runtime';
import { checkImageBytes } from './http/sniff.js';
import type { Pixels } from './contract/requests.js';

// libvips keeps up to 50 MB of recent operations by default: every upload is new, so a cache only
// grows the server's memory with what clients send.
sharp.cache(false);

/** Refuse images larger than this many pixels before decoding them (decompression bombs). */
export const MAX_INPUT_PIXELS = 40_000_000;

async function toTensor(pipeline: Sharp, dims: readonly [number, number, number]): Promise<Tensor> {
  const [c, h, w] = dims;
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await pipeline
      .rotate()
      .flatten({ background: '#ffffff' })
      .resize(w, h, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new InputError(`the image could not be decoded (${(err as Error).message.split('\n')[0]}); send a valid PNG, JPEG or WebP`, 'bad_image');
  }
  const ch = raw.info.channels;
  const out = new Float32Array(c * h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(k * h + y) * w + x] = raw.data[(y * w + x) * ch + Math.min(k, ch - 1)] / 255;
  return { data: out, dims: [1, c, h, w] };
}

/** Decodes PNG, JPEG or WebP bytes; `declared` is the type the client gave them, if any. */
export async function decodeImage(bytes: Uint8Array, dims: readonly [number, number, number], declared?: string): Promise<Tensor> {
  checkImageBytes(bytes, declared);
  return toTensor(sharp(bytes, { failOn: 'warning', limitInputPixels: MAX_INPUT_PIXELS, pages: 1 }), dims);
}

/**
 * Whether `s` is standard padded base64 (alphabet A–Z a–z 0–9 + /, length a multiple of 4, at most
 * two '=' and nothing after them): one linear scan, so megabytes of it cost no stack.
 */
export function isBase64(s: string): boolean {
  if (s.length % 4 !== 0) return false;
  let pad = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 61) pad++;
    else if (pad > 0 || !((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47)) return false;
  }
  return pad <= 2;
}

/** Turns validated JSON pixels (`Pixels`) into model input. */
export async function decodeJsonPixels(p: Pixels, dims: readonly [number, number, number]): Promise<Tensor> {
  if (!isBase64(p.data)) throw new InputError('image.data: must be base64 (standard alphabet, padded, nothing after the padding)', 'bad_json');
  const { dtype, layout } = p;
  const [c, h, w] = layout === 'CHW' ? p.shape : [p.shape[2], p.shape[0], p.shape[1]];
  if (c !== 1 && c !== 3) throw new InputError(`images need 1 or 3 channels, got ${c}`, 'bad_shape');
  if (h * w > MAX_INPUT_PIXELS) throw new InputError(`the image has ${h * w} pixels, more than the limit ${MAX_INPUT_PIXELS}`, 'too_large');

  const bytes = Buffer.from(p.data, 'base64');
  const n = c * h * w;
  const want = dtype === 'uint8' ? n : 4 * n;
  if (bytes.length !== want)
    throw new InputError(`data has ${bytes.length} bytes; a ${dtype} image of shape ${JSON.stringify(p.shape)} needs ${want}`, 'bad_shape');
  const values = new Float32Array(n);
  if (dtype === 'uint8') for (let i = 0; i < n; i++) values[i] = bytes[i] / 255;
  else {
    const f = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    for (let i = 0; i < n; i++) {
      const v = f[i];
      if (!(v >= 0 && v <= 1)) throw new InputError(`pixel ${i} is ${v}: float32 pixels must be finite and in [0, 1]`, 'bad_pixels');
      values[i] = v;
    }
  }
  if (h === dims[1] && w === dims[2] && c === dims[0]) {
    // The model's own size: keep full float precision, no resampling.
    const out = new Float32Array(n);
    for (let k = 0; k < c; k++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[(k * h + y) * w + x] = layout === 'CHW' ? values[(k * h + y) * w + x] : values[(y * w + x) * c + k];
    return { data: out, dims: [1, c, h, w] };
  }
  // Another size: resample by the same rule as uploads (through 8-bit HWC).
  const hwc = Buffer.alloc(n);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) {
        hwc[(y * w + x) * c + k] = Math.round(255 * (layout === 'CHW' ? values[(k * h + y) * w + x] : values[(y * w + x) * c + k]));
      }
  return toTensor(sharp(hwc, { raw: { width: w, height: h, channels: c as 1 | 3 } }), dims);
}

/**
 * A tensor [1, C, H, W] of values in [0, 1] (clamped) as PNG bytes.
 *
 * @example
 * writeFileSync('cat.png', await pngBytes(pixels));
 */
export async function pngBytes(t: Tensor): Promise<Buffer> {
  const [, c, h, w] = t.dims;
  const hwc = Buffer.alloc(h * w * c);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) hwc[(y * w + x) * c + k] = Math.round(255 * Math.min(1, Math.max(0, t.data[(k * h + y) * w + x])));
  return sharp(hwc, { raw: { width: w, height: h, channels: c as 1 | 3 } })
    .png()
    .toBuffer();
}

/**
 * `pngBytes` as a data URL (for `explain`: what the model saw).
 *
 * @example
 * const url = await pngDataUrl(pixels); // 'data:image/png;base64,…'
 */
export async function pngDataUrl(t: Tensor): Promise<string> {
  return `data:image/png;base64,${(await pngBytes(t)).toString('base64')}`;
}

/**
 * The change from x0 to x made visible: 0.5 + gain·(x − x0) as a PNG data URL, the gain scaling the
 * largest change to half the range; with its ℓ∞ and ℓ2 sizes (pixel units).
 */
export async function visibleChange(x: Float32Array, x0: Float32Array, dims: readonly number[]) {
  const delta = x.map((v, i) => v - x0[i]);
  const linf = delta.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const gain = linf > 0 ? 0.5 / linf : 1;
  const image = await pngDataUrl({ data: delta.map((v) => 0.5 + gain * v), dims });
  return { image, gain, linf, l2: Math.sqrt(delta.reduce((a, v) => a + v * v, 0)) };
}
