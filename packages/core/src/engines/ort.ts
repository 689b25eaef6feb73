import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { Graph } from '../nn/graph.js';
import { graphToOnnx } from '../nn/onnx.js';
import type { Tensor } from '../tensor.js';
import { checkWeights, type CompileOptions, type Engine, type EngineInfo, type GradientFunction, type GraphFunction, type Weights } from './engine.js';
import { checkDims } from './tfjs.js';

/**
 * The ONNX Runtime engine (forward only): compiles a `Graph` with the ONNX writer and runs it on
 * onnxruntime-node's CPU provider, or loads an exported `.onnx` file from a model folder.
 *
 * @example
 * const engine = await OrtEngine.create({ threads: 1 });
 * const f = await engine.compile(graph, { weights });
 * const { D } = await f.run({ x, sigma });
 */
export interface OrtOptions {
  /** Intra-op threads (default: all cores). One thread makes results repeat bit for bit. */
  threads?: number;
}

export class OrtEngine implements Engine {
  private constructor(
    readonly info: EngineInfo,
    private readonly sessionOptions: ort.InferenceSession.SessionOptions,
  ) {}

  static async create(opts: OrtOptions = {}): Promise<OrtEngine> {
    const threads = opts.threads ?? availableParallelism();
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    };
    return new OrtEngine({ engine: 'ort', backend: 'cpu', package: `onnxruntime-node@${ort.env.versions.node ?? '?'}`, threads, differentiable: false }, sessionOptions);
  }

  /** The execution providers this onnxruntime-node build offers, and whether each is bundled. */
  static providers(): { name: string; bundled: boolean }[] {
    const list = (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] }).listSupportedBackends;
    return list ? list() : [{ name: 'cpu', bundled: true }];
  }

  async compile(graph: Graph, opts: CompileOptions = {}): Promise<GraphFunction> {
    if (opts.weights) checkWeights(graph, opts.weights);
    const bytes = graphToOnnx(graph, { weights: opts.weights ? { mode: 'inline', values: opts.weights } : { mode: 'inputs' } });
    const session = await ort.InferenceSession.create(bytes, this.sessionOptions);
    return wrapSession(session, graph, !opts.weights);
  }

  /** Loads an ONNX file (its external data is resolved next to it). */
  async load(path: string, graph: Graph): Promise<GraphFunction> {
    const session = await ort.InferenceSession.create(path, this.sessionOptions);
    return wrapSession(session, graph, false);
  }

  async compileGradient(): Promise<GradientFunction> {
    throw new Error('the ONNX Runtime engine computes forward passes only; use the tfjs engine for gradients (--engine tfjs)');
  }

  dispose(): void {}
}

function wrapSession(session: ort.InferenceSession, graph: Graph, weightsAsInputs: boolean): GraphFunction {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    run: (feeds, weights) => {
      // One run at a time per session: onnxruntime-node sessions are not re-entrant.
      const job = queue.then(async () => {
        const input: Record<string, ort.Tensor> = {};
        for (const i of graph.inputs) {
          const t = feeds[i.name];
          if (!t) throw new Error(`missing input '${i.name}'`);
          checkDims(i.name, t.dims, i.shape);
          input[i.name] = new ort.Tensor('float32', t.data, [...t.dims]);
        }
        if (weightsAsInputs) {
          if (!weights) throw new Error('ort engine: this graph takes its weights on every call');
          feedWeights(graph, weights, input);
        } else if (weights) {
          throw new Error('ort engine: weights are fixed in this compiled graph; compile without weights to pass them per call');
        }
        const out = await session.run(input);
        const result: Record<string, Tensor> = {};
        for (const o of graph.outputs) {
          const t = out[o.name];
          result[o.name] = { data: new Float32Array(t.data as Float32Array), dims: [...t.dims] };
          t.dispose();
        }
        return result;
      });
      queue = job.catch(() => undefined);
      return job;
    },
    dispose: () => {
      void session.release();
    },
  };
}

function feedWeights(graph: Graph, weights: Weights, input: Record<string, ort.Tensor>): void {
  checkWeights(graph, weights);
  for (const p of graph.params) input[p.name] = new ort.Tensor('float32', weights[p.name].data, p.shape);
}
