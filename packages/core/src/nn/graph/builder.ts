/**
 * Builds a `Graph` op by op, inferring and checking shapes as it goes (each op's shape rule is its
 * entry in the op table). Value names are generated; inputs, params and outputs keep the names you give.
 *
 * @example
 * const g = new GraphBuilder();
 * const x = g.input('x', ['N', 3, 8, 8]);
 * const w = g.param('conv.weight', [4, 3, 3, 3], { kind: 'normal', std: 0.1 });
 * g.output('y', g.conv2d(x, w));
 * const graph = g.build();
 */
import { OPS } from '../ops/index.js';
import { formatShape } from './shapes.js';
import type { ConstInfo, Dim, Graph, Init, InputInfo, Node, NodeSpec, OpName, OpParams, ParamInfo, Shape, V } from './types.js';

/** Ops with one input and no attributes, and with two inputs and none. */
type Unary = { [K in OpName]: OpParams[K] extends { inputs: [string] } ? ({ inputs: [string] } extends OpParams[K] ? K : never) : never }[OpName];
type Binary = {
  [K in OpName]: OpParams[K] extends { inputs: [string, string] } ? ({ inputs: [string, string] } extends OpParams[K] ? K : never) : never;
}[OpName];

/** Infers the output shape of a node from its input shapes (and checks them): the op's shape rule. */
export function inferShape(node: Node, shapeOf: (name: string) => Shape): Dim[] {
  const rule = OPS[node.op].shape as (n: Node, s: Shape[]) => Dim[];
  return rule(node, node.inputs.map(shapeOf));
}

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
    if (n !== values.length) throw new Error(`constant: ${values.length} values for shape ${formatShape(shape)}`);
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
