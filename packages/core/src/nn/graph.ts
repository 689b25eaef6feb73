/**
 * The network description as data: a small typed tensor graph that every engine reads.
 *
 * A `Graph` lists named inputs (with symbolic batch dimensions), parameters (static shapes and an
 * initialiser), constants, and a topologically ordered list of single-output nodes. The TensorFlow.js
 * builder (`tfjs.ts`), the ONNX writer (`onnx.ts`) and the FLOP counter all walk this one list, so the
 * engines cannot drift apart. Layout is NCHW; convolution filters are OIHW; linear weights are
 * [out, in] (PyTorch's conventions, so the weights read naturally elsewhere).
 *
 * @example
 * const g = new GraphBuilder();
 * const x = g.input('x', ['N', 3, 8, 8]);
 * const w = g.param('conv.weight', [4, 3, 3, 3], { kind: 'normal', std: 0.1 });
 * g.output('y', g.conv2d(x, w));
 * const graph = g.build();
 */

/** A dimension: a static size or a symbol (e.g. the batch size 'N'). Symbols are never 1. */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** How a parameter starts before training. */
export type Init = { kind: 'zeros' } | { kind: 'ones' } | { kind: 'normal'; std: number } | { kind: 'uniform'; bound: number };

export interface ParamInfo {
  name: string;
  shape: number[];
  init: Init;
}

export interface InputInfo {
  name: string;
  shape: Dim[];
  /**
   * Set on dropout masks: the drop rate. Masks are inputs (1/(1 − rate) or 0 per element), drawn by
   * the caller's seeded generator, so every engine applies the same dropout and runs repeat exactly.
   */
  dropout?: number;
}

export interface ConstInfo {
  name: string;
  shape: number[];
  values: number[];
}

type Unary = 'neg' | 'exp' | 'log' | 'sqrt' | 'sigmoid' | 'silu' | 'relu' | 'sin' | 'cos' | 'square' | 'step' | 'avgpool2' | 'upsample2';
type Binary = 'add' | 'sub' | 'mul' | 'div';

/** One operation with one output. Inputs name values (graph inputs, params, constants, outputs). */
export type Node =
  | { op: Unary; inputs: [string]; output: string }
  | { op: Binary; inputs: [string, string]; output: string }
  | { op: 'conv2d'; inputs: [string, string] | [string, string, string]; output: string; pad: number }
  | { op: 'groupnorm'; inputs: [string, string, string]; output: string; groups: number; eps: number }
  | { op: 'matmul'; inputs: [string, string]; output: string; transA: boolean; transB: boolean }
  | { op: 'softmax' | 'logsoftmax'; inputs: [string]; output: string; axis: number }
  | { op: 'transpose'; inputs: [string]; output: string; perm: number[] }
  | { op: 'reshape'; inputs: [string]; output: string; shape: number[] }
  | { op: 'concat'; inputs: string[]; output: string; axis: number }
  /** `times` copies of the input stacked along axis 0: out[t·n + i] = x[i]. */
  | { op: 'repeat'; inputs: [string]; output: string; times: number }
  | { op: 'slice'; inputs: [string]; output: string; axis: number; start: number; end: number }
  | { op: 'reduceSum' | 'reduceMean'; inputs: [string]; output: string; axes: number[]; keepDims: boolean }
  // Ops the reverse pass uses (autodiff.ts):
  /** The input gradient of conv2d: inputs [dy, w]. */
  | { op: 'conv2dInput'; inputs: [string, string]; output: string; pad: number }
  /** The filter gradient of conv2d: inputs [x, dy] → [O, I, k, k]. */
  | { op: 'conv2dFilter'; inputs: [string, string]; output: string; pad: number; k: number }
  /** Zero padding along one axis. */
  | { op: 'padAxis'; inputs: [string]; output: string; axis: number; before: number; after: number }
  /** Broadcast inputs[0] to the shape of inputs[1]. */
  | { op: 'expandLike'; inputs: [string, string]; output: string };

export type OpName = Node['op'];

/** A node before its output name is assigned. */
export type NodeSpec = Node extends infer T ? (T extends Node ? Omit<T, 'output'> : never) : never;

export interface Graph {
  inputs: InputInfo[];
  params: ParamInfo[];
  consts: ConstInfo[];
  nodes: Node[];
  /** Graph outputs: public name → value name. */
  outputs: { name: string; value: string }[];
  /** Inferred shape of every value. */
  shapes: Record<string, Dim[]>;
}

/** A value being built: its name and inferred shape. */
export interface V {
  readonly name: string;
  readonly shape: Shape;
}

export const UNARY_OPS: ReadonlySet<string> = new Set<Unary>([
  'neg',
  'exp',
  'log',
  'sqrt',
  'sigmoid',
  'silu',
  'relu',
  'sin',
  'cos',
  'square',
  'step',
  'avgpool2',
  'upsample2',
]);
export const BINARY_OPS: ReadonlySet<string> = new Set<Binary>(['add', 'sub', 'mul', 'div']);

function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Numpy broadcasting of two shapes; symbols only match themselves or 1. */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new Error(`cannot broadcast shapes ${fmt(a)} and ${fmt(b)}`);
  }
  return out;
}

/** A product of dimensions as coefficient × symbols (symbols sorted), e.g. N*S*16 → {k: 16, syms: [N, S]}. */
interface Monomial {
  k: number;
  syms: string[];
}

function monomial(d: Dim): Monomial {
  if (typeof d === 'number') return { k: d, syms: [] };
  const m: Monomial = { k: 1, syms: [] };
  for (const part of d.split('*')) {
    if (/^\d+$/.test(part)) m.k *= Number(part);
    else m.syms.push(part);
  }
  m.syms.sort();
  return m;
}

function toDim(m: Monomial): Dim {
  if (m.syms.length === 0) return m.k;
  return [...m.syms, ...(m.k === 1 ? [] : [String(m.k)])].join('*');
}

function productOf(dims: readonly Dim[]): Monomial {
  const out: Monomial = { k: 1, syms: [] };
  for (const d of dims) {
    const m = monomial(d);
    out.k *= m.k;
    out.syms.push(...m.syms);
  }
  out.syms.sort();
  return out;
}

/** a / b when it is exact, else null. */
function divide(a: Monomial, b: Monomial): Monomial | null {
  if (b.k === 0 || a.k % b.k !== 0) return null;
  const syms = [...a.syms];
  for (const s of b.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return null;
    syms.splice(i, 1);
  }
  return { k: a.k / b.k, syms };
}

/** Output shape of a reshape with ONNX semantics (0 copies the input dim, −1 is inferred). */
export function reshapeShape(input: Shape, target: readonly number[]): Dim[] {
  const out: Dim[] = target.map((t, i) => {
    if (t === 0) {
      if (i >= input.length) throw new Error(`reshape: 0 at position ${i} but the input ${fmt(input)} has rank ${input.length}`);
      return input[i];
    }
    return t;
  });
  const total = productOf(input);
  const minus = target.indexOf(-1);
  if (minus >= 0) {
    if (target.lastIndexOf(-1) !== minus) throw new Error(`reshape: at most one −1 in ${fmt(target)}`);
    const q = divide(total, productOf(out.filter((_, i) => i !== minus)));
    if (!q) throw new Error(`reshape: cannot reshape ${fmt(input)} into ${fmt(target)}`);
    out[minus] = toDim(q);
  } else {
    const q = divide(total, productOf(out));
    if (!q || q.k !== 1 || q.syms.length) throw new Error(`reshape: ${fmt(input)} and ${fmt(target)} have different sizes`);
  }
  return out;
}

function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${what}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Infers the output shape of a node from its input shapes (and checks them). */
export function inferShape(node: Node, shapeOf: (name: string) => Shape): Dim[] {
  const s = node.inputs.map(shapeOf);
  switch (node.op) {
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
      return broadcastShapes(s[0], s[1]);
    case 'avgpool2':
    case 'upsample2': {
      const [n, c, h, w] = s[0];
      if (s[0].length !== 4 || typeof h !== 'number' || typeof w !== 'number') throw new Error(`${node.op}: needs NCHW with static H, W, got ${fmt(s[0])}`);
      if (node.op === 'avgpool2') {
        if (h % 2 || w % 2) throw new Error(`avgpool2: H and W must be even, got ${fmt(s[0])}`);
        return [n, c, h / 2, w / 2];
      }
      return [n, c, h * 2, w * 2];
    }
    case 'neg':
    case 'exp':
    case 'log':
    case 'sqrt':
    case 'sigmoid':
    case 'silu':
    case 'relu':
    case 'sin':
    case 'cos':
    case 'square':
    case 'step':
      return [...s[0]];
    case 'conv2d': {
      const [x, w] = s;
      if (x.length !== 4 || w.length !== 4) throw new Error(`conv2d: needs NCHW input and OIHW filter, got ${fmt(x)} and ${fmt(w)}`);
      if (x[1] !== w[1]) throw new Error(`conv2d: input has ${x[1]} channels but the filter expects ${w[1]}`);
      const [kh, kw] = [w[2] as number, w[3] as number];
      const h = (x[2] as number) + 2 * node.pad - kh + 1;
      const ww = (x[3] as number) + 2 * node.pad - kw + 1;
      if (s[2] && (s[2].length !== 1 || s[2][0] !== w[0])) throw new Error(`conv2d: bias shape ${fmt(s[2])} does not match ${w[0]} output channels`);
      return [x[0], w[0], h, ww];
    }
    case 'groupnorm': {
      const c = s[0][1];
      if (typeof c !== 'number' || c % node.groups) throw new Error(`groupnorm: ${c} channels do not split into ${node.groups} groups`);
      if (s[1].length !== 1 || s[1][0] !== c || s[2].length !== 1 || s[2][0] !== c) throw new Error(`groupnorm: scale/bias must be [${c}]`);
      return [...s[0]];
    }
    case 'matmul': {
      const [a, b] = s;
      if (a.length < 2 || b.length < 2) throw new Error(`matmul: needs rank ≥ 2, got ${fmt(a)} and ${fmt(b)}`);
      const m = node.transA ? a[a.length - 1] : a[a.length - 2];
      const ka = node.transA ? a[a.length - 2] : a[a.length - 1];
      const kb = node.transB ? b[b.length - 1] : b[b.length - 2];
      const n = node.transB ? b[b.length - 2] : b[b.length - 1];
      if (ka !== kb) throw new Error(`matmul: inner dimensions differ (${ka} vs ${kb}) for ${fmt(a)} × ${fmt(b)}`);
      const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
      return [...batch, m, n];
    }
    case 'softmax':
    case 'logsoftmax':
      normAxis(node.axis, s[0].length, node.op);
      return [...s[0]];
    case 'transpose':
      if (node.perm.length !== s[0].length) throw new Error(`transpose: perm ${fmt(node.perm)} does not fit rank ${s[0].length}`);
      return node.perm.map((p) => s[0][p]);
    case 'reshape':
      return reshapeShape(s[0], node.shape);
    case 'concat': {
      const axis = normAxis(node.axis, s[0].length, 'concat');
      let total: Dim = 0;
      for (const sh of s) {
        if (sh.length !== s[0].length) throw new Error(`concat: ranks differ: ${s.map(fmt).join(', ')}`);
        sh.forEach((d, i) => {
          if (i !== axis && d !== s[0][i]) throw new Error(`concat: shapes ${s.map(fmt).join(', ')} differ off axis ${axis}`);
        });
        const d = sh[axis];
        total = typeof total === 'number' && typeof d === 'number' ? total + d : `${total}+${d}`;
      }
      const out = [...s[0]];
      out[axis] = total;
      return out;
    }
    case 'repeat': {
      if (!Number.isInteger(node.times) || node.times < 1) throw new Error(`repeat: times must be a positive integer, got ${node.times}`);
      const m = monomial(s[0][0]);
      return [toDim({ k: m.k * node.times, syms: m.syms }), ...s[0].slice(1)];
    }
    case 'slice': {
      const axis = normAxis(node.axis, s[0].length, 'slice');
      const d = s[0][axis];
      if (typeof d !== 'number' || node.start < 0 || node.end > d || node.start >= node.end) {
        throw new Error(`slice: [${node.start}, ${node.end}) is not inside axis ${axis} of ${fmt(s[0])}`);
      }
      const out = [...s[0]];
      out[axis] = node.end - node.start;
      return out;
    }
    case 'reduceSum':
    case 'reduceMean': {
      const axes = node.axes.map((a) => normAxis(a, s[0].length, node.op));
      if (node.keepDims) return s[0].map((d, i) => (axes.includes(i) ? 1 : d));
      return s[0].filter((_, i) => !axes.includes(i));
    }
    case 'conv2dInput': {
      const [dy, w] = s;
      const k = w[2] as number;
      return [dy[0], w[1], (dy[2] as number) + k - 1 - 2 * node.pad, (dy[3] as number) + k - 1 - 2 * node.pad];
    }
    case 'conv2dFilter':
      return [s[1][1], s[0][1], node.k, node.k];
    case 'padAxis': {
      const axis = normAxis(node.axis, s[0].length, 'padAxis');
      const d = s[0][axis];
      if (typeof d !== 'number') throw new Error(`padAxis: axis ${axis} of ${fmt(s[0])} must be static`);
      const out = [...s[0]];
      out[axis] = d + node.before + node.after;
      return out;
    }
    case 'expandLike':
      broadcastShapes(s[0], s[1]);
      return [...s[1]];
  }
}

/**
 * Builds a `Graph` op by op, inferring and checking shapes as it goes.
 * Value names are generated; inputs, params and outputs keep the names you give.
 */
export class GraphBuilder {
  private readonly inputs: InputInfo[] = [];
  private readonly params: ParamInfo[] = [];
  private readonly consts: ConstInfo[] = [];
  private readonly nodes: Node[] = [];
  private readonly outputs: { name: string; value: string }[] = [];
  private readonly shapes: Record<string, Dim[]> = {};
  private counter = 0;
  private prefix = '';

  /**
   * A builder that continues an existing graph: its values keep their names and new values get
   * `prefix` (so they cannot collide). Outputs start empty.
   */
  static extend(graph: Graph, prefix: string): GraphBuilder {
    const b = new GraphBuilder();
    b.inputs.push(...graph.inputs.map((i) => ({ ...i, shape: [...i.shape] })));
    b.params.push(...graph.params);
    b.consts.push(...graph.consts);
    b.nodes.push(...graph.nodes);
    Object.assign(b.shapes, graph.shapes);
    b.prefix = prefix;
    return b;
  }

  /** The inferred shape of a value. */
  shapeOf(name: string): Dim[] {
    const s = this.shapes[name];
    if (!s) throw new Error(`GraphBuilder: unknown value '${name}'`);
    return s;
  }

  private declare(name: string, shape: Dim[]): V {
    if (name in this.shapes) throw new Error(`GraphBuilder: the name '${name}' is already used`);
    this.shapes[name] = shape;
    return { name, shape };
  }

  /** A graph input, e.g. `input('x', ['N', 3, 32, 32])`. */
  input(name: string, shape: Dim[]): V {
    this.inputs.push({ name, shape: [...shape] });
    return this.declare(name, [...shape]);
  }

  /** A trainable parameter with a static shape. Declaring it again (same shape) shares it. */
  param(name: string, shape: number[], init: Init): V {
    const existing = this.params.find((p) => p.name === name);
    if (existing) {
      if (existing.shape.join() !== shape.join()) throw new Error(`GraphBuilder: parameter '${name}' declared as [${existing.shape}] and [${shape}]`);
      return { name, shape: [...shape] };
    }
    this.params.push({ name, shape: [...shape], init });
    return this.declare(name, [...shape]);
  }

  /** Number of nodes so far (a marker for `nodesSince`). */
  get nodeCount(): number {
    return this.nodes.length;
  }

  /** The nodes added since a marker. */
  nodesSince(marker: number): Node[] {
    return this.nodes.slice(marker);
  }

  /** A constant tensor (small; embedded in every graph that uses it). */
  constant(values: ArrayLike<number>, shape: number[] = [values.length]): V {
    const name = `${this.prefix}const_${this.counter++}`;
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== values.length) throw new Error(`constant: ${values.length} values for shape ${fmt(shape)}`);
    this.consts.push({ name, shape: [...shape], values: Array.from(values) });
    return this.declare(name, [...shape]);
  }

  /** A rank-0 constant. */
  scalar(value: number): V {
    return this.constant([value], []);
  }

  /** Appends a node (shape inferred) and returns its output. */
  node(partial: NodeSpec): V {
    const output = `${this.prefix}${partial.op}_${this.counter++}`;
    const node = { ...partial, output } as Node;
    for (const i of node.inputs) if (!(i in this.shapes)) throw new Error(`GraphBuilder: unknown value '${i}' used by ${node.op}`);
    const shape = inferShape(node, (n) => this.shapes[n]);
    this.nodes.push(node);
    return this.declare(output, shape);
  }

  /** Marks a value as a graph output under a public name. */
  output(name: string, v: V): void {
    if (this.outputs.some((o) => o.name === name)) throw new Error(`GraphBuilder: output '${name}' declared twice`);
    this.outputs.push({ name, value: v.name });
  }

  build(): Graph {
    if (this.outputs.length === 0) throw new Error('GraphBuilder: the graph has no outputs');
    return {
      inputs: [...this.inputs],
      params: [...this.params],
      consts: [...this.consts],
      nodes: [...this.nodes],
      outputs: [...this.outputs],
      shapes: { ...this.shapes },
    };
  }

  // ---- ops -------------------------------------------------------------------------------------

  private un(op: Unary, x: V): V {
    return this.node({ op, inputs: [x.name] } as NodeSpec);
  }
  private bin(op: Binary, a: V | number, b: V | number): V {
    const av = typeof a === 'number' ? this.scalar(a) : a;
    const bv = typeof b === 'number' ? this.scalar(b) : b;
    return this.node({ op, inputs: [av.name, bv.name] } as NodeSpec);
  }

  add(a: V | number, b: V | number): V {
    return this.bin('add', a, b);
  }
  sub(a: V | number, b: V | number): V {
    return this.bin('sub', a, b);
  }
  mul(a: V | number, b: V | number): V {
    return this.bin('mul', a, b);
  }
  div(a: V | number, b: V | number): V {
    return this.bin('div', a, b);
  }
  neg(x: V): V {
    return this.un('neg', x);
  }
  exp(x: V): V {
    return this.un('exp', x);
  }
  log(x: V): V {
    return this.un('log', x);
  }
  sqrt(x: V): V {
    return this.un('sqrt', x);
  }
  sigmoid(x: V): V {
    return this.un('sigmoid', x);
  }
  silu(x: V): V {
    return this.un('silu', x);
  }
  relu(x: V): V {
    return this.un('relu', x);
  }
  sin(x: V): V {
    return this.un('sin', x);
  }
  cos(x: V): V {
    return this.un('cos', x);
  }
  square(x: V): V {
    return this.un('square', x);
  }
  /** 1 where x > 0, else 0 (no gradient). */
  step(x: V): V {
    return this.un('step', x);
  }
  /** 2×2 average pooling, stride 2 (NCHW). */
  avgpool2(x: V): V {
    return this.un('avgpool2', x);
  }
  /** 2× nearest-neighbour upsampling (NCHW). */
  upsample2(x: V): V {
    return this.un('upsample2', x);
  }
  /** Inverted dropout: x times a mask input (see `InputInfo.dropout`). Use only in training graphs. */
  dropout(x: V, rate: number): V {
    if (rate <= 0) return x;
    if (!(rate < 1)) throw new Error(`dropout: rate must be < 1, got ${rate}`);
    const name = `${this.prefix}dropout_mask.${this.inputs.filter((i) => i.dropout !== undefined).length}`;
    this.inputs.push({ name, shape: [...x.shape], dropout: rate });
    return this.mul(x, this.declare(name, [...x.shape]));
  }

  /** 2-D convolution, stride 1, symmetric zero padding `pad` (default: k // 2, i.e. 'same'). */
  conv2d(x: V, w: V, b?: V, pad?: number): V {
    const p = pad ?? Math.floor((w.shape[2] as number) / 2);
    const inputs = (b ? [x.name, w.name, b.name] : [x.name, w.name]) as [string, string] | [string, string, string];
    return this.node({ op: 'conv2d', inputs, pad: p });
  }

  groupnorm(x: V, gamma: V, beta: V, groups: number, eps = 1e-5): V {
    return this.node({ op: 'groupnorm', inputs: [x.name, gamma.name, beta.name], groups, eps });
  }

  matmul(a: V, b: V, transA = false, transB = false): V {
    return this.node({ op: 'matmul', inputs: [a.name, b.name], transA, transB });
  }

  softmax(x: V, axis = -1): V {
    return this.node({ op: 'softmax', inputs: [x.name], axis });
  }

  logsoftmax(x: V, axis = -1): V {
    return this.node({ op: 'logsoftmax', inputs: [x.name], axis });
  }

  transpose(x: V, perm: number[]): V {
    return this.node({ op: 'transpose', inputs: [x.name], perm: [...perm] });
  }

  /** Reshape with ONNX semantics: 0 copies the input dimension, −1 is inferred. */
  reshape(x: V, shape: number[]): V {
    return this.node({ op: 'reshape', inputs: [x.name], shape: [...shape] });
  }

  concat(xs: V[], axis: number): V {
    if (xs.length === 1) return xs[0];
    return this.node({ op: 'concat', inputs: xs.map((x) => x.name), axis });
  }

  /** `times` copies of x stacked along axis 0. */
  repeat(x: V, times: number): V {
    if (times === 1) return x;
    return this.node({ op: 'repeat', inputs: [x.name], times });
  }

  slice(x: V, axis: number, start: number, end: number): V {
    return this.node({ op: 'slice', inputs: [x.name], axis, start, end });
  }

  reduceSum(x: V, axes: number[], keepDims = false): V {
    return this.node({ op: 'reduceSum', inputs: [x.name], axes: [...axes], keepDims });
  }

  reduceMean(x: V, axes: number[], keepDims = false): V {
    return this.node({ op: 'reduceMean', inputs: [x.name], axes: [...axes], keepDims });
  }

  /** x·Wᵀ + b for x [N, in], W [out, in], b [out]. */
  linear(x: V, w: V, b?: V): V {
    const y = this.matmul(x, w, false, true);
    return b ? this.add(y, b) : y;
  }
}

/** Names of the values a graph needs at run time, in order: inputs then params. */
export function graphInputNames(g: Graph): string[] {
  return [...g.inputs.map((i) => i.name), ...g.params.map((p) => p.name)];
}

/** Number of trainable scalars. */
export function parameterCount(g: Graph): number {
  return g.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
}

type SizeOf = (shape: Shape) => number;

function sizer(symbols: Record<string, number>): SizeOf {
  return (shape) => shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : (symbols[d] ?? 1)), 1);
}

/**
 * Multiply–accumulates of one node: conv2d and matmul, and the fixed 2×2 resampling filters (EDM's
 * count: C·4 per output pixel down, per input pixel up); 0 for other ops.
 */
function nodeMacs(g: Graph, n: Node, size: SizeOf): number {
  if (n.op === 'avgpool2') return 4 * size(g.shapes[n.output]);
  if (n.op === 'upsample2') return size(g.shapes[n.output]);
  if (n.op === 'conv2d') {
    const w = g.shapes[n.inputs[1]] as number[];
    return size(g.shapes[n.output]) * w[1] * w[2] * w[3];
  }
  if (n.op === 'matmul') {
    const a = g.shapes[n.inputs[0]];
    return size(g.shapes[n.output]) * size([n.transA ? a[a.length - 2] : a[a.length - 1]]);
  }
  return 0;
}

/**
 * Floating-point operations of one forward pass, with every symbolic dimension set to 1
 * (so: per image). Counts multiply–adds as 2 FLOPs for conv and matmul; elementwise ops as 1 per
 * output element.
 */
export function forwardFlops(g: Graph, symbols: Record<string, number> = {}): number {
  const size = sizer(symbols);
  let flops = 0;
  for (const n of g.nodes) {
    const out = g.shapes[n.output];
    if (n.op === 'conv2d' || n.op === 'matmul') flops += 2 * nodeMacs(g, n, size);
    else if (n.op === 'avgpool2' || n.op === 'upsample2') flops += nodeMacs(g, n, size);
    else if (n.op === 'groupnorm' || n.op === 'softmax' || n.op === 'logsoftmax') flops += 5 * size(out);
    else if (n.op !== 'reshape' && n.op !== 'transpose' && n.op !== 'slice' && n.op !== 'concat' && n.op !== 'repeat') flops += size(out);
  }
  return flops;
}

/**
 * Multiply–accumulates of one forward pass per image (every symbolic dimension 1): convolutions
 * (C_out·C_in·k²·H_out·W_out), matrix products and the 2×2 resampling filters, as EDM's MAC counts
 * are made (norms, activations and additions are not counted).
 */
export function forwardMacs(g: Graph, symbols: Record<string, number> = {}): number {
  const size = sizer(symbols);
  return g.nodes.reduce((a, n) => a + nodeMacs(g, n, size), 0);
}
