/**
 * The engine interface: something that runs `Graph`s, and (if differentiable) their gradients.
 * Two implementations: TensorFlow.js (`tfjs.ts`, differentiable) and ONNX Runtime (`ort.ts`,
 * forward). Everything above this layer (the DC, LM, training, attacks) is written against it.
 */
import { InputError } from '../errors.js';
import type { Graph } from '../nn/graph/index.js';
import type { Tensor, Weights } from '../tensor.js';

export type EngineName = 'tfjs' | 'ort';

export interface EngineInfo {
  engine: EngineName;
  /** tfjs: 'tensorflow' (tfjs-node or tfjs-node-gpu), 'wasm' or 'cpu'; ort: its execution provider (cpu, webgpu, cuda). */
  backend: string;
  /** The package providing the backend, e.g. '@tensorflow/tfjs-backend-wasm'. */
  package: string;
  threads: number;
  differentiable: boolean;
  /** The device adapter in words (ONNX Runtime on a GPU provider). */
  adapter?: string;
  /** `fp16`: graphs compute in half precision (ONNX Runtime on a GPU provider, `--precision fp16`). */
  precision?: 'fp16';
}

export interface CompileOptions {
  /** Weights fixed at compile time. Omit them to pass weights on every call instead. */
  weights?: Weights;
}

/** A compiled forward graph. */
export interface GraphFunction {
  /** Runs the graph on `feeds` (graph inputs by name); `weights` overrides the compiled ones. */
  run(feeds: Record<string, Tensor>, weights?: Weights): Promise<Record<string, Tensor>>;
  dispose(): void;
}

export interface GradientRequest {
  /** The graph output to differentiate: summed, or weighted elementwise by the cotangent. */
  of: string;
  /** Graph inputs or parameter names to differentiate with respect to. */
  wrt: readonly string[];
}

/** A compiled graph with its gradient. */
export interface GradientFunction {
  /** Returns the output `of` and d⟨cotangent, of⟩/d(wrt) (cotangent defaults to all ones). */
  run(feeds: Record<string, Tensor>, opts?: { weights?: Weights; cotangent?: Tensor }): Promise<{ value: Tensor; grads: Record<string, Tensor> }>;
  dispose(): void;
}

export interface Engine {
  readonly info: EngineInfo;
  compile(graph: Graph, opts?: CompileOptions): Promise<GraphFunction>;
  /** Throws on an engine without gradients. */
  compileGradient(graph: Graph, request: GradientRequest, opts?: CompileOptions): Promise<GradientFunction>;
  dispose(): void;
}

/** Checks a feed against a declared shape (symbolic dimensions match any size). */
export function checkDims(name: string, dims: readonly number[], shape: readonly (number | string)[]): void {
  const ok = dims.length === shape.length && shape.every((d, i) => typeof d !== 'number' || d === dims[i]);
  if (!ok) throw new InputError(`input '${name}': expected shape [${shape.join(', ')}], got [${dims.join(', ')}]`, 'bad_shape');
}
