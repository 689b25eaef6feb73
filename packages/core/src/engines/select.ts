/**
 * Engine choice shared by the CLI (`--engine`), the environment (`RDC_ENGINE`) and the API.
 * `auto` and `ort` are ONNX Runtime (forward and gradient graphs, on the device of `--device`);
 * `tfjs` picks the best TensorFlow.js backend (node-gpu → node → wasm → cpu), `tfjs-<backend>`
 * forces one: the independent reference engine. tfjs-node-gpu runs only when named (it needs CUDA
 * 11.2 and cuDNN 8.1, and does not suit recent GPUs).
 *
 * @example
 * const engine = await createEngine('auto', { device: 'auto' }); // ONNX Runtime on a GPU if there is one
 */
import { EngineChoice } from '../config/runtime.js';
import { InputError } from '../errors.js';
import type { Engine } from './engine.js';
import { OrtEngine } from './ort.js';
import { resolveDeviceChoice, selectDevice } from './device.js';
import { TfjsEngine } from './tfjs.js';
import type { TfjsBackendChoice } from './tfjs-backend.js';

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

/**
 * The engine of a choice; `device` (default $RDC_DEVICE, then auto) is where ONNX Runtime runs.
 * Naming a GPU device with a TensorFlow.js engine is an error: `--device` is ONNX Runtime's.
 */
export async function createEngine(choice: EngineChoice, opts: { threads?: number; device?: string; precision?: string } = {}): Promise<Engine> {
  const precision = opts.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'fp16') throw new InputError(`unknown precision '${precision}'; choose fp32 or fp16`, 'bad_option');
  if (choice === 'ort' || choice === 'auto')
    return OrtEngine.create({ threads: opts.threads, device: selectDevice(resolveDeviceChoice(opts.device)), precision });
  if (precision === 'fp16') throw new InputError('--precision fp16 is for the ONNX Runtime engine on a GPU provider', 'bad_option');
  // RDC_DEVICE is for ONNX Runtime; only a device asked for by name conflicts with a tfjs engine.
  if (opts.device !== undefined && resolveDeviceChoice(opts.device) !== 'auto' && opts.device !== 'cpu')
    throw new InputError(
      `--device ${opts.device} is for the ONNX Runtime engine; with --engine ${choice} leave --device out (or use --engine ort)`,
      'bad_device',
    );
  return TfjsEngine.create(TFJS_BACKEND[choice]);
}
