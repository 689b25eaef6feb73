/**
 * What image bytes are, by their magic numbers: PNG, JPEG and WebP are accepted; GIF, TIFF,
 * AVIF/HEIF, BMP and SVG are named and refused (415; SVG is never rendered); the type a client
 * declared must agree with the bytes.
 *
 * @example
 * const type = checkImageBytes(bytes, 'image/png'); // 'image/png', or a RequestError
 */
import { brief, RequestError } from './errors.js';

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
