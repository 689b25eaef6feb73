/**
 * The ONNX ops `rdc import onnx` reads, each written with this project's graph ops (docs/import.md
 * lists them and their limits): convolutions with batch norm folded in, activations as
 * compositions, pooling, the linear layers, and the shape arithmetic PyTorch emits, folded.
 *
 * @example
 * ONNX_OPS.Relu(ctx, node); // sets node.output[0] to relu(input)
 */
import type { V } from '../nn/graph/index.js';
import type { ImportContext, OnnxNode } from './onnx-context.js';
import { longToNumber } from './onnx-file.js';
import { foldBinary, gather, numbers, size, sliceKnown, transposeKnown, type Known } from './onnx-values.js';

type Translate = (c: ImportContext, n: OnnxNode) => void;

const input = (n: OnnxNode, i: number): string | undefined => (n.input ?? [])[i] || undefined;
const out = (n: OnnxNode) => (n.output ?? [])[0];

/** A one-input op on a graph value. */
const unary =
  (f: (c: ImportContext, x: V, n: OnnxNode) => V): Translate =>
  (c, n) =>
    c.setTensor(out(n), f(c, c.tensor(input(n, 0)!, n), n));

/** relu(x − lo) + lo, then hi − relu(hi − y): a clip as ReLUs (one-sided where a bound is absent). */
function clip(c: ImportContext, x: V, lo: number | null, hi: number | null): V {
  let y = x;
  if (lo !== null) y = lo === 0 ? c.b.relu(y) : c.b.add(c.b.relu(c.b.sub(y, lo)), lo);
  if (hi !== null) y = c.b.sub(hi, c.b.relu(c.b.sub(hi, y)));
  return y;
}

/** HardSigmoid: clip(α·x + β, 0, 1). */
const hardSigmoid = (c: ImportContext, x: V, alpha: number, beta: number) => clip(c, c.b.add(c.b.mul(x, alpha), beta), 0, 1);

/** Pads [t, l, b, r] of a 2-D window op from ONNX's [t, l, b, r] (begins then ends). */
function windowPads(c: ImportContext, n: OnnxNode): [number, number, number, number] {
  const autoPad = c.string(n, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') throw c.error(n, `auto_pad ${autoPad} is not supported (export from PyTorch gives explicit pads)`);
  const p = autoPad === 'VALID' ? [0, 0, 0, 0] : c.ints(n, 'pads', [0, 0, 0, 0]);
  if (p.length !== 4) throw c.error(n, `only 2-D windows are supported (pads ${JSON.stringify(p)})`);
  if (p.some((v) => v < 0)) throw c.error(n, 'negative pads are not supported');
  return [p[0], p[1], p[2], p[3]];
}

/** A square stride or dilation: one number. */
function square(c: ImportContext, n: OnnxNode, name: string): number {
  const v = c.ints(n, name, [1, 1]);
  if (v.length !== 2 || v[0] !== v[1]) throw c.error(n, `${name} ${JSON.stringify(v)}: only equal ${name} along H and W are supported`);
  return v[0];
}

/** Zero padding of H and W beyond a symmetric part: explicit padAxis nodes; returns the symmetric pad left. */
function explicitPads(c: ImportContext, x: V, [t, l, b, r]: number[]): [V, number] {
  if (t === l && t === b && t === r) return [x, t];
  let y = x;
  if (t || b) y = c.b.node({ op: 'padAxis', inputs: [y.name], axis: 2, before: t, after: b });
  if (l || r) y = c.b.node({ op: 'padAxis', inputs: [y.name], axis: 3, before: l, after: r });
  return [y, 0];
}

/** ceil_mode is read where it gives the same output size as floor (else refused). */
function checkCeil(c: ImportContext, n: OnnxNode, x: V, k: number[], s: number[], p: number[]): void {
  if (c.int(n, 'ceil_mode', 0) === 0) return;
  for (const [axis, i] of [
    [2, 0],
    [3, 1],
  ]) {
    const span = (x.shape[axis] as number) + p[i] + p[i + 2] - k[i];
    if (span % s[i] !== 0) throw c.error(n, 'ceil_mode 1 changes the output size here, which is not supported (use ceil_mode=False)');
  }
}

/** The per-channel shape [1, C, 1, 1] (or [1, C] for rank 2) of a batch norm's vectors. */
const channelDims = (x: V, ch: number) => [1, ch, ...Array(x.shape.length - 2).fill(1)];

/** A batch norm's scale γ/√(var + ε) and shift β − mean·scale, from its constant inputs. */
function batchNormAffine(c: ImportContext, n: OnnxNode): { scale: Float32Array; shift: Float32Array } {
  if ((n.output ?? []).filter(Boolean).length > 1 || c.int(n, 'training_mode', 0) === 1)
    throw c.error(n, 'a training-mode graph (this batch norm updates running statistics): export with model.eval()');
  const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) =>
    Float32Array.from(numbers(c.known(input(n, i)!, n, 'a batch-norm parameter'), 'a batch-norm parameter')),
  );
  const eps = c.float(n, 'epsilon', 1e-5);
  const scale = gamma.map((g, i) => g / Math.sqrt(variance[i] + eps));
  return { scale, shift: beta.map((b, i) => b - mean[i] * scale[i]) };
}

const Conv: Translate = (c, n) => {
  const x = c.tensor(input(n, 0)!, n);
  if (x.shape.length !== 4) throw c.error(n, 'only 2-D convolutions are supported');
  const wName = input(n, 1)!;
  const pads = windowPads(c, n);
  const geometry = { stride: square(c, n, 'strides'), dilation: square(c, n, 'dilations'), groups: c.int(n, 'group', 1) };
  const bName = input(n, 2);
  // Batch norm folded in where it is the convolution's only reader and the weights are constants.
  const bn = c.soleConsumer(out(n));
  const wv = c.value(wName, n);
  const bv = bName ? c.value(bName, n) : null;
  let w: V;
  let bias: V | undefined;
  let result = out(n);
  if (bn?.opType === 'BatchNormalization' && wv.kind === 'const' && (!bv || bv.kind === 'const') && input(bn, 0) === out(n)) {
    const { scale, shift } = batchNormAffine(c, bn);
    const wk = Float32Array.from(wv.k.values as ArrayLike<number>);
    const per = size(wv.k.dims.slice(1));
    const folded = wk.map((v, i) => v * scale[Math.floor(i / per)]);
    const b0 = bv && bv.kind === 'const' ? Float32Array.from(bv.k.values as ArrayLike<number>) : new Float32Array(scale.length);
    w = c.param(wv.k.source ?? wName, wv.k.dims, folded);
    bias = c.param(
      `${wv.k.source ?? wName}.bias`,
      [scale.length],
      b0.map((v, i) => v * scale[i] + shift[i]),
    );
    c.consumed.add(bn);
    result = out(bn);
  } else {
    w = c.tensor(wName, n);
    bias = bName ? c.tensor(bName, n) : undefined;
  }
  const [xp, pad] = explicitPads(c, x, pads);
  const inputs = (bias ? [xp.name, w.name, bias.name] : [xp.name, w.name]) as [string, string] | [string, string, string];
  const defaults = Object.fromEntries(Object.entries(geometry).filter(([, v]) => v !== 1));
  c.setTensor(result, c.b.node({ op: 'conv2d', inputs, pad, ...defaults }));
};

const BatchNormalization: Translate = (c, n) => {
  const x = c.tensor(input(n, 0)!, n);
  const { scale, shift } = batchNormAffine(c, n);
  const dims = channelDims(x, scale.length);
  const s = c.constantTensor({ dims, values: scale, float: true, source: `${input(n, 1)}.scale` }, `${out(n)}#scale`);
  const t = c.constantTensor({ dims, values: shift, float: true, source: `${input(n, 2)}.shift` }, `${out(n)}#shift`);
  c.setTensor(out(n), c.b.add(c.b.mul(x, s), t));
};

const MaxPool: Translate = (c, n) => {
  if ((n.output ?? []).length > 1 && c.isUsed(n.output![1])) throw c.error(n, "MaxPool's indices output is not supported");
  if (c.ints(n, 'dilations', [1, 1]).some((d) => d !== 1)) throw c.error(n, 'dilated max pooling is not supported');
  if (c.int(n, 'storage_order', 0) !== 0) throw c.error(n, 'storage_order 1 is not supported');
  const x = c.tensor(input(n, 0)!, n);
  const kernel = c.ints(n, 'kernel_shape', []);
  const stride = c.ints(n, 'strides', [1, 1]);
  const pads = windowPads(c, n);
  if (kernel.length !== 2 || stride.length !== 2) throw c.error(n, 'only 2-D pooling is supported');
  checkCeil(c, n, x, kernel, stride, pads);
  c.setTensor(out(n), c.b.node({ op: 'maxpool', inputs: [x.name], kernel: [kernel[0], kernel[1]], stride: [stride[0], stride[1]], pads }));
};

/** Average pooling as a depthwise convolution with the constant filter 1/(kh·kw), divided by the window's count without padding where ONNX says so. */
const AveragePool: Translate = (c, n) => {
  const x = c.tensor(input(n, 0)!, n);
  const [k, s] = [c.ints(n, 'kernel_shape', []), c.ints(n, 'strides', [1, 1])];
  if (k.length !== 2 || s.length !== 2) throw c.error(n, 'only 2-D pooling is supported');
  if (s[0] !== s[1]) throw c.error(n, `strides ${JSON.stringify(s)}: only equal strides along H and W are supported`);
  const pads = windowPads(c, n);
  checkCeil(c, n, x, k, s, pads);
  const ch = x.shape[1] as number;
  const filter = c.param(`${out(n)}.avgpool`, [ch, 1, k[0], k[1]], new Float32Array(ch * k[0] * k[1]).fill(1 / (k[0] * k[1])));
  const [xp, pad] = explicitPads(c, x, pads);
  let y = c.b.node({ op: 'conv2d', inputs: [xp.name, filter.name], pad, groups: ch, ...(s[0] !== 1 ? { stride: s[0] } : {}) });
  if (c.int(n, 'count_include_pad', 0) === 0 && pads.some((p) => p > 0)) {
    // The number of real pixels under each window, as a constant [1, 1, Ho, Wo].
    const [h, w] = [x.shape[2] as number, x.shape[3] as number];
    const [ho, wo] = [y.shape[2] as number, y.shape[3] as number];
    const counts = new Float32Array(ho * wo);
    const real = (start: number, len: number, kk: number) => Math.min(start + kk, len) - Math.max(start, 0);
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++) counts[i * wo + j] = (k[0] * k[1]) / (real(i * s[0] - pads[0], h, k[0]) * real(j * s[1] - pads[1], w, k[1]));
    y = c.b.mul(y, c.param(`${out(n)}.counts`, [1, 1, ho, wo], counts));
  }
  c.setTensor(out(n), y);
};

/** The axes of a reduction: an attribute (before opset 18 for ReduceMean) or a constant input. */
function reduceAxes(c: ImportContext, n: OnnxNode, x: V): number[] {
  const fromInput = input(n, 1);
  const axes = fromInput ? numbers(c.known(fromInput, n, 'the axes'), 'the axes') : c.ints(n, 'axes', []);
  if (axes.length === 0) {
    if (c.int(n, 'noop_with_empty_axes', 0) === 1) throw c.error(n, 'noop_with_empty_axes is not supported');
    return x.shape.map((_, i) => i);
  }
  return axes.map((a) => (a < 0 ? a + x.shape.length : a));
}

const reduce =
  (op: 'reduceMean' | 'reduceSum'): Translate =>
  (c, n) => {
    const x = c.tensor(input(n, 0)!, n);
    c.setTensor(out(n), c.b.node({ op, inputs: [x.name], axes: reduceAxes(c, n, x), keepDims: c.int(n, 'keepdims', 1) === 1 }));
  };

/** Add, Sub, Mul, Div: folded when both operands are constants, else the graph's broadcasting ops. */
const arithmetic =
  (op: 'add' | 'sub' | 'mul' | 'div', f: (a: number, b: number) => number): Translate =>
  (c, n) => {
    const [a, b] = [c.value(input(n, 0)!, n), c.value(input(n, 1)!, n)];
    if (a.kind === 'const' && b.kind === 'const') {
      const intDiv = op === 'div' && !a.k.float && !b.k.float;
      try {
        return c.set(out(n), { kind: 'const', k: foldBinary(a.k, b.k, intDiv ? (x, y) => Math.trunc(x / y) : f) });
      } catch (err) {
        throw c.error(n, (err as Error).message);
      }
    }
    c.setTensor(out(n), c.b.node({ op, inputs: [c.tensor(input(n, 0)!, n).name, c.tensor(input(n, 1)!, n).name] }));
  };

const Gemm: Translate = (c, n) => {
  const a = c.tensor(input(n, 0)!, n);
  const b = c.tensor(input(n, 1)!, n);
  const [alpha, beta] = [c.float(n, 'alpha', 1), c.float(n, 'beta', 1)];
  let y = c.b.matmul(a, b, c.int(n, 'transA', 0) === 1, c.int(n, 'transB', 0) === 1);
  if (alpha !== 1) y = c.b.mul(y, alpha);
  const cName = input(n, 2);
  if (cName && beta !== 0) {
    const bias = c.tensor(cName, n);
    y = c.b.add(y, beta === 1 ? bias : c.b.mul(bias, beta));
  }
  c.setTensor(out(n), y);
};

/** A reshape target with the batch kept symbolic: its symbol (or the fixed batch an export baked in) copies axis 0. */
function reshapeTarget(c: ImportContext, n: OnnxNode, x: V, target: Known): number[] {
  if (c.int(n, 'allowzero', 0) === 1 && Array.from(target.values as ArrayLike<number | string>).includes(0))
    throw c.error(n, 'allowzero with a 0 in the shape is not supported');
  return Array.from(target.values as ArrayLike<number | string>, (v, i) => {
    if (typeof v === 'string') {
      if (x.shape[i] === v) return 0;
      throw c.error(n, `the target shape's dimension ${i} is the batch size, which does not stay at axis ${i}`);
    }
    return v;
  });
}

const Reshape: Translate = (c, n) => {
  const data = c.value(input(n, 0)!, n);
  const target = c.known(input(n, 1)!, n, 'the target shape');
  if (data.kind === 'const') {
    const dims = numbers(target, 'the target shape');
    const total = size(data.k.dims);
    const known = dims.map((d, i) => (d === 0 ? data.k.dims[i] : d));
    const fixed = known.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
    return c.set(out(n), { kind: 'const', k: { ...data.k, dims: known.map((d) => (d === -1 ? total / fixed : d)) } });
  }
  c.setTensor(out(n), c.b.reshape(data.v, reshapeTarget(c, n, data.v, target)));
};

const Flatten: Translate = (c, n) => {
  const x = c.tensor(input(n, 0)!, n);
  const axis = c.int(n, 'axis', 1);
  if (axis !== 1) throw c.error(n, `Flatten with axis ${axis} is not supported (only axis 1, which keeps the batch)`);
  c.setTensor(out(n), c.b.reshape(x, [0, -1]));
};

/** Constant-only ops on shapes: Shape, Gather, Unsqueeze, Squeeze, Concat, Cast, Slice, ConstantOfShape. */
const Shape: Translate = (c, n) => {
  const v = c.value(input(n, 0)!, n);
  const dims: (number | string)[] = v.kind === 'tensor' ? [...v.v.shape] : [...v.k.dims];
  const r = dims.length;
  const norm = (i: number) => Math.min(Math.max(i < 0 ? i + r : i, 0), r);
  const values = dims.slice(norm(c.int(n, 'start', 0)), norm(c.int(n, 'end', r)));
  c.set(out(n), { kind: 'const', k: { dims: [values.length], values, float: false } });
};

const Gather: Translate = (c, n) => {
  const data = c.known(input(n, 0)!, n, 'Gather on a tensor is not supported: its data');
  const idx = c.known(input(n, 1)!, n, 'the indices');
  const axis = c.int(n, 'axis', 0);
  c.set(out(n), { kind: 'const', k: gather(data, numbers(idx, 'the indices'), axis < 0 ? axis + data.dims.length : axis, idx.dims) });
};

function axesOf(c: ImportContext, n: OnnxNode): number[] {
  const fromInput = input(n, 1);
  return fromInput ? numbers(c.known(fromInput, n, 'the axes'), 'the axes') : c.ints(n, 'axes', []);
}

const Unsqueeze: Translate = (c, n) => {
  const v = c.value(input(n, 0)!, n);
  const shape: (number | string)[] = v.kind === 'tensor' ? [...v.v.shape] : [...v.k.dims];
  const rank = shape.length + axesOf(c, n).length;
  const axes = axesOf(c, n)
    .map((a) => (a < 0 ? a + rank : a))
    .sort((a, b) => a - b);
  for (const a of axes) shape.splice(a, 0, 1);
  if (v.kind === 'const') return c.set(out(n), { kind: 'const', k: { ...v.k, dims: shape as number[] } });
  c.setTensor(
    out(n),
    c.b.reshape(
      v.v,
      shape.map((d, i) => (typeof d === 'number' ? d : v.v.shape[i] === d ? 0 : -1)),
    ),
  );
};

const Squeeze: Translate = (c, n) => {
  const v = c.value(input(n, 0)!, n);
  const shape: (number | string)[] = v.kind === 'tensor' ? [...v.v.shape] : [...v.k.dims];
  const given = axesOf(c, n).map((a) => (a < 0 ? a + shape.length : a));
  const axes = given.length ? given : shape.flatMap((d, i) => (d === 1 ? [i] : []));
  if (axes.some((a) => shape[a] !== 1)) throw c.error(n, `squeezes an axis that is not 1 (${JSON.stringify(shape)})`);
  const kept = shape.filter((_, i) => !axes.includes(i));
  if (v.kind === 'const') return c.set(out(n), { kind: 'const', k: { ...v.k, dims: kept as number[] } });
  const target = kept.map((d) => (typeof d === 'number' ? d : -1));
  c.setTensor(out(n), c.b.reshape(v.v, kept[0] === v.v.shape[0] ? [0, ...target.slice(1)] : target));
};

const Concat: Translate = (c, n) => {
  const ins = (n.input ?? []).filter(Boolean).map((i) => c.value(i, n));
  const axis = c.int(n, 'axis', 0);
  if (ins.every((v) => v.kind === 'const')) {
    const ks = ins.map((v) => (v as { k: Known }).k);
    if (ks.some((k) => k.dims.length !== 1)) throw c.error(n, 'Concat of constants is supported for 1-D shapes only');
    const values = ks.flatMap((k) => Array.from(k.values as ArrayLike<number | string>));
    const float = ks.some((k) => k.float);
    return c.set(out(n), { kind: 'const', k: { dims: [values.length], values: float ? Float32Array.from(values as number[]) : values, float } });
  }
  c.setTensor(
    out(n),
    c.b.concat(
      (n.input ?? []).filter(Boolean).map((i) => c.tensor(i, n)),
      axis,
    ),
  );
};

const Cast: Translate = (c, n) => {
  const v = c.value(input(n, 0)!, n);
  const to = c.int(n, 'to', 1);
  const float = to === 1 || to === 11; // FLOAT, DOUBLE
  if (v.kind === 'tensor') {
    if (!float) throw c.error(n, 'a cast of a tensor to an integer type is not supported');
    return c.setTensor(out(n), v.v);
  }
  const values = Array.from(v.k.values as ArrayLike<number | string>, (x) => (typeof x === 'number' && !float ? Math.trunc(x) : x));
  c.set(out(n), { kind: 'const', k: { dims: v.k.dims, values: float ? Float32Array.from(values as number[]) : values, float } });
};

const Slice: Translate = (c, n) => {
  const v = c.value(input(n, 0)!, n);
  const [starts, ends] = [1, 2].map((i) => numbers(c.known(input(n, i)!, n, 'the slice bounds'), 'the slice bounds'));
  const rank = v.kind === 'tensor' ? v.v.shape.length : v.k.dims.length;
  const axes = input(n, 3) ? numbers(c.known(input(n, 3)!, n, 'the axes'), 'the axes') : starts.map((_, i) => i);
  const steps = input(n, 4) ? numbers(c.known(input(n, 4)!, n, 'the steps'), 'the steps') : starts.map(() => 1);
  if (v.kind === 'const') return c.set(out(n), { kind: 'const', k: sliceKnown(v.k, axes, starts, ends, steps) });
  let y = v.v;
  axes.forEach((a0, i) => {
    const a = a0 < 0 ? a0 + rank : a0;
    const d = y.shape[a];
    if (steps[i] !== 1 || typeof d !== 'number') throw c.error(n, 'Slice of a tensor is supported with step 1 along static axes only');
    const clamp = (p: number) => Math.min(Math.max(p < 0 ? p + d : p, 0), d);
    const [s, e] = [clamp(starts[i]), clamp(ends[i])];
    if (s !== 0 || e !== d) y = c.b.slice(y, a, s, e);
  });
  c.setTensor(out(n), y);
};

const ConstantOfShape: Translate = (c, n) => {
  const dims = numbers(c.known(input(n, 0)!, n, 'the shape'), 'the shape');
  const t = c.attr(n, 'value')?.t;
  const k = t ? c.file.tensor(t, `the value of ${n.name}`) : { values: [0], type: 'float' as const };
  const fill = Number((k.values as ArrayLike<number>)[0]);
  const float = k.type === 'float';
  const values = new Array<number>(size(dims)).fill(fill);
  c.set(out(n), { kind: 'const', k: { dims, values: float ? Float32Array.from(values) : values, float } });
};

const Constant: Translate = (c, n) => {
  const a = (n.attribute ?? [])[0];
  if (!a) throw c.error(n, 'a Constant without a value');
  let k: Known;
  if (a.name === 'value' && a.t) {
    const t = c.file.tensor(a.t, `the value of Constant '${n.name}'`);
    k = { dims: t.dims, values: t.values, float: t.type === 'float' };
  } else if (a.name === 'value_float') k = { dims: [], values: Float32Array.of(a.f ?? 0), float: true };
  else if (a.name === 'value_floats') k = { dims: [a.floats?.length ?? 0], values: Float32Array.from(a.floats ?? []), float: true };
  else if (a.name === 'value_int') k = { dims: [], values: [longToNumber(a.i ?? 0)], float: false };
  else if (a.name === 'value_ints') k = { dims: [a.ints?.length ?? 0], values: (a.ints ?? []).map(longToNumber), float: false };
  else throw c.error(n, `a Constant given as ${a.name} is not supported`);
  c.set(out(n), { kind: 'const', k: { ...k, source: out(n) } });
};

const Pad: Translate = (c, n) => {
  if (c.string(n, 'mode', 'constant') !== 'constant') throw c.error(n, `Pad mode '${c.string(n, 'mode', '')}' is not supported (only zero padding)`);
  const x = c.tensor(input(n, 0)!, n);
  const pads = numbers(c.known(input(n, 1)!, n, 'the pads'), 'the pads');
  const value = input(n, 2) ? numbers(c.known(input(n, 2)!, n, 'the pad value'), 'the pad value')[0] : 0;
  if (value !== 0) throw c.error(n, `padding with ${value} is not supported (only zeros)`);
  const axes = input(n, 3) ? numbers(c.known(input(n, 3)!, n, 'the axes'), 'the axes') : x.shape.map((_, i) => i);
  if (pads.some((p) => p < 0)) throw c.error(n, 'negative pads are not supported');
  let y = x;
  axes.forEach((a, i) => {
    const [before, after] = [pads[i], pads[i + axes.length]];
    if (before || after) y = c.b.node({ op: 'padAxis', inputs: [y.name], axis: a < 0 ? a + x.shape.length : a, before, after });
  });
  c.setTensor(out(n), y);
};

const Dropout: Translate = (c, n) => {
  const training = input(n, 2) ? numbers(c.known(input(n, 2)!, n, 'training_mode'), 'training_mode')[0] : 0;
  if (training || ((n.output ?? []).length > 1 && c.isUsed(n.output![1]))) throw c.error(n, 'a training-mode graph (dropout is on): export with model.eval()');
  c.set(out(n), c.value(input(n, 0)!, n));
};

/** Every ONNX op the importer reads (docs/import.md; `rdc import onnx --help`). */
export const ONNX_OPS: Record<string, Translate> = {
  Conv,
  BatchNormalization,
  Relu: unary((c, x) => c.b.relu(x)),
  LeakyRelu: unary((c, x, n) => {
    const a = c.float(n, 'alpha', 0.01);
    return c.b.add(c.b.mul(c.b.relu(x), 1 - a), c.b.mul(x, a));
  }),
  Sigmoid: unary((c, x) => c.b.sigmoid(x)),
  Tanh: unary((c, x) => c.b.sub(c.b.mul(c.b.sigmoid(c.b.mul(x, 2)), 2), 1)),
  HardSigmoid: unary((c, x, n) => hardSigmoid(c, x, c.float(n, 'alpha', 0.2), c.float(n, 'beta', 0.5))),
  HardSwish: unary((c, x) => c.b.mul(x, hardSigmoid(c, x, 1 / 6, 0.5))),
  Clip: unary((c, x, n) => {
    const bound = (i: number) => (input(n, i) ? numbers(c.known(input(n, i)!, n, 'a clip bound'), 'a clip bound')[0] : null);
    return clip(c, x, bound(1), bound(2));
  }),
  Neg: unary((c, x) => c.b.neg(x)),
  Exp: unary((c, x) => c.b.exp(x)),
  Sqrt: unary((c, x) => c.b.sqrt(x)),
  Add: arithmetic('add', (a, b) => a + b),
  Sub: arithmetic('sub', (a, b) => a - b),
  Mul: arithmetic('mul', (a, b) => a * b),
  Div: arithmetic('div', (a, b) => a / b),
  MaxPool,
  AveragePool,
  GlobalAveragePool: unary((c, x) => c.b.reduceMean(x, [2, 3], true)),
  GlobalMaxPool: unary((c, x) =>
    c.b.node({ op: 'maxpool', inputs: [x.name], kernel: [x.shape[2] as number, x.shape[3] as number], stride: [1, 1], pads: [0, 0, 0, 0] }),
  ),
  ReduceMean: reduce('reduceMean'),
  ReduceSum: reduce('reduceSum'),
  Flatten,
  Gemm,
  MatMul: (c, n) => c.setTensor(out(n), c.b.matmul(c.tensor(input(n, 0)!, n), c.tensor(input(n, 1)!, n))),
  Transpose: (c, n) => {
    const v = c.value(input(n, 0)!, n);
    const rank = v.kind === 'tensor' ? v.v.shape.length : v.k.dims.length;
    const perm = c.ints(n, 'perm', [...Array(rank).keys()].reverse());
    if (v.kind === 'const') return c.set(out(n), { kind: 'const', k: transposeKnown(v.k, perm) });
    c.setTensor(out(n), c.b.transpose(v.v, perm));
  },
  LogSoftmax: unary((c, x, n) => c.b.logsoftmax(x, c.int(n, 'axis', -1))),
  Identity: (c, n) => c.set(out(n), c.value(input(n, 0)!, n)),
  Dropout,
  Pad,
  Constant,
  Reshape,
  Shape,
  Gather,
  Unsqueeze,
  Squeeze,
  Concat,
  Cast,
  Slice,
  ConstantOfShape,
};

/** The ops' names, sorted, for the docs and `--help`. */
export const SUPPORTED_ONNX_OPS: readonly string[] = Object.keys(ONNX_OPS).sort();
