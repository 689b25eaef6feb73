/**
 * Reverse-mode differentiation of a `Graph` into another `Graph`: the forward nodes followed by
 * their vector–Jacobian products, so that any engine that runs graphs (ONNX Runtime in particular)
 * computes exact gradients. The result has
 * - the original inputs and params, plus a last input `cotangent` shaped like the differentiated
 *   output (its weighting: for a scalar loss feed 1); `cotangent2`… when differentiating again;
 * - outputs `value` (the differentiated output) and `grad.<name>` for every requested name.
 *
 * Every op has its rule in the op table (nn/ops), written with the same builder ops, so the ONNX
 * writer needs nothing new beyond a few reverse-pass ops (conv2dInput, conv2dFilter, padAxis,
 * expandLike).
 *
 * @example
 * const g = gradientGraph(lmObjectiveGraph(cfg), { of: 'loss', wrt: ['x'] });
 * // inputs: x, noise, sigma, cotangent [B]; outputs: value [B], grad.x [B, C, H, W]
 */
import { GraphBuilder, type Graph, type Node, type V } from './graph/index.js';
import { OPS, type VjpContext } from './ops/index.js';

export interface GradientSpec {
  of: string;
  wrt: readonly string[];
}

export const COTANGENT = 'cotangent';

/** The cotangent input of a gradient graph (its last input). */
export function cotangentInput(g: Graph): { name: string; shape: readonly (number | string)[] } {
  const last = g.inputs[g.inputs.length - 1];
  if (!last?.name.startsWith(COTANGENT)) throw new Error('autodiff: not a gradient graph');
  return last;
}
export const gradName = (name: string): string => `grad.${name}`;

/** The input gradients of one node, given the gradient `dy` of its output: its op's rule in the op table. */
function vjp(b: GraphBuilder, node: Node, dy: V, val: (name: string) => V, needs: (i: number) => boolean): (V | null)[] {
  const rule = OPS[node.op].vjp as (c: VjpContext, n: Node) => (V | null)[];
  return rule({ b, dy, x: node.inputs.map(val), y: val(node.output), needs }, node);
}

/**
 * Appends the reverse pass of `nodes` to the builder: given gradients of some values (`seeds`),
 * returns the gradients of `wrt` (missing entries: the seeds do not depend on them). Composable:
 * the nodes may themselves come from an earlier reverse pass (second order).
 */
export function appendReverse(b: GraphBuilder, nodes: readonly Node[], seeds: Map<string, V>, wrt: readonly string[]): Map<string, V> {
  const live = new Set(wrt);
  for (const n of nodes) if (n.inputs.some((i) => live.has(i))) live.add(n.output);
  const needed = new Set(seeds.keys());
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (needed.has(n.output)) for (const inp of n.inputs) needed.add(inp);
  }
  const val = (name: string): V => ({ name, shape: b.shapeOf(name) });
  const grads = new Map(seeds);
  const accumulate = (name: string, g: V) => {
    const prev = grads.get(name);
    grads.set(name, prev ? b.add(prev, g) : g);
  };
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    const dy = grads.get(node.output);
    if (!dy || !live.has(node.output) || !needed.has(node.output)) continue;
    const gin = vjp(b, node, dy, val, (j) => live.has(node.inputs[j]));
    gin.forEach((g, j) => {
      if (g && live.has(node.inputs[j])) accumulate(node.inputs[j], g);
    });
  }
  return new Map(wrt.filter((w) => grads.has(w)).map((w) => [w, grads.get(w)!]));
}

/** Builds the gradient graph of `spec.of` with respect to `spec.wrt` (inputs or params). */
export function gradientGraph(graph: Graph, spec: GradientSpec): Graph {
  const out = graph.outputs.find((o) => o.name === spec.of);
  if (!out) throw new Error(`autodiff: the graph has no output '${spec.of}'`);
  const leaves = new Set([...graph.inputs.map((i) => i.name), ...graph.params.map((p) => p.name)]);
  for (const w of spec.wrt) if (!leaves.has(w)) throw new Error(`autodiff: '${w}' is not an input or parameter of the graph`);
  const level = graph.inputs.filter((i) => i.name.startsWith(COTANGENT)).length;
  const b = GraphBuilder.extend(graph, level ? `bw${level + 1}_` : 'bw_');
  // The cotangent is the last input ('cotangent', or 'cotangent2'… for a gradient of a gradient).
  const cot = b.input(level ? `${COTANGENT}${level + 1}` : COTANGENT, [...b.shapeOf(out.value)]);
  const grads = appendReverse(b, graph.nodes, new Map([[out.value, cot]]), spec.wrt);
  b.output('value', { name: out.value, shape: b.shapeOf(out.value) });
  for (const w of spec.wrt) {
    // A leaf the output does not depend on has a zero gradient.
    b.output(gradName(w), grads.get(w) ?? b.mul({ name: w, shape: b.shapeOf(w) }, 0));
  }
  return b.build();
}
