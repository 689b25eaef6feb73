/**
 * The ONNX writer's node emitter: ONNX nodes and the helper constants they need (as initializers),
 * and the attribute helpers the op table's emitters use.
 *
 * @example
 * e.emit('Relu', [x], y);
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import type { Dim } from '../graph/types.js';

// onnx-proto is CommonJS: its exports object is the default import (static, so bundlers see it).
export const { onnx } = onnxProto as unknown as { onnx: typeof OnnxNs };
export type { OnnxNs };

export const ONNX_OPSET = 17;
export const IR_VERSION = 8;
export const FLOAT = 1;
const INT64 = 7;
export const FLOAT16 = 10;

export type NodeProto = OnnxNs.INodeProto;
export type TensorProto = OnnxNs.ITensorProto;

export function floatBytes(values: ArrayLike<number>): Uint8Array {
  const f = Float32Array.from(values);
  return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
}

export function valueInfo(name: string, shape: readonly Dim[]): OnnxNs.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export function attrInts(name: string, ints: number[]): OnnxNs.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints };
}
export function attrInt(name: string, i: number): OnnxNs.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}
export function attrFloat(name: string, f: number): OnnxNs.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f };
}
export function attrString(name: string, s: string): OnnxNs.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) };
}

/** Emits ONNX nodes for graph nodes; helper constants become initializers. */
export class Emitter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private counter = 0;

  constructor(readonly nchwcBlock = 0) {}

  fresh(base: string): string {
    return `${base}__${this.counter++}`;
  }

  int64(values: number[]): string {
    const name = this.fresh('i64');
    this.initializers.push({ name, dataType: INT64, dims: [values.length], int64Data: values });
    return name;
  }

  float(values: number[], dims: number[]): string {
    const name = this.fresh('f32');
    this.initializers.push({ name, dataType: FLOAT, dims, rawData: floatBytes(values) });
    return name;
  }

  emit(opType: string, inputs: string[], output: string, attribute: OnnxNs.IAttributeProto[] = [], domain?: string): string {
    this.nodes.push({ opType, input: inputs, output: [output], name: this.fresh(opType), attribute, ...(domain ? { domain } : {}) });
    return output;
  }

  tmp(opType: string, inputs: string[], attribute: OnnxNs.IAttributeProto[] = [], domain?: string): string {
    return this.emit(opType, inputs, this.fresh(opType.toLowerCase()), attribute, domain);
  }
}
