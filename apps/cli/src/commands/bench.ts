import { Command, Option } from '@commander-js/extra-typings';
import { readModelFolder, paperNetwork, resolveDeviceChoice, RuntimeOptions, selectDevice, unetPreset, InputError, type UNetConfig } from '@rdc/core';
import { benchDevice } from '../bench/device.js';
import { benchBackbone } from '../bench/backbone.js';
import { benchAttacks } from '../bench/attacks.js';
import { benchGradients } from '../bench/gradients.js';
import { benchServe } from '../bench/serve.js';
import { benchNetwork } from '../bench/network.js';
import { benchCertify } from '../bench/certify.js';
import { benchImport } from '../bench/import.js';
import { writeJson } from '../util/output.js';
import { parseIntArg, parseNumber } from '../util/parse.js';
import { progressBar } from '../util/progress.js';
import { provenance } from '../util/provenance.js';

const SUITES = ['backbone', 'gradients', 'attacks', 'serve', 'network', 'device', 'certify', 'import'] as const;

/** `rdc bench`: throughput figures as JSON, each next to a baseline measured in the same run. */
export function benchCommand() {
  return new Command('bench')
    .description(
      'benchmarks (JSON on stdout): UNet forward and training images/s per engine with GFLOP/s against reference kernels, DC gradient and RDC prediction seconds',
    )
    .addOption(new Option('--suite <list>', `comma-separated: ${SUITES.join(', ')}, or all (default: all but network; with --size paper: network)`))
    .addOption(
      new Option('--size <size>', 'network size (random weights) when no --model').choices(['tiny', 'small', 'paper'] as const).default('tiny' as const),
    )
    .addOption(
      new Option(
        '--net <kind>',
        "network suite at --size paper: the authors' class-conditional EDM network, the unconditional one, or the multi-head network of that size",
      )
        .choices(['cond', 'uncond', 'multihead'] as const)
        .default('cond' as const),
    )
    .option('--draws <n>', 'certify suite: noisy draws per batch (each takes --certify-levels rows)', parseIntArg, 32)
    .option('--certify-levels <n>', 'certify suite: σ levels of the noised DC', parseIntArg, 10)
    .option('--sample-levels <n>', 'network suite: σ levels measured for the DC time (scaled to --levels)', parseIntArg, 2)
    .option('--model <dir>', 'benchmark this model folder instead')
    .option('--batch <n>', 'batch for forward and training throughput', parseIntArg, 32)
    .option('--levels <n>', 'σ levels for DC and RDC timings', parseIntArg, 125)
    .option('--min-seconds <s>', 'time each measurement for at least this long', parseNumber, 3)
    .option('--no-cpu-backend', 'skip the (very slow) pure-JS tfjs cpu backend')
    .option('--no-tfjs', 'skip tfjs-wasm in the attack suite')
    .option('--requests <n>', 'serve suite: sequential requests per defense', parseIntArg, 10)
    .option('--concurrency <n>', 'serve suite: concurrent requests per defense', parseIntArg, 8)
    .option('--threads <n>', 'ONNX Runtime threads: of the server (serve suite), of the CPU baseline (device suite; default 1)', parseIntArg)
    .option('--device <device>', `${RuntimeOptions.shape.device.description}; the device suite (default when given and not cpu) measures it beside the CPU`)
    .option('--precision <p>', 'device suite: with fp16, also measure inference in half precision (and its error) beside float32')
    .option(
      '--pytorch <script>',
      'backbone suite: also run this PyTorch reference script (../shared/bench/torch_unet.py) on the same shape, and print the ratios',
    )
    .option('--python <bin>', 'the Python for --pytorch and the import suite (with torch)', '/usr/bin/python3')
    .option('--onnx <file>', 'import suite: the ONNX classifier (default: test/fixtures/onnx/resnet.onnx, compared with PyTorch on its architecture)')
    .option('--json <file>', "also write the JSON to a file ('-' is stdout, the default)", '-')
    .action(async (o) => {
      const suites =
        o.suite === undefined
          ? o.size === 'paper' && !o.model
            ? ['network']
            : SUITES.filter((x) => x !== 'network')
          : o.suite === 'all'
            ? SUITES.filter((x) => x !== 'network')
            : o.suite.split(',');
      for (const s of suites) if (!(SUITES as readonly string[]).includes(s)) throw new InputError(`unknown suite '${s}'; choose from ${SUITES.join(', ')}`);
      let network: UNetConfig = unetPreset(o.size);
      let weights;
      if (o.model) {
        const m = readModelFolder(o.model);
        if (m.config.network.arch !== 'unet') throw new InputError('bench needs a UNet model');
        network = m.config.network;
        weights = m.weights;
      }
      const report: Record<string, unknown> = { ...provenance(), size: o.model ? undefined : o.size, model: o.model };
      const bar = progressBar('bench', suites.length, { unit: 'suites', fields: ['suite'] });
      let done = 0;
      const step = (suite: string) => bar.update(done++, { suite });
      step(suites[0]);
      if (suites.includes('backbone'))
        report.backbone = await benchBackbone(network, {
          minSeconds: o.minSeconds,
          batch: o.batch,
          cpuBackend: o.cpuBackend,
          ...(o.pytorch ? { pytorch: { script: o.pytorch, python: o.python } } : {}),
        });
      if (suites.includes('backbone')) step('gradients');
      if (suites.includes('gradients')) report.gradients = await benchGradients(network, { levels: o.levels, minSeconds: o.minSeconds, weights });
      if (suites.includes('gradients')) step('attacks');
      if (suites.includes('attacks')) report.attacks = await benchAttacks(network, { levels: o.levels, minSeconds: o.minSeconds, weights, tfjs: o.tfjs });
      if (suites.includes('attacks')) step('serve');
      if (suites.includes('network'))
        report.network = await benchNetwork(o.size === 'paper' && !o.model ? paperNetwork(o.net) : network, {
          batch: o.batch,
          minSeconds: o.minSeconds,
          levels: o.levels,
          sampleLevels: o.sampleLevels,
        });
      if (suites.includes('device')) {
        const device = selectDevice(resolveDeviceChoice(o.device ?? 'webgpu'));
        report.device = await benchDevice(o.size === 'paper' && !o.model ? paperNetwork(o.net) : network, device, {
          batch: o.batch,
          minSeconds: o.minSeconds,
          levels: o.levels,
          cpuThreads: o.threads,
          fp16: o.precision === 'fp16',
        });
      }
      if (suites.includes('certify'))
        report.certify = await benchCertify(network, { levels: o.certifyLevels, draws: o.draws, minSeconds: o.minSeconds, threads: o.threads, weights });
      if (suites.includes('import')) report.import = await benchImport({ file: o.onnx, batch: o.batch, minSeconds: o.minSeconds, python: o.python });
      if (suites.includes('serve')) {
        const dir = o.model ?? 'models/default';
        report.serve = { model: dir, ...(await benchServe(dir, { requests: o.requests, concurrency: o.concurrency, threads: o.threads, levels: o.levels })) };
      }
      bar.update(suites.length, { suite: 'done' });
      bar.stop();
      writeJson(o.json, report);
    });
}
