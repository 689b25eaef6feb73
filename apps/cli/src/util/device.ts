import { Option } from '@commander-js/extra-typings';

/** The `--device` option's help, shared by every command that runs networks. */
export const DEVICE_HELP =
  "where ONNX Runtime runs: auto (a hardware GPU if there is one, else the CPU), cpu, webgpu (Vulkan/Metal/D3D12, any adapter) or cuda (env RDC_DEVICE; 'rdc info' shows what auto picks)";

/** `--precision fp32|fp16` of the inference commands (eval, attack, classify, serve). */
export function precisionOption() {
  return new Option(
    '--precision <p>',
    'fp32 (default) or fp16: compute in half precision on a GPU provider (--device webgpu|cuda; never on by default)',
  ).choices(['fp32', 'fp16'] as const);
}
