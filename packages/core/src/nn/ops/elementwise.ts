/** Elementwise ops: the four arithmetic ones (broadcasting) and the unary functions. */
import { broadcastShapes } from '../graph/shapes.js';
import type { Shape } from '../graph/types.js';
import { FLOAT, attrInt } from '../onnx/emitter.js';
import type { OpDef, OpTable, Tf, TfjsContext, TfTensor, TfVal } from './types.js';
import { unbroadcast } from './vjp-helpers.js';

type BinaryName = 'add' | 'sub' | 'mul' | 'div';

function binary(name: BinaryName, onnxOp: string, tfOp: (tf: Tf) => (a: TfTensor, b: TfTensor) => TfTensor, vjp: OpDef<BinaryName>['vjp']): OpDef<BinaryName> {
  return {
    shape: (_n, s) => broadcastShapes(s[0], s[1]),
    vjp,
    onnx: (e, n) => void e.emit(onnxOp, n.inputs, n.output),
    tfjs: (c, n) => {
      const [a, b, nhwc] = c.align(c.get(n.inputs[0]), c.get(n.inputs[1]));
      return { t: tfOp(c.tf)(a, b), nhwc };
    },
  };
}

const same = (_n: unknown, s: Shape[]) => [...s[0]];

/** A unary op that keeps its input's layout. */
function unary<K extends UnaryName>(
  onnxOp: string | ((e: Parameters<OpDef<K>['onnx']>[0], x: string, out: string) => void),
  tfOp: (tf: Tf, x: TfTensor) => TfTensor,
  vjp: OpDef<K>['vjp'],
): OpDef<K> {
  return {
    shape: same,
    vjp,
    onnx: (e, n) => (typeof onnxOp === 'string' ? void e.emit(onnxOp, n.inputs, n.output) : onnxOp(e, n.inputs[0], n.output)),
    tfjs: (c: TfjsContext, n): TfVal => {
      const v = c.get(n.inputs[0]);
      return { t: tfOp(c.tf, v.t), nhwc: v.nhwc };
    },
  };
}

type UnaryName = 'neg' | 'exp' | 'log' | 'sqrt' | 'sigmoid' | 'silu' | 'relu' | 'sin' | 'cos' | 'square' | 'step';

export const ELEMENTWISE: OpTable<BinaryName | UnaryName> = {
  add: binary(
    'add',
    'Add',
    (tf) => tf.add,
    ({ b, dy, x, needs }) => [needs(0) ? unbroadcast(b, dy, x[0].shape) : null, needs(1) ? unbroadcast(b, dy, x[1].shape) : null],
  ),
  sub: binary(
    'sub',
    'Sub',
    (tf) => tf.sub,
    ({ b, dy, x, needs }) => [needs(0) ? unbroadcast(b, dy, x[0].shape) : null, needs(1) ? unbroadcast(b, b.neg(dy), x[1].shape) : null],
  ),
  mul: binary(
    'mul',
    'Mul',
    (tf) => tf.mul,
    ({ b, dy, x, needs }) => [needs(0) ? unbroadcast(b, b.mul(dy, x[1]), x[0].shape) : null, needs(1) ? unbroadcast(b, b.mul(dy, x[0]), x[1].shape) : null],
  ),
  div: binary(
    'div',
    'Div',
    (tf) => tf.div,
    ({ b, dy, x, y, needs }) => [
      needs(0) ? unbroadcast(b, b.div(dy, x[1]), x[0].shape) : null,
      needs(1) ? unbroadcast(b, b.neg(b.div(b.mul(dy, y), x[1])), x[1].shape) : null,
    ],
  ),
  neg: unary(
    'Neg',
    (tf, x) => tf.neg(x),
    ({ b, dy }) => [b.neg(dy)],
  ),
  exp: unary(
    'Exp',
    (tf, x) => tf.exp(x),
    ({ b, dy, y }) => [b.mul(dy, y)],
  ),
  log: unary(
    'Log',
    (tf, x) => tf.log(x),
    ({ b, dy, x }) => [b.div(dy, x[0])],
  ),
  sqrt: unary(
    'Sqrt',
    (tf, x) => tf.sqrt(x),
    ({ b, dy, y }) => [b.div(b.mul(dy, 0.5), y)],
  ),
  sigmoid: unary(
    'Sigmoid',
    (tf, x) => tf.sigmoid(x),
    ({ b, dy, y }) => [b.mul(dy, b.mul(y, b.sub(1, y)))],
  ),
  silu: unary(
    (e, x, out) => void e.emit('Mul', [x, e.tmp('Sigmoid', [x])], out),
    (tf, x) => tf.mul(x, tf.sigmoid(x)),
    ({ b, dy, x, y }) => {
      // d/dx x·s(x) = s·(1 + x·(1 − s)) = s + y·(1 − s), with y = x·s the forward output (one pass fewer).
      const s = b.sigmoid(x[0]);
      return [b.mul(dy, b.add(s, b.mul(y, b.sub(1, s))))];
    },
  ),
  relu: unary(
    'Relu',
    (tf, x) => tf.relu(x),
    ({ b, dy, x }) => [b.mul(dy, b.step(x[0]))],
  ),
  sin: unary(
    'Sin',
    (tf, x) => tf.sin(x),
    ({ b, dy, x }) => [b.mul(dy, b.cos(x[0]))],
  ),
  cos: unary(
    'Cos',
    (tf, x) => tf.cos(x),
    ({ b, dy, x }) => [b.neg(b.mul(dy, b.sin(x[0])))],
  ),
  square: unary(
    (e, x, out) => void e.emit('Mul', [x, x], out),
    (tf, x) => tf.square(x),
    ({ b, dy, x }) => [b.mul(dy, b.mul(x[0], 2))],
  ),
  step: unary(
    (e, x, out) => void e.emit('Cast', [e.tmp('Greater', [x, e.float([0], [])])], out, [attrInt('to', FLOAT)]),
    (tf, x) => tf.step(x, 0),
    () => [null],
  ),
};
