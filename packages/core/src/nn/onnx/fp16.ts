/**
 * The half-precision rewrite of a float32 ONNX graph (`--precision fp16`, GPU providers).
 *
 * @example
 * toHalfPrecision(model.graph);
 */
import { Float16Array } from '@petamoriken/float16';
import { attrInt, FLOAT, FLOAT16, type NodeProto, type OnnxNs } from './emitter.js';

/**
 * Rewrites a float32 graph to compute in float16: float initializers become float16 (but for
 * Resize's scales), casts to float become casts to float16, each float input is cast to float16
 * where it enters and each output cast back to float32 where it leaves.
 */
export function toHalfPrecision(g: OnnxNs.IGraphProto): void {
  const nodes = g.node!;
  const keepFloat = new Set(nodes.filter((n) => n.opType === 'Resize').map((n) => n.input![2]));
  for (const t of g.initializer!) {
    if (t.dataType !== FLOAT || keepFloat.has(t.name!)) continue;
    const raw = t.rawData!;
    const f32 = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    t.dataType = FLOAT16;
    t.rawData = new Uint8Array(new Float16Array(f32).buffer);
  }
  for (const n of nodes) if (n.opType === 'Cast') for (const a of n.attribute!) if (a.name === 'to' && a.i === FLOAT) a.i = FLOAT16;
  const rename = new Map<string, string>();
  const head: NodeProto[] = [];
  for (const i of g.input!) {
    const half = `${i.name}__fp16`;
    rename.set(i.name!, half);
    head.push({ opType: 'Cast', input: [i.name!], output: [half], name: `cast_in_${i.name}`, attribute: [attrInt('to', FLOAT16)] });
  }
  const tail: NodeProto[] = [];
  for (const o of g.output!) {
    const half = `${o.name}__fp16`;
    for (const n of nodes) n.output = n.output!.map((x) => (x === o.name ? half : x));
    rename.set(o.name!, half);
    tail.push({ opType: 'Cast', input: [half], output: [o.name!], name: `cast_out_${o.name}`, attribute: [attrInt('to', FLOAT)] });
  }
  for (const n of nodes) n.input = n.input!.map((x) => rename.get(x) ?? x);
  g.node = [...head, ...nodes, ...tail];
}
