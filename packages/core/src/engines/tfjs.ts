import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors.js';
import type { Graph } from '../nn/graph/index.js';
import { runGraph } from './tfjs-graph.js';
import type { Tensor, Weights } from '../tensor.js';
import { checkDims, type CompileOptions, type Engine, type EngineInfo, type GradientFunction, type GradientRequest, type GraphFunction } from './engine.js';
import { initTfjs, type TfjsBackendChoice } from './tfjs-backend.js';
import { checkWeights } from '../nn/weights.js';

/**
 * The TensorFlow.js engine: runs graphs with the tfjs builder and differentiates them with
 * TensorFlow.js's autodiff (exact input and weight gradients).
 *
 * @example
 * const engine = await TfjsEngine.create('auto');
 * const f = await engine.compileGradient(graph, { of: 'loss', wrt: ['x'] }, { weights });
 * const { value, grads } = await f.run({ x, noise, sigma });
 */
export class TfjsEngine implements Engine {
  private constructor(readonly info: EngineInfo) {}

  static async create(backend: TfjsBackendChoice = 'auto'): Promise<TfjsEngine> {
    const b = await initTfjs(backend);
    return new TfjsEngine({ engine: 'tfjs', backend: b.backend, package: b.package, threads: b.threads, differentiable: true });
  }

  async compile(graph: Graph, opts: CompileOptions = {}): Promise<GraphFunction> {
    await this.activate();
    const fixed = opts.weights ? upload(graph, opts.weights) : null;
    return {
      run: async (feeds, weights) => {
        await this.activate();
        const w = weights ? upload(graph, weights) : fixed;
        if (!w) throw new Error('tfjs engine: no weights given at compile time or call time');
        const inputs = uploadFeeds(graph, feeds);
        try {
          const outs = tf.tidy(() => runGraph(graph, { ...w, ...inputs }));
          return await download(outs);
        } finally {
          tf.dispose(Object.values(inputs));
          if (weights) tf.dispose(Object.values(w));
        }
      },
      dispose: () => {
        if (fixed) tf.dispose(Object.values(fixed));
      },
    };
  }

  async compileGradient(graph: Graph, request: GradientRequest, opts: CompileOptions = {}): Promise<GradientFunction> {
    const outName = graph.outputs.find((o) => o.name === request.of);
    if (!outName) throw new Error(`tfjs engine: the graph has no output '${request.of}'`);
    const known = new Set([...graph.inputs.map((i) => i.name), ...graph.params.map((p) => p.name)]);
    for (const n of request.wrt) if (!known.has(n)) throw new Error(`tfjs engine: cannot differentiate with respect to unknown '${n}'`);
    await this.activate();
    const fixed = opts.weights ? upload(graph, opts.weights) : null;
    return {
      run: async (feeds, runOpts = {}) => {
        await this.activate();
        const w = runOpts.weights ? upload(graph, runOpts.weights) : fixed;
        if (!w) throw new Error('tfjs engine: no weights given at compile time or call time');
        const inputs = uploadFeeds(graph, feeds);
        const cot = runOpts.cotangent ? tf.tensor(runOpts.cotangent.data, [...runOpts.cotangent.dims], 'float32') : undefined;
        try {
          const all: Record<string, tf.Tensor> = { ...w, ...inputs };
          const wrt = request.wrt.map((n) => all[n]);
          const result = tf.tidy(() => {
            const f = (...xs: tf.Tensor[]) => {
              const env = { ...all };
              request.wrt.forEach((n, i) => (env[n] = xs[i]));
              return runGraph(graph, env)[request.of];
            };
            const { value, grads } = tf.valueAndGrads(f)(wrt, cot);
            const named: Record<string, tf.Tensor> = { __value: value };
            request.wrt.forEach((n, i) => (named[n] = grads[i]));
            return named;
          });
          const out = await download(result);
          const { __value, ...grads } = out;
          return { value: __value, grads };
        } finally {
          tf.dispose(Object.values(inputs));
          if (cot) cot.dispose();
          if (runOpts.weights) tf.dispose(Object.values(w));
        }
      },
      dispose: () => {
        if (fixed) tf.dispose(Object.values(fixed));
      },
    };
  }

  /** Makes this engine's backend the active one (tfjs has one global backend). */
  private async activate(): Promise<void> {
    if (tf.getBackend() !== this.info.backend) await tf.setBackend(this.info.backend);
  }

  dispose(): void {}
}

function upload(graph: Graph, weights: Weights): Record<string, tf.Tensor> {
  checkWeights(graph, weights);
  const out: Record<string, tf.Tensor> = {};
  for (const p of graph.params) out[p.name] = tf.tensor(weights[p.name].data, p.shape, 'float32');
  return out;
}

function uploadFeeds(graph: Graph, feeds: Record<string, Tensor>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const i of graph.inputs) {
    const t = feeds[i.name];
    if (!t) throw new InputError(`missing input '${i.name}'`);
    checkDims(i.name, t.dims, i.shape);
    out[i.name] = tf.tensor(t.data, [...t.dims], 'float32');
  }
  return out;
}

async function download(ts: Record<string, tf.Tensor>): Promise<Record<string, Tensor>> {
  const out: Record<string, Tensor> = {};
  try {
    for (const [k, t] of Object.entries(ts)) out[k] = { data: (await t.data()) as Float32Array, dims: [...t.shape] };
  } finally {
    tf.dispose(Object.values(ts));
  }
  return out;
}
