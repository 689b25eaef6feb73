/**
 * Reading an ONNX file safely: the protobuf decoded with every length checked against the bytes
 * present (protobufjs refuses a field that runs past the end), the opset checked, and each tensor's
 * data read only after its declared size is checked against the bytes that hold it: inline
 * (`raw_data` or the typed lists) or in an external-data file, which must be a plain relative path
 * inside the model's own folder: absolute paths, `..` anywhere and symlinks out of the folder are
 * refused (the path-traversal classes of the ONNX package's CVE-2022-25882, CVE-2024-27318 and
 * CVE-2026-27489). Nothing is executed and nothing is allocated for bytes the file does not hold.
 *
 * @example
 * const file = readOnnxFile('resnet.onnx');
 * const w = file.tensor(file.model.graph!.initializer![0]); // { dims, values, type }
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { InputError } from '../errors.js';
import { onnx, type OnnxNs } from '../nn/onnx/emitter.js';

/** The opsets this importer reads: 13 to 17 as PyTorch exports them, and later ones whose ops it knows. */
export const ONNX_OPSETS = { min: 13, max: 21 } as const;

/** A tensor read from the file: float values, or integers (shape arithmetic). */
interface OnnxTensor {
  dims: number[];
  values: Float32Array | number[];
  type: 'float' | 'int';
}

export interface OnnxFile {
  path: string;
  sha256: string;
  bytes: number;
  model: OnnxNs.ModelProto;
  opset: number;
  /** The tensor's values, its size checked first. */
  tensor(t: OnnxNs.ITensorProto, what?: string): OnnxTensor;
}

const bad = (path: string, message: string) => new InputError(`${path}: ${message}`, 'bad_model_file');

const DTYPE = onnx.TensorProto.DataType;
const BYTES: Record<number, number> = { [DTYPE.FLOAT]: 4, [DTYPE.DOUBLE]: 8, [DTYPE.INT64]: 8, [DTYPE.INT32]: 4, [DTYPE.BOOL]: 1 };

/** Elements of a tensor of these dims, each checked (non-negative integers, fewer than 2³¹ in all). */
function elementCount(dims: readonly number[], path: string, what: string): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw bad(path, `${what} declares a dimension ${d}`);
    n *= d;
    if (n > 2 ** 31) throw bad(path, `${what} declares ${dims.join('×')} elements, more than this importer reads`);
  }
  return n;
}

/**
 * An external-data location as a file inside `folder`: relative, no `..` segment anywhere, and its
 * real path (symlinks resolved) inside the folder's real path.
 */
function externalDataPath(folder: string, location: string, path: string): string {
  if (location === '' || location.includes('\0')) throw bad(path, 'an external-data location is empty');
  if (isAbsolute(location) || /^[A-Za-z]:/.test(location) || location.startsWith('\\'))
    throw bad(path, `external-data location '${location}' is an absolute path; it must be a file beside the model`);
  if (location.split(/[\\/]/).includes('..'))
    throw bad(path, `external-data location '${location}' contains '..'; it must be a file inside the model's folder`);
  const full = resolve(folder, location);
  let real: string;
  try {
    real = realpathSync(full);
  } catch {
    throw bad(path, `external-data file '${location}' is missing (looked for ${full})`);
  }
  const root = realpathSync(folder);
  const rel = relative(root, real);
  if (rel.startsWith('..') || isAbsolute(rel) || rel.split(sep)[0] === '..')
    throw bad(path, `external-data location '${location}' resolves (through a symlink) to ${real}, outside the model's folder`);
  if (!statSync(real).isFile()) throw bad(path, `external-data location '${location}' is not a file`);
  return real;
}

/** Reads `length` bytes at `offset` of a file after checking that it holds them. */
function readRange(file: string, offset: number, length: number, path: string, what: string): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (offset + length > size)
      throw bad(path, `${what}: external data at offset ${offset} with ${length} bytes runs past the end of its file (${size} bytes)`);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) throw bad(path, `${what}: the external-data file ended early`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function decodeNumbers(bytes: Uint8Array, type: number, count: number): Float32Array | number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (type === DTYPE.FLOAT) {
    // A copy (the bytes may be a view into a larger buffer, or unaligned).
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(bytes.subarray(0, 4 * count));
    return out;
  }
  if (type === DTYPE.DOUBLE) return Float32Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
  if (type === DTYPE.INT64) return Array.from({ length: count }, (_, i) => Number(view.getBigInt64(8 * i, true)));
  if (type === DTYPE.INT32) return Array.from({ length: count }, (_, i) => view.getInt32(4 * i, true));
  return Array.from(bytes.subarray(0, count), (b) => b);
}

/** A protobuf int64 as a number: protobufjs gives numbers, or {low, high} objects without long.js. */
export function longToNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || typeof v === 'string') return Number(v);
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const { low, high, unsigned } = v as { low: number; high: number; unsigned?: boolean };
    return (unsigned ? high >>> 0 : high) * 4294967296 + (low >>> 0);
  }
  return Number.NaN;
}
const toNumber = longToNumber;

/**
 * Decodes an ONNX model file. Throws an InputError (exit 2) naming what is wrong: not a file, not
 * ONNX (or truncated), no graph, an opset outside 13–21.
 */
export function readOnnxFile(path: string): OnnxFile {
  let bytes: Buffer;
  try {
    if (!statSync(path).isFile()) throw bad(path, 'not a file');
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw bad(path, (err as { code?: string }).code === 'ENOENT' ? 'no such file' : (err as Error).message);
  }
  let model: OnnxNs.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw bad(path, `not an ONNX model, or a truncated one (${(err as Error).message}); export it again with torch.onnx.export`);
  }
  if (!model.graph || !model.graph.node?.length)
    throw bad(path, 'not an ONNX model: it holds no graph (is it a PyTorch checkpoint? export it with torch.onnx.export)');
  const main = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = main ? toNumber(main.version ?? 0) : 0;
  if (opset < ONNX_OPSETS.min)
    throw bad(
      path,
      `opset ${opset || 'missing'}: this importer reads opsets ${ONNX_OPSETS.min}–${ONNX_OPSETS.max} (export with torch.onnx.export(..., opset_version=17))`,
    );
  if (opset > ONNX_OPSETS.max)
    throw bad(path, `opset ${opset} is newer than this importer knows (${ONNX_OPSETS.min}–${ONNX_OPSETS.max}); export with opset_version=17`);
  const folder = dirname(resolve(path));
  return {
    path,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    model,
    opset,
    tensor(t, what = `tensor '${t.name ?? ''}'`) {
      const type = t.dataType ?? 0;
      if (!(type in BYTES))
        throw bad(
          path,
          `${what} has data type ${onnx.TensorProto.DataType[type] ?? type}; this importer reads float32, float64, int64, int32 and bool tensors`,
        );
      const dims = (t.dims ?? []).map(toNumber);
      const count = elementCount(dims, path, what);
      const type0 = type === DTYPE.FLOAT || type === DTYPE.DOUBLE ? 'float' : 'int';
      const need = count * BYTES[type];
      if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
        const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
        const file = externalDataPath(folder, entries.get('location') ?? '', path);
        const offset = Number(entries.get('offset') ?? 0);
        const length = entries.has('length') ? Number(entries.get('length')) : need;
        if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0)
          throw bad(path, `${what}: external data with offset '${entries.get('offset')}' and length '${entries.get('length')}'`);
        if (length !== need) throw bad(path, `${what} declares ${dims.join('×')} values (${need} bytes) but its external data holds ${length}`);
        return { dims, values: decodeNumbers(readRange(file, offset, length, path, what), type, count), type: type0 };
      }
      if (t.rawData && t.rawData.length > 0) {
        if (t.rawData.length !== need) throw bad(path, `${what} declares ${dims.join('×')} values (${need} bytes) but holds ${t.rawData.length} bytes`);
        return { dims, values: decodeNumbers(t.rawData, type, count), type: type0 };
      }
      const list: ArrayLike<unknown> =
        type === DTYPE.FLOAT
          ? (t.floatData ?? [])
          : type === DTYPE.DOUBLE
            ? (t.doubleData ?? [])
            : type === DTYPE.INT64
              ? (t.int64Data ?? [])
              : (t.int32Data ?? []);
      if (list.length !== count) throw bad(path, `${what} declares ${dims.join('×')} values but holds ${list.length}`);
      const values = Array.from(list, toNumber);
      return { dims, values: type0 === 'float' ? Float32Array.from(values) : values, type: type0 };
    },
  };
}
