/**
 * The state of one ONNX import: the graph being built, what each ONNX value is (a tensor of that
 * graph or a constant), the weights the parameters take, and the ONNX graph's consumers (the
 * batch-norm folding looks ahead). The op translations (onnx-ops.ts) read and write through it.
 *
 * @example
 * const x = ctx.tensor(node.input[0]); // a graph value; a float constant becomes a parameter
 */
import { GraphBuilder, type V } from '../nn/graph/index.js';
import type { Tensor } from '../tensor.js';
import { longToNumber, type OnnxFile } from './onnx-file.js';
import { nodeError, size, type Known, type Value } from './onnx-values.js';
import type { OnnxNs } from '../nn/onnx/emitter.js';

export type OnnxNode = OnnxNs.INodeProto;
export type OnnxAttribute = OnnxNs.IAttributeProto;

/** Float constants with at most this many elements stay in the graph description; larger ones become weights. */
const INLINE_CONSTANT = 16;

const toNumber = (v: unknown) => (v == null ? 0 : longToNumber(v));

export class ImportContext {
  readonly b = new GraphBuilder();
  readonly weights: Record<string, Tensor> = {};
  private readonly values = new Map<string, Value>();
  private readonly params = new Map<string, V>();
  /** Nodes already translated by a look-ahead (a batch norm folded into its convolution). */
  readonly consumed = new Set<OnnxNode>();
  private readonly consumers = new Map<string, OnnxNode[]>();
  private readonly graphOutputs: Set<string>;

  constructor(
    readonly file: OnnxFile,
    graph: OnnxNs.IGraphProto,
  ) {
    for (const n of graph.node ?? []) for (const i of n.input ?? []) if (i) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
    this.graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  }

  /** The nodes that read a value (none for a graph output counts as a reader). */
  soleConsumer(name: string): OnnxNode | null {
    const c = this.consumers.get(name) ?? [];
    return c.length === 1 && !this.graphOutputs.has(name) ? c[0] : null;
  }

  isUsed(name: string): boolean {
    return (this.consumers.get(name)?.length ?? 0) > 0 || this.graphOutputs.has(name);
  }

  set(name: string, value: Value): void {
    this.values.set(name, value);
  }

  setTensor(name: string, v: V): void {
    this.values.set(name, { kind: 'tensor', v });
  }

  has(name: string | undefined | null): boolean {
    return !!name && this.values.has(name);
  }

  value(name: string, node: OnnxNode): Value {
    const v = this.values.get(name);
    if (!v) throw nodeError(this.file.path, node, `reads '${name}', which no earlier node, input or initializer defines`);
    return v;
  }

  /** A constant input, or an error naming what must be constant. */
  known(name: string, node: OnnxNode, what: string): Known {
    const v = this.value(name, node);
    if (v.kind !== 'const') throw nodeError(this.file.path, node, `${what} must be a constant (an initializer or folded shape arithmetic)`);
    return v.k;
  }

  /** An input as a graph value: a float constant becomes a parameter (or, when small, a constant of the graph). */
  tensor(name: string, node: OnnxNode): V {
    const v = this.value(name, node);
    if (v.kind === 'tensor') return v.v;
    if (!v.k.float) throw nodeError(this.file.path, node, `uses the integer constant '${name}' as a tensor`);
    return this.constantTensor(v.k, name);
  }

  /** A float constant as a graph value (memoised by its ONNX name). */
  constantTensor(k: Known, name: string): V {
    const memo = this.params.get(name);
    if (memo) return memo;
    const values = Float32Array.from(k.values as ArrayLike<number>);
    const v = size(k.dims) <= INLINE_CONSTANT ? this.b.constant(values, k.dims) : this.param(k.source ?? name, k.dims, values);
    this.params.set(name, v);
    return v;
  }

  /** A new parameter holding these values (a unique name derived from `base`). */
  param(base: string, dims: number[], values: Float32Array): V {
    const clean = `net.${base.replace(/[^A-Za-z0-9_.]/g, '_')}`;
    let name = clean;
    for (let i = 1; name in this.weights; i++) name = `${clean}.${i}`;
    this.weights[name] = { data: values, dims: [...dims] };
    return this.b.param(name, [...dims], { kind: 'zeros' });
  }

  /** An attribute of a node by name. */
  attr(node: OnnxNode, name: string): OnnxAttribute | undefined {
    return (node.attribute ?? []).find((a) => a.name === name);
  }

  int(node: OnnxNode, name: string, fallback: number): number {
    const a = this.attr(node, name);
    return a ? toNumber(a.i) : fallback;
  }

  ints(node: OnnxNode, name: string, fallback: number[]): number[] {
    const a = this.attr(node, name);
    return a ? (a.ints ?? []).map(toNumber) : fallback;
  }

  float(node: OnnxNode, name: string, fallback: number): number {
    const a = this.attr(node, name);
    return a ? (a.f ?? 0) : fallback;
  }

  string(node: OnnxNode, name: string, fallback: string): string {
    const a = this.attr(node, name);
    return a?.s ? new TextDecoder().decode(a.s) : fallback;
  }

  error(node: OnnxNode, message: string): Error {
    return nodeError(this.file.path, node, message);
  }
}
