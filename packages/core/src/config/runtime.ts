/**
 * Where and how networks run, and where data and results go: the options every command that runs a
 * network shares (engine, device, threads, precision, CIFAR-10 folder, JSON output), declared once.
 *
 * @example
 * const o = RuntimeOptions.parse({ threads: 2 }); // engine and device from $RDC_ENGINE / $RDC_DEVICE, else auto
 */
import { z } from 'zod';
import { cli } from './options.js';

/**
 * Engine choice (`--engine`, `RDC_ENGINE`): `auto` and `ort` are ONNX Runtime (forward and gradient
 * graphs, on the device of `--device`); `tfjs` picks the best TensorFlow.js backend, `tfjs-<backend>`
 * forces one: the independent reference engine.
 */
export const EngineChoice = z.enum(['auto', 'ort', 'tfjs', 'tfjs-node-gpu', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu']);
export type EngineChoice = z.infer<typeof EngineChoice>;

/** Where ONNX Runtime runs (`--device`, `RDC_DEVICE`). */
export const DeviceChoice = z.enum(['auto', 'cpu', 'webgpu', 'cuda']);
export type DeviceChoice = z.infer<typeof DeviceChoice>;

/** Arithmetic of inference graphs: float32, or half precision on a GPU provider. */
export const Precision = z.enum(['fp32', 'fp16']);
export type Precision = z.infer<typeof Precision>;

export const RuntimeOptions = z.object({
  engine: EngineChoice.optional()
    .describe('engine (env RDC_ENGINE; default auto: ONNX Runtime)')
    .meta(cli({ flag: '--engine <name>' })),
  device: DeviceChoice.optional()
    .describe(
      "where ONNX Runtime runs: auto (a hardware GPU if there is one, else the CPU), cpu, webgpu (Vulkan/Metal/D3D12, any adapter) or cuda (env RDC_DEVICE; 'rdc info' shows what auto picks)",
    )
    .meta(cli({ flag: '--device <device>' })),
  threads: z.number().int().positive().optional().describe('ONNX Runtime threads'),
});
export type RuntimeOptions = z.infer<typeof RuntimeOptions>;

export const PrecisionOptions = z.object({
  precision: Precision.optional()
    .describe('fp32 (default) or fp16: compute in half precision on a GPU provider (--device webgpu|cuda; never on by default)')
    .meta(cli({ flag: '--precision <p>' })),
});

/** An optional path given on the command line as `flag`. */
const pathOption = (description: string, flag: string) => z.string().optional().describe(description).meta(cli({ flag }));

export const DataOptions = z.object({ dataDir: pathOption('CIFAR-10 binary folder (env RDC_DATA_DIR)', '--data-dir <dir>') });

export const JsonOutput = z.object({ json: pathOption("write the result as JSON ('-': stdout, with everything else on stderr)", '--json <file>') });
