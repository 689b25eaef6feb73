/**
 * The ONNX Runtime engine: compiles a `Graph` with the ONNX writer and runs it on onnxruntime-node's
 * CPU, WebGPU or CUDA provider (`device`), or loads an exported `.onnx` file from a model folder. Gradients run as reverse-pass
 * graphs built by `nn/autodiff.ts` (ONNX Runtime itself has no gradient API in Node).
 *
 * @example
 * const engine = await OrtEngine.create({ threads: 1 });
 * const f = await engine.compile(graph, { weights });
 * const { D } = await f.run({ x, sigma });
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { InputError } from '../errors.js';
import type { DeviceSelection } from './device.js';
import { cotangentInput, gradientGraph, gradName } from '../nn/autodiff.js';
import type { Dim, Graph } from '../nn/graph/index.js';
import { nchwcProbeModel } from '../nn/onnx/conv.js';
import { graphToOnnx } from '../nn/onnx/writer.js';
import type { Tensor, Weights } from '../tensor.js';
import { checkDims, type CompileOptions, type Engine, type EngineInfo, type GradientFunction, type GradientRequest, type GraphFunction } from './engine.js';
import { checkWeights } from '../nn/weights.js';

export interface OrtOptions {
  /** Intra-op threads (default: all cores). One thread makes results repeat bit for bit. */
  threads?: number;
  /** Where to run (default: the CPU); see `selectDevice`. */
  device?: DeviceSelection;
  /** `fp16` computes in half precision (GPU providers only; measured by `pnpm bench --suite device --precision fp16`). */
  precision?: 'fp32' | 'fp16';
  /**
   * CPU provider: run the convolutions of graphs whose weights are fed at run time (training steps,
   * weight gradients) in MLAS's blocked layout (default true; see `OnnxOptions.nchwcBlock`). Off only
   * to measure what it saves (`pnpm bench --suite backbone` does).
   */
  blockedConvolutions?: boolean;
}

let nchwcProbe: Promise<number> | undefined;

/**
 * MLAS's NCHWc block size on this CPU (16 with AVX-512, 8 with AVX2), or 0 where this ONNX Runtime
 * build has no blocked kernels; found once by running `nchwcProbeModel`.
 */
export function nchwcBlockSize(): Promise<number> {
  nchwcProbe ??= (async () => {
    try {
      const s = await ort.InferenceSession.create(nchwcProbeModel(), { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
      const out = await s.run({ x: new ort.Tensor('float32', new Float32Array(4), [1, 4, 1, 1]) });
      await s.release();
      return out.y.dims[1];
    } catch {
      return 0;
    }
  })();
  return nchwcProbe;
}

export class OrtEngine implements Engine {
  private constructor(
    readonly info: EngineInfo,
    private readonly sessionOptions: ort.InferenceSession.SessionOptions,
    /** Whether graphs with weights as inputs get blocked convolutions (the block size is probed on first use). */
    private readonly blockedConvolutions: boolean,
  ) {}

  static async create(opts: OrtOptions = {}): Promise<OrtEngine> {
    const threads = opts.threads ?? availableParallelism();
    const device = opts.device ?? { device: 'cpu', adapter: 'CPU', reason: 'the default' };
    const fp16 = opts.precision === 'fp16';
    if (fp16 && device.device === 'cpu')
      throw new InputError('--precision fp16 is for GPU providers (--device webgpu|cuda): the CPU provider computes in float32', 'bad_option');
    // Under `auto`, Vulkan is restricted to the hardware drivers, so Dawn cannot pick a software adapter.
    if (device.vulkanDrivers?.length && !process.env.VK_DRIVER_FILES && !process.env.VK_ICD_FILENAMES) {
      process.env.VK_DRIVER_FILES = device.vulkanDrivers.join(':');
      process.env.VK_ICD_FILENAMES = process.env.VK_DRIVER_FILES;
    }
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [device.device],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // ONNX Runtime warns about every shape op it keeps on the CPU next to a GPU provider: expected, not news.
      logSeverityLevel: device.device === 'cpu' ? 2 : 3,
    };
    return new OrtEngine(
      {
        engine: 'ort',
        backend: device.device,
        package: `onnxruntime-node@${ort.env.versions.node ?? '?'}`,
        threads,
        differentiable: true,
        adapter: device.adapter,
        ...(fp16 ? { precision: 'fp16' as const } : {}),
      },
      sessionOptions,
      device.device === 'cpu' && opts.blockedConvolutions !== false,
    );
  }

  /** Creates a session, with an error that says what to do when a GPU provider cannot start. */
  private async session(model: Uint8Array | string, extra: ort.InferenceSession.SessionOptions = {}): Promise<ort.InferenceSession> {
    try {
      return await ort.InferenceSession.create(model as Uint8Array, { ...this.sessionOptions, ...extra });
    } catch (err) {
      if (this.info.backend === 'cpu') throw err;
      throw new InputError(
        `ONNX Runtime's ${this.info.backend} provider could not start here (${(err as Error).message.split('\n')[0]}); see 'rdc info' for the providers and adapters, or use --device cpu`,
        'device_unavailable',
      );
    }
  }

  /** The NCHWc block size for graphs with weights as inputs; 0: plain convolutions. */
  private async nchwcBlock(): Promise<number> {
    return this.blockedConvolutions ? nchwcBlockSize() : 0;
  }

  /** The execution providers this onnxruntime-node build offers, and whether each is bundled. */
  static providers(): { name: string; bundled: boolean }[] {
    const list = (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] }).listSupportedBackends;
    return list ? list() : [{ name: 'cpu', bundled: true }];
  }

  async compile(graph: Graph, opts: CompileOptions = {}): Promise<GraphFunction> {
    if (opts.weights) checkWeights(graph, opts.weights);
    // With constant weights ONNX Runtime reorders convolutions to NCHWc itself.
    const bytes = graphToOnnx(graph, {
      weights: opts.weights ? { mode: 'inline', values: opts.weights } : { mode: 'inputs' },
      precision: this.info.precision ?? 'fp32',
      ...(opts.weights ? {} : { nchwcBlock: await this.nchwcBlock() }),
    });
    const session = await this.session(bytes);
    return wrapSession(session, graph, !opts.weights && graph.params.length > 0);
  }

  /** Loads an ONNX file (its external data is resolved next to it). */
  async load(path: string, graph: Graph): Promise<GraphFunction> {
    if (this.info.precision) throw new InputError(`${path} is a float32 graph: an fp16 engine compiles its graphs from the weights`, 'bad_option');
    const session = await this.session(path);
    return wrapSession(session, graph, false);
  }

  async compileGradient(graph: Graph, request: GradientRequest, opts: CompileOptions = {}): Promise<GradientFunction> {
    const gg = gradientGraph(graph, request);
    return gradientFunction(await this.compile(gg, opts), graph, gg, request);
  }

  /** Loads an exported reverse-pass graph (made by `gradientGraph(graph, request)`). */
  async loadGradient(path: string, graph: Graph, request: GradientRequest): Promise<GradientFunction> {
    const gg = gradientGraph(graph, request);
    return gradientFunction(await this.load(path, gg), graph, gg, request);
  }

  /**
   * Compiles a graph whose weights are inputs and whose `keep` outputs are handed back as
   * `DeviceTensor`s, to be fed to the next run as they are: the training step with the optimizer in
   * the graph (`adamwStepGraph`) carries weights and moments from step to step this way.
   *
   * The kept outputs stay in host memory on every provider for now: onnxruntime-node 1.30 aborts
   * the process (`terminate called after throwing an instance of 'char const*'`) when a tensor with
   * `location: 'gpu-buffer'` is fed as an input, even to a one-node graph (checked on lavapipe).
   * `RESIDENT_LOCATION` is the one place to switch to `'gpu-buffer'` once that works.
   */
  async compileResident(graph: Graph, keep: readonly string[]): Promise<ResidentFunction> {
    if (this.info.precision) throw new InputError('training keeps float32 weights and moments: use --precision fp32 for training', 'bad_option');
    const bytes = graphToOnnx(graph, { weights: { mode: 'inputs' }, nchwcBlock: await this.nchwcBlock() });
    const session = await this.session(bytes, { preferredOutputLocation: Object.fromEntries(keep.map((k) => [k, RESIDENT_LOCATION])) });
    const kept = new Set(keep);
    const names = [...graph.inputs.map((i) => [i.name, i.shape] as const), ...graph.params.map((p) => [p.name, p.shape] as const)];
    let queue: Promise<unknown> = Promise.resolve();
    return {
      run: (feeds) => {
        const job = queue.then(async () => {
          const input: Record<string, ort.Tensor> = {};
          for (const [name, shape] of names) {
            const t = feeds[name];
            if (!t) throw new InputError(`missing input '${name}'`);
            if (t instanceof DeviceTensor) input[name] = t.value;
            else {
              checkDims(name, t.dims, shape);
              input[name] = new ort.Tensor('float32', t.data, [...t.dims]);
            }
          }
          const out = await session.run(input);
          const result: Record<string, Tensor | DeviceTensor> = {};
          for (const o of graph.outputs) {
            const t = out[o.name];
            if (kept.has(o.name)) result[o.name] = new DeviceTensor(t);
            else {
              result[o.name] = { data: new Float32Array(t.data as Float32Array), dims: [...t.dims] };
              t.dispose();
            }
          }
          return result;
        });
        queue = job.catch(() => undefined);
        return job;
      },
      dispose: () => void session.release(),
    };
  }

  dispose(): void {}
}

const RESIDENT_LOCATION: ort.Tensor.DataLocation = 'cpu';

/** A tensor left on the device by a run (see `OrtEngine.compileResident`). */
export class DeviceTensor {
  constructor(readonly value: ort.Tensor) {}
  get dims(): readonly number[] {
    return this.value.dims;
  }
  /** Copies it to the host. */
  async download(): Promise<Tensor> {
    const data = this.value.location === 'cpu' ? (this.value.data as Float32Array) : ((await this.value.getData()) as Float32Array);
    return { data: new Float32Array(data), dims: [...this.value.dims] };
  }
  /** Frees its device memory. */
  dispose(): void {
    this.value.dispose();
  }
}

export interface ResidentFunction {
  run(feeds: Record<string, Tensor | DeviceTensor>): Promise<Record<string, Tensor | DeviceTensor>>;
  dispose(): void;
}

function gradientFunction(f: GraphFunction, graph: Graph, gg: Graph, request: GradientRequest): GradientFunction {
  const cot = cotangentInput(gg);
  return {
    run: async (feeds, runOpts = {}) => {
      const cotangent = runOpts.cotangent ?? ones(cot.shape, symbolSizes(graph, feeds));
      const out = await f.run({ ...feeds, [cot.name]: cotangent }, runOpts.weights);
      return { value: out.value, grads: Object.fromEntries(request.wrt.map((n) => [n, out[gradName(n)]])) };
    },
    dispose: () => f.dispose(),
  };
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
          if (!t) throw new InputError(`missing input '${i.name}'`);
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

/** Sizes of the symbolic dimensions, read off the feeds. */
function symbolSizes(graph: Graph, feeds: Record<string, Tensor>): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const i of graph.inputs) {
    const t = feeds[i.name];
    if (t) i.shape.forEach((d, k) => typeof d === 'string' && (sizes[d] = t.dims[k]));
  }
  return sizes;
}

function ones(shape: readonly Dim[], sizes: Record<string, number>): Tensor {
  const dims = shape.map((d) => {
    if (typeof d === 'number') return d;
    if (!(d in sizes)) throw new Error(`ort engine: pass a cotangent (cannot size the output dimension '${d}')`);
    return sizes[d];
  });
  return { data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(1), dims };
}

function feedWeights(graph: Graph, weights: Weights, input: Record<string, ort.Tensor>): void {
  checkWeights(graph, weights);
  for (const p of graph.params) input[p.name] = new ort.Tensor('float32', weights[p.name].data, p.shape);
}
