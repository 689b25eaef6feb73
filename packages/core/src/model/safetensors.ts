/**
 * A small safetensors reader and writer (float32 only): an 8-byte little-endian header length, a
 * JSON header {name: {dtype, shape, data_offsets}, __metadata__}, then the raw bytes. The header is
 * padded with spaces so the data starts 8-byte aligned. The format every ML user can open.
 *
 * @example
 * const bytes = encodeSafetensors({ 'conv.weight': w }, { step: '100' });
 * const { tensors } = decodeSafetensors(bytes);
 */
import { InputError } from '../errors.js';
import type { Tensor } from '../tensor.js';

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
  /** Absolute byte offset and length of each tensor's data in the file (for ONNX external data). */
  offsets: Record<string, { offset: number; length: number }>;
}

export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: [...t.dims], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((8 + Buffer.byteLength(json)) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, what = 'safetensors'): SafetensorsFile {
  if (bytes.length < 8) throw new InputError(`${what}: ${bytes.length} bytes is too short for a safetensors file`, 'bad_file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length)
    throw new InputError(`${what}: header length ${n} does not fit in ${bytes.length} bytes (truncated or not safetensors)`, 'bad_file');
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
  } catch {
    throw new InputError(`${what}: the header is not valid JSON`, 'bad_file');
  }
  const base = 8 + n;
  const tensors: Record<string, Tensor> = {};
  const offsets: Record<string, { offset: number; length: number }> = {};
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = info as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (dtype !== 'F32') throw new InputError(`${what}: tensor '${name}' is ${dtype}; only F32 is supported`, 'bad_file');
    const [a, b] = data_offsets;
    const count = shape.reduce((x, y) => x * y, 1);
    if (!(a >= 0 && b >= a && base + b <= bytes.length) || b - a !== count * 4) {
      throw new InputError(`${what}: tensor '${name}' has offsets [${a}, ${b}] that do not match its shape [${shape.join(', ')}] or the file size`, 'bad_file');
    }
    // Copy so the tensor is aligned and independent of the file buffer.
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(base + a, base + b));
    tensors[name] = { data, dims: shape };
    offsets[name] = { offset: base + a, length: b - a };
  }
  return { tensors, metadata, offsets };
}
