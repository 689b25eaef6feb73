/**
 * The TensorFlow.js evaluator: runs a `Graph` with tfjs ops (each node by its op's evaluator in the
 * op table), so TensorFlow.js's autodiff gives exact input and weight gradients.
 *
 * The graph is NCHW; tfjs convolutions want NHWC. Rank-4 values therefore carry a layout tag and are
 * transposed only where an op needs the other layout (convolutions, pooling and norms run in NHWC;
 * reshapes, matmuls and reductions in NCHW). Call inside `tf.tidy`.
 *
 * @example
 * const out = tf.tidy(() => runGraph(graph, { x, sigma, ...weights }));
 */

import * as tf from '@tensorflow/tfjs-core';
import type { Graph, Node } from '../nn/graph/index.js';
import { OPS, type TfjsContext, type TfVal } from '../nn/ops/index.js';

type Val = TfVal;

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];

function nchw(v: Val): tf.Tensor {
  return v.nhwc ? tf.transpose(v.t, TO_NCHW) : v.t;
}
function nhwc(v: Val): tf.Tensor4D {
  if (v.t.rank !== 4) throw new Error(`tfjs builder: expected a rank-4 tensor, got rank ${v.t.rank}`);
  return (v.nhwc ? v.t : tf.transpose(v.t, TO_NHWC)) as tf.Tensor4D;
}
function allOnes(t: tf.Tensor): boolean {
  return t.size === 1;
}

/** Brings two operands of an elementwise op to one physical layout. */
function align(a: Val, b: Val): [tf.Tensor, tf.Tensor, boolean] {
  if (!a.nhwc && !b.nhwc) return [a.t, b.t, false];
  const other = a.nhwc ? b : a;
  if (other.t.rank === 4 || allOnes(other.t)) {
    const ta = a.t.rank === 4 ? nhwc(a) : a.t;
    const tb = b.t.rank === 4 ? nhwc(b) : b.t;
    return [ta, tb, true];
  }
  return [nchw(a), nchw(b), false];
}

/**
 * Evaluates `graph` on `values` (graph inputs, params and any extra named tensors) and returns
 * its outputs by public name, in NCHW layout.
 */
export function runGraph(graph: Graph, values: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const env = new Map<string, Val>();
  for (const i of graph.inputs) {
    const t = values[i.name];
    if (!t) throw new Error(`tfjs builder: missing input '${i.name}'`);
    env.set(i.name, { t, nhwc: false });
  }
  for (const p of graph.params) {
    const t = values[p.name];
    if (!t) throw new Error(`tfjs builder: missing weight '${p.name}'`);
    env.set(p.name, { t, nhwc: false });
  }
  for (const c of graph.consts) env.set(c.name, { t: tf.tensor(c.values, c.shape, 'float32'), nhwc: false });
  const get = (name: string): Val => {
    const v = env.get(name);
    if (!v) throw new Error(`tfjs builder: value '${name}' used before it is computed`);
    return v;
  };
  const ctx: TfjsContext = { tf, get, nchw, nhwc, align };
  for (const node of graph.nodes) env.set(node.output, (OPS[node.op].tfjs as (c: TfjsContext, n: Node) => Val)(ctx, node));
  const out: Record<string, tf.Tensor> = {};
  for (const o of graph.outputs) out[o.name] = nchw(get(o.value));
  return out;
}
