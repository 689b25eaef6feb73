import { beforeAll, describe, expect, it } from 'vitest';
import { OrtEngine, Random, buildDenoiserGraph, dcChunkGraph, gradientGraph, hasVulkanLoader, selectDevice, vulkanDrivers } from '@rdc/core';
import { feedsFor, outputsError, PARITY_CHECKS, PARITY_NETWORK } from './checks.js';

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
let half: OrtEngine;
let cpu: OrtEngine;
beforeAll(async () => {
  if (!vulkan) return;
  gpu = await OrtEngine.create({ threads: 1, device: selectDevice('webgpu') });
  half = await OrtEngine.create({ threads: 1, device: selectDevice('webgpu'), precision: 'fp16' });
  cpu = await OrtEngine.create({ threads: 1 });
}, 120_000);

describe.skipIf(!vulkan)('WebGPU provider against the CPU provider', () => {
  for (const check of PARITY_CHECKS) {
    it(check.name, async () => {
      expect(await check.run(gpu, cpu)).toBeLessThanOrEqual(check.tolerance);
    });
  }
});

describe.skipIf(!vulkan)('fp16 on the WebGPU provider against float32 on the CPU', () => {
  const { config, weights } = PARITY_NETWORK;
  // Half precision keeps about 3 decimal digits: errors of a few 1e-3, well above float32's.
  it('the denoiser, the DC chunk and its input gradient agree to 2e-2 (and are not float32: the error exceeds 1e-5)', async () => {
    const den = buildDenoiserGraph(config);
    const dErr = await outputsError(half, cpu, den, weights, feedsFor(den, 1, ['sigma']));
    const dc = dcChunkGraph(config);
    const feeds = feedsFor(dc, 3, ['sigma', 'weights']);
    feeds.guidance = { data: Float32Array.of(0), dims: [1] };
    const vjp = gradientGraph(dc, { of: 'logits', wrt: ['x'] });
    const gErr = await outputsError(half, cpu, vjp, weights, { ...feeds, cotangent: { data: new Random(4).normal(3), dims: [1, 3] } });
    for (const e of [dErr, gErr]) {
      expect(e).toBeLessThan(2e-2);
      expect(e).toBeGreaterThan(1e-5);
    }
  });
});
