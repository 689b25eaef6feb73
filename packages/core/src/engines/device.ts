import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { DeviceChoice } from '../config/runtime.js';
import { InputError } from '../errors.js';

/**
 * Where ONNX Runtime runs (`--device`, `RDC_DEVICE`):
 * - `cpu`: the CPU provider;
 * - `webgpu`: the WebGPU provider bundled with onnxruntime-node (Dawn on Vulkan on Linux, Metal on
 *   macOS, D3D12 on Windows), on whatever adapter Dawn picks, a software one such as lavapipe included;
 * - `cuda`: ONNX Runtime's CUDA provider, which onnxruntime-node installs only on request;
 * - `auto`: CUDA when it is installed and an NVIDIA GPU is present, else WebGPU on a hardware GPU
 *   (restricting Vulkan to the hardware drivers, so a software adapter is never picked), else the CPU.
 *
 * @example
 * const d = selectDevice(resolveDeviceChoice(undefined)); // { device: 'cpu', adapter: 'CPU', reason: 'no hardware GPU …' }
 */
export type Device = Exclude<DeviceChoice, 'auto'>;

export interface DeviceSelection {
  device: Device;
  /** The adapter in words, e.g. 'NVIDIA GPU (Vulkan: nvidia)', 'lavapipe (llvmpipe, a software Vulkan adapter)', 'CPU'. */
  adapter: string;
  /** Why this device (for `rdc info` and logs). */
  reason: string;
  /** Vulkan driver manifests the WebGPU provider is restricted to (hardware only under `auto`). */
  vulkanDrivers?: string[];
}

/** The choice from an explicit option, else $RDC_DEVICE, else 'auto'. */
export function resolveDeviceChoice(explicit?: string): DeviceChoice {
  const raw = explicit ?? process.env.RDC_DEVICE ?? 'auto';
  const parsed = DeviceChoice.safeParse(raw);
  if (!parsed.success) throw new InputError(`unknown device '${raw}'; choose one of ${DeviceChoice.options.join(', ')}`);
  return parsed.data;
}

export interface GpuDevice {
  vendor: string;
  vendorId: string;
  pciAddress: string;
}

const VENDORS: Record<string, string> = { '0x10de': 'NVIDIA', '0x1002': 'AMD', '0x8086': 'Intel' };

/**
 * Hardware GPUs on the PCI bus (display controllers of NVIDIA, AMD or Intel; virtual adapters of VMs
 * are not GPUs), and NVIDIA's driver's own list where a container hides the bus.
 */
export function detectGpus(root = '/sys/bus/pci/devices', nvidiaProc = '/proc/driver/nvidia/gpus'): GpuDevice[] {
  const out: GpuDevice[] = [];
  for (const dev of existsSync(root) ? readdirSync(root) : []) {
    try {
      const cls = readFileSync(join(root, dev, 'class'), 'utf8').trim();
      const vendorId = readFileSync(join(root, dev, 'vendor'), 'utf8').trim();
      // 0x03xxxx: display controller (VGA 0x0300, 3D 0x0302).
      if (cls.startsWith('0x03') && VENDORS[vendorId]) out.push({ vendor: VENDORS[vendorId], vendorId, pciAddress: dev });
    } catch {
      // unreadable entry: not ours to judge
    }
  }
  if (!out.some((g) => g.vendor === 'NVIDIA') && existsSync(nvidiaProc)) {
    for (const dev of readdirSync(nvidiaProc)) out.push({ vendor: 'NVIDIA', vendorId: '0x10de', pciAddress: dev });
  }
  return out;
}

export interface VulkanDriver {
  file: string;
  /** The driver library the manifest names (e.g. libvulkan_lvp.so). */
  library: string;
  software: boolean;
  name: string;
}

const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/**
 * Where the Vulkan loader looks for driver manifests: `VK_DRIVER_FILES` (or the older
 * `VK_ICD_FILENAMES`) replaces the search, `VK_ADD_DRIVER_FILES` adds to it; each entry is a
 * manifest or a folder of them.
 */
export function vulkanDriverPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const list = (v?: string) => (v ?? '').split(':').filter(Boolean);
  const only = list(env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES);
  return only.length ? only : [...ICD_DIRS, ...list(env.VK_ADD_DRIVER_FILES)];
}

/** The Vulkan drivers installed (their ICD manifests); lavapipe and SwiftShader are software. */
export function vulkanDrivers(paths = vulkanDriverPaths()): VulkanDriver[] {
  const out: VulkanDriver[] = [];
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const files = p.endsWith('.json')
      ? [p]
      : readdirSync(p)
          .filter((x) => x.endsWith('.json'))
          .map((f) => join(p, f));
    for (const file of files) {
      try {
        const library = String((JSON.parse(readFileSync(file, 'utf8')) as { ICD?: { library_path?: string } }).ICD?.library_path ?? '');
        const f = basename(file);
        const software = /lvp|lavapipe|swiftshader|llvmpipe/i.test(`${f} ${library}`);
        const name = software
          ? /swiftshader/i.test(`${f} ${library}`)
            ? 'SwiftShader'
            : 'lavapipe (llvmpipe)'
          : f.replace(/_icd.*\.json$/, '').replace(/\.json$/, '');
        out.push({ file, library, software, name });
      } catch {
        // a malformed manifest: the loader skips it too
      }
    }
  }
  return out;
}

/** Whether the Vulkan loader library is installed (Dawn needs it for WebGPU on Linux). */
export function hasVulkanLoader(): boolean {
  return (
    ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'].some(
      existsSync,
    ) || (process.env.LD_LIBRARY_PATH ?? '').split(':').some((d) => d && existsSync(join(d, 'libvulkan.so.1')))
  );
}

/** Execution providers of this onnxruntime-node build, and whether each is usable here. */
export function ortProviders(): { name: string; bundled: boolean; installed: boolean }[] {
  const require = createRequire(import.meta.url);
  const ort = require('onnxruntime-node') as { listSupportedBackends?: () => { name: string; bundled: boolean }[] };
  const list = ort.listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
  const bin = dirname(require.resolve('onnxruntime-node/package.json'));
  const libs = (() => {
    const dir = join(bin, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(dir) ? readdirSync(dir) : [];
  })();
  return list.map((b) => ({ ...b, installed: b.bundled || libs.some((f) => f.includes(`providers_${b.name}`)) }));
}

export const CUDA_INSTALL_HELP =
  "ONNX Runtime's CUDA provider is not installed (onnxruntime-node downloads it only on request). On a machine with an NVIDIA driver, CUDA 12 and cuDNN 9: set `allowBuilds: { onnxruntime-node: true }` in pnpm-workspace.yaml and run `ONNXRUNTIME_NODE_INSTALL=cuda12 pnpm install --force`; or use --device webgpu, which needs only the GPU's Vulkan driver";

/** What device selection looks at. */
export interface MachineProbe {
  gpus: GpuDevice[];
  drivers: VulkanDriver[];
  providers: { name: string; installed: boolean }[];
  vulkanLoader: boolean;
  platform: NodeJS.Platform;
}

export function probeMachine(): MachineProbe {
  return { gpus: detectGpus(), drivers: vulkanDrivers(), providers: ortProviders(), vulkanLoader: hasVulkanLoader(), platform: process.platform };
}

/** Resolves a device choice against this machine (or a described one). */
export function selectDevice(choice: DeviceChoice, machine: MachineProbe = probeMachine()): DeviceSelection {
  const { gpus, drivers, providers } = machine;
  const loader = machine.platform !== 'linux' || machine.vulkanLoader;
  // A hardware driver counts only for a GPU that is there (mesa installs drivers for every vendor).
  const vendorOf = (d: VulkanDriver) =>
    /nvidia/i.test(d.name + d.library) ? 'NVIDIA' : /radeon|amd/i.test(d.name + d.library) ? 'AMD' : /intel/i.test(d.name + d.library) ? 'Intel' : '';
  const hardware = drivers.filter((d) => !d.software && gpus.some((g) => g.vendor === vendorOf(d)));
  const has = (name: string) => providers.some((p) => p.name === name && p.installed);
  const gpuWords = gpus.length ? gpus.map((g) => `${g.vendor} GPU at ${g.pciAddress}`).join(', ') : 'no hardware GPU';
  if (choice === 'cpu') return { device: 'cpu', adapter: 'CPU', reason: 'asked for the CPU' };
  if (choice === 'cuda') {
    if (!has('cuda')) throw new InputError(CUDA_INSTALL_HELP, 'no_cuda');
    return { device: 'cuda', adapter: gpus.find((g) => g.vendor === 'NVIDIA') ? 'NVIDIA GPU (CUDA)' : 'CUDA device', reason: 'asked for CUDA' };
  }
  if (choice === 'webgpu') {
    if (!has('webgpu')) throw new InputError('this onnxruntime-node build has no WebGPU provider', 'no_webgpu');
    if (!loader)
      throw new InputError(
        "WebGPU on Linux needs the Vulkan loader (Debian: apt-get install libvulkan1) and a Vulkan driver (the GPU vendor's, or mesa-vulkan-drivers for a software adapter)",
        'no_vulkan',
      );
    const software = drivers.filter((d) => d.software);
    const adapter = hardware.length
      ? `${hardware.map((d) => d.name).join(', ')} (Vulkan)`
      : software.length
        ? `${software.map((d) => d.name).join(', ')}, a software Vulkan adapter`
        : 'unknown (no Vulkan driver for the GPUs found)';
    return { device: 'webgpu', adapter, reason: `asked for WebGPU (${gpuWords})` };
  }
  // auto
  if (has('cuda') && gpus.some((g) => g.vendor === 'NVIDIA'))
    return { device: 'cuda', adapter: 'NVIDIA GPU (CUDA)', reason: `auto: ${gpuWords} and ONNX Runtime's CUDA provider installed` };
  if (has('webgpu') && gpus.length && hardware.length && loader)
    return {
      device: 'webgpu',
      adapter: `${hardware.map((d) => d.name).join(', ')} (Vulkan)`,
      reason: `auto: ${gpuWords} with a hardware Vulkan driver; software adapters excluded`,
      vulkanDrivers: hardware.map((d) => d.file),
    };
  const why = !gpus.length
    ? `no hardware GPU${
        drivers.some((d) => d.software)
          ? ` (only a software Vulkan adapter: ${drivers
              .filter((d) => d.software)
              .map((d) => d.name)
              .join(', ')}, never picked by auto)`
          : ''
      }`
    : !hardware.length
      ? `${gpuWords} but no Vulkan driver for it`
      : 'no Vulkan loader (libvulkan1)';
  return { device: 'cpu', adapter: 'CPU', reason: `auto: ${why}` };
}
