import { Float16Array } from '@petamoriken/float16';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import type { Tensor } from '../tensor.js';
import type { Dim, Graph, Node } from './graph.js';

// onnx-proto is CommonJS: its exports object is the default import (static, so bundlers see it).
const { onnx } = onnxProto as unknown as { onnx: typeof OnnxNs };

/**
 * The ONNX writer: turns a `Graph` into an ONNX model (opset 17, dynamic batch).
 *
 * Weights can be embedded (`inline`), referenced as external data at byte offsets of another file
 * (`external`, how a model folder points into model.safetensors so the weights exist once), or left
 * as graph inputs (`inputs`, for graphs whose weights change every call, such as training steps).
 *
 * @example
 * const bytes = graphToOnnx(graph, { weights: { mode: 'inline', values: weights } });
 * const session = await ort.InferenceSession.create(bytes);
 */

export const ONNX_OPSET = 17;
const IR_VERSION = 8;
const FLOAT = 1;
const INT64 = 7;
const FLOAT16 = 10;

export type OnnxWeights =
  | { mode: 'inline'; values: Record<string, Tensor> }
  | { mode: 'external'; location: string; offsets: Record<string, { offset: number; length: number }> }
  | { mode: 'inputs' };

export interface OnnxOptions {
  weights: OnnxWeights;
  name?: string;
  docString?: string;
  /**
   * `fp16`: every computation in half precision; inputs and outputs stay float32 (cast at the
   * graph's edges) and so does what ONNX requires in float32 (Resize's scales). For GPU providers
   * with half-precision shaders; weights must be inline or inputs.
   */
  precision?: 'fp32' | 'fp16';
  /**
   * ONNX Runtime's CPU provider only: run every convolution in MLAS's blocked layout with this block
   * size (NCHWc, 8 or 16 by CPU; see `nchwcBlockSize` in engines/ort.ts), channels zero-padded to the
   * block and the filter reordered inside the graph (see `emitConv`). ONNX Runtime does this itself for
   * filters that are constants; for filters fed at run time (training steps) it falls back to a
   * slower convolution, which this restores. Never set it for a file that is saved or given to
   * another provider: the blocked operators are CPU-only and the block size is the CPU's.
   */
  nchwcBlock?: number;
}

type NodeProto = OnnxNs.INodeProto;
type TensorProto = OnnxNs.ITensorProto;

function floatBytes(values: ArrayLike<number>): Uint8Array {
  const f = Float32Array.from(values);
  return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
}

function valueInfo(name: string, shape: readonly Dim[]): OnnxNs.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attrInts(name: string, ints: number[]): OnnxNs.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints };
}
function attrInt(name: string, i: number): OnnxNs.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}
function attrFloat(name: string, f: number): OnnxNs.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f };
}
function attrString(name: string, s: string): OnnxNs.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) };
}

/** Emits ONNX nodes for graph nodes; helper constants become initializers. */
class Emitter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private counter = 0;

  constructor(readonly nchwcBlock = 0) {}

  fresh(base: string): string {
    return `${base}__${this.counter++}`;
  }

  int64(values: number[]): string {
    const name = this.fresh('i64');
    this.initializers.push({ name, dataType: INT64, dims: [values.length], int64Data: values });
    return name;
  }

  float(values: number[], dims: number[]): string {
    const name = this.fresh('f32');
    this.initializers.push({ name, dataType: FLOAT, dims, rawData: floatBytes(values) });
    return name;
  }

  emit(opType: string, inputs: string[], output: string, attribute: OnnxNs.IAttributeProto[] = [], domain?: string): string {
    this.nodes.push({ opType, input: inputs, output: [output], name: this.fresh(opType), attribute, ...(domain ? { domain } : {}) });
    return output;
  }

  tmp(opType: string, inputs: string[], attribute: OnnxNs.IAttributeProto[] = [], domain?: string): string {
    return this.emit(opType, inputs, this.fresh(opType.toLowerCase()), attribute, domain);
  }
}

const NCHWC = 'com.microsoft.nchwc';

/**
 * A stride-1 square convolution `out = conv(x, w) (+ bias)` with padding `pad`. With a block size
 * (`OnnxOptions.nchwcBlock`) it runs as MLAS's blocked convolution, as ONNX Runtime's own NCHWc
 * rewrite runs convolutions with constant filters: x reordered to NCHWc (its channels zero-padded
 * to a multiple of the block first where they are not), or left as it is when it has fewer channels
 * than a block; the filter zero-padded and reordered by a reshape and a transpose to OIHWBiBo
 * ([O/B, I/B, k·k, Bi, Bo]), or OIHWBo ([O/B, I, k·k, Bo]) for an unblocked x; the output
 * reordered back to its own channel count.
 */
function emitConv(e: Emitter, x: string, w: string, bias: string | undefined, out: string, pad: number, wShape: readonly Dim[]): void {
  const attrs = [attrInts('pads', [pad, pad, pad, pad]), attrInts('strides', [1, 1])];
  const b = e.nchwcBlock;
  if (!b) {
    e.emit('Conv', bias ? [x, w, bias] : [x, w], out, attrs);
    return;
  }
  const [o, i, k] = wShape as number[];
  const up = (n: number) => Math.ceil(n / b) * b;
  const blockedInput = i >= b;
  const [op, ip] = [up(o), blockedInput ? up(i) : i];
  const padded = op > o || ip > i ? e.tmp('Pad', [w, e.int64([0, 0, 0, 0, op - o, ip - i, 0, 0])]) : w;
  const filter = blockedInput
    ? e.tmp('Transpose', [e.tmp('Reshape', [padded, e.int64([op / b, b, ip / b, b, k * k])])], [attrInts('perm', [0, 2, 4, 3, 1])])
    : e.tmp('Transpose', [e.tmp('Reshape', [padded, e.int64([op / b, b, ip, k * k])])], [attrInts('perm', [0, 2, 3, 1])]);
  const inputs = [blockedInput ? e.tmp('ReorderInput', [ip > i ? e.tmp('Pad', [x, e.int64([0, 0, 0, 0, 0, ip - i, 0, 0])]) : x], [], NCHWC) : x];
  inputs.push(e.tmp('Reshape', [filter, e.int64([op, ip, k, k])]));
  if (bias) inputs.push(op > o ? e.tmp('Pad', [bias, e.int64([0, op - o])]) : bias);
  const yb = e.tmp('Conv', inputs, [...attrs, attrInts('kernel_shape', [k, k])], NCHWC);
  e.emit('ReorderOutput', [yb], out, [attrInt('channels', o)], NCHWC);
}

function emitNode(e: Emitter, n: Node, shapeOf: (name: string) => readonly Dim[]): void {
  const rankOf = (name: string) => shapeOf(name).length;
  const out = n.output;
  switch (n.op) {
    case 'add':
    case 'sub':
    case 'mul':
    case 'div': {
      const op = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div' }[n.op];
      e.emit(op, n.inputs, out);
      return;
    }
    case 'neg':
    case 'exp':
    case 'log':
    case 'sqrt':
    case 'sigmoid':
    case 'relu':
    case 'sin':
    case 'cos': {
      const op = { neg: 'Neg', exp: 'Exp', log: 'Log', sqrt: 'Sqrt', sigmoid: 'Sigmoid', relu: 'Relu', sin: 'Sin', cos: 'Cos' }[n.op];
      e.emit(op, n.inputs, out);
      return;
    }
    case 'square':
      e.emit('Mul', [n.inputs[0], n.inputs[0]], out);
      return;
    case 'silu':
      e.emit('Mul', [n.inputs[0], e.tmp('Sigmoid', n.inputs)], out);
      return;
    case 'avgpool2':
      e.emit('AveragePool', n.inputs, out, [attrInts('kernel_shape', [2, 2]), attrInts('strides', [2, 2])]);
      return;
    case 'upsample2':
      e.emit('Resize', [n.inputs[0], '', e.float([1, 1, 2, 2], [4])], out, [
        attrString('mode', 'nearest'),
        attrString('coordinate_transformation_mode', 'asymmetric'),
        attrString('nearest_mode', 'floor'),
      ]);
      return;
    case 'conv2d':
      emitConv(e, n.inputs[0], n.inputs[1], n.inputs[2], out, n.pad, shapeOf(n.inputs[1]));
      return;
    case 'groupnorm': {
      const [x, gamma, beta] = n.inputs;
      const grouped = e.tmp('Reshape', [x, e.int64([0, n.groups, -1])]);
      const normed = e.tmp(
        'InstanceNormalization',
        [grouped, e.float(new Array(n.groups).fill(1), [n.groups]), e.float(new Array(n.groups).fill(0), [n.groups])],
        [attrFloat('epsilon', n.eps)],
      );
      const back = e.tmp('Reshape', [normed, e.tmp('Shape', [x])]);
      const cShape = e.int64([-1, 1, 1]);
      const scaled = e.tmp('Mul', [back, e.tmp('Reshape', [gamma, cShape])]);
      e.emit('Add', [scaled, e.tmp('Reshape', [beta, cShape])], out);
      return;
    }
    case 'matmul': {
      const t = (name: string): string => {
        const r = rankOf(name);
        const perm = [...Array(r).keys()];
        [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
        return e.tmp('Transpose', [name], [attrInts('perm', perm)]);
      };
      const a = n.transA ? t(n.inputs[0]) : n.inputs[0];
      const b = n.transB ? t(n.inputs[1]) : n.inputs[1];
      e.emit('MatMul', [a, b], out);
      return;
    }
    case 'softmax':
      e.emit('Softmax', n.inputs, out, [attrInt('axis', n.axis)]);
      return;
    case 'logsoftmax':
      e.emit('LogSoftmax', n.inputs, out, [attrInt('axis', n.axis)]);
      return;
    case 'transpose':
      e.emit('Transpose', n.inputs, out, [attrInts('perm', n.perm)]);
      return;
    case 'reshape':
      e.emit('Reshape', [n.inputs[0], e.int64(n.shape)], out);
      return;
    case 'concat':
      e.emit('Concat', n.inputs, out, [attrInt('axis', n.axis)]);
      return;
    case 'repeat': {
      const reps = [n.times, ...new Array(rankOf(n.inputs[0]) - 1).fill(1)];
      e.emit('Tile', [n.inputs[0], e.int64(reps)], out);
      return;
    }
    case 'slice':
      e.emit('Slice', [n.inputs[0], e.int64([n.start]), e.int64([n.end]), e.int64([n.axis])], out);
      return;
    case 'reduceSum':
      e.emit('ReduceSum', [n.inputs[0], e.int64(n.axes)], out, [attrInt('keepdims', n.keepDims ? 1 : 0)]);
      return;
    case 'reduceMean':
      e.emit('ReduceMean', n.inputs, out, [attrInts('axes', n.axes), attrInt('keepdims', n.keepDims ? 1 : 0)]);
      return;
    case 'step':
      e.emit('Cast', [e.tmp('Greater', [n.inputs[0], e.float([0], [])])], out, [attrInt('to', FLOAT)]);
      return;
    case 'conv2dInput': {
      // dx = conv(dy, W′) with W′[i, o] = W[o, i] flipped in space and padding k − 1 − p: a plain
      // convolution, which ONNX Runtime runs much faster than ConvTranspose.
      const w = n.inputs[1];
      const k = shapeOf(w)[2] as number;
      const big = -(2 ** 31);
      const flipped = e.tmp('Slice', [
        e.tmp('Transpose', [w], [attrInts('perm', [1, 0, 2, 3])]),
        e.int64([-1, -1]),
        e.int64([big, big]),
        e.int64([2, 3]),
        e.int64([-1, -1]),
      ]);
      const [o, i] = shapeOf(w) as number[];
      emitConv(e, n.inputs[0], flipped, undefined, out, k - 1 - n.pad, [i, o, k, k]);
      return;
    }
    case 'conv2dFilter': {
      // dW[o, i, a, b] = Σ_{n, y, x} dy[n, o, y, x]·x_pad[n, i, y + a, x + b]: for each of the k² shifts,
      // a batched product dy [N, O, H·W] × shifted xᵀ [N, H·W, I] (ONNX Runtime fuses the transpose
      // into the product), summed over the batch; no transposed copies of x or dy and no k²-times
      // larger im2col buffer. (Measured against one GEMM per shift over transposed copies: the same
      // or a little faster; shifting whichever of x and dy is smaller saved nothing measurable.)
      const [x, dy] = n.inputs;
      const [, ci, h, w] = shapeOf(x) as [Dim, number, number, number];
      const co = shapeOf(dy)[1] as number;
      const k = n.k;
      const p = n.pad;
      const xp = p > 0 ? e.tmp('Pad', [x, e.int64([0, 0, p, p, 0, 0, p, p])]) : x;
      const hy = h + 2 * p - k + 1;
      const wy = w + 2 * p - k + 1;
      const dyf = e.tmp('Reshape', [dy, e.int64([0, co, hy * wy])]); // [N, O, H·W]
      const flat = e.int64([0, ci, hy * wy]);
      const parts: string[] = [];
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          // The unshifted window of the padded x is x itself: no copy.
          const shifted = a === p && b === p && hy === h && wy === w ? x : e.tmp('Slice', [xp, e.int64([a, b]), e.int64([a + hy, b + wy]), e.int64([2, 3])]);
          const xt = e.tmp('Transpose', [e.tmp('Reshape', [shifted, flat])], [attrInts('perm', [0, 2, 1])]); // [N, H·W, I]
          const g = e.tmp('ReduceSum', [e.tmp('MatMul', [dyf, xt]), e.int64([0])], [attrInt('keepdims', 0)]); // [O, I]
          parts.push(e.tmp('Unsqueeze', [g, e.int64([2])]));
        }
      }
      const all = parts.length > 1 ? e.tmp('Concat', parts, [attrInt('axis', 2)]) : parts[0]; // [O, I, k²]
      e.emit('Reshape', [all, e.int64([co, ci, k, k])], out);
      return;
    }
    case 'padAxis': {
      const r = rankOf(n.inputs[0]);
      const axis = n.axis < 0 ? n.axis + r : n.axis;
      const pads = new Array(2 * r).fill(0);
      pads[axis] = n.before;
      pads[r + axis] = n.after;
      e.emit('Pad', [n.inputs[0], e.int64(pads)], out);
      return;
    }
    case 'expandLike':
      e.emit('Expand', [n.inputs[0], e.tmp('Shape', [n.inputs[1]])], out);
      return;
  }
}

/** Serialises `graph` as an ONNX model. */
export function graphToOnnx(graph: Graph, opts: OnnxOptions): Uint8Array {
  if (opts.precision === 'fp16' && opts.weights.mode === 'external')
    throw new Error('onnx writer: fp16 needs inline weights or weights as inputs, not external float32 data');
  if (opts.precision === 'fp16' && opts.nchwcBlock) throw new Error('onnx writer: the blocked (NCHWc) convolutions are float32 only');
  const e = new Emitter(opts.nchwcBlock);
  const shapeOf = (name: string): readonly Dim[] => {
    const s = graph.shapes[name];
    if (!s) throw new Error(`onnx writer: unknown value '${name}'`);
    return s;
  };
  for (const node of graph.nodes) emitNode(e, node, shapeOf);
  for (const o of graph.outputs) {
    if (o.name !== o.value) e.emit('Identity', [o.value], o.name);
  }

  const initializers: TensorProto[] = graph.consts.map((c) => ({ name: c.name, dataType: FLOAT, dims: c.shape, rawData: floatBytes(c.values) }));
  const inputs = graph.inputs.map((i) => valueInfo(i.name, i.shape));
  const w = opts.weights;
  // A parameter no node reads (EDM's idle augmentation mapping) is not embedded: ONNX Runtime would warn about it.
  const used = new Set(graph.nodes.flatMap((n) => n.inputs));
  for (const p of graph.params) {
    if (w.mode !== 'inputs' && !used.has(p.name)) continue;
    if (w.mode === 'inputs') {
      inputs.push(valueInfo(p.name, p.shape));
    } else if (w.mode === 'inline') {
      const t = w.values[p.name];
      if (!t) throw new Error(`onnx writer: no value for weight '${p.name}'`);
      if (t.data.length !== p.shape.reduce((a, b) => a * b, 1))
        throw new Error(`onnx writer: weight '${p.name}' has ${t.data.length} values, expected shape [${p.shape.join(', ')}]`);
      initializers.push({ name: p.name, dataType: FLOAT, dims: p.shape, rawData: floatBytes(t.data) });
    } else {
      const ref = w.offsets[p.name];
      if (!ref) throw new Error(`onnx writer: no external offset for weight '${p.name}'`);
      initializers.push({
        name: p.name,
        dataType: FLOAT,
        dims: p.shape,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: w.location },
          { key: 'offset', value: String(ref.offset) },
          { key: 'length', value: String(ref.length) },
        ],
      });
    }
  }
  initializers.push(...e.initializers);

  const model: OnnxNs.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }, ...(e.nodes.some((n) => n.domain === NCHWC) ? [{ domain: NCHWC, version: 1 }] : [])],
    producerName: 'rdc',
    producerVersion: '0.1.0',
    docString: opts.docString ?? '',
    graph: {
      name: opts.name ?? 'rdc',
      node: e.nodes,
      initializer: initializers,
      input: inputs,
      output: graph.outputs.map((o) => valueInfo(o.name, graph.shapes[o.value])),
    },
  };
  if (opts.precision === 'fp16') toHalfPrecision(model.graph!);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/**
 * Rewrites a float32 graph to compute in float16: float initializers become float16 (but for
 * Resize's scales), casts to float become casts to float16, each float input is cast to float16
 * where it enters and each output cast back to float32 where it leaves.
 */
function toHalfPrecision(g: OnnxNs.IGraphProto): void {
  const nodes = g.node!;
  const keepFloat = new Set(nodes.filter((n) => n.opType === 'Resize').map((n) => n.input![2]));
  for (const t of g.initializer!) {
    if (t.dataType !== FLOAT || keepFloat.has(t.name!)) continue;
    const raw = t.rawData!;
    const f32 = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    t.dataType = FLOAT16;
    t.rawData = new Uint8Array(new Float16Array(f32).buffer);
  }
  for (const n of nodes) if (n.opType === 'Cast') for (const a of n.attribute!) if (a.name === 'to' && a.i === FLOAT) a.i = FLOAT16;
  const rename = new Map<string, string>();
  const head: NodeProto[] = [];
  for (const i of g.input!) {
    const half = `${i.name}__fp16`;
    rename.set(i.name!, half);
    head.push({ opType: 'Cast', input: [i.name!], output: [half], name: `cast_in_${i.name}`, attribute: [attrInt('to', FLOAT16)] });
  }
  const tail: NodeProto[] = [];
  for (const o of g.output!) {
    const half = `${o.name}__fp16`;
    for (const n of nodes) n.output = n.output!.map((x) => (x === o.name ? half : x));
    rename.set(o.name!, half);
    tail.push({ opType: 'Cast', input: [half], output: [o.name!], name: `cast_out_${o.name}`, attribute: [attrInt('to', FLOAT)] });
  }
  for (const n of nodes) n.input = n.input!.map((x) => rename.get(x) ?? x);
  g.node = [...head, ...nodes, ...tail];
}

/**
 * A one-node model that reorders a [1, 4, 1, 1] input to NCHWc: its output's channel count is
 * MLAS's block size, and a session fails to load it where ONNX Runtime has no blocked kernels.
 */
export function nchwcProbeModel(): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [
        { domain: '', version: ONNX_OPSET },
        { domain: NCHWC, version: 1 },
      ],
      graph: {
        name: 'nchwc-probe',
        node: [{ opType: 'ReorderInput', domain: NCHWC, input: ['x'], output: ['y'], name: 'reorder' }],
        input: [valueInfo('x', [1, 4, 1, 1])],
        output: [{ name: 'y', type: { tensorType: { elemType: FLOAT } } }],
      },
    }),
  ).finish();
}

/** Decodes an ONNX model (for inspection and tests). */
export function decodeOnnx(bytes: Uint8Array): OnnxNs.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
