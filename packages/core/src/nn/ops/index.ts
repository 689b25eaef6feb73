/**
 * The op table: every op of the graph description with its shape rule, gradient rule, ONNX emitter
 * and TensorFlow.js evaluator (nn/ops/types.ts). Adding an op: declare its fields in `OpParams`
 * (graph/types.ts) and give it an entry here, in the file of its kind; the compiler refuses an op
 * without all four. (A `GraphBuilder` method for it is a convenience.)
 *
 * @example
 * const out = OPS[node.op].shape(node, inputShapes);
 */
import { CONV } from './conv.js';
import { ELEMENTWISE } from './elementwise.js';
import { LAYOUT } from './layout.js';
import { LINALG } from './linalg.js';
import { NORM } from './norm.js';
import { POOL } from './pool.js';
import { REDUCE } from './reduce.js';
import { RESAMPLE } from './resample.js';
import type { OpTable } from './types.js';

export const OPS: OpTable = { ...ELEMENTWISE, ...RESAMPLE, ...CONV, ...POOL, ...NORM, ...LINALG, ...LAYOUT, ...REDUCE };

export type { OpTable, TfjsContext, TfVal, VjpContext } from './types.js';
