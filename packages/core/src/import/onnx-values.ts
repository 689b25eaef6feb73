/**
 * What the ONNX importer knows of each value while it reads a graph: a tensor of the graph being
 * built, or a constant it holds (initializers, Constant nodes, and the shape arithmetic PyTorch
 * emits for `view` and `flatten`, folded as it goes; a dimension of the batch stays a symbol).
 *
 * @example
 * const shape: Known = { dims: [2], values: ['N', -1], float: false }; // Concat(Gather(Shape(x), 0), [-1])
 */
import { InputError } from '../errors.js';
import type { V } from '../nn/graph/index.js';

/** A constant: its values (numbers, or a symbolic dimension such as the batch 'N'), row-major. */
export interface Known {
  dims: number[];
  values: (number | string)[] | Float32Array;
  float: boolean;
  /** The initializer it came from (the parameter's name when it becomes one). */
  source?: string;
}

export type Value = { kind: 'tensor'; v: V } | { kind: 'const'; k: Known };

export const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** An error about the model file, naming the node (exit 2). */
export function nodeError(file: string, node: { opType?: string | null; name?: string | null; output?: string[] | null }, message: string): InputError {
  const name = node.name || node.output?.[0] || '?';
  return new InputError(`${file}: ${node.opType ?? 'node'} node '${name}': ${message}`, 'bad_model_file');
}

/** Numbers of a constant; a symbolic dimension where a number must be is an error. */
export function numbers(k: Known, what: string): number[] {
  return Array.from(k.values as ArrayLike<number | string>, (v) => {
    if (typeof v !== 'number') throw new Error(`${what} depends on the batch size (${v}), which this importer cannot fold`);
    return v;
  });
}

/** Elementwise arithmetic on constants with NumPy broadcasting (shape arithmetic and folded weights). */
export function foldBinary(a: Known, b: Known, f: (x: number, y: number) => number): Known {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: number[]) => [...Array(rank - d.length).fill(1), ...d];
  const [da, db] = [pad(a.dims), pad(b.dims)];
  const dims = da.map((x, i) => {
    if (x !== db[i] && x !== 1 && db[i] !== 1) throw new Error(`cannot broadcast constants [${a.dims}] and [${b.dims}]`);
    return Math.max(x, db[i]);
  });
  const av = numbers(a, 'an arithmetic constant');
  const bv = numbers(b, 'an arithmetic constant');
  const n = size(dims);
  const out = new Array<number>(n);
  const index = (d: number[], flat: number) => {
    let i = 0;
    let rest = flat;
    let stride = 1;
    for (let ax = rank - 1; ax >= 0; ax--) {
      const pos = rest % dims[ax];
      rest = Math.floor(rest / dims[ax]);
      if (d[ax] !== 1) i += pos * stride;
      stride *= d[ax];
    }
    return i;
  };
  for (let i = 0; i < n; i++) out[i] = f(av[index(da, i)], bv[index(db, i)]);
  const float = a.float || b.float;
  return { dims, values: float ? Float32Array.from(out) : out.map(Math.trunc), float };
}

/** Elements of a constant along `axis` at the given indices (ONNX Gather). */
export function gather(k: Known, indices: number[], axis: number, indexDims: number[]): Known {
  const d = k.dims;
  const outer = size(d.slice(0, axis));
  const inner = size(d.slice(axis + 1));
  const vals = Array.from(k.values as ArrayLike<number | string>);
  const out: (number | string)[] = [];
  for (let o = 0; o < outer; o++)
    for (const raw of indices) {
      const i = raw < 0 ? raw + d[axis] : raw;
      if (i < 0 || i >= d[axis]) throw new Error(`Gather index ${raw} is out of range for ${d[axis]} elements`);
      for (let j = 0; j < inner; j++) out.push(vals[(o * d[axis] + i) * inner + j]);
    }
  return { dims: [...d.slice(0, axis), ...indexDims, ...d.slice(axis + 1)], values: k.float ? Float32Array.from(out as number[]) : out, float: k.float };
}

/** The positions a Slice keeps along one axis of length n (ONNX semantics: clamping, negative steps). */
function slicePositions(n: number, start: number, end: number, step: number): number[] {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + n : start;
  let e = end < 0 ? end + n : end;
  const out: number[] = [];
  if (step > 0) {
    s = clamp(s, 0, n);
    e = clamp(e, 0, n);
    for (let i = s; i < e; i += step) out.push(i);
  } else {
    s = clamp(s, -1, n - 1);
    e = clamp(e, -1, n - 1);
    for (let i = s; i > e; i += step) out.push(i);
  }
  return out;
}

/** A constant rebuilt from the source positions of each output axis (Slice and Transpose of constants). */
function pick(k: Known, dims: number[], sourceIndex: (pos: number[]) => number): Known {
  const vals = Array.from(k.values as ArrayLike<number | string>);
  const out: (number | string)[] = [];
  const pos = dims.map(() => 0);
  for (let i = 0; i < size(dims); i++) {
    out.push(vals[sourceIndex(pos)]);
    for (let ax = dims.length - 1; ax >= 0; ax--) {
      if (++pos[ax] < dims[ax]) break;
      pos[ax] = 0;
    }
  }
  return { dims, values: k.float ? Float32Array.from(out as number[]) : out, float: k.float };
}

/** Row-major strides of a shape. */
const stridesOf = (dims: number[]) => dims.map((_, i) => size(dims.slice(i + 1)));

/** ONNX Slice of a constant. */
export function sliceKnown(k: Known, axes: number[], starts: number[], ends: number[], steps: number[]): Known {
  const keep = k.dims.map((d) => [...Array(d).keys()]);
  axes.forEach((a0, i) => {
    const a = a0 < 0 ? a0 + k.dims.length : a0;
    keep[a] = slicePositions(k.dims[a], starts[i], ends[i], steps[i]);
  });
  const strides = stridesOf(k.dims);
  return pick(
    k,
    keep.map((p) => p.length),
    (pos) => pos.reduce((acc, p, ax) => acc + keep[ax][p] * strides[ax], 0),
  );
}

/** ONNX Transpose of a constant. */
export function transposeKnown(k: Known, perm: number[]): Known {
  const strides = stridesOf(k.dims);
  return pick(
    k,
    perm.map((p) => k.dims[p]),
    (pos) => pos.reduce((acc, p, ax) => acc + p * strides[perm[ax]], 0),
  );
}
