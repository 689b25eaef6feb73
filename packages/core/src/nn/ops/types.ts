/**
 * What an op is, in the op table: its shape rule, its gradient rule (written with graph ops, so
 * gradient graphs run on every engine and can be differentiated again), its ONNX emitter and its
 * TensorFlow.js evaluator. `OpTable` is typed over every op, so an op without all four does not
 * compile. TensorFlow.js is only named by type here: the evaluator gets the library from the tfjs
 * engine (engines/tfjs-graph.ts), so nothing here loads it.
 *
 * @example
 * const shape = OPS.conv2d.shape(node, [xShape, wShape]);
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { GraphBuilder } from '../graph/builder.js';
import type { Dim, NodeOf, OpName, Shape, V } from '../graph/types.js';
import type { Emitter } from '../onnx/emitter.js';

export type Tf = typeof TfCore;
export type TfTensor = TfCore.Tensor;

/** A value of the tfjs evaluator: rank-4 values may be stored NHWC (their logical shape stays NCHW). */
export interface TfVal {
  t: TfCore.Tensor;
  nhwc: boolean;
}

/** What a tfjs evaluator gets: the library, the node's inputs, and the layout helpers. */
export interface TfjsContext {
  tf: Tf;
  get(name: string): TfVal;
  /** The logical NCHW tensor of a value. */
  nchw(v: TfVal): TfCore.Tensor;
  /** A rank-4 value as NHWC. */
  nhwc(v: TfVal): TfCore.Tensor4D;
  /** Two operands of an elementwise op in one physical layout (and whether it is NHWC). */
  align(a: TfVal, b: TfVal): [TfCore.Tensor, TfCore.Tensor, boolean];
}

/** What a gradient rule gets: the builder, the gradient of the output, the inputs, the output, which inputs need one. */
export interface VjpContext {
  b: GraphBuilder;
  dy: V;
  x: V[];
  y: V;
  needs(i: number): boolean;
}

export interface OpDef<K extends OpName> {
  /** The output shape from the input shapes (throwing on shapes the op cannot take). */
  shape(node: NodeOf<K>, inputs: Shape[]): Dim[];
  /** The gradients of the inputs (null: not needed or zero). */
  vjp(c: VjpContext, node: NodeOf<K>): (V | null)[];
  /** ONNX nodes computing the output. */
  onnx(e: Emitter, node: NodeOf<K>, shapeOf: (name: string) => Shape): void;
  /** The output with TensorFlow.js ops. */
  tfjs(c: TfjsContext, node: NodeOf<K>): TfVal;
}

export type OpTable<K extends OpName = OpName> = { readonly [P in K]: OpDef<P> };
