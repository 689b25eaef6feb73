import * as tf from '@tensorflow/tfjs-core';
import type { Graph, Node } from '../nn/graph.js';

/**
 * The TensorFlow.js builder: evaluates a `Graph` with tfjs ops, so TensorFlow.js's autodiff gives
 * exact input and weight gradients.
 *
 * The graph is NCHW; tfjs convolutions want NHWC. Rank-4 values therefore carry a layout tag and are
 * transposed only where an op needs the other layout (convolutions, pooling and norms run in NHWC;
 * reshapes, matmuls and reductions in NCHW). Call inside `tf.tidy`.
 *
 * @example
 * const out = tf.tidy(() => runGraph(graph, { x, sigma, ...weights }));
 */

interface Val {
  t: tf.Tensor;
  /** Rank-4 value stored as NHWC (its logical shape is still NCHW). */
  nhwc: boolean;
}

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];
/** Logical NCHW axis → physical NHWC axis. */
const NHWC_AXIS = [0, 3, 1, 2];

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

/** Resolves ONNX reshape semantics (0 copies, −1 infers) against a concrete shape. */
function concreteShape(input: readonly number[], target: readonly number[]): number[] {
  return target.map((t, i) => (t === 0 ? input[i] : t));
}

/** Nearest-neighbour 2× upsampling (NHWC) with two rank-4 tiles (the cpu backend's resize gradient is wrong for batch > 1). */
function upsample2(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const a = tf.tile(tf.reshape(x, [n * h, w, 1, c]), [1, 1, 2, 1]);
  const b = tf.tile(tf.reshape(a, [n, h, 1, 2 * w * c]), [1, 1, 2, 1]);
  return tf.reshape(b, [n, 2 * h, 2 * w, c]);
}

function groupnormNhwc(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number, eps: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const xg = tf.reshape(x, [n, h * w, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 3], true);
  const y = tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(tf.reshape(y, [n, h, w, c]), gamma), beta) as tf.Tensor4D;
}

function softmaxAxis(x: tf.Tensor, axis: number): tf.Tensor {
  const a = axis < 0 ? axis + x.rank : axis;
  if (a === x.rank - 1) return tf.softmax(x);
  const m = tf.max(x, a, true);
  const e = tf.exp(tf.sub(x, m));
  return tf.div(e, tf.sum(e, a, true));
}

function evalNode(node: Node, get: (name: string) => Val): Val {
  switch (node.op) {
    case 'add':
    case 'sub':
    case 'mul':
    case 'div': {
      const [a, b, isNhwc] = align(get(node.inputs[0]), get(node.inputs[1]));
      const f = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div }[node.op];
      return { t: f(a, b), nhwc: isNhwc };
    }
    case 'neg':
    case 'exp':
    case 'log':
    case 'sqrt':
    case 'sigmoid':
    case 'relu':
    case 'sin':
    case 'cos':
    case 'square':
    case 'step': {
      const v = get(node.inputs[0]);
      const f = {
        neg: tf.neg,
        exp: tf.exp,
        log: tf.log,
        sqrt: tf.sqrt,
        sigmoid: tf.sigmoid,
        relu: tf.relu,
        sin: tf.sin,
        cos: tf.cos,
        square: tf.square,
        step: (x: tf.Tensor) => tf.step(x, 0),
      }[node.op];
      return { t: f(v.t), nhwc: v.nhwc };
    }
    case 'silu': {
      const v = get(node.inputs[0]);
      return { t: tf.mul(v.t, tf.sigmoid(v.t)), nhwc: v.nhwc };
    }
    case 'avgpool2':
      return { t: tf.avgPool(nhwc(get(node.inputs[0])), 2, 2, 'valid'), nhwc: true };
    case 'upsample2':
      return { t: upsample2(nhwc(get(node.inputs[0]))), nhwc: true };
    case 'conv2d': {
      const x = nhwc(get(node.inputs[0]));
      const w = tf.transpose(get(node.inputs[1]).t, [2, 3, 1, 0]) as tf.Tensor4D;
      let y: tf.Tensor = tf.conv2d(x, w, 1, nhwcPadding(node.pad));
      if (node.inputs[2]) y = tf.add(y, get(node.inputs[2]).t);
      return { t: y, nhwc: true };
    }
    case 'groupnorm': {
      const x = nhwc(get(node.inputs[0]));
      return { t: groupnormNhwc(x, get(node.inputs[1]).t, get(node.inputs[2]).t, node.groups, node.eps), nhwc: true };
    }
    case 'matmul': {
      let a = nchw(get(node.inputs[0]));
      let b = nchw(get(node.inputs[1]));
      // Broadcast batch dimensions explicitly: tf.matMul's gradient does not reduce them back.
      if (a.rank > 2 && b.rank > 2 && !sameBatch(a.shape, b.shape)) {
        const batch = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
        a = tf.broadcastTo(a, [...batch, ...a.shape.slice(-2)]);
        b = tf.broadcastTo(b, [...batch, ...b.shape.slice(-2)]);
      }
      return { t: tf.matMul(a, b, node.transA, node.transB), nhwc: false };
    }
    case 'softmax':
      return { t: softmaxAxis(nchw(get(node.inputs[0])), node.axis), nhwc: false };
    case 'logsoftmax': {
      const x = nchw(get(node.inputs[0]));
      const a = node.axis < 0 ? node.axis + x.rank : node.axis;
      if (a !== x.rank - 1) throw new Error('tfjs builder: logsoftmax over a non-last axis is not supported');
      return { t: tf.logSoftmax(x), nhwc: false };
    }
    case 'transpose':
      return { t: tf.transpose(nchw(get(node.inputs[0])), node.perm), nhwc: false };
    case 'reshape': {
      const x = nchw(get(node.inputs[0]));
      return { t: tf.reshape(x, concreteShape(x.shape, node.shape)), nhwc: false };
    }
    case 'concat': {
      const vals = node.inputs.map(get);
      const axis = node.axis < 0 ? node.axis + vals[0].t.rank : node.axis;
      if (vals[0].t.rank === 4 && vals.some((v) => v.nhwc)) {
        return { t: tf.concat(vals.map(nhwc), NHWC_AXIS[axis]), nhwc: true };
      }
      return { t: tf.concat(vals.map(nchw), axis), nhwc: false };
    }
    case 'repeat': {
      const v = get(node.inputs[0]);
      return { t: tf.tile(v.t, [node.times, ...new Array(v.t.rank - 1).fill(1)]), nhwc: v.nhwc };
    }
    case 'slice': {
      const x = nchw(get(node.inputs[0]));
      const begin = x.shape.map(() => 0);
      const size = x.shape.map(() => -1);
      const axis = node.axis < 0 ? node.axis + x.rank : node.axis;
      begin[axis] = node.start;
      size[axis] = node.end - node.start;
      return { t: tf.slice(x, begin, size), nhwc: false };
    }
    case 'reduceSum':
    case 'reduceMean': {
      const x = nchw(get(node.inputs[0]));
      const f = node.op === 'reduceSum' ? tf.sum : tf.mean;
      return { t: f(x, node.axes, node.keepDims), nhwc: false };
    }
    case 'conv2dInput': {
      const dy = nhwc(get(node.inputs[0]));
      const w = tf.transpose(get(node.inputs[1]).t, [2, 3, 1, 0]) as tf.Tensor4D;
      const [kh] = w.shape;
      const [n, h, ww] = dy.shape;
      const out: [number, number, number, number] = [n, h + kh - 1 - 2 * node.pad, ww + kh - 1 - 2 * node.pad, w.shape[2]];
      return { t: tf.conv2dTranspose(dy, w, out, 1, node.pad === 0 ? 'valid' : node.pad), nhwc: true };
    }
    case 'conv2dFilter': {
      const x = nhwc(get(node.inputs[0]));
      const dy = nhwc(get(node.inputs[1]));
      const xt = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D; // [I, H, W, N]
      const dyt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [Hy, Wy, N, O]
      const r = tf.conv2d(xt, dyt, 1, nhwcPadding(node.pad)); // [I, k, k, O]
      return { t: tf.transpose(r, [3, 0, 1, 2]), nhwc: false };
    }
    case 'padAxis': {
      const x = nchw(get(node.inputs[0]));
      const axis = node.axis < 0 ? node.axis + x.rank : node.axis;
      const pads = x.shape.map((_, i) => (i === axis ? [node.before, node.after] : [0, 0]) as [number, number]);
      return { t: tf.pad(x, pads), nhwc: false };
    }
    case 'expandLike': {
      const like = nchw(get(node.inputs[1]));
      return { t: tf.broadcastTo(nchw(get(node.inputs[0])), like.shape), nhwc: false };
    }
  }
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
  for (const node of graph.nodes) env.set(node.output, evalNode(node, get));
  const out: Record<string, tf.Tensor> = {};
  for (const o of graph.outputs) out[o.name] = nchw(get(o.value));
  return out;
}

/** tfjs conv2d padding for a symmetric spatial pad of an NHWC tensor. */
function nhwcPadding(pad: number): 'valid' | [[number, number], [number, number], [number, number], [number, number]] {
  return pad === 0
    ? 'valid'
    : [
        [0, 0],
        [pad, pad],
        [pad, pad],
        [0, 0],
      ];
}

function sameBatch(a: number[], b: number[]): boolean {
  return a.length === b.length && a.slice(0, -2).every((d, i) => d === b[i]);
}
