import { InputError } from './errors.js';

/**
 * The plain tensor that crosses every public boundary of the project: a float32 buffer and its
 * dimensions, row-major. Engines convert to and from their own tensor types at their edges.
 *
 * @example
 * const x = tensor(new Float32Array(2 * 3), [2, 3]);
 */
export interface Tensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** Weights by parameter name (shapes as in a graph's `params`). */
export type Weights = Record<string, Tensor>;

/** Number of elements of a shape. */
export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Wraps a buffer as a tensor, checking that the sizes agree. */
export function tensor(data: Float32Array, dims: readonly number[]): Tensor {
  const n = sizeOf(dims);
  if (data.length !== n) {
    throw new InputError(`tensor: data has ${data.length} elements but dims [${dims.join(', ')}] need ${n}`);
  }
  return { data, dims: [...dims] };
}

/** A zero-filled tensor. */
export function zeros(dims: readonly number[]): Tensor {
  return { data: new Float32Array(sizeOf(dims)), dims: [...dims] };
}

/** Throws a clear error unless `t.dims` matches `expected` (-1 matches any size). */
export function assertShape(name: string, t: Tensor, expected: readonly number[]): void {
  const ok = t.dims.length === expected.length && expected.every((d, i) => d === -1 || d === t.dims[i]);
  if (!ok) {
    const want = expected.map((d) => (d === -1 ? '?' : String(d))).join(', ');
    throw new InputError(`${name}: expected shape [${want}], got [${t.dims.join(', ')}]`, 'bad_shape');
  }
}

/** Norm-relative error ‖a − b‖ / ‖b‖ (0 when both are zero). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relativeError: lengths differ (${a.length} vs ${b.length})`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  if (den === 0) return Math.sqrt(num);
  return Math.sqrt(num / den);
}

/** Converts pixels in [0, 1] to model units in [−1, 1] (a new buffer). */
export function pixelsToModel(pixels: ArrayLike<number>): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = 2 * pixels[i] - 1;
  return out;
}

/**
 * A length in pixel units (a radius, a noise level τ) in model units: twice as long, as
 * x = 2·pixel − 1 (the smoothing noise τ is 2τ to the network; LM's ball radius likewise).
 */
export function pixelLengthToModel(length: number): number {
  return 2 * length;
}

/** Converts model units in [−1, 1] back to pixels in [0, 1] (a new buffer; clamped to [0, 1] with `clamp`). */
export function modelToPixels(x: ArrayLike<number>, opts: { clamp?: boolean } = {}): Float32Array {
  const out = new Float32Array(x.length);
  if (opts.clamp) for (let i = 0; i < x.length; i++) out[i] = Math.min(1, Math.max(0, (x[i] + 1) / 2));
  else for (let i = 0; i < x.length; i++) out[i] = (x[i] + 1) / 2;
  return out;
}
