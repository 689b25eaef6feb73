import { z } from 'zod';
import { InputError } from '../errors.js';
import type { Engine } from './engine.js';
import { OrtEngine } from './ort.js';
import { TfjsEngine } from './tfjs.js';
import type { TfjsBackendChoice } from './tfjs-backend.js';

/**
 * Engine choice shared by the CLI (`--engine`), the environment (`RDC_ENGINE`) and the API.
 * `auto` picks TensorFlow.js on `@tensorflow/tfjs-node-gpu` when that package is installed (a GPU),
 * else ONNX Runtime (forward and gradient graphs; the fastest on a CPU); `tfjs` picks the best tfjs
 * backend (node-gpu → node → wasm → cpu); `tfjs-<backend>` forces one.
 *
 * @example
 * const engine = await createEngine('auto'); // ONNX Runtime on a machine without a GPU
 */
export const EngineChoice = z.enum(['auto', 'ort', 'tfjs', 'tfjs-node-gpu', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu']);
export type EngineChoice = z.infer<typeof EngineChoice>;

/** The choice from an explicit option, else $RDC_ENGINE, else 'auto'. */
export function resolveEngineChoice(explicit?: string): EngineChoice {
  const raw = explicit ?? process.env.RDC_ENGINE ?? 'auto';
  const parsed = EngineChoice.safeParse(raw);
  if (!parsed.success) throw new InputError(`unknown engine '${raw}'; choose one of ${EngineChoice.options.join(', ')}`);
  return parsed.data;
}

const TFJS_BACKEND: Record<string, TfjsBackendChoice> = {
  tfjs: 'auto',
  'tfjs-node-gpu': 'node-gpu',
  'tfjs-node': 'node',
  'tfjs-wasm': 'wasm',
  'tfjs-cpu': 'cpu',
};

/** Whether @tensorflow/tfjs-node-gpu can be loaded here. */
async function hasTfjsGpu(): Promise<boolean> {
  const pkg = '@tensorflow/tfjs-node-gpu';
  try {
    await import(pkg);
    return true;
  } catch {
    return false;
  }
}

export async function createEngine(choice: EngineChoice, opts: { threads?: number } = {}): Promise<Engine> {
  if (choice === 'ort') return OrtEngine.create({ threads: opts.threads });
  if (choice === 'auto') return (await hasTfjsGpu()) ? TfjsEngine.create('node-gpu') : OrtEngine.create({ threads: opts.threads });
  return TfjsEngine.create(TFJS_BACKEND[choice]);
}
