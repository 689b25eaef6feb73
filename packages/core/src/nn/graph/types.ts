/**
 * The network description as data: a small typed tensor graph that every engine reads.
 *
 * A `Graph` lists named inputs (with symbolic batch dimensions), parameters (static shapes and an
 * initialiser), constants, and a topologically ordered list of single-output nodes. Each op's fields
 * are declared once, in `OpParams`; what an op does (its shape rule, gradient rule, ONNX emitter and
 * TensorFlow.js evaluator) is its entry in the op table (nn/ops). Layout is NCHW; convolution filters
 * are OIHW; linear weights are [out, in] (PyTorch's conventions).
 *
 * @example
 * const node: NodeOf<'conv2d'> = { op: 'conv2d', inputs: ['x', 'w'], output: 'y', pad: 1 };
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

type One = { inputs: [string] };

/** A convolution's geometry: symmetric zero padding, and stride, dilation and groups (default 1). */
export interface ConvGeometry {
  pad: number;
  stride?: number;
  dilation?: number;
  groups?: number;
}

/** A pooling window: kernel and stride [h, w], padding [top, left, bottom, right]. */
export interface PoolGeometry {
  kernel: [number, number];
  stride: [number, number];
  pads: [number, number, number, number];
}
type Two = { inputs: [string, string] };

/** Every op's inputs and attributes (the one declaration of an op's fields). */
export interface OpParams {
  add: Two;
  sub: Two;
  mul: Two;
  div: Two;
  neg: One;
  exp: One;
  log: One;
  sqrt: One;
  sigmoid: One;
  silu: One;
  relu: One;
  sin: One;
  cos: One;
  square: One;
  /** 1 where x > 0, else 0 (no gradient). */
  step: One;
  /** 2×2 average pooling, stride 2 (NCHW). */
  avgpool2: One;
  /** 2× nearest-neighbour upsampling (NCHW). */
  upsample2: One;
  /**
   * Convolution with symmetric zero padding: inputs [x, w] or [x, w, bias], w [O, I/groups, kh, kw].
   * Stride, dilation and groups default to 1 (the project's own networks); networks read by
   * `rdc import onnx` use them all.
   */
  conv2d: { inputs: [string, string] | [string, string, string] } & ConvGeometry;
  groupnorm: { inputs: [string, string, string]; groups: number; eps: number };
  matmul: Two & { transA: boolean; transB: boolean };
  softmax: One & { axis: number };
  logsoftmax: One & { axis: number };
  transpose: One & { perm: number[] };
  /** ONNX semantics: 0 copies the input dimension, −1 is inferred. */
  reshape: One & { shape: number[] };
  concat: { inputs: string[]; axis: number };
  /** `times` copies of the input stacked along axis 0: out[t·n + i] = x[i]. */
  repeat: One & { times: number };
  slice: One & { axis: number; start: number; end: number };
  reduceSum: One & { axes: number[]; keepDims: boolean };
  reduceMean: One & { axes: number[]; keepDims: boolean };
  // Ops the reverse pass uses (autodiff.ts):
  /**
   * The input gradient of conv2d (a transposed convolution): inputs [dy, w]; `adj` adds rows and
   * columns at the end where a strided convolution's input had some its windows never reached.
   */
  conv2dInput: Two & ConvGeometry & { adj?: [number, number] };
  /** The filter gradient of conv2d: inputs [x, dy] → [O, I, k, k]. */
  conv2dFilter: Two & { pad: number; k: number };
  /**
   * Max pooling (NCHW) over kh×kw windows, padding [top, left, bottom, right] that no window's
   * maximum comes from (ONNX MaxPool).
   */
  maxpool: One & PoolGeometry;
  /** The input gradient of maxpool: inputs [dy, x]; each window's gradient goes to its first maximum. */
  maxpoolGrad: Two & PoolGeometry;
  /** Zero padding along one axis. */
  padAxis: One & { axis: number; before: number; after: number };
  /** Broadcast inputs[0] to the shape of inputs[1]. */
  expandLike: Two;
}

export type OpName = keyof OpParams;

/** One node of op K: its fields and its output's name. */
export type NodeOf<K extends OpName> = { op: K; output: string } & OpParams[K];

/** One operation with one output. Inputs name values (graph inputs, params, constants, outputs). */
export type Node = { [K in OpName]: NodeOf<K> }[OpName];

/** A node before its output name is assigned. */
export type NodeSpec = { [K in OpName]: { op: K } & OpParams[K] }[OpName];

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
