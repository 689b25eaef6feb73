import { beforeAll, describe, expect, it } from 'vitest';
import { hasVulkanLoader, selectDevice, vulkanDrivers } from './device.js';
import { OrtEngine } from './ort.js';
import { PARITY_CHECKS } from './parity.js';

/**
 * Every graph kind the project emits, on ONNX Runtime's WebGPU provider against its CPU provider
 * (tiny networks, `PARITY_CHECKS`): in CI on Mesa's software Vulkan driver (lavapipe), on a GPU
 * machine on the GPU. Outside CI, without Vulkan, the tests skip with the reason; in CI a missing
 * Vulkan fails them.
 */
const vulkan = process.platform !== 'linux' || (hasVulkanLoader() && vulkanDrivers().length > 0);
if (!vulkan) {
  const why = `WebGPU needs the Vulkan loader and a driver (apt-get install libvulkan1 mesa-vulkan-drivers; found loader: ${hasVulkanLoader()}, drivers: ${vulkanDrivers().length})`;
  if (process.env.CI) throw new Error(`CI must run the WebGPU tests: ${why}`);
  process.stderr.write(`skipping the WebGPU parity tests: ${why}\n`);
}

let gpu: OrtEngine;
let cpu: OrtEngine;
beforeAll(async () => {
  if (!vulkan) return;
  gpu = await OrtEngine.create({ threads: 1, device: selectDevice('webgpu') });
  cpu = await OrtEngine.create({ threads: 1 });
}, 120_000);

describe.skipIf(!vulkan)('WebGPU provider against the CPU provider', () => {
  for (const check of PARITY_CHECKS) {
    it(check.name, async () => {
      expect(await check.run(gpu, cpu)).toBeLessThanOrEqual(check.tolerance);
    });
  }
});
