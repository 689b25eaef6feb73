import { z } from 'zod';
import { InputError } from '../errors.js';
import type { Engine } from './engine.js';
import { OrtEngine } from './ort.js';
import { TfjsEngine } from './tfjs.js';
import type { TfjsBackendChoice } from './tfjs-backend.js';

/**
 * Engine choice shared by the CLI (`--engine`), the environment (`RDC_ENGINE`) and the API.
 * `auto` gives ONNX Runtime for forward-only work and the best TensorFlow.js backend where
 * gradients are needed; `tfjs` picks the best tfjs backend; `tfjs-<backend>` forces one.
 *
 * @example
 * const engine = await createEngine('auto', { gradients: true }); // tfjs (node-gpu → node → wasm → cpu)
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

export async function createEngine(choice: EngineChoice, opts: { gradients?: boolean; threads?: number } = {}): Promise<Engine> {
  if (choice === 'ort') {
    if (opts.gradients) throw new InputError("the ONNX Runtime engine has no gradients yet; this command needs '--engine tfjs' (or auto)");
    return OrtEngine.create({ threads: opts.threads });
  }
  if (choice === 'auto') return opts.gradients ? TfjsEngine.create('auto') : OrtEngine.create({ threads: opts.threads });
  return TfjsEngine.create(TFJS_BACKEND[choice]);
}
