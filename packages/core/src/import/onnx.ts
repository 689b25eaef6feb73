/**
 * `rdc import onnx`: a classifier exported with `torch.onnx.export` (input N×C×H×W in its own
 * pixel range, output N×K logits) read into this project's network description, so that every
 * engine, batch size and input gradient works on it as on the project's own networks. The result is
 * an `ImportedConfig` (the graph as nodes of the op table, with its input range) and the weights.
 *
 * @example
 * const { network, weights } = importOnnxClassifier('resnet.onnx', { image: ImageSpec.parse({}), numClasses: 10, inputRange: [0, 1] });
 */
import { basename } from 'node:path';
import { ImportedConfig, type ImageSpec } from '../config/schema.js';
import { InputError } from '../errors.js';
import { formatShape } from '../nn/graph/shapes.js';
import type { Weights } from '../tensor.js';
import { ImportContext } from './onnx-context.js';
import { longToNumber, readOnnxFile } from './onnx-file.js';
import { ONNX_OPS } from './onnx-ops.js';

export interface OnnxImportOptions {
  image: ImageSpec;
  numClasses: number;
  /** The pixel range the network expects ([0, 1] for most PyTorch models). */
  inputRange: [number, number];
}

export interface OnnxImport {
  network: ImportedConfig;
  weights: Weights;
}

const bad = (path: string, message: string) => new InputError(`${path}: ${message}`, 'bad_model_file');

/** Reads and translates an ONNX classifier; every problem is an InputError naming the node or the file's fault. */
export function importOnnxClassifier(path: string, o: OnnxImportOptions): OnnxImport {
  const file = readOnnxFile(path);
  const graph = file.model.graph!;
  const ctx = new ImportContext(file, graph);
  const initializers = new Set<string>();
  for (const t of graph.initializer ?? []) {
    const k = file.tensor(t, `initializer '${t.name}'`);
    ctx.set(t.name ?? '', { kind: 'const', k: { dims: k.dims, values: k.values, float: k.type === 'float', source: t.name ?? undefined } });
    initializers.add(t.name ?? '');
  }
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? ''));
  if (inputs.length !== 1) throw bad(path, `the graph has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); a classifier has one, the images`);
  const input = inputs[0];
  const tt = input.type?.tensorType;
  const dims = (tt?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : longToNumber(d.dimValue ?? 0)));
  const { channels, height, width } = o.image;
  if (tt?.elemType !== 1) throw bad(path, `the input '${input.name}' is not float32`);
  if (dims.length !== 4 || dims[1] !== channels || dims[2] !== height || dims[3] !== width)
    throw bad(path, `the input '${input.name}' is ${formatShape(dims)}; it must be N×${channels}×${height}×${width}`);
  const x = ctx.b.input('input', ['N', channels, height, width]);
  ctx.setTensor(input.name ?? '', x);
  if ((graph.output ?? []).length !== 1) throw bad(path, `the graph has ${(graph.output ?? []).length} outputs; a classifier has one, the logits`);
  const ops = new Set<string>();
  for (const node of graph.node ?? []) {
    if (ctx.consumed.has(node)) continue;
    const op = node.opType ?? '';
    const translate = node.domain && node.domain !== 'ai.onnx' ? undefined : ONNX_OPS[op];
    if (op === 'Softmax') throw ctx.error(node, 'the output must be logits: export the model without its final softmax');
    if (!translate) throw ctx.error(node, `unsupported op ${node.domain ? `${node.domain}.` : ''}${op} (rdc import onnx --help lists the ops it reads)`);
    ops.add(op);
    try {
      translate(ctx, node);
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw ctx.error(node, (err as Error).message);
    }
  }
  const outName = graph.output![0].name ?? '';
  const result = ctx.value(outName, graph.node![graph.node!.length - 1]);
  if (result.kind !== 'tensor') throw bad(path, 'the output does not depend on the input');
  const shape = result.v.shape;
  if (shape.length !== 2 || shape[0] !== 'N' || shape[1] !== o.numClasses)
    throw bad(path, `the output '${outName}' is ${formatShape(shape)}; it must be N×${o.numClasses} logits, one row per image`);
  ctx.b.output('logits', result.v);
  const g = ctx.b.build();
  const network = ImportedConfig.parse({
    arch: 'imported',
    image: o.image,
    numClasses: o.numClasses,
    inputRange: o.inputRange,
    graph: {
      input: 'input',
      output: result.v.name,
      params: g.params.map((p) => ({ name: p.name, shape: p.shape })),
      consts: g.consts,
      nodes: g.nodes,
    },
    source: {
      file: basename(path),
      sha256: file.sha256,
      bytes: file.bytes,
      opset: file.opset,
      producer: [file.model.producerName, file.model.producerVersion].filter(Boolean).join(' ') || 'unknown',
      ops: [...ops].sort(),
    },
  });
  return { network, weights: ctx.weights };
}
