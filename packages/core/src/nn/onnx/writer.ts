/**
 * The ONNX writer: turns a `Graph` into an ONNX model (opset 17, dynamic batch), each node by its
 * op's emitter in the op table.
 *
 * Weights can be embedded (`inline`), referenced as external data at byte offsets of another file
 * (`external`, how a model folder points into model.safetensors so the weights exist once), or left
 * as graph inputs (`inputs`, for graphs whose weights change every call, such as training steps).
 *
 * @example
 * const bytes = graphToOnnx(graph, { weights: { mode: 'inline', values: weights } });
 * const session = await ort.InferenceSession.create(bytes);
 */
import type { Tensor } from '../../tensor.js';
import type { Dim, Graph, Node, Shape } from '../graph/types.js';
import { OPS } from '../ops/index.js';
import { NCHWC } from './conv.js';
import { Emitter, FLOAT, floatBytes, IR_VERSION, onnx, ONNX_OPSET, type OnnxNs, type TensorProto, valueInfo } from './emitter.js';
import { toHalfPrecision } from './fp16.js';

export type OnnxWeights =
  | { mode: 'inline'; values: Record<string, Tensor> }
  | { mode: 'external'; location: string; offsets: Record<string, { offset: number; length: number }> }
  | { mode: 'inputs' };

export interface OnnxOptions {
  weights: OnnxWeights;
  name?: string;
  docString?: string;
  /**
   * `fp16`: every computation in half precision; inputs and outputs stay float32 (cast at the
   * graph's edges) and so does what ONNX requires in float32 (Resize's scales). For GPU providers
   * with half-precision shaders; weights must be inline or inputs.
   */
  precision?: 'fp32' | 'fp16';
  /**
   * ONNX Runtime's CPU provider only: run every convolution in MLAS's blocked layout with this block
   * size (NCHWc, 8 or 16 by CPU; see `nchwcBlockSize` in engines/ort.ts), channels zero-padded to the
   * block and the filter reordered inside the graph (see `emitConv`). ONNX Runtime does this itself for
   * filters that are constants; for filters fed at run time (training steps) it falls back to a
   * slower convolution, which this restores. Never set it for a file that is saved or given to
   * another provider: the blocked operators are CPU-only and the block size is the CPU's.
   */
  nchwcBlock?: number;
}

/** Serialises `graph` as an ONNX model. */
export function graphToOnnx(graph: Graph, opts: OnnxOptions): Uint8Array {
  if (opts.precision === 'fp16' && opts.weights.mode === 'external')
    throw new Error('onnx writer: fp16 needs inline weights or weights as inputs, not external float32 data');
  if (opts.precision === 'fp16' && opts.nchwcBlock) throw new Error('onnx writer: the blocked (NCHWc) convolutions are float32 only');
  const e = new Emitter(opts.nchwcBlock);
  const shapeOf = (name: string): readonly Dim[] => {
    const s = graph.shapes[name];
    if (!s) throw new Error(`onnx writer: unknown value '${name}'`);
    return s;
  };
  for (const node of graph.nodes) (OPS[node.op].onnx as (e: Emitter, n: Node, s: (name: string) => Shape) => void)(e, node, shapeOf);
  for (const o of graph.outputs) {
    if (o.name !== o.value) e.emit('Identity', [o.value], o.name);
  }

  const initializers: TensorProto[] = graph.consts.map((c) => ({ name: c.name, dataType: FLOAT, dims: c.shape, rawData: floatBytes(c.values) }));
  const inputs = graph.inputs.map((i) => valueInfo(i.name, i.shape));
  const w = opts.weights;
  // A parameter no node reads (EDM's idle augmentation mapping) is not embedded: ONNX Runtime would warn about it.
  const used = new Set(graph.nodes.flatMap((n) => n.inputs));
  for (const p of graph.params) {
    if (w.mode !== 'inputs' && !used.has(p.name)) continue;
    if (w.mode === 'inputs') {
      inputs.push(valueInfo(p.name, p.shape));
    } else if (w.mode === 'inline') {
      const t = w.values[p.name];
      if (!t) throw new Error(`onnx writer: no value for weight '${p.name}'`);
      if (t.data.length !== p.shape.reduce((a, b) => a * b, 1))
        throw new Error(`onnx writer: weight '${p.name}' has ${t.data.length} values, expected shape [${p.shape.join(', ')}]`);
      initializers.push({ name: p.name, dataType: FLOAT, dims: p.shape, rawData: floatBytes(t.data) });
    } else {
      const ref = w.offsets[p.name];
      if (!ref) throw new Error(`onnx writer: no external offset for weight '${p.name}'`);
      initializers.push({
        name: p.name,
        dataType: FLOAT,
        dims: p.shape,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: w.location },
          { key: 'offset', value: String(ref.offset) },
          { key: 'length', value: String(ref.length) },
        ],
      });
    }
  }
  initializers.push(...e.initializers);

  const model: OnnxNs.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }, ...(e.nodes.some((n) => n.domain === NCHWC) ? [{ domain: NCHWC, version: 1 }] : [])],
    producerName: 'rdc',
    producerVersion: '0.1.0',
    docString: opts.docString ?? '',
    graph: {
      name: opts.name ?? 'rdc',
      node: e.nodes,
      initializer: initializers,
      input: inputs,
      output: graph.outputs.map((o) => valueInfo(o.name, graph.shapes[o.value])),
    },
  };
  if (opts.precision === 'fp16') toHalfPrecision(model.graph!);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Decodes an ONNX model (for inspection and tests). */
export function decodeOnnx(bytes: Uint8Array): OnnxNs.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
