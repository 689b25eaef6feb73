import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectGpus, selectDevice, vulkanDriverPaths, vulkanDrivers, type MachineProbe } from './device.js';

const lavapipe = { file: '/usr/share/vulkan/icd.d/lvp_icd.json', library: 'libvulkan_lvp.so', software: true, name: 'lavapipe (llvmpipe)' };
const nvidia = { file: '/usr/share/vulkan/icd.d/nvidia_icd.json', library: 'libGLX_nvidia.so.0', software: false, name: 'nvidia' };
const radeon = { file: '/usr/share/vulkan/icd.d/radeon_icd.json', library: 'libvulkan_radeon.so', software: false, name: 'radeon' };
const machine = (o: Partial<MachineProbe>): MachineProbe => ({
  gpus: [],
  drivers: [lavapipe, radeon],
  providers: [
    { name: 'cpu', installed: true },
    { name: 'webgpu', installed: true },
    { name: 'cuda', installed: false },
  ],
  vulkanLoader: true,
  platform: 'linux',
  ...o,
});
const h100 = { vendor: 'NVIDIA', vendorId: '0x10de', pciAddress: '0000:01:00.0' };

describe('device selection', () => {
  it('auto never picks a software adapter: no GPU means the CPU, even with lavapipe installed', () => {
    const d = selectDevice('auto', machine({}));
    expect(d.device).toBe('cpu');
    expect(d.reason).toMatch(/no hardware GPU .*lavapipe/);
    // mesa's drivers for absent vendors do not count either.
    expect(selectDevice('auto', machine({ gpus: [h100] })).device).toBe('cpu');
  });

  it('auto picks WebGPU on a hardware GPU with its Vulkan driver, restricting Vulkan to it', () => {
    const d = selectDevice('auto', machine({ gpus: [h100], drivers: [lavapipe, nvidia] }));
    expect(d).toMatchObject({ device: 'webgpu', adapter: 'nvidia (Vulkan)', vulkanDrivers: [nvidia.file] });
    // … and CUDA when ONNX Runtime's CUDA provider is installed.
    const c = selectDevice('auto', machine({ gpus: [h100], drivers: [nvidia], providers: [{ name: 'cuda', installed: true }] }));
    expect(c.device).toBe('cuda');
  });

  it('named devices: WebGPU on whatever adapter there is (named), CUDA only when installed', () => {
    expect(selectDevice('webgpu', machine({})).adapter).toBe('lavapipe (llvmpipe), a software Vulkan adapter');
    expect(() => selectDevice('cuda', machine({ gpus: [h100] }))).toThrow(/CUDA provider is not installed.*ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(() => selectDevice('webgpu', machine({ vulkanLoader: false }))).toThrow(/Vulkan loader.*libvulkan1/);
    expect(selectDevice('cpu', machine({ gpus: [h100], drivers: [nvidia] })).device).toBe('cpu');
  });

  it('reads GPUs off the PCI bus and drivers off the Vulkan manifests', () => {
    const root = mkdtempSync(join(tmpdir(), 'rdc-pci-'));
    const dev = (name: string, cls: string, vendor: string) => {
      mkdirSync(join(root, name));
      writeFileSync(join(root, name, 'class'), `${cls}\n`);
      writeFileSync(join(root, name, 'vendor'), `${vendor}\n`);
    };
    dev('0000:00:02.0', '0x030000', '0x1234'); // QEMU's virtual VGA: not a GPU
    dev('0000:01:00.0', '0x030200', '0x10de'); // an NVIDIA 3D controller
    dev('0000:02:00.0', '0x020000', '0x8086'); // an Intel NIC
    expect(detectGpus(root, join(root, 'absent'))).toEqual([{ vendor: 'NVIDIA', vendorId: '0x10de', pciAddress: '0000:01:00.0' }]);
    // A container without the PCI bus, with NVIDIA's driver: its /proc list.
    const proc = mkdtempSync(join(tmpdir(), 'rdc-nv-'));
    mkdirSync(join(proc, '0000:8a:00.0'));
    expect(detectGpus(join(root, 'absent'), proc)).toEqual([{ vendor: 'NVIDIA', vendorId: '0x10de', pciAddress: '0000:8a:00.0' }]);
    const icd = mkdtempSync(join(tmpdir(), 'rdc-icd-'));
    writeFileSync(join(icd, 'lvp_icd.x86_64.json'), JSON.stringify({ ICD: { library_path: '/usr/lib/libvulkan_lvp.so' } }));
    writeFileSync(join(icd, 'nvidia_icd.json'), JSON.stringify({ ICD: { library_path: 'libGLX_nvidia.so.0' } }));
    const drivers = vulkanDrivers([icd]);
    expect(drivers.map((d) => [d.name, d.software]).sort()).toEqual([
      ['lavapipe (llvmpipe)', true],
      ['nvidia', false],
    ]);
    // A manifest named on its own (VK_DRIVER_FILES replaces the search; VK_ADD_DRIVER_FILES adds).
    expect(vulkanDrivers([join(icd, 'nvidia_icd.json')]).map((d) => d.name)).toEqual(['nvidia']);
    expect(vulkanDriverPaths({ VK_DRIVER_FILES: `${icd}/nvidia_icd.json:/x` })).toEqual([`${icd}/nvidia_icd.json`, '/x']);
    expect(vulkanDriverPaths({ VK_ICD_FILENAMES: '/y.json' })).toEqual(['/y.json']);
    expect(vulkanDriverPaths({ VK_ADD_DRIVER_FILES: '/z.json' })).toContain('/z.json');
    expect(vulkanDriverPaths({ VK_ADD_DRIVER_FILES: '/z.json' })).toContain('/usr/share/vulkan/icd.d');
  });
});
