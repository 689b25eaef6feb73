import { GraphBuilder, type Dim, type Graph, type Node, type V } from './graph.js';

/**
 * Reverse-mode differentiation of a `Graph` into another `Graph`: the forward nodes followed by
 * their vector–Jacobian products, so that any engine that runs graphs (ONNX Runtime in particular)
 * computes exact gradients. The result has
 * - the original inputs and params, plus a last input `cotangent` shaped like the differentiated
 *   output (its weighting: for a scalar loss feed 1); `cotangent2`… when differentiating again;
 * - outputs `value` (the differentiated output) and `grad.<name>` for every requested name.
 *
 * Every op of the network description has a rule below, written with the same builder ops, so the
 * ONNX writer needs nothing new beyond a few reverse-pass ops (conv2dInput, conv2dFilter, padAxis,
 * expandLike).
 *
 * @example
 * const g = gradientGraph(lmObjectiveGraph(cfg), { of: 'loss', wrt: ['x'] });
 * // inputs: x, noise, sigma, cotangent [B]; outputs: value [B], grad.x [B, C, H, W]
 */
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

/** Sums `g` (shape gShape) down to `target` (numpy broadcasting in reverse). */
function unbroadcast(b: GraphBuilder, g: V, target: readonly Dim[]): V {
  const gs = g.shape;
  if (gs.length === target.length && gs.every((d, i) => d === target[i])) return g;
  const lead = gs.length - target.length;
  const axes: number[] = [];
  for (let i = 0; i < gs.length; i++) {
    if (i < lead) axes.push(i);
    else if (target[i - lead] === 1 && gs[i] !== 1) axes.push(i);
  }
  let r = axes.length ? b.reduceSum(g, axes, true) : g;
  if (lead > 0 || r.shape.length !== target.length) r = reshapeTo(b, r, target);
  return r;
}

/** Reshapes to a (possibly symbolic) shape: static dims as they are, one symbolic dim as −1. */
function reshapeTo(b: GraphBuilder, x: V, target: readonly Dim[]): V {
  if (x.shape.length === target.length && x.shape.every((d, i) => d === target[i])) return x;
  const symbolic = target.filter((d) => typeof d !== 'number');
  if (symbolic.length > 1) throw new Error(`autodiff: cannot reshape to [${target.join(', ')}] (more than one symbolic dimension)`);
  return b.reshape(
    x,
    target.map((d) => (typeof d === 'number' ? d : -1)),
  );
}

function sameShape(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The input gradients of one node, given the gradient `dy` of its output. */
function vjp(b: GraphBuilder, node: Node, dy: V, val: (name: string) => V, needs: (i: number) => boolean): (V | null)[] {
  const x = node.inputs.map(val);
  const y = val(node.output);
  switch (node.op) {
    case 'add':
      return [needs(0) ? unbroadcast(b, dy, x[0].shape) : null, needs(1) ? unbroadcast(b, dy, x[1].shape) : null];
    case 'sub':
      return [needs(0) ? unbroadcast(b, dy, x[0].shape) : null, needs(1) ? unbroadcast(b, b.neg(dy), x[1].shape) : null];
    case 'mul':
      return [needs(0) ? unbroadcast(b, b.mul(dy, x[1]), x[0].shape) : null, needs(1) ? unbroadcast(b, b.mul(dy, x[0]), x[1].shape) : null];
    case 'div':
      return [needs(0) ? unbroadcast(b, b.div(dy, x[1]), x[0].shape) : null, needs(1) ? unbroadcast(b, b.neg(b.div(b.mul(dy, y), x[1])), x[1].shape) : null];
    case 'neg':
      return [b.neg(dy)];
    case 'exp':
      return [b.mul(dy, y)];
    case 'log':
      return [b.div(dy, x[0])];
    case 'sqrt':
      return [b.div(b.mul(dy, 0.5), y)];
    case 'sigmoid':
      return [b.mul(dy, b.mul(y, b.sub(1, y)))];
    case 'silu': {
      // d/dx x·s(x) = s·(1 + x·(1 − s)) = s + y·(1 − s), with y = x·s the forward output (one pass fewer).
      const s = b.sigmoid(x[0]);
      return [b.mul(dy, b.add(s, b.mul(y, b.sub(1, s))))];
    }
    case 'relu':
      return [b.mul(dy, b.step(x[0]))];
    case 'sin':
      return [b.mul(dy, b.cos(x[0]))];
    case 'cos':
      return [b.neg(b.mul(dy, b.sin(x[0])))];
    case 'square':
      return [b.mul(dy, b.mul(x[0], 2))];
    case 'step':
      return [null];
    case 'avgpool2':
      return [b.mul(b.upsample2(dy), 0.25)];
    case 'upsample2':
      return [b.mul(b.avgpool2(dy), 4)];
    case 'conv2d': {
      const k = x[1].shape[2] as number;
      return [
        needs(0) ? b.node({ op: 'conv2dInput', inputs: [dy.name, x[1].name], pad: node.pad }) : null,
        needs(1) ? b.node({ op: 'conv2dFilter', inputs: [x[0].name, dy.name], pad: node.pad, k }) : null,
        x[2] && needs(2) ? b.reduceSum(dy, [0, 2, 3]) : null,
      ];
    }
    case 'groupnorm': {
      // With x̂ the normalized input, ĝ = γ·dy: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), the means over
      // each group. The group means come from per-channel sums S = Σ dy·x̂ and D = Σ dy (which also give
      // dγ and dβ), so the full-size work is x̂, dy·x̂ and one combination pass.
      const [xv, gamma] = x;
      const [, c, h, w] = xv.shape as number[];
      const g = node.groups;
      const cg = c / g;
      const hw = h * w;
      const xg = b.reshape(xv, [0, g, cg * hw]);
      const mean = b.reduceMean(xg, [2], true);
      const centered = b.sub(xg, mean);
      const rstd = b.div(1, b.sqrt(b.add(b.reduceMean(b.square(centered), [2], true), node.eps))); // [N, G, 1]
      const xhat = b.reshape(b.mul(centered, rstd), [0, g, cg, hw]);
      const dy4 = b.reshape(dy, [0, g, cg, hw]);
      const sums = needs(0) || needs(1) ? b.reduceSum(b.mul(dy4, xhat), [3], true) : null; // S [N, G, cg, 1]
      const dsum = needs(0) || needs(2) ? b.reduceSum(dy4, [3], true) : null; // D [N, G, cg, 1]
      const out: (V | null)[] = [null, null, null];
      if (needs(1)) out[1] = b.reshape(b.reduceSum(sums!, [0], false), [c]);
      if (needs(2)) out[2] = b.reshape(b.reduceSum(dsum!, [0], false), [c]);
      if (needs(0)) {
        const g4 = b.reshape(gamma, [g, cg, 1]);
        const r4 = b.reshape(rstd, [0, g, 1, 1]);
        const a = b.mul(b.reduceSum(b.mul(dsum!, g4), [2], true), 1 / (cg * hw)); // mean(ĝ) [N, G, 1, 1]
        const m = b.mul(b.reduceSum(b.mul(sums!, g4), [2], true), 1 / (cg * hw)); // mean(ĝ·x̂)
        const dx = b.sub(b.sub(b.mul(dy4, b.mul(r4, g4)), b.mul(xhat, b.mul(r4, m))), b.mul(r4, a));
        out[0] = b.reshape(dx, [0, c, h, w]);
      }
      return out;
    }
    case 'matmul': {
      const [a, bb] = x;
      const { transA: tA, transB: tB } = node;
      let da: V | null = null;
      let db: V | null = null;
      if (needs(0)) da = tA ? (tB ? b.matmul(bb, dy, true, true) : b.matmul(bb, dy, false, true)) : tB ? b.matmul(dy, bb) : b.matmul(dy, bb, false, true);
      if (needs(1)) db = tB ? (tA ? b.matmul(dy, a, true, true) : b.matmul(dy, a, true, false)) : tA ? b.matmul(a, dy) : b.matmul(a, dy, true, false);
      return [da && unbroadcast(b, da, a.shape), db && unbroadcast(b, db, bb.shape)];
    }
    case 'softmax':
      return [b.mul(y, b.sub(dy, b.reduceSum(b.mul(dy, y), [node.axis], true)))];
    case 'logsoftmax':
      return [b.sub(dy, b.mul(b.exp(y), b.reduceSum(dy, [node.axis], true)))];
    case 'transpose': {
      const inv = new Array<number>(node.perm.length);
      node.perm.forEach((p, i) => (inv[p] = i));
      return [b.transpose(dy, inv)];
    }
    case 'reshape':
      return [reshapeTo(b, dy, x[0].shape)];
    case 'concat': {
      const axis = node.axis < 0 ? node.axis + x[0].shape.length : node.axis;
      let start = 0;
      return x.map((xi, i) => {
        const d = xi.shape[axis] as number;
        const r = needs(i) ? b.slice(dy, axis, start, start + d) : null;
        start += d;
        return r;
      });
    }
    case 'repeat': {
      // The copies' gradients summed: [t·n, …] → [t, n, …] → Σ over t.
      const rest = x[0].shape.slice(1) as number[];
      return [reshapeTo(b, b.reduceSum(b.reshape(dy, [node.times, -1, ...rest]), [0]), x[0].shape)];
    }
    case 'slice': {
      const axis = node.axis < 0 ? node.axis + x[0].shape.length : node.axis;
      const d = x[0].shape[axis] as number;
      return [b.node({ op: 'padAxis', inputs: [dy.name], axis, before: node.start, after: d - node.end })];
    }
    case 'reduceSum':
    case 'reduceMean': {
      const rank = x[0].shape.length;
      const axes = node.axes.map((a) => (a < 0 ? a + rank : a));
      const keep = x[0].shape.map((d, i) => (axes.includes(i) ? 1 : d));
      let g = node.keepDims ? dy : reshapeTo(b, dy, keep);
      if (node.op === 'reduceMean') {
        if (axes.every((a) => typeof x[0].shape[a] === 'number')) {
          g = b.mul(g, 1 / axes.reduce((p, a) => p * (x[0].shape[a] as number), 1));
        } else {
          // A symbolic axis (the batch): count its elements at run time.
          const ones = b.node({ op: 'expandLike', inputs: [b.scalar(1).name, x[0].name] });
          g = b.div(g, b.reduceSum(ones, axes, true));
        }
      }
      return [sameShape(g.shape, x[0].shape) ? g : b.node({ op: 'expandLike', inputs: [g.name, x[0].name] })];
    }
    // Second order: the reverse-pass ops are linear in each input.
    case 'conv2dInput': {
      // dx = convᵀ(dy, w): ⟨g, convᵀ(dy, w)⟩ = ⟨conv(g, w), dy⟩.
      const k = x[1].shape[2] as number;
      return [
        needs(0) ? b.conv2d(dy, x[1], undefined, node.pad) : null,
        needs(1) ? b.node({ op: 'conv2dFilter', inputs: [dy.name, x[0].name], pad: node.pad, k }) : null,
      ];
    }
    case 'conv2dFilter': {
      // dW(x, e): ⟨G, dW(x, e)⟩ = ⟨conv(x, G), e⟩ = ⟨x, convᵀ(e, G)⟩.
      return [
        needs(0) ? b.node({ op: 'conv2dInput', inputs: [x[1].name, dy.name], pad: node.pad }) : null,
        needs(1) ? b.conv2d(x[0], dy, undefined, node.pad) : null,
      ];
    }
    case 'padAxis': {
      const axis = node.axis < 0 ? node.axis + x[0].shape.length : node.axis;
      return [b.slice(dy, axis, node.before, node.before + (x[0].shape[axis] as number))];
    }
    case 'expandLike':
      return [needs(0) ? unbroadcast(b, dy, x[0].shape) : null, null];
  }
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
