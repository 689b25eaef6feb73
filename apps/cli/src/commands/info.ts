import { Command } from '@commander-js/extra-typings';
import {
  guardLabel,
  guardStatus,
  buildNetworkGraphs,
  createEngine,
  detectGpus,
  forwardFlops,
  forwardMacs,
  hasVulkanLoader,
  ortProviders,
  parameterCount,
  OrtEngine,
  readModelFolder,
  resolveDeviceChoice,
  resolveEngineChoice,
  selectDevice,
  vulkanDrivers,
} from '@rdc/core';
import { runParityChecks } from '../parity/checks.js';
import { provenance } from '../util/provenance.js';
import { writeJson } from '../util/output.js';
import { readShared, sharedOptions } from '../util/schema-options.js';

/** `rdc info`: engines, backends, threads and providers on this machine. */
export function infoCommand() {
  const cmd = new Command('info')
    .description('show the engines on this machine: the TensorFlow.js backend and threads, and ONNX Runtime providers')
    .option('--model <dir>', 'also report a model folder: network, parameters and FLOPs per forward pass')
    .option('--parity', 'also run every graph kind on the chosen device against the CPU provider (tiny networks; exit 1 when one disagrees)');
  sharedOptions(cmd, ['runtime', 'json']);
  return cmd.action(async (opts) => {
    const shared = readShared(opts);
    let modelReport: Record<string, unknown> | undefined;
    let modelGuard: string | null = null;
    if (opts.model) {
      const m = readModelFolder(opts.model);
      modelGuard = guardStatus(m.config) === 'denoises' ? 'the class heads denoise' : guardLabel(m.config);
      const graphs = buildNetworkGraphs(m.config.network, m.config.lmNetwork);
      const g = (graphs.denoiser ?? graphs.classifier!).graph;
      modelReport = {
        dir: m.dir,
        network: m.config.network,
        lmNetwork: m.config.lmNetwork,
        parameters: parameterCount(g),
        flopsPerImage: forwardFlops(g),
        macsPerPass: forwardMacs(g),
        temperature: m.config.temperature,
        guard: m.config.guard ?? null,
        guardStatus: guardStatus(m.config),
        dc: m.config.dc,
        files: m.config.files,
      };
    }
    const choice = resolveEngineChoice(shared.engine);
    const deviceChoice = resolveDeviceChoice(shared.device);
    const device = selectDevice(deviceChoice);
    const gpus = detectGpus();
    const drivers = vulkanDrivers();
    const engine = await createEngine(choice, { threads: shared.threads, device: choice.startsWith('tfjs') ? shared.device : deviceChoice });
    const tfjs = choice.startsWith('tfjs') ? engine : await createEngine('tfjs');
    const report = {
      ...provenance({ engine: engine.info }),
      engine: engine.info,
      engineChoice: choice,
      tfjs: tfjs.info,
      ortProviders: ortProviders(),
      device: { choice: deviceChoice, ...device, gpus, vulkanDrivers: drivers, vulkanLoader: hasVulkanLoader() },
      untested: ['@tensorflow/tfjs-node-gpu (CUDA)', 'onnxruntime-node CUDA/TensorRT providers'],
      model: modelReport,
      parity: opts.parity ? await runParityChecks(await OrtEngine.create({ threads: 1, device }), await OrtEngine.create({ threads: 1 })) : undefined,
    };
    if (report.parity?.some((c) => !c.ok)) process.exitCode = 1;
    if (shared.json) {
      writeJson(shared.json, report);
      return;
    }
    const e = (i: typeof engine.info) =>
      `${i.engine} (backend ${i.backend}, ${i.package}, ${i.threads || 'default'} thread${i.threads === 1 ? '' : 's'}${i.differentiable ? ', differentiable' : ''})`;
    const lines = [
      `engine choice:      ${choice}${process.env.RDC_ENGINE ? ' (from RDC_ENGINE)' : ''}`,
      `engine:             ${e(engine.info)}`,
      `tfjs backend:       ${e(tfjs.info)}`,
      `ONNX Runtime:       ${report.versions['onnxruntime-node']}, providers ${report.ortProviders.map((p) => `${p.name}${p.bundled ? '' : p.installed ? ' (installed)' : ' (not installed)'}`).join(', ')}`,
      `device:             ${device.device} on ${device.adapter} (${deviceChoice}${process.env.RDC_DEVICE ? ', from RDC_DEVICE' : ''}): ${device.reason}`,
      `GPUs:               ${gpus.length ? gpus.map((g) => `${g.vendor} (${g.pciAddress})`).join(', ') : 'none found'}; Vulkan: ${hasVulkanLoader() ? 'loader installed' : 'no loader (libvulkan1)'}, drivers ${drivers.length ? drivers.map((d) => `${d.name}${d.software ? ' (software)' : ''}`).join(', ') : 'none'}`,
      `node ${report.node}, ${report.cores} cores, commit ${report.commit}`,
    ];
    if (modelReport) {
      const mr = modelReport as { dir: string; network: { arch: string }; parameters: number; flopsPerImage: number; temperature: number | null };
      lines.push(
        `model:              ${mr.dir} (${mr.network.arch}), ${mr.parameters.toLocaleString('en')} parameters, ${(mr.flopsPerImage / 1e9).toFixed(3)} GFLOP per image per forward pass, temperature ${mr.temperature ?? 'none'}`,
      );
      if (modelGuard) lines.push(`generative guard:   ${modelGuard}`);
    }
    for (const c of report.parity ?? [])
      lines.push(`parity ${c.ok ? 'ok  ' : 'FAIL'}        ${c.name}: ${c.error ?? c.message} (≤ ${c.tolerance}, ${device.device} against cpu)`);
    if (tfjs.info.backend === 'cpu') lines.push('note: tfjs runs on its pure-JS cpu backend (slow); the wasm backend is the default');
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}
